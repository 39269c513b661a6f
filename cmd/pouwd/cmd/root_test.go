package cmd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	svrcmd "github.com/cosmos/cosmos-sdk/server/cmd"
)

// A command that fails after its flags parsed prints its error alone; a
// flag error still shows the usage.
func TestErrorsWithoutUsage(t *testing.T) {
	for _, c := range []struct {
		name      string
		args      []string
		wantUsage bool
	}{
		{"run error (ml)", []string{"ml", "train", "--dataset", "/nonexistent/dataset"}, false},
		{"run error (data)", []string{"data", "info", "/nonexistent/dataset"}, false},
		{"unknown flag", []string{"ml", "train", "--no-such-flag"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := NewRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(c.args)
			// as main runs it: svrcmd adds --home and the server context
			err := svrcmd.Execute(root, "POUWD", t.TempDir())
			if err == nil {
				t.Fatalf("pouwd %s succeeded, expected an error", strings.Join(c.args, " "))
			}
			if got := strings.Contains(out.String(), "Usage:"); got != c.wantUsage {
				t.Fatalf("pouwd %s: usage printed = %v, expected %v; error %q; output:\n%s", strings.Join(c.args, " "), got, c.wantUsage, err, out.String())
			}
		})
	}
}

// TestInitWritesIAVLCacheSize: `pouwd init` writes pouwd's app.toml
// defaults, the bounded IAVL cache among them (DefaultIAVLCacheSize).
func TestInitWritesIAVLCacheSize(t *testing.T) {
	home := t.TempDir()
	root := NewRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"init", "test-node", "--chain-id", "pouw-test", "--home", home})
	if err := svrcmd.Execute(root, "POUWD", home); err != nil {
		t.Fatalf("pouwd init: %v\n%s", err, out.String())
	}
	toml, err := os.ReadFile(filepath.Join(home, "config", "app.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{fmt.Sprintf("iavl-cache-size = %d\n", DefaultIAVLCacheSize), `minimum-gas-prices = "0upouw"`} {
		if !strings.Contains(string(toml), want) {
			t.Errorf("app.toml lacks %q", want)
		}
	}
}
