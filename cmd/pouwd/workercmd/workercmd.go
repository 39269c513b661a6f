package workercmd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/chainclient"
	"github.com/pouw/pouwd/miner"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/verifier"
	"github.com/pouw/pouwd/worker"
)

const (
	flagDevice      = "device"
	flagMaxJobs     = "max-jobs"
	flagDataDir     = "data-dir"
	flagStore       = "store"
	flagListen      = "p2p-listen"
	flagWorkers     = "workers"
	flagThreads     = "threads"
	flagPoll        = "poll"
	flagMetrics     = "metrics-addr"
	flagStatusEvery = "status-every"
	flagMemFraction = "memory-fraction"
	flagTasks       = "tasks"
	flagMaxProofs   = "max-proofs-per-job"
)

func group(use, short string, start *cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, RunE: client.ValidateCmd}
	cmd.AddCommand(start)
	return cmd
}

// NewMinerCommand returns `miner` with `start`.
func NewMinerCommand() *cobra.Command {
	start := &cobra.Command{
		Use:   "start --from KEY [--node URL] [--device auto|cpu|gpu:N] [--max-jobs N] [--data-dir DIR] [--p2p-listen MULTIADDR,...]",
		Short: "Bond as a miner, claim jobs, train, commit checkpoints, submit proofs and results",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			log := newLogger(cmd)
			cc, be, err := common(cmd, log)
			if err != nil {
				return err
			}
			cfg := miner.DefaultConfig()
			cfg.Logger = log
			cfg.MaxJobs, _ = cmd.Flags().GetInt(flagMaxJobs)
			cfg.MaxProofsPerJob, _ = cmd.Flags().GetInt(flagMaxProofs)
			cfg.Poll, _ = cmd.Flags().GetDuration(flagPoll)
			cfg.StatusEvery, _ = cmd.Flags().GetDuration(flagStatusEvery)
			frac, _ := cmd.Flags().GetFloat64(flagMemFraction)
			cfg.Budget = accel.CPUBudget(frac)
			tasks, _ := cmd.Flags().GetUintSlice(flagTasks)
			for _, t := range tasks {
				cfg.Tasks = append(cfg.Tasks, uint64(t))
			}
			storeDir, _ := cmd.Flags().GetString(flagStore)
			if storeDir == "" {
				storeDir = filepath.Join(cc.ClientContext().HomeDir, "pouw-store")
			}
			st, err := p2p.OpenStore(storeDir)
			if err != nil {
				return err
			}
			nd, err := startNode(cmd, cc, st, log)
			if err != nil {
				return err
			}
			defer nd.h.Close()
			cfg.PeerID, cfg.Multiaddrs = nd.h.ID().String(), p2p.HostAddrs(nd.h)
			cfg.StateDir = filepath.Join(cc.ClientContext().HomeDir, "miner-state")
			m, err := miner.New(cfg, worker.NewClient(cc), nd.datasets, st, be)
			if err != nil {
				return err
			}
			serveMetrics(cmd, log, minerCollector(m))
			log.Info("miner starting", "address", cc.Address(), "store", storeDir, "peer", nd.h.ID(), "addrs", cfg.Multiaddrs)
			return m.Run(ctx)
		},
	}
	addCommonFlags(start)
	start.Flags().Int(flagMaxJobs, 1, "jobs trained at once")
	start.Flags().Int(flagMaxProofs, 0, "winning proofs submitted per job (0: every winner)")
	start.Flags().String(flagStore, "", "where committed checkpoints and final models are kept (default <home>/pouw-store)")
	start.Flags().Duration(flagStatusEvery, 5*time.Second, "status line period (0: none)")
	start.Flags().Float64(flagMemFraction, 0.8, "fraction of available memory a job may use")
	start.Flags().UintSlice(flagTasks, nil, "only these task ids (default: any)")
	return group("miner", "Proof-of-Useful-Work miner", start)
}

// NewVerifierCommand returns `verifier` with `start`.
func NewVerifierCommand() *cobra.Command {
	start := &cobra.Command{
		Use:   "start --from KEY [--node URL] [--workers N] [--data-dir DIR] [--p2p-listen MULTIADDR,...]",
		Short: "Bond as a verifier; replay assigned proofs and vote; re-measure assigned models",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			log := newLogger(cmd)
			cc, be, err := common(cmd, log)
			if err != nil {
				return err
			}
			cfg := verifier.DefaultConfig()
			cfg.Logger = log
			cfg.Workers, _ = cmd.Flags().GetInt(flagWorkers)
			cfg.StateDir = filepath.Join(cc.ClientContext().HomeDir, "verifier-state")
			cfg.Poll, _ = cmd.Flags().GetDuration(flagPoll)
			nd, err := startNode(cmd, cc, nil, log)
			if err != nil {
				return err
			}
			defer nd.h.Close()
			cfg.PeerID, cfg.Multiaddrs = nd.h.ID().String(), p2p.HostAddrs(nd.h)
			fetcher, err := verifier.NewP2PFetcher(nd.h, nd.chainID, cc.Query)
			if err != nil {
				return err
			}
			v, err := verifier.New(cfg, worker.NewClient(cc), nd.datasets, fetcher, be)
			if err != nil {
				return err
			}
			serveMetrics(cmd, log, verifierCollector(v))
			log.Info("verifier starting", "address", cc.Address(), "peer", nd.h.ID())
			return v.Run(ctx)
		},
	}
	addCommonFlags(start)
	start.Flags().Int(flagWorkers, 2, "assignments worked at once")
	return group("verifier", "Proof-of-Useful-Work verifier", start)
}

func addCommonFlags(cmd *cobra.Command) {
	flags.AddTxFlagsToCmd(cmd)
	cmd.Flags().String(flagDevice, "auto", "auto|cpu|gpu:N (gpu needs a build with -tags cuda; auto falls back to the CPU, saying why; the bits are the same)")
	cmd.Flags().String(flagDataDir, "", "directory of prepared datasets (subdirectories with dataset.pouw + meta.json); a dataset not found there is fetched over libp2p from the storage ring")
	cmd.Flags().StringSlice(flagListen, []string{"/ip4/127.0.0.1/tcp/0"}, "libp2p listen addresses (registered on chain with the bond; a change is re-registered at start)")
	cmd.Flags().Int(flagThreads, runtime.NumCPU(), "CPU threads per kernel")
	cmd.Flags().Duration(flagPoll, time.Second, "chain polling period")
	cmd.Flags().String(flagMetrics, "", "serve Prometheus metrics on this address (e.g. 127.0.0.1:9464)")
}

// node is a daemon's libp2p side: its host (identity kept under
// <home>/p2p/identity.key), a service serving the miner's store
// (checkpoints and models; none for a verifier) and the datasets source
// (--data-dir first, else fetched from the storage ring).
type node struct {
	h        host.Host
	chainID  string
	datasets worker.Datasets
}

func startNode(cmd *cobra.Command, cc *chainclient.Client, store *p2p.Store, log *slog.Logger) (*node, error) {
	clientCtx := cc.ClientContext()
	chainID := clientCtx.ChainID
	if chainID == "" && clientCtx.Client != nil {
		// The protocol ids are scoped by chain id: ask the node.
		st, err := clientCtx.Client.Status(cmd.Context())
		if err != nil {
			return nil, fmt.Errorf("no --chain-id, and the node's status failed: %w", err)
		}
		chainID = st.NodeInfo.Network
	}
	hc := p2p.DefaultHostConfig(clientCtx.HomeDir)
	hc.ListenAddrs, _ = cmd.Flags().GetStringSlice(flagListen)
	h, err := p2p.NewHost(hc)
	if err != nil {
		return nil, err
	}
	svc, err := p2p.NewService(h, p2p.BlobConfig(chainID), store, nil)
	if err != nil {
		h.Close()
		return nil, err
	}
	if store != nil {
		if err := svc.Start(cmd.Context()); err != nil {
			h.Close()
			return nil, err
		}
	}
	dataDir, _ := cmd.Flags().GetString(flagDataDir)
	ds := &worker.P2PDatasets{Service: svc, Chain: p2p.QueryChain{Q: cc.Query}, Ring: p2p.DefaultRingConfig(), Log: log}
	if dataDir != "" {
		ds.Local = &worker.DirDatasets{Root: dataDir}
	}
	log.Info("libp2p host", "peer", h.ID(), "addrs", p2p.HostAddrs(h), "chain", chainID)
	return &node{h: h, chainID: chainID, datasets: ds}, nil
}

func newLogger(cmd *cobra.Command) *slog.Logger {
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}

func common(cmd *cobra.Command, log *slog.Logger) (*chainclient.Client, accel.Backend, error) {
	clientCtx, err := client.GetClientTxContext(cmd)
	if err != nil {
		return nil, nil, err
	}
	from, _ := cmd.Flags().GetString(flags.FlagFrom)
	if from == "" {
		return nil, nil, fmt.Errorf("--from is required (a key in the keyring)")
	}
	cfg := chainclient.DefaultConfig()
	cfg.Logger = log
	cfg.GasPrices, _ = cmd.Flags().GetString(flags.FlagGasPrices)
	cc, err := chainclient.New(clientCtx, clientCtx.FromName, cfg)
	if err != nil {
		return nil, nil, err
	}
	dev, _ := cmd.Flags().GetString(flagDevice)
	threads, _ := cmd.Flags().GetInt(flagThreads)
	be, err := openDevice(dev, max(threads, 1), log)
	if err != nil {
		return nil, nil, err
	}
	return cc, be, nil
}

// openDevice opens the backend --device names: cpu; gpu:N (the CUDA
// backend on GPU N; an error when this binary is built without the cuda tag
// or the GPU cannot be opened); auto (GPU 0 when a CUDA build can open it,
// else the CPU, saying why). Every backend computes the same bits.
func openDevice(dev string, threads int, log *slog.Logger) (accel.Backend, error) {
	opts := cuda.DefaultOptions()
	opts.CPU = cpu.Options{Threads: threads}
	switch {
	case dev == "cpu":
		return cpu.New(opts.CPU)
	case dev == "auto":
		be, why, err := cuda.OpenOrCPU(0, opts)
		if err == nil && why != "" {
			log.Info("device auto: " + why)
		}
		return be, err
	case strings.HasPrefix(dev, "gpu:"):
		n, err := strconv.Atoi(strings.TrimPrefix(dev, "gpu:"))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--device %q: expected gpu:N with N a device index", dev)
		}
		be, why, err := cuda.OpenOrCPU(n, opts)
		if err != nil {
			return nil, err
		}
		if why != "" {
			return nil, fmt.Errorf("--device %s: %s (use --device cpu or auto)", dev, strings.TrimSuffix(why, "; training on CPU"))
		}
		return be, nil
	default:
		return nil, fmt.Errorf("--device %q: expected auto, cpu or gpu:N", dev)
	}
}

func serveMetrics(cmd *cobra.Command, log *slog.Logger, c prometheus.Collector) {
	addr, _ := cmd.Flags().GetString(flagMetrics)
	if addr == "" {
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			log.Error("metrics server", "addr", addr, "err", err)
		}
	}()
	log.Info("metrics", "addr", "http://"+addr+"/metrics")
}

// counters exposes a fixed set of counters read at scrape time.
type counters struct {
	descs map[string]*prometheus.Desc
	read  func() map[string]float64
}

func (c counters) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c counters) Collect(ch chan<- prometheus.Metric) {
	for name, v := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.CounterValue, v)
	}
}

func newCounters(prefix string, names []string, read func() map[string]float64) counters {
	c := counters{descs: map[string]*prometheus.Desc{}, read: read}
	for _, n := range names {
		c.descs[n] = prometheus.NewDesc(prefix+n+"_total", prefix+n, nil, nil)
	}
	return c
}

func minerCollector(m *miner.Miner) prometheus.Collector {
	s := &m.Stats
	return newCounters("pouw_miner_", []string{"jobs", "steps", "samples", "tickets", "proofs_won", "proofs_submitted", "commitments"},
		func() map[string]float64 {
			return map[string]float64{"jobs": float64(s.JobsDone.Load()), "steps": float64(s.Steps.Load()), "samples": float64(s.Samples.Load()),
				"tickets": float64(s.TicketsDrawn.Load()), "proofs_won": float64(s.ProofsWon.Load()),
				"proofs_submitted": float64(s.ProofsSubmitted.Load()), "commitments": float64(s.Commitments.Load())}
		})
}

func verifierCollector(v *verifier.Verifier) prometheus.Collector {
	s := &v.Stats
	return newCounters("pouw_verifier_", []string{"proofs_accepted", "proofs_rejected", "verdicts_revealed", "evaluations"},
		func() map[string]float64 {
			return map[string]float64{"proofs_accepted": float64(s.ProofsAccepted.Load()), "proofs_rejected": float64(s.ProofsRejected.Load()),
				"verdicts_revealed": float64(s.Revealed.Load()), "evaluations": float64(s.Evaluations.Load())}
		})
}
