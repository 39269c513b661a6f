// Command pouwd is the pouwd node, client and worker binary: the chain
// daemon (start, init, genesis ...), the Cosmos tx/query client with the
// pouwml commands, the miner, verifier and storage peer daemons, and the
// local ML tools (ml, data). main only runs the root command of
// cmd/pouwd/cmd; each command group lives in its own package beside it.
package main
