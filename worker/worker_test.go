package worker_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/worker"
	"github.com/pouw/pouwd/worker/workertest"
	"github.com/pouw/pouwd/x/pouwml/types"
)

func TestRetry(t *testing.T) {
	ctx := context.Background()
	calls := 0
	flaky := func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	}
	if err := worker.Retry(ctx, 5, time.Millisecond, flaky); err != nil || calls != 3 {
		t.Fatalf("flaky: %v after %d calls", err, calls)
	}
	calls = 0
	errDown := errors.New("down")
	if err := worker.Retry(ctx, 3, time.Millisecond, func() error { calls++; return errDown }); !errors.Is(err, errDown) || calls != 3 {
		t.Fatalf("down: %v after %d calls", err, calls)
	}
	calls = 0
	errLie := errors.New("lying peer")
	if err := worker.Retry(ctx, 3, time.Millisecond, func() error { calls++; return worker.Permanent(errLie) }); err != errLie || calls != 1 {
		t.Fatalf("permanent: %v after %d calls", err, calls)
	}
	// Unlimited attempts end with ctx.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := worker.Retry(cctx, 0, time.Millisecond, func() error { return errDown }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("until ctx: %v", err)
	}
	if worker.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) is an error")
	}
}

func TestDevices(t *testing.T) {
	cpuOnly := accel.Devices{CPU: accel.CPUInfo{Arch: "amd64", Model: "Test CPU", Cores: 16, MemoryTotal: 64 << 30}}
	got := worker.Devices(cpuOnly)
	if len(got) != 1 || got[0] != (types.Device{Kind: "cpu", Name: "Test CPU (16 cores)", MemoryBytes: 64 << 30}) {
		t.Fatalf("cpu: %+v", got)
	}
	gpus := cpuOnly
	gpus.CUDABuilt, gpus.GPUs = true, []accel.GPUInfo{{Index: 0, Name: "NVIDIA H200", MemoryTotal: 141 << 30}, {Index: 1, MemoryTotal: 80 << 30}}
	got = worker.Devices(gpus)
	if len(got) != 2 || got[0] != (types.Device{Kind: "gpu", Name: "NVIDIA H200", MemoryBytes: 141 << 30}) || got[1].Name != "gpu 1" {
		t.Fatalf("gpus: %+v", got)
	}
	// GPUs it cannot train on (no CUDA in this build, or a driver error)
	// are not declared: the CPU is.
	gpus.CUDABuilt = false
	if got := worker.Devices(gpus); len(got) != 1 || got[0].Kind != "cpu" {
		t.Fatalf("gpus without cuda: %+v", got)
	}
	long := cpuOnly
	long.CPU.Model = strings.Repeat("x", 300)
	if got := worker.Devices(long); types.ValidateDevices(got) != nil {
		t.Fatalf("long name: %v", types.ValidateDevices(got))
	}
	if err := types.ValidateDevices(worker.DetectDevices(context.Background())); err != nil {
		t.Fatalf("this machine's devices: %v", err)
	}
}

func TestEnsureBonded(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	c := workertest.NewChain("w", workertest.Params(4))
	cfg := worker.DefaultConfig()
	cfg.Devices = []types.Device{{Kind: "gpu", Name: "NVIDIA H200", MemoryBytes: 141 << 30}}
	if err := worker.EnsureBonded(ctx, c, types.WORKER_ROLE_MINER, cfg, log); err != nil {
		t.Fatal(err)
	}
	regs := workertest.Msgs[*types.MsgRegisterWorker](c)
	if len(regs) != 1 || !regs[0].Bond.Equal(sdk.NewInt64Coin("stake", 100)) || regs[0].PeerId != worker.DefaultPeerID ||
		len(regs[0].Devices) != 1 || regs[0].Devices[0] != cfg.Devices[0] {
		t.Fatalf("registration %+v", regs)
	}
	// Bonded and unchanged: nothing sent.
	if err := worker.EnsureBonded(ctx, c, types.WORKER_ROLE_MINER, cfg, log); err != nil || c.Calls("Broadcast") != 1 {
		t.Fatalf("again: %v, %d txs", err, c.Calls("Broadcast"))
	}
	// Other addresses or devices: re-registered with a zero top-up.
	cfg.Multiaddrs = []string{"/ip4/127.0.0.1/tcp/5001"}
	cfg.Devices = append(cfg.Devices, types.Device{Kind: "gpu", Name: "NVIDIA H200", MemoryBytes: 141 << 30})
	if err := worker.EnsureBonded(ctx, c, types.WORKER_ROLE_MINER, cfg, log); err != nil {
		t.Fatal(err)
	}
	regs = workertest.Msgs[*types.MsgRegisterWorker](c)
	if len(regs) != 2 || !regs[1].Bond.IsZero() || regs[1].Multiaddrs[0] != cfg.Multiaddrs[0] || len(regs[1].Devices) != 2 {
		t.Fatalf("update %+v", regs)
	}
	// Registered in the other role: an error.
	if err := worker.EnsureBonded(ctx, c, types.WORKER_ROLE_VERIFIER, cfg, log); err == nil {
		t.Fatal("bonded a miner as a verifier")
	}
	// Chain errors are returned.
	c2 := workertest.NewChain("w2", workertest.Params(4))
	c2.Fail(func(m string, _ sdk.Msg) error {
		if m == "Params" {
			return workertest.ErrInjected
		}
		return nil
	})
	if err := worker.EnsureBonded(ctx, c2, types.WORKER_ROLE_MINER, cfg, log); !errors.Is(err, workertest.ErrInjected) {
		t.Fatalf("params error: %v", err)
	}
	c2.Fail(func(m string, msg sdk.Msg) error {
		if msg != nil {
			return workertest.ErrInjected
		}
		return nil
	})
	if err := worker.EnsureBonded(ctx, c2, types.WORKER_ROLE_MINER, cfg, log); !errors.Is(err, workertest.ErrInjected) {
		t.Fatalf("refused registration: %v", err)
	}
}

// TestTopUp: a bonded worker whose bond slashes took under the minimum is
// topped up by the difference, re-sending what the chain has registered;
// at or above the minimum, in another role or not registered, nothing is
// sent; a refused top-up is an error naming the account; KeepBonded does
// it on its own within an interval.
func TestTopUp(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	c := workertest.NewChain("w", workertest.Params(4))
	me := c.Address().String()
	if _, err := worker.TopUp(ctx, c, types.WORKER_ROLE_VERIFIER, log); err == nil {
		t.Fatal("an unregistered worker's top-up did not fail on the missing worker")
	}
	cfg := worker.DefaultConfig()
	cfg.Devices = []types.Device{{Kind: "cpu", Name: "test cpu (2 cores)", MemoryBytes: 1 << 30}}
	cfg.Multiaddrs = []string{"/ip4/127.0.0.1/tcp/4001"}
	if err := worker.EnsureBonded(ctx, c, types.WORKER_ROLE_VERIFIER, cfg, log); err != nil {
		t.Fatal(err)
	}
	if add, err := worker.TopUp(ctx, c, types.WORKER_ROLE_VERIFIER, log); err != nil || !add.IsZero() || c.Calls("Broadcast") != 1 {
		t.Fatalf("at the minimum: added %s, %v, %d txs", add, err, c.Calls("Broadcast"))
	}
	c.Slash(me, 37)
	if add, err := worker.TopUp(ctx, c, types.WORKER_ROLE_MINER, log); err != nil || !add.IsZero() || c.Calls("Broadcast") != 1 {
		t.Fatalf("another role: added %s, %v", add, err)
	}
	add, err := worker.TopUp(ctx, c, types.WORKER_ROLE_VERIFIER, log)
	if err != nil || !add.Equal(sdk.NewInt64Coin("stake", 37)) {
		t.Fatalf("after a slash of 37: added %s, %v", add, err)
	}
	regs := workertest.Msgs[*types.MsgRegisterWorker](c)
	last := regs[len(regs)-1]
	if len(regs) != 2 || last.PeerId != cfg.PeerID || last.Multiaddrs[0] != cfg.Multiaddrs[0] || len(last.Devices) != 1 || last.Devices[0] != cfg.Devices[0] {
		t.Fatalf("top-up %+v does not re-send the registration", last)
	}
	w, _ := c.Worker(ctx, &types.QueryWorkerRequest{Address: me})
	if !w.Worker.Bond.Equal(sdk.NewInt64Coin("stake", 100)) {
		t.Fatalf("bond %s after the top-up, want the minimum 100stake", w.Worker.Bond)
	}
	c.Slash(me, 10)
	c.Fail(func(_ string, msg sdk.Msg) error {
		if msg != nil {
			return workertest.ErrInjected
		}
		return nil
	})
	if _, err := worker.TopUp(ctx, c, types.WORKER_ROLE_VERIFIER, log); !errors.Is(err, workertest.ErrInjected) || !strings.Contains(err.Error(), me) {
		t.Fatalf("refused top-up: %v", err)
	}
	c.Fail(nil)
	kctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { worker.KeepBonded(kctx, c, types.WORKER_ROLE_VERIFIER, 10*time.Millisecond, log); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		w, _ := c.Worker(ctx, &types.QueryWorkerRequest{Address: me})
		if w.Worker.Bond.Equal(sdk.NewInt64Coin("stake", 100)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("KeepBonded left the bond at %s", w.Worker.Bond)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	cfg.TopUpEvery = -time.Second
	if err := cfg.Validate("verifier"); err == nil || !strings.Contains(err.Error(), "top-up interval") {
		t.Fatalf("negative top-up interval: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := worker.DefaultConfig()
	if err := cfg.Validate("x"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(c *worker.Config){
		func(c *worker.Config) { c.Poll = 0 },
		func(c *worker.Config) { c.PeerID = "short" },
		func(c *worker.Config) { c.Devices = []types.Device{{Kind: "tpu", Name: "x"}} },
	} {
		c := worker.DefaultConfig()
		bad(&c)
		if err := c.Validate("x"); err == nil {
			t.Fatalf("%+v validated", c)
		}
	}
}

func TestMemDatasets(t *testing.T) {
	tiny, err := workertest.NewTiny()
	if err != nil {
		t.Fatal(err)
	}
	if d, err := tiny.Datasets.Dataset(context.Background(), &tiny.Record); err != nil || d != tiny.Data {
		t.Fatalf("held: %v", err)
	}
	other := tiny.Record
	other.Sha256 = make([]byte, 32)
	if _, err := tiny.Datasets.Dataset(context.Background(), &other); !errors.Is(err, worker.ErrNotFound) {
		t.Fatalf("not held: %v", err)
	}
}
