// Package arch holds the import-graph test that enforces the layer stack of
// docs/ARCHITECTURE.md: it reads the module's packages and their imports
// with `go list` (no compiling) for the default, cuda and cudaemu builds
// and fails, naming the edge, when a package imports a layer it must not.
// Test only; the rules live in arch_test.go beside this file.
package arch
