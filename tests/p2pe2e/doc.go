// Package p2pe2e runs the data layer end to end on an in-process
// 4-validator chain (tests/integration): real libp2p hosts on 127.0.0.1
// register as storage workers, a client publishes MNIST, peers fail and
// lie, and a fresh node fetches the identical canonical bytes. Test only.
package p2pe2e
