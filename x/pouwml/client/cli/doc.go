// Package cli holds the pouwml commands that autocli cannot build well:
// today `pouwd q pouwml cv-table`, which prints a task's cross-validation
// table in percentages for people and the exact ppm integers with
// `-o json`. Every other query and tx command is generated from the gRPC
// services (x/pouwml/autocli.go) and added beside these.
//
// It must never compute a result itself: it formats what the chain
// returns.
package cli
