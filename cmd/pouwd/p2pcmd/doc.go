// Package p2pcmd adds the data layer's commands to `pouwd data`:
//
//	pouwd data publish DIR --k 10 --m 4 --from KEY   encode a prepared dataset, register it, push its shards to the ring
//	pouwd data serve --from KEY                      run a storage peer (registers and bonds if needed)
//	pouwd data fetch DATASET_ID --out DIR            fetch any k shards, rebuild, verify, write the prepared directory
//
// Helpers shared with tests live here too: RegisterDatasetMsg builds the
// chain record of an encoded dataset from its meta.json, and WriteFetched
// writes rebuilt canonical bytes as a prepared directory (dataset.pouw +
// meta.json rebuilt from the chain record and the bytes), atomically.
//
// The storage peer's monitoring (--metrics-addr: /metrics and /healthz
// through package monitor, with the pouw_storage_* series of metrics.go)
// reads the p2p service's traffic counters, its sync's repairs and its
// store's usage at scrape time.
//
// It must never write a dataset it has not verified against the chain's
// SHA-256, and never push shards of a dataset the chain does not know.
package p2pcmd
