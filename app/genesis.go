package app

import (
	"encoding/json"
	"os"

	dbm "github.com/cosmos/cosmos-db"

	"cosmossdk.io/log/v2"

	"github.com/cosmos/cosmos-sdk/client/flags"
)

// GenesisState is the app state at genesis: module name -> that module's
// genesis JSON.
type GenesisState map[string]json.RawMessage

// NewDefaultGenesisState returns the default genesis of every module of the
// app (bond denom upouw).
func NewDefaultGenesisState() GenesisState {
	return NewTempApp().DefaultGenesis()
}

// NewTempApp returns a PouwApp on an in-memory database, not loaded, for
// what needs the wiring but no state: CLI codecs, module basics, autocli
// options, default genesis.
func NewTempApp() *PouwApp {
	return NewPouwApp(log.NewNopLogger(), dbm.NewMemDB(), false, mapAppOptions{flags.FlagHome: os.TempDir()})
}

// mapAppOptions is a servertypes.AppOptions backed by a map.
type mapAppOptions map[string]any

func (m mapAppOptions) Get(key string) any { return m[key] }
