package integration

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dbm "github.com/cosmos/cosmos-db"

	sdkmath "cosmossdk.io/math"

	"github.com/cosmos/cosmos-sdk/baseapp"
	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	"github.com/cosmos/cosmos-sdk/client/tx"
	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/cosmos/cosmos-sdk/crypto/hd"
	"github.com/cosmos/cosmos-sdk/crypto/keyring"
	servertypes "github.com/cosmos/cosmos-sdk/server/types"
	pruningtypes "github.com/cosmos/cosmos-sdk/store/v2/pruning/types"
	"github.com/cosmos/cosmos-sdk/testutil/network"
	sdk "github.com/cosmos/cosmos-sdk/types"
	authtx "github.com/cosmos/cosmos-sdk/x/auth/tx"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/pouw/pouwd/app"
)

// DefaultAccounts are the accounts New funds unless Options.Accounts says
// otherwise: the same names as the localnet's.
var DefaultAccounts = []string{"client", "miner1", "miner2", "verifier1", "verifier2", "verifier3"}

// Options configure New. The zero value is usable: 4 validators, 1 s
// blocks, DefaultAccounts each funded with 10^12 upouw, zero gas prices.
type Options struct {
	// NumValidators defaults to 4.
	NumValidators int
	// TimeoutCommit defaults to 1 s.
	TimeoutCommit time.Duration
	// Accounts are the names of the funded accounts (default DefaultAccounts).
	Accounts []string
	// AccountCoins is each account's genesis balance (default 10^12 upouw).
	AccountCoins sdk.Coins
	// MinGasPrices of every validator (default "0upouw": txs need no fee,
	// which keeps balance arithmetic in tests exact).
	MinGasPrices string
	// ModifyGenesis may change the default app genesis (for example the
	// pouwml params) before the network starts.
	ModifyGenesis func(cdc codec.Codec, genesis app.GenesisState) error
	// EnableLogging prints the nodes' logs.
	EnableLogging bool
}

// Account is a funded account of the network.
type Account struct {
	Name    string
	Address sdk.AccAddress
}

// Network is a running in-process pouwd network.
type Network struct {
	*network.Network
	T        testing.TB
	Keyring  keyring.Keyring
	Accounts map[string]Account
}

// New starts an in-process pouwd network with funded accounts and waits for
// its first block. It is cleaned up when the test ends.
func New(t testing.TB, opts Options) *Network {
	t.Helper()
	if opts.NumValidators == 0 {
		opts.NumValidators = 4
	}
	if opts.TimeoutCommit == 0 {
		opts.TimeoutCommit = time.Second
	}
	if opts.Accounts == nil {
		opts.Accounts = DefaultAccounts
	}
	if opts.AccountCoins == nil {
		opts.AccountCoins = sdk.NewCoins(sdk.NewCoin(app.BondDenom, sdkmath.NewInt(1_000_000_000_000)))
	}
	if opts.MinGasPrices == "" {
		opts.MinGasPrices = "0" + app.BondDenom
	}

	tempApp := app.NewTempApp()
	cfg := network.DefaultConfig(func() network.TestFixture { return network.TestFixture{} })
	cfg.Codec = tempApp.AppCodec()
	cfg.TxConfig = tempApp.TxConfig()
	cfg.LegacyAmino = tempApp.LegacyAmino()
	cfg.InterfaceRegistry = tempApp.InterfaceRegistry()
	cfg.NumValidators = opts.NumValidators
	cfg.TimeoutCommit = opts.TimeoutCommit
	cfg.BondDenom = app.BondDenom
	cfg.MinGasPrices = opts.MinGasPrices
	cfg.EnableLogging = opts.EnableLogging
	cfg.ChainID = "pouw-test"
	chainID := cfg.ChainID
	cfg.AppConstructor = func(val network.ValidatorI) servertypes.Application {
		return app.NewPouwApp(
			val.GetCtx().Logger, dbm.NewMemDB(), true,
			appOptions{flags.FlagHome: val.GetCtx().Config.RootDir},
			baseapp.SetPruning(pruningtypes.NewPruningOptionsFromString(val.GetAppConfig().Pruning)),
			baseapp.SetMinGasPrices(val.GetAppConfig().MinGasPrices),
			baseapp.SetChainID(chainID),
		)
	}

	genesis := tempApp.DefaultGenesis()
	kr := keyring.NewInMemory(cfg.Codec)
	accounts := make(map[string]Account, len(opts.Accounts))
	var authGen authtypes.GenesisState
	cfg.Codec.MustUnmarshalJSON(genesis[authtypes.ModuleName], &authGen)
	var bankGen banktypes.GenesisState
	cfg.Codec.MustUnmarshalJSON(genesis[banktypes.ModuleName], &bankGen)
	var genAccs authtypes.GenesisAccounts
	for _, name := range opts.Accounts {
		rec, _, err := kr.NewMnemonic(name, keyring.English, sdk.FullFundraiserPath, keyring.DefaultBIP39Passphrase, hd.Secp256k1)
		if err != nil {
			t.Fatalf("integration: key %s: %v", name, err)
		}
		addr, err := rec.GetAddress()
		if err != nil {
			t.Fatalf("integration: key %s: %v", name, err)
		}
		accounts[name] = Account{Name: name, Address: addr}
		genAccs = append(genAccs, authtypes.NewBaseAccount(addr, nil, 0, 0))
		bankGen.Balances = append(bankGen.Balances, banktypes.Balance{Address: addr.String(), Coins: opts.AccountCoins})
	}
	packed, err := authtypes.PackAccounts(genAccs)
	if err != nil {
		t.Fatalf("integration: pack accounts: %v", err)
	}
	authGen.Accounts = append(authGen.Accounts, packed...)
	genesis[authtypes.ModuleName] = cfg.Codec.MustMarshalJSON(&authGen)
	genesis[banktypes.ModuleName] = cfg.Codec.MustMarshalJSON(&bankGen)
	if opts.ModifyGenesis != nil {
		if err := opts.ModifyGenesis(cfg.Codec, genesis); err != nil {
			t.Fatalf("integration: modify genesis: %v", err)
		}
	}
	cfg.GenesisState = genesis

	dir, err := networkDir()
	if err != nil {
		t.Fatalf("integration: %v", err)
	}
	net, err := network.New(t, dir, cfg)
	if err != nil {
		t.Fatalf("integration: start network: %v", err)
	}
	// No t.Cleanup(net.Cleanup): the network runs until the test process
	// exits. Stopping it races with CometBFT's consensus reactor, whose
	// per-peer goroutines sleep up to 2 s and then read the block store
	// that the node's Stop has already closed; the resulting panic
	// ("leveldb: closed", in queryMaj23Routine) fails a package whose
	// tests all passed. The directory is removed by the next New once this
	// process has exited (networkDir).
	if _, err := net.WaitForHeight(1); err != nil {
		t.Fatalf("integration: first block: %v", err)
	}
	return &Network{Network: net, T: t, Keyring: kr, Accounts: accounts}
}

// networkDirPattern names the folders New keeps its validators in, under
// the system's temporary directory; each holds an "owner" file with the
// test process's id.
const networkDirPattern = "pouwd-integration-*"

// networkDir makes the folder for this process's network and removes the
// folders of test processes that have exited.
func networkDir() (string, error) {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), networkDirPattern))
	for _, d := range old {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue // being created, or not ours
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		_ = os.RemoveAll(d)
	}
	dir, err := os.MkdirTemp("", networkDirPattern)
	if err != nil {
		return "", fmt.Errorf("network folder: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return "", fmt.Errorf("network folder: %w", err)
	}
	return dir, nil
}

// processAlive reports whether a process with this id exists (signal 0
// checks without sending anything).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Address returns the address of a funded account; it fails the test for
// an unknown name.
func (n *Network) Address(name string) sdk.AccAddress {
	n.T.Helper()
	acc, ok := n.Accounts[name]
	if !ok {
		n.T.Fatalf("integration: no account %q (have %v)", name, n.accountNames())
	}
	return acc.Address
}

func (n *Network) accountNames() []string {
	names := make([]string, 0, len(n.Accounts))
	for name := range n.Accounts {
		names = append(names, name)
	}
	return names
}

// ClientCtx is validator 0's client context (RPC, codecs, chain id) with the
// accounts' keyring. It is a gRPC connection too: pass it to a module's
// NewQueryClient.
func (n *Network) ClientCtx() client.Context {
	return n.Validators[0].ClientCtx.WithKeyring(n.Keyring)
}

// BroadcastOptions tune Broadcast.
type BroadcastOptions struct {
	// Gas limit; 0 simulates and adds 50%.
	Gas uint64
	// Fees paid (default none).
	Fees sdk.Coins
	// Memo of the tx.
	Memo string
	// Timeout waiting for inclusion (default 30 s).
	Timeout time.Duration
}

// ErrCheckTx is returned (wrapped) when the node rejects a tx in CheckTx;
// the TxResponse is returned with it.
var ErrCheckTx = errors.New("tx rejected in CheckTx")

// Broadcast signs one tx carrying msgs with the named account's key,
// broadcasts it to validator 0 and waits until a block includes it. It
// returns the committed tx's response: Code 0 means every Msg succeeded, a
// non-zero Code (with Codespace and RawLog) that the tx failed in the
// block and changed nothing but fees and sequence. A tx refused by CheckTx
// returns its response and an error wrapping ErrCheckTx. Other errors
// (signing, simulation failure, timeout) return a nil response.
//
// When Gas is 0 the tx is simulated first; a Msg that fails in simulation
// returns the simulation error (nothing is broadcast): set Gas to send a
// tx expected to fail anyway.
func (n *Network) Broadcast(from string, msgs []sdk.Msg, opts ...BroadcastOptions) (*sdk.TxResponse, error) {
	n.T.Helper()
	var o BroadcastOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	acc, ok := n.Accounts[from]
	if !ok {
		return nil, fmt.Errorf("integration: no account %q", from)
	}
	clientCtx := n.ClientCtx().WithFromName(from).WithFromAddress(acc.Address)

	f := tx.Factory{}.
		WithChainID(n.Config.ChainID).
		WithKeybase(n.Keyring).
		WithTxConfig(clientCtx.TxConfig).
		WithAccountRetriever(authtypes.AccountRetriever{}).
		WithMemo(o.Memo).
		WithFees(o.Fees.String()).
		WithGasAdjustment(1.5)
	f, err := f.Prepare(clientCtx)
	if err != nil {
		return nil, fmt.Errorf("integration: account %s: %w", from, err)
	}
	if o.Gas == 0 {
		_, gas, err := tx.CalculateGas(clientCtx, f, msgs...)
		if err != nil {
			return nil, fmt.Errorf("integration: simulate: %w", err)
		}
		f = f.WithGas(gas)
	} else {
		f = f.WithGas(o.Gas)
	}
	b, err := f.BuildUnsignedTx(msgs...)
	if err != nil {
		return nil, fmt.Errorf("integration: build tx: %w", err)
	}
	if err := tx.Sign(context.Background(), f, from, b, true); err != nil {
		return nil, fmt.Errorf("integration: sign: %w", err)
	}
	bz, err := clientCtx.TxConfig.TxEncoder()(b.GetTx())
	if err != nil {
		return nil, fmt.Errorf("integration: encode tx: %w", err)
	}
	res, err := clientCtx.BroadcastTxSync(bz)
	if err != nil {
		return nil, fmt.Errorf("integration: broadcast: %w", err)
	}
	if res.Code != 0 {
		return res, fmt.Errorf("%w: code %d (%s): %s", ErrCheckTx, res.Code, res.Codespace, res.RawLog)
	}
	return n.WaitForTx(res.TxHash, o.Timeout)
}

// MustBroadcast is Broadcast that fails the test unless the tx is committed
// with code 0.
func (n *Network) MustBroadcast(from string, msgs ...sdk.Msg) *sdk.TxResponse {
	n.T.Helper()
	res, err := n.Broadcast(from, msgs)
	if err != nil {
		n.T.Fatalf("integration: broadcast from %s: %v", from, err)
	}
	if res.Code != 0 {
		n.T.Fatalf("integration: tx from %s failed: code %d (%s): %s", from, res.Code, res.Codespace, res.RawLog)
	}
	return res
}

// WaitForTx waits until a block includes the tx with this hash and returns
// its response.
func (n *Network) WaitForTx(hash string, timeout time.Duration) (*sdk.TxResponse, error) {
	clientCtx := n.ClientCtx()
	if _, err := hex.DecodeString(hash); err != nil {
		return nil, fmt.Errorf("integration: tx hash %q: %w", hash, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		res, err := authtx.QueryTx(clientCtx, hash)
		if err == nil {
			return res, nil
		}
		if !strings.Contains(err.Error(), "not found") {
			return nil, fmt.Errorf("integration: query tx %s: %w", hash, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("integration: tx %s not in a block after %s", hash, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Balance returns the named account's (or any address's) balance of denom.
func (n *Network) Balance(addr sdk.AccAddress, denom string) sdkmath.Int {
	n.T.Helper()
	res, err := banktypes.NewQueryClient(n.ClientCtx()).Balance(context.Background(),
		&banktypes.QueryBalanceRequest{Address: addr.String(), Denom: denom})
	if err != nil {
		n.T.Fatalf("integration: balance of %s: %v", addr, err)
	}
	return res.Balance.Amount
}

// WaitBlocks waits until k more blocks are committed.
func (n *Network) WaitBlocks(k int64) int64 {
	n.T.Helper()
	h, err := n.LatestHeight()
	if err != nil {
		n.T.Fatalf("integration: height: %v", err)
	}
	h, err = n.WaitForHeightWithTimeout(h+k, time.Duration(k+10)*5*time.Second)
	if err != nil {
		n.T.Fatalf("integration: wait for height %d: %v", h+k, err)
	}
	return h
}

// appOptions is a servertypes.AppOptions backed by a map.
type appOptions map[string]any

func (o appOptions) Get(key string) any { return o[key] }
