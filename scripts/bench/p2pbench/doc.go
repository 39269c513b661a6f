// Command p2pbench measures the data layer: Reed-Solomon encode + rebuild
// throughput on one core (10+4, 1 MiB shards) and fetching canonical MNIST
// from 5 storage peers on 127.0.0.1 (TCP, or QUIC with -quic). It runs
// without a chain (p2p.MemChain holds the dataset record and the workers).
// Used by scripts/bench/p2p.sh.
package main
