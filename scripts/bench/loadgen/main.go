package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	sdkmath "cosmossdk.io/math"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/tx"
	"github.com/cosmos/cosmos-sdk/crypto/hd"
	"github.com/cosmos/cosmos-sdk/crypto/keys/secp256k1"
	cryptotypes "github.com/cosmos/cosmos-sdk/crypto/types"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/tx/signing"
	authsigning "github.com/cosmos/cosmos-sdk/x/auth/signing"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/pouw/pouwd/app"
	pouwmltypes "github.com/pouw/pouwd/x/pouwml/types"
)

type config struct {
	nodes          []string
	chainID        string
	funderMnemonic string
	accounts       int
	duration       time.Duration
	rate           float64
	msg            string
	seed           string
	fund           int64
	gas            uint64
	jsonOut        string
	maxPending     int
}

type account struct {
	priv   cryptotypes.PrivKey
	addr   sdk.AccAddress
	num    uint64
	seq    uint64
	node   int
	bonded bool
}

type stats struct {
	sent, checkRejected, broadcastErrors, seqResyncs atomic.Int64
	mu                                               sync.Mutex
	checkCodes                                       map[string]int64
}

func (s *stats) reject(codespace string, code uint32) {
	s.checkRejected.Add(1)
	s.mu.Lock()
	s.checkCodes[fmt.Sprintf("%s/%d", codespace, code)]++
	s.mu.Unlock()
}

// Result is what loadgen reports (also as JSON with -json).
type Result struct {
	Msg              string           `json:"msg"`
	Accounts         int              `json:"accounts"`
	TargetRate       float64          `json:"target_rate"`
	DurationS        float64          `json:"duration_s"`
	Sent             int64            `json:"sent"`
	CheckTxRejected  int64            `json:"checktx_rejected"`
	BroadcastErrors  int64            `json:"broadcast_errors"`
	DeliverTxFailed  int64            `json:"delivertx_failed"`
	Rejected         int64            `json:"rejected"`
	Committed        int64            `json:"committed"`
	FromHeight       int64            `json:"from_height"`
	ToHeight         int64            `json:"to_height"`
	WindowS          float64          `json:"window_s"`
	TxPerSec         float64          `json:"tx_per_s"`
	MeanBlockTimeS   float64          `json:"mean_block_time_s"`
	MaxBlockTxs      int              `json:"max_block_txs"`
	CheckTxCodes     map[string]int64 `json:"checktx_codes,omitempty"`
	DeliverTxCodes   map[string]int64 `json:"delivertx_codes,omitempty"`
	MempoolLeftAfter int              `json:"mempool_left_after"`
}

func main() {
	var cfg config
	var nodes string
	flag.StringVar(&nodes, "nodes", "http://127.0.0.1:26657", "comma-separated CometBFT RPC URLs; accounts are spread over them")
	flag.StringVar(&cfg.chainID, "chain-id", "pouw-localnet", "chain id")
	flag.StringVar(&cfg.funderMnemonic, "funder", "", "file with the funder's mnemonic (plain text or `keys add --output json`)")
	flag.IntVar(&cfg.accounts, "accounts", 400, "number of load accounts")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "measured load duration")
	flag.Float64Var(&cfg.rate, "rate", 300, "target tx/s over all accounts (0: as fast as possible)")
	flag.StringVar(&cfg.msg, "msg", "register-worker", "message: register-worker or bank-send")
	flag.StringVar(&cfg.seed, "seed", "pouw-bench", "seed of the load accounts' keys")
	flag.Int64Var(&cfg.fund, "fund", 100_000_000, "upouw given to each load account that has less")
	flag.Uint64Var(&cfg.gas, "gas", 150_000, "gas limit per tx")
	flag.StringVar(&cfg.jsonOut, "json", "", "also write the result as JSON to this file")
	flag.IntVar(&cfg.maxPending, "max-pending", 600, "pause while node0's mempool holds this many txs (0: never)")
	flag.Parse()
	cfg.nodes = strings.Split(nodes, ",")

	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	if cfg.msg != "register-worker" && cfg.msg != "bank-send" {
		return fmt.Errorf("-msg %q: expected register-worker or bank-send", cfg.msg)
	}
	if cfg.accounts < 1 {
		return errors.New("-accounts must be at least 1")
	}
	ctx := context.Background()
	encCfg := app.NewTempApp()
	txCfg := encCfg.TxConfig()

	clients := make([]*rpchttp.HTTP, len(cfg.nodes))
	for i, n := range cfg.nodes {
		c, err := rpchttp.New(n, "/websocket")
		if err != nil {
			return fmt.Errorf("node %s: %w", n, err)
		}
		clients[i] = c
	}
	clientCtx := client.Context{}.
		WithCodec(encCfg.AppCodec()).
		WithInterfaceRegistry(encCfg.InterfaceRegistry()).
		WithTxConfig(txCfg).
		WithClient(clients[0]).
		WithChainID(cfg.chainID).
		WithAccountRetriever(authtypes.AccountRetriever{})

	// Load accounts.
	accs := make([]*account, cfg.accounts)
	for i := range accs {
		priv := secp256k1.GenPrivKeyFromSecret([]byte(fmt.Sprintf("%s-%d", cfg.seed, i)))
		accs[i] = &account{priv: priv, addr: sdk.AccAddress(priv.PubKey().Address()), node: i % len(clients)}
	}

	if err := fund(ctx, cfg, clientCtx, clients[0], accs); err != nil {
		return err
	}

	// Account numbers and sequences; bonded status for register-worker.
	for _, a := range accs {
		num, seq, err := clientCtx.AccountRetriever.GetAccountNumberSequence(clientCtx, a.addr)
		if err != nil {
			return fmt.Errorf("account %s: %w", a.addr, err)
		}
		a.num, a.seq = num, seq
		if cfg.msg == "register-worker" {
			a.bonded = workerExists(clientCtx, a.addr)
		}
	}

	minBond, err := minWorkerBond(clientCtx)
	if err != nil {
		return err
	}

	st := &stats{checkCodes: map[string]int64{}}
	startStatus, err := clients[0].Status(ctx)
	if err != nil {
		return err
	}
	fromHeight := startStatus.SyncInfo.LatestBlockHeight
	fmt.Printf("loadgen: %d accounts on %d node(s), msg %s, target %.0f tx/s for %s from height %d\n",
		len(accs), len(clients), cfg.msg, cfg.rate, cfg.duration, fromHeight)

	// Global pacing: a ticket every 1/rate s; each account's goroutine
	// takes a ticket, signs its next tx and broadcasts it to its node.
	loadCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	// Closed loop: while node0's mempool holds more than -max-pending txs
	// no new tickets are issued (and none are owed), so the offered load
	// follows what the chain commits instead of piling up a backlog that
	// every node would re-check after each block.
	var pending atomic.Int64
	go watchMempool(loadCtx, clients[0], &pending)
	tickets := make(chan struct{})
	go pace(loadCtx, cfg.rate, int64(cfg.maxPending), &pending, tickets)

	var wg sync.WaitGroup
	for i, a := range accs {
		wg.Add(1)
		go func(i int, a *account) {
			defer wg.Done()
			next := accs[(i+1)%len(accs)].addr
			for {
				select {
				case <-loadCtx.Done():
					return
				case _, ok := <-tickets:
					if !ok {
						return
					}
				}
				msg := buildMsg(cfg.msg, a, next, minBond)
				bz, err := signTx(ctx, txCfg, cfg, a, msg)
				if err != nil {
					st.broadcastErrors.Add(1)
					continue
				}
				res, err := clients[a.node].BroadcastTxSync(ctx, bz)
				st.sent.Add(1)
				if err != nil {
					st.broadcastErrors.Add(1)
					time.Sleep(50 * time.Millisecond)
					continue
				}
				if res.Code != 0 {
					st.reject(res.Codespace, res.Code)
					if exp, ok := expectedSequence(res.Log); ok {
						a.seq = exp
						st.seqResyncs.Add(1)
					}
					continue
				}
				a.seq++
				if cfg.msg == "register-worker" {
					a.bonded = true
				}
			}
		}(i, a)
	}
	wg.Wait()
	endStatus, err := clients[0].Status(ctx)
	if err != nil {
		return err
	}
	toHeight := endStatus.SyncInfo.LatestBlockHeight

	res, err := measure(ctx, clients[0], fromHeight, toHeight)
	if err != nil {
		return err
	}
	res.Msg, res.Accounts, res.TargetRate, res.DurationS = cfg.msg, len(accs), cfg.rate, cfg.duration.Seconds()
	res.Sent = st.sent.Load()
	res.CheckTxRejected = st.checkRejected.Load()
	res.BroadcastErrors = st.broadcastErrors.Load()
	res.CheckTxCodes = st.checkCodes
	res.Rejected = res.CheckTxRejected + res.BroadcastErrors + res.DeliverTxFailed
	if unconf, err := clients[0].NumUnconfirmedTxs(ctx); err == nil {
		res.MempoolLeftAfter = unconf.Total
	}

	fmt.Printf("loadgen: sent %d txs; CheckTx rejected %d (%v), broadcast errors %d, sequence resyncs %d\n",
		res.Sent, res.CheckTxRejected, res.CheckTxCodes, res.BroadcastErrors, st.seqResyncs.Load())
	fmt.Printf("loadgen: blocks %d..%d (%d blocks, %.1f s): committed %d ok txs, %d failed in DeliverTx %v, max %d txs/block\n",
		res.FromHeight, res.ToHeight, res.ToHeight-res.FromHeight, res.WindowS, res.Committed, res.DeliverTxFailed,
		res.DeliverTxCodes, res.MaxBlockTxs)
	fmt.Printf("RESULT msg=%s tx/s=%.1f mean_block_time=%.3fs rejected=%d (checktx=%d delivertx=%d broadcast=%d) committed=%d mempool_left=%d\n",
		res.Msg, res.TxPerSec, res.MeanBlockTimeS, res.Rejected, res.CheckTxRejected, res.DeliverTxFailed,
		res.BroadcastErrors, res.Committed, res.MempoolLeftAfter)

	if cfg.jsonOut != "" {
		bz, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(cfg.jsonOut, append(bz, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func watchMempool(ctx context.Context, c *rpchttp.HTTP, pending *atomic.Int64) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if r, err := c.NumUnconfirmedTxs(ctx); err == nil {
				pending.Store(int64(r.Total))
			}
		}
	}
}

func pace(ctx context.Context, rate float64, maxPending int64, pending *atomic.Int64, tickets chan<- struct{}) {
	defer close(tickets)
	if rate <= 0 {
		rate = 1e6
	}
	start := time.Now()
	var issued float64
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			due := math.Floor(now.Sub(start).Seconds() * rate)
			if maxPending > 0 && pending.Load() >= maxPending {
				issued = due
				continue
			}
			for issued < due {
				select {
				case tickets <- struct{}{}:
					issued++
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

func buildMsg(kind string, a *account, next sdk.AccAddress, minBond sdk.Coin) sdk.Msg {
	if kind == "bank-send" {
		return banktypes.NewMsgSend(a.addr, next, sdk.NewCoins(sdk.NewInt64Coin(app.BondDenom, 1)))
	}
	bond := sdk.NewInt64Coin(minBond.Denom, 1)
	if !a.bonded {
		bond = minBond
	}
	return &pouwmltypes.MsgRegisterWorker{
		Address:    a.addr.String(),
		Role:       pouwmltypes.WORKER_ROLE_STORAGE,
		Bond:       bond,
		PeerId:     peerID(a.addr),
		Multiaddrs: []string{"/ip4/127.0.0.1/tcp/4001"},
	}
}

// peerID returns a syntactically valid base58 libp2p-style peer id derived
// from the address (the chain checks form, not ownership).
func peerID(addr sdk.AccAddress) string {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	var b strings.Builder
	b.WriteString("12D3KooW")
	for _, c := range addr.Bytes() {
		b.WriteByte(alphabet[int(c)%len(alphabet)])
		b.WriteByte(alphabet[int(c)/len(alphabet)%len(alphabet)])
	}
	return b.String()
}

func signTx(ctx context.Context, txCfg client.TxConfig, cfg config, a *account, msgs ...sdk.Msg) ([]byte, error) {
	b := txCfg.NewTxBuilder()
	if err := b.SetMsgs(msgs...); err != nil {
		return nil, err
	}
	b.SetGasLimit(cfg.gas)
	pub := a.priv.PubKey()
	if err := b.SetSignatures(signing.SignatureV2{
		PubKey:   pub,
		Data:     &signing.SingleSignatureData{SignMode: signing.SignMode_SIGN_MODE_DIRECT},
		Sequence: a.seq,
	}); err != nil {
		return nil, err
	}
	sig, err := tx.SignWithPrivKey(ctx, signing.SignMode_SIGN_MODE_DIRECT, authsigning.SignerData{
		Address:       a.addr.String(),
		ChainID:       cfg.chainID,
		AccountNumber: a.num,
		Sequence:      a.seq,
		PubKey:        pub,
	}, b, a.priv, txCfg, a.seq)
	if err != nil {
		return nil, err
	}
	if err := b.SetSignatures(sig); err != nil {
		return nil, err
	}
	return txCfg.TxEncoder()(b.GetTx())
}

var expectedSeqRE = regexp.MustCompile(`expected (\d+), got (\d+)`)

func expectedSequence(log string) (uint64, bool) {
	m := expectedSeqRE.FindStringSubmatch(log)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseUint(m[1], 10, 64)
	return v, err == nil
}

func readMnemonic(path string) (string, error) {
	bz, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var k struct {
		Mnemonic string `json:"mnemonic"`
	}
	if json.Unmarshal(bz, &k) == nil && k.Mnemonic != "" {
		return k.Mnemonic, nil
	}
	return strings.TrimSpace(string(bz)), nil
}

// fund tops every load account up to cfg.fund with MultiSend txs from the
// funder, 100 outputs per tx, and waits for them to be committed.
func fund(ctx context.Context, cfg config, clientCtx client.Context, c *rpchttp.HTTP, accs []*account) error {
	if cfg.funderMnemonic == "" {
		return errors.New("-funder is required")
	}
	mnemonic, err := readMnemonic(cfg.funderMnemonic)
	if err != nil {
		return fmt.Errorf("funder mnemonic: %w", err)
	}
	derived, err := hd.Secp256k1.Derive()(mnemonic, "", hd.CreateHDPath(sdk.CoinType, 0, 0).String())
	if err != nil {
		return fmt.Errorf("funder key: %w", err)
	}
	funder := &account{priv: hd.Secp256k1.Generate()(derived)}
	funder.addr = sdk.AccAddress(funder.priv.PubKey().Address())
	funder.num, funder.seq, err = clientCtx.AccountRetriever.GetAccountNumberSequence(clientCtx, funder.addr)
	if err != nil {
		return fmt.Errorf("funder %s: %w", funder.addr, err)
	}

	bank := banktypes.NewQueryClient(clientCtx)
	var outs []banktypes.Output
	total := sdkmath.ZeroInt()
	for _, a := range accs {
		res, err := bank.Balance(ctx, &banktypes.QueryBalanceRequest{Address: a.addr.String(), Denom: app.BondDenom})
		if err != nil {
			return fmt.Errorf("balance of %s: %w", a.addr, err)
		}
		if res.Balance.Amount.Int64() >= cfg.fund/2 {
			continue
		}
		amt := sdk.NewCoins(sdk.NewInt64Coin(app.BondDenom, cfg.fund))
		outs = append(outs, banktypes.NewOutput(a.addr, amt))
		total = total.AddRaw(cfg.fund)
	}
	if len(outs) == 0 {
		fmt.Printf("loadgen: %d load accounts already funded\n", len(accs))
		return nil
	}
	fmt.Printf("loadgen: funding %d accounts with %d%s each from %s\n", len(outs), cfg.fund, app.BondDenom, funder.addr)
	var hashes [][]byte
	fundCfg := cfg
	for start := 0; start < len(outs); start += 100 {
		end := min(start+100, len(outs))
		sum := sdkmath.NewInt(cfg.fund).MulRaw(int64(end - start))
		msg := banktypes.NewMsgMultiSend(banktypes.NewInput(funder.addr, sdk.NewCoins(sdk.NewCoin(app.BondDenom, sum))), outs[start:end])
		fundCfg.gas = uint64(200_000 + 40_000*(end-start))
		bz, err := signTx(ctx, clientCtx.TxConfig, fundCfg, funder, msg)
		if err != nil {
			return err
		}
		res, err := c.BroadcastTxSync(ctx, bz)
		if err != nil {
			return fmt.Errorf("funding tx: %w", err)
		}
		if res.Code != 0 {
			return fmt.Errorf("funding tx rejected: code %d: %s", res.Code, res.Log)
		}
		funder.seq++
		hashes = append(hashes, res.Hash)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, h := range hashes {
		for {
			r, err := c.Tx(ctx, h, false)
			if err == nil {
				if r.TxResult.Code != 0 {
					return fmt.Errorf("funding tx failed: code %d: %s", r.TxResult.Code, r.TxResult.Log)
				}
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("funding tx %X not committed after 60 s: %w", h, err)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	// One more block so every node has applied the funding.
	time.Sleep(1500 * time.Millisecond)
	return nil
}

func workerExists(clientCtx client.Context, addr sdk.AccAddress) bool {
	q := pouwmltypes.NewQueryClient(clientCtx)
	_, err := q.Worker(context.Background(), &pouwmltypes.QueryWorkerRequest{Address: addr.String()})
	return err == nil
}

func minWorkerBond(clientCtx client.Context) (sdk.Coin, error) {
	q := pouwmltypes.NewQueryClient(clientCtx)
	res, err := q.Params(context.Background(), &pouwmltypes.QueryParamsRequest{})
	if err != nil {
		return sdk.Coin{}, fmt.Errorf("pouwml params: %w", err)
	}
	return res.Params.MinWorkerBond, nil
}

// measure reads blocks (from, to] and counts committed and failed txs.
func measure(ctx context.Context, c *rpchttp.HTTP, from, to int64) (Result, error) {
	res := Result{FromHeight: from, ToHeight: to, DeliverTxCodes: map[string]int64{}}
	if to <= from {
		return res, fmt.Errorf("no blocks between heights %d and %d", from, to)
	}
	first, err := c.Block(ctx, &from)
	if err != nil {
		return res, err
	}
	last, err := c.Block(ctx, &to)
	if err != nil {
		return res, err
	}
	for h := from + 1; h <= to; h++ {
		hh := h
		br, err := c.BlockResults(ctx, &hh)
		if err != nil {
			return res, fmt.Errorf("block results %d: %w", h, err)
		}
		res.MaxBlockTxs = max(res.MaxBlockTxs, len(br.TxsResults))
		for _, r := range br.TxsResults {
			if r.Code == 0 {
				res.Committed++
			} else {
				res.DeliverTxFailed++
				res.DeliverTxCodes[fmt.Sprintf("%s/%d", r.Codespace, r.Code)]++
			}
		}
	}
	res.WindowS = last.Block.Time.Sub(first.Block.Time).Seconds()
	if res.WindowS > 0 {
		res.TxPerSec = float64(res.Committed) / res.WindowS
	}
	res.MeanBlockTimeS = res.WindowS / float64(to-from)
	return res, nil
}
