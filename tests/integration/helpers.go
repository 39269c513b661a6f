package integration

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/cosmos/cosmos-sdk/codec"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/pouw/pouwd/app"
	"github.com/pouw/pouwd/chainclient"
	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/pouw"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// MNISTSubset is the first nTrain training and nTest test samples of MNIST
// in canonical form; the test skips when MNIST is not available.
func MNISTSubset(t *testing.T, nTrain, nTest int) *data.Dataset {
	t.Helper()
	dir, err := data.DefaultMNISTDir()
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	full, _, err := data.LoadIDXDir(dir, data.MNISTClassNames)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	sub := &data.Dataset{DType: full.DType, Shape: full.Shape, Classes: full.Classes, ClassNames: full.ClassNames}
	dim := full.Dim()
	take := func(split uint8, n int) {
		for i := 0; i < full.Len() && n > 0; i++ {
			if full.Split[i] != split {
				continue
			}
			sub.U8 = append(sub.U8, full.U8[i*dim:(i+1)*dim]...)
			sub.Labels = append(sub.Labels, full.Labels[i])
			sub.Split = append(sub.Split, split)
			n--
		}
	}
	take(data.Train, nTrain)
	take(data.Test, nTest)
	if err := sub.Validate(); err != nil {
		t.Fatal(err)
	}
	return sub
}

// Logger is the daemons' logger in end-to-end tests: warnings and errors,
// or everything from info up when POUWE2E_VERBOSE is set.
func Logger() *slog.Logger {
	lvl := slog.LevelWarn
	if os.Getenv("POUWE2E_VERBOSE") != "" {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// WaitFor polls ok every half second until it holds; the test fails after
// timeout, naming what it waited for.
func WaitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Clients opens a chainclient for each named account of n, logging to log.
func Clients(t *testing.T, n *Network, names []string, log *slog.Logger) map[string]*chainclient.Client {
	t.Helper()
	clients := map[string]*chainclient.Client{}
	for _, name := range names {
		cfg := chainclient.DefaultConfig()
		cfg.Logger = log
		c, err := chainclient.New(n.ClientCtx(), name, cfg)
		if err != nil {
			t.Fatal(err)
		}
		clients[name] = c
	}
	return clients
}

// LoopbackHost is a libp2p host listening on a free loopback TCP port,
// closed when the test ends.
func LoopbackHost(t *testing.T) host.Host {
	t.Helper()
	hc := p2p.DefaultHostConfig("")
	hc.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
	h, err := p2p.NewHost(hc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// MNISTDatasetMsg is the registration of an MNIST subset (MNISTSubset) by
// owner under name, erasure-coded into 4 data and 2 parity shards as the
// chain records them.
func MNISTDatasetMsg(t *testing.T, owner, name string, ds *data.Dataset) *types.MsgRegisterDataset {
	t.Helper()
	sum, err := ds.SHA256()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ds.Encode()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := p2p.NewCoder().Encode(raw, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	hist := make([]uint64, ds.Classes)
	for i, c := range data.Histogram(ds.Labels, ds.Classes) {
		hist[i] = uint64(c)
	}
	shape := make([]uint32, len(ds.Shape))
	for i, d := range ds.Shape {
		shape[i] = uint32(d)
	}
	return &types.MsgRegisterDataset{Owner: owner, Name: name, Format: types.DATASET_FORMAT_MNIST, Sha256: sum[:],
		SampleCount: uint64(ds.Len()), NumClasses: uint32(ds.Classes), FeatureShape: shape, LabelHistogram: hist, Erasure: enc.Erasure}
}

// EasyProofs is an Options.ModifyGenesis for work-proof tests: commitments
// every commitInterval steps, 60-block verdict windows, and a lottery
// target at which each ticket wins with probability 1/oneIn, kept for the
// whole test (no retargeting).
func EasyProofs(commitInterval, oneIn uint64) func(codec.Codec, app.GenesisState) error {
	return func(cdc codec.Codec, genesis app.GenesisState) error {
		var g types.GenesisState
		if err := cdc.UnmarshalJSON(genesis[types.ModuleName], &g); err != nil {
			return err
		}
		g.Params.CommitInterval = commitInterval
		g.Params.VerdictCommitBlocks = 60
		g.Params.VerdictRevealBlocks = 60
		g.Params.RetargetIntervalBlocks = 1_000_000 // keep the easy target for the whole test
		target := pouw.TargetFromProbability(1, oneIn)
		g.Target = target[:]
		genesis[types.ModuleName] = cdc.MustMarshalJSON(&g)
		return nil
	}
}
