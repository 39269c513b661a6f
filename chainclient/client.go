package chainclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/tx"
	sdk "github.com/cosmos/cosmos-sdk/types"
	sdkerrors "github.com/cosmos/cosmos-sdk/types/errors"
	authtx "github.com/cosmos/cosmos-sdk/x/auth/tx"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"

	"github.com/pouw/pouwd/x/pouwml/types"
)

var (
	// ErrTxFailed wraps a tx the chain refused (simulation, CheckTx or
	// DeliverTx) for a reason that retrying cannot fix.
	ErrTxFailed = errors.New("chainclient: tx failed")
	// ErrTimeout is returned when a tx was not included in time.
	ErrTimeout = errors.New("chainclient: tx not included in time")
)

// Config tunes a Client.
type Config struct {
	// GasAdjustment multiplies simulated gas (default 2).
	GasAdjustment float64
	// SettleGas is added per message that may settle what it completes
	// (default 100000): a reveal (MsgRevealVerdict) or an evaluation
	// (MsgSubmitEvaluation) is simulated before the others of its proof or
	// job land; when it turns out to be the last, its block charges it the
	// settlement too (payouts, slashes, the job's state): up to 86000 gas
	// more than a 57000-gas reveal, measured in the soak and the load row
	// (scripts/faults). No multiple of the simulated gas covers that for
	// both one reveal and seven in a tx; without it such a tx runs out of
	// gas in its block and is resent (Broadcast raises the adjustment 1.5x
	// per retry), losing a block.
	SettleGas uint64
	// GasPrices, e.g. "0.025upouw" (default none: zero fees).
	GasPrices string
	// MaxRetries per tx for retryable errors (default 6).
	MaxRetries int
	// Backoff is the first retry delay, doubled each retry (default 500 ms, at most 8 s).
	Backoff time.Duration
	// InclusionTimeout bounds the wait for a block (default 60 s).
	InclusionTimeout time.Duration
	// PollInterval between inclusion checks (default 200 ms).
	PollInterval time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{GasAdjustment: 2, SettleGas: 100_000, MaxRetries: 6, Backoff: 500 * time.Millisecond, InclusionTimeout: 60 * time.Second,
		PollInterval: 200 * time.Millisecond}
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.GasAdjustment < 1 {
		return fmt.Errorf("chainclient: gas adjustment %v, expected >= 1", c.GasAdjustment)
	}
	if c.MaxRetries < 0 || c.Backoff <= 0 || c.InclusionTimeout <= 0 || c.PollInterval <= 0 {
		return fmt.Errorf("chainclient: retries %d, backoff %s, timeout %s, poll %s: expected retries >= 0 and positive durations",
			c.MaxRetries, c.Backoff, c.InclusionTimeout, c.PollInterval)
	}
	if c.GasPrices != "" {
		if _, err := sdk.ParseDecCoins(c.GasPrices); err != nil {
			return fmt.Errorf("chainclient: gas prices %q: %w", c.GasPrices, err)
		}
	}
	return nil
}

// Client signs and broadcasts as one key. It is safe for concurrent use:
// signing and CheckTx are serialised (they order the sequence), waiting for
// blocks is not.
type Client struct {
	cctx  client.Context
	cfg   Config
	from  string
	addr  sdk.AccAddress
	log   *slog.Logger
	Query types.QueryClient

	mu      sync.Mutex
	known   bool
	accNum  uint64
	nextSeq uint64
}

// New returns a Client for the keyring key from (cctx must carry the
// keyring, chain id, tx config and a node connection).
func New(cctx client.Context, from string, cfg Config) (*Client, error) {
	if cfg.GasAdjustment == 0 {
		d := DefaultConfig()
		d.GasPrices, d.Logger = cfg.GasPrices, cfg.Logger
		cfg = d
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cctx.Keyring == nil {
		return nil, errors.New("chainclient: client context has no keyring")
	}
	rec, err := cctx.Keyring.Key(from)
	if err != nil {
		return nil, fmt.Errorf("chainclient: key %q: %w", from, err)
	}
	addr, err := rec.GetAddress()
	if err != nil {
		return nil, fmt.Errorf("chainclient: key %q: %w", from, err)
	}
	cctx = cctx.WithFromName(from).WithFromAddress(addr).WithFrom(from)
	return &Client{cctx: cctx, cfg: cfg, from: from, addr: addr, log: cfg.Logger.With("key", from),
		Query: types.NewQueryClient(cctx)}, nil
}

// Address is the signer's address.
func (c *Client) Address() sdk.AccAddress { return c.addr }

// ClientContext is the underlying client context.
func (c *Client) ClientContext() client.Context { return c.cctx }

// Height returns the node's latest block height.
func (c *Client) Height(ctx context.Context) (int64, error) {
	if c.cctx.Client == nil {
		return 0, errors.New("chainclient: no node RPC client")
	}
	st, err := c.cctx.Client.Status(ctx)
	if err != nil {
		return 0, fmt.Errorf("chainclient: node status: %w", err)
	}
	return st.SyncInfo.LatestBlockHeight, nil
}

func (c *Client) refreshAccount() error {
	num, seq, err := authtypes.AccountRetriever{}.GetAccountNumberSequence(c.cctx, c.addr)
	if err != nil {
		return fmt.Errorf("chainclient: account %s: %w", c.addr, err)
	}
	c.accNum, c.nextSeq, c.known = num, seq, true
	return nil
}

var seqRe = regexp.MustCompile(`expected (\d+), got (\d+)`)

// kind classifies a failure.
type kind int

const (
	fatal kind = iota
	wrongSeq
	outOfGas
	busy
)

func classify(codespace string, code uint32, log string) kind {
	if codespace == sdkerrors.RootCodespace || codespace == "" {
		switch code {
		case sdkerrors.ErrWrongSequence.ABCICode():
			return wrongSeq
		case sdkerrors.ErrOutOfGas.ABCICode():
			return outOfGas
		case sdkerrors.ErrMempoolIsFull.ABCICode(), sdkerrors.ErrTxInMempoolCache.ABCICode():
			return busy
		}
	}
	if strings.Contains(log, "account sequence mismatch") {
		return wrongSeq
	}
	return fatal
}

// Broadcast signs one tx carrying msgs, broadcasts it and waits until a
// block includes it. It returns the committed response (Code 0) or an
// error; a tx that failed in its block returns its response too.
func (c *Client) Broadcast(ctx context.Context, msgs ...sdk.Msg) (*sdk.TxResponse, error) {
	adj := c.cfg.GasAdjustment
	backoff := c.cfg.Backoff
	name := msgNames(msgs)
	for attempt := 0; ; attempt++ {
		res, k, err := c.attempt(ctx, msgs, adj)
		if err == nil {
			return res, nil
		}
		if k == fatal || attempt >= c.cfg.MaxRetries || ctx.Err() != nil {
			return res, err
		}
		switch k {
		case outOfGas:
			adj *= 1.5
			c.log.Warn("tx out of gas; retrying with more gas", "msgs", name, "attempt", attempt+1, "gas_adjustment", adj)
		case wrongSeq:
			c.log.Warn("account sequence mismatch; re-reading the account and retrying", "msgs", name, "attempt", attempt+1, "err", err)
		case busy:
			c.log.Warn("mempool full; backing off", "msgs", name, "attempt", attempt+1, "delay", backoff)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 8*time.Second)
	}
}

func msgNames(msgs []sdk.Msg) string {
	names := make([]string, len(msgs))
	for i, m := range msgs {
		n := sdk.MsgTypeURL(m)
		names[i] = n[strings.LastIndex(n, ".")+1:]
	}
	return strings.Join(names, ",")
}

func (c *Client) attempt(ctx context.Context, msgs []sdk.Msg, adj float64) (*sdk.TxResponse, kind, error) {
	hash, k, err := c.submit(msgs, adj)
	if err != nil {
		return nil, k, err
	}
	res, err := c.WaitForTx(ctx, hash)
	if err != nil {
		return nil, fatal, err
	}
	if res.Code != 0 {
		k := classify(res.Codespace, res.Code, res.RawLog)
		if k == wrongSeq {
			c.invalidate()
		}
		return res, k, fmt.Errorf("%w: %s in block %d: code %d (%s): %s", ErrTxFailed, msgNames(msgs), res.Height, res.Code, res.Codespace, res.RawLog)
	}
	return res, fatal, nil
}

func (c *Client) invalidate() {
	c.mu.Lock()
	c.known = false
	c.mu.Unlock()
}

// submit signs with the next local sequence and runs CheckTx.
func (c *Client) submit(msgs []sdk.Msg, adj float64) (string, kind, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known {
		if err := c.refreshAccount(); err != nil {
			return "", busy, err
		}
	}
	f := tx.Factory{}.
		WithChainID(c.cctx.ChainID).
		WithKeybase(c.cctx.Keyring).
		WithFromName(c.from).
		WithTxConfig(c.cctx.TxConfig).
		WithAccountRetriever(authtypes.AccountRetriever{}).
		WithAccountNumber(c.accNum).
		WithSequence(c.nextSeq).
		WithGasAdjustment(adj).
		WithSimulateAndExecute(true)
	if c.cfg.GasPrices != "" {
		f = f.WithGasPrices(c.cfg.GasPrices)
	}
	_, gas, err := tx.CalculateGas(c.cctx, f, msgs...)
	if err != nil {
		if m := seqRe.FindStringSubmatch(err.Error()); m != nil && strings.Contains(err.Error(), "sequence") {
			exp, _ := strconv.ParseUint(m[1], 10, 64)
			c.nextSeq = exp
			return "", wrongSeq, fmt.Errorf("simulate: %w", err)
		}
		return "", fatal, fmt.Errorf("%w: simulate %s: %v", ErrTxFailed, msgNames(msgs), err)
	}
	f = f.WithGas(gas + settleGas(msgs, c.cfg.SettleGas))
	b, err := f.BuildUnsignedTx(msgs...)
	if err != nil {
		return "", fatal, fmt.Errorf("chainclient: build tx: %w", err)
	}
	if err := tx.Sign(context.Background(), f, c.from, b, true); err != nil {
		return "", fatal, fmt.Errorf("chainclient: sign: %w", err)
	}
	bz, err := c.cctx.TxConfig.TxEncoder()(b.GetTx())
	if err != nil {
		return "", fatal, fmt.Errorf("chainclient: encode tx: %w", err)
	}
	res, err := c.cctx.BroadcastTxSync(bz)
	if err != nil {
		return "", busy, fmt.Errorf("chainclient: broadcast: %w", err)
	}
	if res.Code != 0 {
		k := classify(res.Codespace, res.Code, res.RawLog)
		if k == wrongSeq {
			c.known = false
		}
		return "", k, fmt.Errorf("%w: %s refused in CheckTx: code %d (%s): %s", ErrTxFailed, msgNames(msgs), res.Code, res.Codespace, res.RawLog)
	}
	c.nextSeq++
	return res.TxHash, fatal, nil
}

// settleGas is perMsg for every message of msgs that may settle a proof
// or a job in its block (Config.SettleGas).
func settleGas(msgs []sdk.Msg, perMsg uint64) uint64 {
	var n uint64
	for _, m := range msgs {
		switch m.(type) {
		case *types.MsgRevealVerdict, *types.MsgSubmitEvaluation:
			n++
		}
	}
	return n * perMsg
}

// WaitForTx waits until a block includes the tx with this hash.
func (c *Client) WaitForTx(ctx context.Context, hash string) (*sdk.TxResponse, error) {
	deadline := time.Now().Add(c.cfg.InclusionTimeout)
	for {
		res, err := authtx.QueryTx(c.cctx, hash)
		if err == nil {
			return res, nil
		}
		if !strings.Contains(err.Error(), "not found") {
			return nil, fmt.Errorf("chainclient: query tx %s: %w", hash, err)
		}
		if time.Now().After(deadline) {
			c.invalidate()
			return nil, fmt.Errorf("%w: %s after %s", ErrTimeout, hash, c.cfg.InclusionTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(c.cfg.PollInterval):
		}
	}
}
