// Command p2pbench measures the data layer: Reed-Solomon encode + rebuild
// throughput on one core and fetching canonical MNIST from several storage
// peers on 127.0.0.1 (TCP, or QUIC with -quic); the code shape, shard size
// and peer count are set in main.go. It runs without a chain
// (p2p.MemChain holds the dataset record and the workers). Used by
// scripts/bench/p2p.sh.
package main
