package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	svrcmd "github.com/cosmos/cosmos-sdk/server/cmd"

	"github.com/pouw/pouwd/app"
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
	// The genesis carries pouwd's bounded x/staking historical info
	// (app.DefaultHistoricalEntries) and the rest of x/staking's defaults.
	gen, err := os.ReadFile(filepath.Join(home, "config", "genesis.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AppState struct {
			Staking struct {
				Params struct {
					HistoricalEntries uint32 `json:"historical_entries"`
					BondDenom         string `json:"bond_denom"`
				} `json:"params"`
			} `json:"staking"`
		} `json:"app_state"`
	}
	if err := json.Unmarshal(gen, &doc); err != nil {
		t.Fatal(err)
	}
	if p := doc.AppState.Staking.Params; p.HistoricalEntries != app.DefaultHistoricalEntries || p.BondDenom != app.BondDenom {
		t.Errorf("genesis staking params: historical_entries %d bond_denom %q, want %d %q", p.HistoricalEntries, p.BondDenom, app.DefaultHistoricalEntries, app.BondDenom)
	}
}
