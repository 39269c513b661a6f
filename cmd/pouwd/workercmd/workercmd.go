package workercmd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/cpu"
	"github.com/pouw/pouwd/accel/cuda"
	"github.com/pouw/pouwd/chainclient"
	"github.com/pouw/pouwd/miner"
	"github.com/pouw/pouwd/ml"
	"github.com/pouw/pouwd/ml/devtrain"
	"github.com/pouw/pouwd/monitor"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/verifier"
	"github.com/pouw/pouwd/worker"
)

const (
	flagDevice          = "device"
	flagMaxJobs         = "max-jobs"
	flagDataDir         = "data-dir"
	flagStore           = "store"
	flagListen          = "p2p-listen"
	flagWorkers         = "workers"
	flagThreads         = "threads"
	flagPoll            = "poll"
	flagMetrics         = "metrics-addr"
	flagMetricsEvery    = "metrics-interval"
	flagAlertDiskFree   = "alert-disk-free"
	flagAlertNoProgress = "alert-no-progress"
	flagReportDir       = "report-dir"
	flagReportKeep      = "report-keep"
	flagStatusEvery     = "status-every"
	flagMemFraction     = "memory-fraction"
	flagTasks           = "tasks"
	flagMaxProofs       = "max-proofs-per-job"
	flagTopUpEvery      = "top-up-every"
)

func group(use, short string, start *cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, RunE: client.ValidateCmd}
	cmd.AddCommand(start)
	return cmd
}

// NewMinerCommand returns `miner` with `start`.
func NewMinerCommand() *cobra.Command {
	start := &cobra.Command{
		Use:   "start --from KEY [--node URL] [--device auto|cpu|gpu:N|gpu:all] [--max-jobs N] [--data-dir DIR] [--p2p-listen MULTIADDR,...]",
		Short: "Bond as a miner, claim jobs, train, commit checkpoints, submit proofs and results",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			log := newLogger(cmd)
			cc, devs, err := common(cmd, log)
			if err != nil {
				return err
			}
			be := devs[0]
			cfg := miner.DefaultConfig()
			cfg.Logger = log
			cfg.MaxJobs, _ = cmd.Flags().GetInt(flagMaxJobs)
			cfg.MaxProofsPerJob, _ = cmd.Flags().GetInt(flagMaxProofs)
			cfg.Poll, _ = cmd.Flags().GetDuration(flagPoll)
			cfg.TopUpEvery, _ = cmd.Flags().GetDuration(flagTopUpEvery)
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
			if cfg.ReportDir, _ = cmd.Flags().GetString(flagReportDir); cfg.ReportDir == "" {
				cfg.ReportDir = filepath.Join(cc.ClientContext().HomeDir, "reports")
			}
			cfg.ReportKeep, _ = cmd.Flags().GetInt(flagReportKeep)
			// On GPUs, jobs whose model has a device path train resident
			// there (ml/devtrain), a job's micro-batches spread over
			// several GPUs; the others on the host path.
			cfg.Place, cfg.PlaceOn = placeJobs(devs, log), devs
			m, err := miner.New(cfg, minerChain{worker.NewClient(cc)}, nd.datasets, st, be)
			if err != nil {
				return err
			}
			noProgress, _ := cmd.Flags().GetDuration(flagAlertNoProgress)
			if _, err := startMonitoring(ctx, cmd, log, cc.Query, []string{cc.ClientContext().HomeDir, storeDir, cfg.StateDir},
				monitor.HealthConfig{Progress: m.LastProgress, NoProgressAfter: noProgress}, m.Metrics); err != nil {
				return err
			}
			log.Info("miner starting", "address", cc.Address().String(), "store", storeDir, "peer", nd.h.ID(), "addrs", cfg.Multiaddrs)
			return m.Run(ctx)
		},
	}
	addCommonFlags(start)
	start.Flags().Lookup(flagDevice).Usage = "auto|cpu|gpu:N|gpu:N,M,...|gpu:all (gpu needs a build with -tags cuda; auto falls back to the CPU, saying why; the bits are the same; several GPUs train a job's micro-batches resident on all of them, a job without micro-batches on the first)"
	addTopUpFlag(start)
	start.Flags().Int(flagMaxJobs, 1, "jobs trained at once")
	start.Flags().Int(flagMaxProofs, 0, "winning proofs submitted per job (0: every winner)")
	start.Flags().String(flagStore, "", "where committed checkpoints and final models are kept (default <home>/pouw-store)")
	start.Flags().Duration(flagStatusEvery, 5*time.Second, "status line period (0: none)")
	start.Flags().Float64(flagMemFraction, 0.8, "fraction of available host memory a job may use (a job resident on GPUs is checked for what stays on the host: its data, the model's copy, a batch; each GPU against its own budget with pouwd ml estimate --device gpu's figure)")
	start.Flags().UintSlice(flagTasks, nil, "only these task ids (default: any)")
	start.Flags().String(flagReportDir, "", "where a run report per job is written (task-T-job-J.json; pouwd ml report FILE prints it; default <home>/reports)")
	start.Flags().Int(flagReportKeep, 100, "job reports kept in --report-dir, the oldest removed first (0: all)")
	start.Flags().Duration(flagAlertNoProgress, 10*time.Minute, "no_progress alert: no training step for this long while a job trains (0: off)")
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
			cc, devs, err := common(cmd, log)
			if err != nil {
				return err
			}
			if len(devs) > 1 {
				dev, _ := cmd.Flags().GetString(flagDevice)
				return fmt.Errorf("--device %s: a verifier runs on one device (gpu:N)", dev)
			}
			be := devs[0]
			cfg := verifier.DefaultConfig()
			cfg.Logger = log
			cfg.Workers, _ = cmd.Flags().GetInt(flagWorkers)
			cfg.StateDir = filepath.Join(cc.ClientContext().HomeDir, "verifier-state")
			cfg.Poll, _ = cmd.Flags().GetDuration(flagPoll)
			cfg.TopUpEvery, _ = cmd.Flags().GetDuration(flagTopUpEvery)
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
			if _, err := startMonitoring(ctx, cmd, log, cc.Query, []string{cc.ClientContext().HomeDir, cfg.StateDir}, monitor.HealthConfig{}, v.Metrics); err != nil {
				return err
			}
			log.Info("verifier starting", "address", cc.Address().String(), "peer", nd.h.ID())
			return v.Run(ctx)
		},
	}
	addCommonFlags(start)
	addTopUpFlag(start)
	start.Flags().Int(flagWorkers, 2, "assignments worked at once")
	return group("verifier", "Proof-of-Useful-Work verifier", start)
}

// addTopUpFlag adds --top-up-every to a bonded daemon's start command.
func addTopUpFlag(cmd *cobra.Command) {
	cmd.Flags().Duration(flagTopUpEvery, worker.DefaultTopUpEvery, "how often to check that slashes left the bond at min_worker_bond or more, topping it up from this account if not (0: never; under the minimum the daemon gets no work)")
}

func addCommonFlags(cmd *cobra.Command) {
	flags.AddTxFlagsToCmd(cmd)
	cmd.Flags().String(flagDevice, "auto", "auto|cpu|gpu:N (gpu needs a build with -tags cuda; auto falls back to the CPU, saying why; the bits are the same)")
	cmd.Flags().String(flagDataDir, "", "directory of prepared datasets (subdirectories with dataset.pouw + meta.json); a dataset not found there is fetched over libp2p from the storage ring")
	cmd.Flags().StringSlice(flagListen, []string{"/ip4/127.0.0.1/tcp/0"}, "libp2p listen addresses (registered on chain with the bond; a change is re-registered at start)")
	cmd.Flags().Int(flagThreads, runtime.NumCPU(), "CPU threads per kernel")
	cmd.Flags().Duration(flagPoll, time.Second, "chain polling period")
	cmd.Flags().String(flagMetrics, "", "serve Prometheus metrics (/metrics) and a health check (/healthz) on this address (e.g. 127.0.0.1:9464)")
	cmd.Flags().Duration(flagMetricsEvery, monitor.DefaultEvery, "period of the resource readings behind the system series and the alerts")
	cmd.Flags().Float64(flagAlertDiskFree, monitor.DefaultMinDiskFreePercent, "disk_space alert: a watched folder's file system below this percentage free (negative: off)")
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
	svc, err := blobService(h, chainID, store, log)
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

// blobService is the miner's or verifier's libp2p service (checkpoints and
// models), logging to the daemon's log: what it drops or refuses (a stored
// checkpoint or model found damaged on disk, a lying peer) must reach the
// operator, not p2p's default discard logger.
func blobService(h host.Host, chainID string, store *p2p.Store, log *slog.Logger) (*p2p.Service, error) {
	cfg := p2p.BlobConfig(chainID)
	cfg.Logger = log
	return p2p.NewService(h, cfg, store, nil)
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

func common(cmd *cobra.Command, log *slog.Logger) (*chainclient.Client, []accel.Backend, error) {
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
	devs, err := openDevices(dev, max(threads, 1), log)
	if err != nil {
		return nil, nil, err
	}
	return cc, devs, nil
}

// maxGPUs bounds gpu:all's probing.
const maxGPUs = 64

// openDevices opens what --device names: one backend (openDevice), or
// several GPUs: gpu:all (GPUs 0, 1, ... until one cannot be opened; GPU 0
// must open) or a list gpu:N,M,... (each must open, none twice), as
// pouwd ml train's --device gpu:all. In a build without the cuda tag a
// GPU is refused with the reason.
func openDevices(dev string, threads int, log *slog.Logger) ([]accel.Backend, error) {
	arg, isGPU := strings.CutPrefix(dev, "gpu:")
	if !isGPU || arg != "all" && !strings.Contains(arg, ",") {
		be, err := openDevice(dev, threads, log)
		if err != nil {
			return nil, err
		}
		return []accel.Backend{be}, nil
	}
	var idx []int
	if arg != "all" {
		for _, f := range strings.Split(arg, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--device %q: expected gpu:N,M,... with N, M device indices", dev)
			}
			for _, o := range idx {
				if o == n {
					return nil, fmt.Errorf("--device %q: GPU %d is named twice", dev, n)
				}
			}
			idx = append(idx, n)
		}
	}
	opts := cuda.DefaultOptions()
	opts.CPU = cpu.Options{Threads: threads}
	var devs []accel.Backend
	for i := 0; arg == "all" && i < maxGPUs || i < len(idx); i++ {
		n := i
		if idx != nil {
			n = idx[i]
		}
		be, why, err := cuda.OpenOrCPU(n, opts)
		if err == nil && why != "" {
			err = fmt.Errorf("%s", strings.TrimSuffix(why, "; training on CPU"))
		}
		if err != nil {
			if arg == "all" && i > 0 {
				break // every GPU there is
			}
			for _, d := range devs {
				if c, ok := d.(interface{ Close() error }); ok {
					_ = c.Close()
				}
			}
			return nil, fmt.Errorf("--device %s: GPU %d: %w (use --device cpu or auto)", dev, n, err)
		}
		devs = append(devs, be)
	}
	if arg == "all" {
		log.Info(fmt.Sprintf("device gpu:all: %d GPUs", len(devs)))
	}
	return devs, nil
}

// placeJobs is the miner's Config.Place over the devices --device opened:
// a job trains resident on every GPU (devtrain.PlaceDevices: a replica on
// each, the job's micro-batches spread over them, reduced on the first in
// ml's order); a job without micro-batches on several GPUs trains on the
// first alone, as pouwd ml train needs --micro-batch for several devices
// (the note says so); a model or setting without a device path on the
// host path (devtrain's note says why).
func placeJobs(devs []accel.Backend, log *slog.Logger) func(tr *ml.Trainer) (func() error, error) {
	return func(tr *ml.Trainer) (func() error, error) {
		use := miner.JobDevices(devs, tr.Cfg)
		if len(use) < len(devs) {
			log.Info(fmt.Sprintf("the job has no micro-batches: training on the first of %d GPUs alone (several GPUs run a job's micro-batches)", len(devs)), "model", tr.Model.Spec.String())
		}
		release, note, err := devtrain.PlaceDevices(use, tr)
		if note != "" {
			log.Info(note, "model", tr.Model.Spec.String())
		}
		return release, err
	}
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
