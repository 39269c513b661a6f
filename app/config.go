package app

import (
	"os"
	"path/filepath"

	sdk "github.com/cosmos/cosmos-sdk/types"
)

const (
	// AppName is the name of the application, reported over ABCI.
	AppName = "pouwd"

	// BondDenom is the staking, fee and mint denomination (1 POUW = 10^6 upouw).
	BondDenom = "upouw"

	// Bech32 prefixes.
	Bech32PrefixAccAddr  = "pouw"
	Bech32PrefixAccPub   = Bech32PrefixAccAddr + "pub"
	Bech32PrefixValAddr  = Bech32PrefixAccAddr + "valoper"
	Bech32PrefixValPub   = Bech32PrefixAccAddr + "valoperpub"
	Bech32PrefixConsAddr = Bech32PrefixAccAddr + "valcons"
	Bech32PrefixConsPub  = Bech32PrefixAccAddr + "valconspub"
)

// DefaultNodeHome is the default home directory of the daemon (~/.pouwd).
var DefaultNodeHome string

func init() {
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	DefaultNodeHome = filepath.Join(home, ".pouwd")

	SetConfig()
}

// SetConfig sets the global SDK address prefixes and the default bond denom.
// It is idempotent and runs from this package's init; it does not seal the
// config, so tests may still adjust it.
func SetConfig() {
	cfg := sdk.GetConfig()
	if cfg.GetBech32AccountAddrPrefix() != Bech32PrefixAccAddr {
		cfg.SetBech32PrefixForAccount(Bech32PrefixAccAddr, Bech32PrefixAccPub)
		cfg.SetBech32PrefixForValidator(Bech32PrefixValAddr, Bech32PrefixValPub)
		cfg.SetBech32PrefixForConsensusNode(Bech32PrefixConsAddr, Bech32PrefixConsPub)
	}
	sdk.DefaultBondDenom = BondDenom
}
