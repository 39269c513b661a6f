package keeper_test

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"

	"cosmossdk.io/core/address"
	"cosmossdk.io/log/v2"
	sdkmath "cosmossdk.io/math"

	addresscodec "github.com/cosmos/cosmos-sdk/codec/address"
	"github.com/cosmos/cosmos-sdk/runtime"
	storetypes "github.com/cosmos/cosmos-sdk/store/v2/types"
	"github.com/cosmos/cosmos-sdk/testutil/integration"
	sdk "github.com/cosmos/cosmos-sdk/types"
	moduletestutil "github.com/cosmos/cosmos-sdk/types/module/testutil"
	"github.com/cosmos/cosmos-sdk/x/auth"
	authkeeper "github.com/cosmos/cosmos-sdk/x/auth/keeper"
	authtypes "github.com/cosmos/cosmos-sdk/x/auth/types"
	"github.com/cosmos/cosmos-sdk/x/bank"
	bankkeeper "github.com/cosmos/cosmos-sdk/x/bank/keeper"
	banktypes "github.com/cosmos/cosmos-sdk/x/bank/types"

	"github.com/pouw/pouwd/x/pouwml"
	"github.com/pouw/pouwd/x/pouwml/keeper"
	"github.com/pouw/pouwd/x/pouwml/types"
)

const (
	denom   = types.DefaultDenom
	faucet  = "faucet"
	prefix  = "pouw"
	funding = 1_000_000_000
)

// fixture is a real auth + bank + pouwml state on an in-memory multistore:
// no mocks, coins really move.
type fixture struct {
	t      testing.TB
	ctx    sdk.Context
	keys   map[string]*storetypes.KVStoreKey
	k      keeper.Keeper
	msgs   types.MsgServer
	query  types.QueryServer
	bank   bankkeeper.BaseKeeper
	auth   authkeeper.AccountKeeper
	codec  address.Codec
	gov    string
	accts  []sdk.AccAddress
	byName map[string]sdk.AccAddress
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	enc := moduletestutil.MakeTestEncodingConfig(auth.AppModuleBasic{}, bank.AppModuleBasic{}, pouwml.AppModule{})
	keys := storetypes.NewKVStoreKeys(authtypes.StoreKey, banktypes.StoreKey, types.StoreKey)
	cms := integration.CreateMultiStore(keys, log.NewNopLogger())
	ctx := sdk.NewContext(cms, cmtproto.Header{Height: 1}, false, log.NewNopLogger())
	ac := addresscodec.NewBech32Codec(prefix)
	gov := authtypes.NewModuleAddress("gov")
	govStr, _ := ac.BytesToString(gov)
	ak := authkeeper.NewAccountKeeper(enc.Codec, runtime.NewKVStoreService(keys[authtypes.StoreKey]), authtypes.ProtoBaseAccount,
		map[string][]string{types.ModuleName: {authtypes.Burner}, types.RewardPoolName: nil, faucet: {authtypes.Minter}}, ac, prefix, govStr)
	bk := bankkeeper.NewBaseKeeper(enc.Codec, runtime.NewKVStoreService(keys[banktypes.StoreKey]), ak, map[string]bool{}, govStr, log.NewNopLogger())
	k := keeper.NewKeeper(enc.Codec, runtime.NewKVStoreService(keys[types.StoreKey]), govStr, ak, bk)
	if err := k.InitGenesis(ctx, *types.DefaultGenesis()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, keys: keys, k: k, msgs: keeper.NewMsgServerImpl(k), query: keeper.NewQueryServerImpl(k),
		bank: bk, auth: ak, codec: ac, gov: govStr, byName: map[string]sdk.AccAddress{}}
	f.ctx = f.ctx.WithHeaderHash(headerHash(1))
	return f
}

func headerHash(h int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(h))
	sum := sha256.Sum256(append([]byte("test-header/"), b[:]...))
	return sum[:]
}

// account returns a funded account with a stable name.
func (f *fixture) account(name string) string {
	f.t.Helper()
	if a, ok := f.byName[name]; ok {
		return f.str(a)
	}
	sum := sha256.Sum256([]byte("acct/" + name))
	addr := sdk.AccAddress(sum[:20])
	coins := sdk.NewCoins(sdk.NewCoin(denom, sdkmath.NewInt(funding)))
	if err := f.bank.MintCoins(f.ctx, faucet, coins); err != nil {
		f.t.Fatal(err)
	}
	if err := f.bank.SendCoinsFromModuleToAccount(f.ctx, faucet, addr, coins); err != nil {
		f.t.Fatal(err)
	}
	f.byName[name] = addr
	f.accts = append(f.accts, addr)
	return f.str(addr)
}

func (f *fixture) str(a sdk.AccAddress) string {
	s, err := f.codec.BytesToString(a)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) addr(s string) sdk.AccAddress {
	bz, err := f.codec.StringToBytes(s)
	if err != nil {
		f.t.Fatal(err)
	}
	return bz
}

func (f *fixture) balance(addr string) int64 {
	return f.bank.GetBalance(f.ctx, f.addr(addr), denom).Amount.Int64()
}

func (f *fixture) moduleBalance() int64 {
	return f.bank.GetBalance(f.ctx, f.k.ModuleAddress(), denom).Amount.Int64()
}

func (f *fixture) height() int64 { return f.ctx.BlockHeight() }

// nextBlock ends the current block and begins the next one, with a header
// hash derived from its height.
func (f *fixture) nextBlock() {
	f.t.Helper()
	if err := f.k.EndBlocker(f.ctx); err != nil {
		f.t.Fatalf("EndBlocker at %d: %v", f.height(), err)
	}
	h := f.height() + 1
	f.ctx = f.ctx.WithBlockHeight(h).WithHeaderHash(headerHash(h)).WithEventManager(sdk.NewEventManager())
	if err := f.k.BeginBlocker(f.ctx); err != nil {
		f.t.Fatalf("BeginBlocker at %d: %v", h, err)
	}
	f.checkInvariant()
}

func (f *fixture) advance(blocks int) {
	for i := 0; i < blocks; i++ {
		f.nextBlock()
	}
}

func (f *fixture) checkInvariant() {
	f.t.Helper()
	if msg, broken := f.k.EscrowInvariant(f.ctx); broken {
		f.t.Fatalf("escrow invariant broken at height %d: %s", f.height(), msg)
	}
}

// snapshot hashes the whole pouwml and bank stores: two equal snapshots
// mean no state and no balance changed.
func (f *fixture) snapshot() [32]byte {
	h := sha256.New()
	for _, name := range []string{types.StoreKey, banktypes.StoreKey, authtypes.StoreKey} {
		it := f.ctx.KVStore(f.keys[name]).Iterator(nil, nil)
		for ; it.Valid(); it.Next() {
			fmt.Fprintf(h, "%s|%x|%x\n", name, it.Key(), it.Value())
		}
		it.Close()
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (f *fixture) params() types.Params {
	p, err := f.k.Params.Get(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) setParams(mut func(*types.Params)) {
	p := f.params()
	mut(&p)
	if _, err := f.msgs.UpdateParams(f.ctx, &types.MsgUpdateParams{Authority: f.gov, Params: p}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) task(id uint64) types.Task {
	t, err := f.k.Tasks.Get(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

func (f *fixture) job(task uint64, idx uint32) types.Job {
	j, err := f.k.Jobs.Get(f.ctx, keeperJobKey(task, idx))
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

func (f *fixture) worker(addr string) types.Worker {
	w, err := f.k.Workers.Get(f.ctx, f.addr(addr))
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// --- valid messages -------------------------------------------------------

func shardHashes(n int, salt string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		sum := sha256.Sum256([]byte(fmt.Sprintf("shard/%s/%d", salt, i)))
		out[i] = sum[:]
	}
	return out
}

const testPeerID = "12D3KooWLtxJQg1GQ2VFDMnaoZH2YdkoHN8jL4e8tNAiJPfTPGvv"

func validDataset(owner, salt string) *types.MsgRegisterDataset {
	sum := sha256.Sum256([]byte("dataset/" + salt))
	hashes := shardHashes(14, salt)
	return &types.MsgRegisterDataset{
		Owner: owner, Name: "mnist-" + salt, Format: types.DATASET_FORMAT_MNIST, Sha256: sum[:],
		SampleCount: 1000, NumClasses: 10, FeatureShape: []uint32{1, 28, 28},
		LabelHistogram: []uint64{100, 100, 100, 100, 100, 100, 100, 100, 100, 100},
		Erasure: types.ErasureCode{DataShards: 10, ParityShards: 4, ShardSize: 78_500, OriginalSize: 784_016,
			ShardHashes: hashes, MerkleRoot: types.MerkleRoot(hashes)},
		Providers: []string{testPeerID},
	}
}

// textDataset is a byte-level text dataset (DATASET_FORMAT_TEXT): windows
// of 64 token ids, the next byte as label (256 classes).
func textDataset(owner, salt string) *types.MsgRegisterDataset {
	m := validDataset(owner, "text/"+salt)
	m.Name, m.Format, m.FeatureShape, m.NumClasses = "text-"+salt, types.DATASET_FORMAT_TEXT, []uint32{64}, types.TextClasses
	m.SampleCount = 2560
	m.LabelHistogram = make([]uint64, types.TextClasses)
	for i := range m.LabelHistogram {
		m.LabelHistogram[i] = 10
	}
	return m
}

func validWorker(addr string, role types.WorkerRole) *types.MsgRegisterWorker {
	return &types.MsgRegisterWorker{
		Address: addr, Role: role, Bond: sdk.NewCoin(denom, sdkmath.NewInt(10_000_000)), PeerId: testPeerID,
		Multiaddrs: []string{"/ip4/127.0.0.1/tcp/4001"}, Devices: []types.Device{{Kind: "cpu", Name: "x86_64 2 cores", MemoryBytes: 1 << 34}},
	}
}

func mlpConfig(lrE9 uint64) types.ModelConfig {
	return types.ModelConfig{Architecture: "mlp", Layers: []uint32{784, 128, 10}, LearningRateE9: lrE9, BatchSize: 64, Epochs: 1,
		Optimizer: types.OPTIMIZER_SGD, Precision: types.PRECISION_FP32}
}

func validTask(client string, dataset uint64, configs, folds int, fee int64) *types.MsgSubmitTask {
	cfgs := make([]types.ModelConfig, configs)
	for i := range cfgs {
		cfgs[i] = mlpConfig(uint64(100_000_000 / (i + 1)))
	}
	return &types.MsgSubmitTask{
		Client: client, DatasetId: dataset, Configs: cfgs,
		Cv:   types.CVConfig{Folds: uint32(folds), Stratified: true, Metric: types.METRIC_ACCURACY},
		Seed: 1, Deadlines: types.Deadlines{ClaimBlocks: 20, TrainingBlocks: 30, EvaluationBlocks: 10},
		Fee: sdk.NewCoin(denom, sdkmath.NewInt(fee)),
	}
}

func modelHash(s string) []byte {
	sum := sha256.Sum256([]byte("model/" + s))
	return sum[:]
}

func acc(ppm uint32) types.FoldMetrics {
	return types.FoldMetrics{AccuracyPpm: ppm, F1MacroPpm: ppm, PrecisionMacroPpm: ppm, RecallMacroPpm: ppm}
}

// world is a fixture with a dataset, 2 miners and 3 verifiers registered.
type world struct {
	*fixture
	client, miner1, miner2 string
	verifiers              []string
	dataset                uint64
}

func newWorld(t testing.TB) *world {
	t.Helper()
	f := newFixture(t)
	w := &world{fixture: f, client: f.account("client"), miner1: f.account("miner1"), miner2: f.account("miner2")}
	for i := 1; i <= 3; i++ {
		w.verifiers = append(w.verifiers, f.account(fmt.Sprintf("verifier%d", i)))
	}
	res, err := f.msgs.RegisterDataset(f.ctx, validDataset(w.client, "w"))
	if err != nil {
		t.Fatal(err)
	}
	w.dataset = res.Id
	for _, m := range []string{w.miner1, w.miner2} {
		if _, err := f.msgs.RegisterWorker(f.ctx, validWorker(m, types.WORKER_ROLE_MINER)); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range w.verifiers {
		if _, err := f.msgs.RegisterWorker(f.ctx, validWorker(v, types.WORKER_ROLE_VERIFIER)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// submit submits a task and moves to the block that seeds it.
func (w *world) submit(configs, folds int, fee int64) uint64 {
	w.t.Helper()
	res, err := w.msgs.SubmitTask(w.ctx, validTask(w.client, w.dataset, configs, folds, fee))
	if err != nil {
		w.t.Fatal(err)
	}
	w.nextBlock()
	return res.Id
}

// trainAndSubmit claims a job and submits a result with the claimed value.
func (w *world) trainAndSubmit(miner string, task uint64, idx uint32, model string, claimed uint32) {
	w.t.Helper()
	if _, err := w.msgs.ClaimJob(w.ctx, &types.MsgClaimJob{Miner: miner, TaskId: task, JobIndex: idx}); err != nil {
		w.t.Fatalf("claim %d/%d: %v", task, idx, err)
	}
	if _, err := w.msgs.SubmitResult(w.ctx, &types.MsgSubmitResult{Miner: miner, TaskId: task, JobIndex: idx, ModelHash: modelHash(model), Metrics: acc(claimed)}); err != nil {
		w.t.Fatalf("result %d/%d: %v", task, idx, err)
	}
}

// evaluate has every assigned verifier of the job report value (or the
// per-verifier values when given) on the given model.
func (w *world) evaluate(task uint64, idx uint32, model string, values ...uint32) types.Job {
	w.t.Helper()
	j := w.job(task, idx)
	if j.Status != types.JOB_STATUS_ASSIGNED {
		w.t.Fatalf("job %d/%d is %s, expected ASSIGNED", task, idx, j.Status)
	}
	for i, v := range j.Verifiers {
		val := values[0]
		if i < len(values) {
			val = values[i]
		}
		if _, err := w.msgs.SubmitEvaluation(w.ctx, &types.MsgSubmitEvaluation{Verifier: v, TaskId: task, JobIndex: idx, ModelHash: modelHash(model), Metrics: acc(val)}); err != nil {
			w.t.Fatalf("evaluation by %s: %v", v, err)
		}
	}
	return w.job(task, idx)
}
