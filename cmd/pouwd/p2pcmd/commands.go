package p2pcmd

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	sdkmath "cosmossdk.io/math"
	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/spf13/cobra"

	"github.com/pouw/pouwd/ml/data"
	"github.com/pouw/pouwd/p2p"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Flags of the data-layer commands.
const (
	flagK         = "k"
	flagM         = "m"
	flagListen    = "p2p.listen"
	flagBootstrap = "p2p.bootstrap"
	flagTimeout   = "p2p.timeout"
	flagReplicas  = "replicas"
	flagName      = "name"
	flagOut       = "out"
	flagBond      = "bond"
	flagInterval  = "sync-interval"
	flagParallel  = "parallel"
)

// AddDataCommands adds publish, serve and fetch to the `data` group.
func AddDataCommands(dataCmd *cobra.Command) {
	dataCmd.AddCommand(newPublishCmd(), newServeCmd(), newFetchCmd())
}

func addP2PFlags(cmd *cobra.Command, listenDefault []string) {
	cmd.Flags().StringSlice(flagListen, listenDefault, "libp2p listen multiaddrs")
	cmd.Flags().StringSlice(flagBootstrap, nil, "bootstrap peers (/ip4/.../p2p/<id>), dialled with retry and backoff")
	cmd.Flags().Duration(flagTimeout, 60*time.Second, "deadline of each libp2p stream")
	cmd.Flags().Int(flagReplicas, p2p.DefaultRingConfig().Replicas, "storage peers per shard on the ring")
}

// node is a started host + service.
type node struct {
	h   host.Host
	svc *p2p.Service
}

func startNode(cmd *cobra.Command, clientCtx client.Context, identity bool, store *p2p.Store, chain p2p.Chain) (*node, error) {
	if clientCtx.ChainID == "" && clientCtx.Client != nil {
		// Ask the node: the protocol ids are scoped by chain id.
		if st, err := clientCtx.Client.Status(cmd.Context()); err == nil {
			clientCtx = clientCtx.WithChainID(st.NodeInfo.Network)
		}
	}
	if clientCtx.ChainID == "" {
		return nil, errors.New("p2pcmd: no chain id (pass --chain-id or set it in client.toml)")
	}
	hc := p2p.DefaultHostConfig(clientCtx.HomeDir)
	if !identity {
		hc.IdentityPath = ""
	}
	hc.ListenAddrs, _ = cmd.Flags().GetStringSlice(flagListen)
	h, err := p2p.NewHost(hc)
	if err != nil {
		return nil, err
	}
	cfg := p2p.DefaultConfig(clientCtx.ChainID)
	cfg.StreamTimeout, _ = cmd.Flags().GetDuration(flagTimeout)
	// A serving node logs lying peers as they happen; publish and fetch
	// print their own summary of them.
	level := slog.LevelError
	if identity {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	svc, err := p2p.NewService(h, cfg, store, chain)
	if err != nil {
		h.Close()
		return nil, err
	}
	boot, _ := cmd.Flags().GetStringSlice(flagBootstrap)
	infos, err := p2p.ParseBootstrap(boot)
	if err != nil {
		h.Close()
		return nil, err
	}
	for _, ai := range infos {
		if err := p2p.ConnectWithRetry(cmd.Context(), h, ai, 5, 500*time.Millisecond); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: %v\n", err)
		}
	}
	return &node{h: h, svc: svc}, nil
}

func ringConfig(cmd *cobra.Command) p2p.RingConfig {
	rc := p2p.DefaultRingConfig()
	rc.Replicas, _ = cmd.Flags().GetInt(flagReplicas)
	return rc
}

func newPublishCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "publish DIR --k 10 --m 4 --from KEY",
		Short: "Erasure-code a prepared dataset, register it on chain and push its shards to the storage ring",
		Long: `Reads DIR (dataset.pouw + meta.json, as written by 'pouwd data prepare'), checks it,
cuts it into k data + m parity Reed-Solomon shards, registers the dataset with its
shard hashes, Merkle root and providers (MsgRegisterDataset), then pushes every shard
to the storage peers the consistent-hash ring over the registered storage workers
places it on. A dataset already registered (same sha256) is only pushed again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, err := client.GetClientTxContext(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			out := cmd.ErrOrStderr()
			meta, err := data.Verify(args[0])
			if err != nil {
				return err
			}
			canonical, err := os.ReadFile(filepath.Join(args[0], data.DataFile))
			if err != nil {
				return err
			}
			k, _ := cmd.Flags().GetInt(flagK)
			m, _ := cmd.Flags().GetInt(flagM)
			coder := p2p.NewCoder()
			start := time.Now()
			enc, err := coder.Encode(canonical, k, m)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "encoded %d bytes into %d+%d shards of %d bytes in %v (merkle root %x)\n", len(canonical), k, m, enc.Erasure.ShardSize, time.Since(start).Round(time.Millisecond), enc.Erasure.MerkleRoot)
			chain := p2p.QueryChain{Q: types.NewQueryClient(clientCtx)}
			workers, err := chain.StorageWorkers(ctx)
			if err != nil {
				return err
			}
			if len(workers) == 0 {
				return errors.New("p2pcmd: no storage workers are registered on chain; start 'pouwd data serve' first")
			}
			ring, err := p2p.NewRing(p2p.PeerIDs(workers), ringConfig(cmd))
			if err != nil {
				return err
			}
			sum, _ := hexBytes(meta.SHA256)
			place, err := ring.Place(sum, k+m)
			if err != nil {
				return err
			}
			owner := clientCtx.GetFromAddress().String()
			msg, err := RegisterDatasetMsg(owner, meta, enc, ProvidersOf(place))
			if err != nil {
				return err
			}
			if name, _ := cmd.Flags().GetString(flagName); name != "" {
				msg.Name = name
			}
			ds, err := findDataset(ctx, chain, sum)
			if err != nil {
				return err
			}
			if ds == nil {
				hash, err := broadcast(clientCtx, cmd.Flags(), out, msg)
				if err != nil {
					return err
				}
				if clientCtx.GenerateOnly {
					return nil
				}
				ds, err = waitFor(ctx, 90*time.Second, func() (*types.Dataset, error) { return findDataset(ctx, chain, sum) })
				if err != nil {
					return fmt.Errorf("p2pcmd: dataset registration not seen on chain: %w", err)
				}
				fmt.Fprintf(out, "registered dataset %d (%s)%s\n", ds.Id, meta.SHA256, inTx(hash))
			} else {
				fmt.Fprintf(out, "dataset %d is already registered; pushing its shards again\n", ds.Id)
				if !bytes.Equal(types.MerkleRoot(enc.Erasure.ShardHashes), ds.Erasure.MerkleRoot) {
					return fmt.Errorf("p2pcmd: dataset %d is registered with another erasure shape (merkle root %x); use its k and m", ds.Id, ds.Erasure.MerkleRoot)
				}
			}
			store, err := p2p.OpenStore(filepath.Join(clientCtx.HomeDir, "p2p", "publish"))
			if err != nil {
				return err
			}
			n, err := startNode(cmd, clientCtx, false, store, chain)
			if err != nil {
				return err
			}
			defer n.h.Close()
			p2p.AddWorkerAddrs(n.h, workers)
			start = time.Now()
			err = n.svc.PushShards(ctx, ds.Id, enc.Shards, p2p.PlacementPeers(place), func(done, total int) {
				fmt.Fprintf(out, "\rpushed %d/%d shard copies", done, total)
			})
			fmt.Fprintln(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "pushed %d shards to %d storage peers in %v\n", k+m, len(msg.Providers), time.Since(start).Round(time.Millisecond))
			fmt.Fprintln(cmd.OutOrStdout(), ds.Id)
			return nil
		},
	}
	cmd.Flags().Int(flagK, p2p.DefaultDataShards, "data shards")
	cmd.Flags().Int(flagM, p2p.DefaultParityShards, "parity shards")
	cmd.Flags().String(flagName, "", "dataset name on chain (default: meta.json's name)")
	addP2PFlags(cmd, []string{"/ip4/127.0.0.1/tcp/0"})
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

func hexBytes(s string) ([]byte, error) { return hex.DecodeString(s) }

// findDataset looks a dataset up by its sha256 (nil when not registered).
func findDataset(ctx context.Context, chain p2p.QueryChain, sum []byte) (*types.Dataset, error) {
	all, err := chain.Datasets(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if bytes.Equal(all[i].Sha256, sum) {
			return &all[i], nil
		}
	}
	return nil, nil
}

// waitFor polls f every second until it returns a value, an error, or the
// timeout passes.
func waitFor[T any](ctx context.Context, timeout time.Duration, f func() (*T, error)) (*T, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		v, err := f()
		if err != nil || v != nil {
			return v, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve --from KEY",
		Short: "Run a storage peer: register (and bond) as a storage worker, keep and serve the shards the ring places here",
		Long: `Starts a libp2p host whose identity is <home>/p2p/identity.key, registers the
account as a WORKER_ROLE_STORAGE worker with this peer id and its listen addresses
(bonding min_worker_bond, or --bond, when it is not bonded yet; re-registering
when its addresses changed), stores shards under <home>/p2p/store, verifies
every shard it receives against the chain, serves shards, checkpoints and
models, and every --sync-interval re-reads the ring from chain state and
fetches (or rebuilds from k others) every shard now placed here. Runs until
interrupted. The default listen ports are ephemeral, so a restart re-registers
the new addresses (a zero-amount MsgRegisterWorker); pass fixed --p2p.listen
addresses to avoid that. With --metrics-addr it serves Prometheus metrics
(/metrics: the pouw_storage_* series, the system, process and GPU series)
and /healthz (503 naming each alert that holds: disk space, memory
pressure, GPU, chain unreachable); see docs/MONITORING.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			clientCtx, err := client.GetClientTxContext(cmd)
			if err != nil {
				return err
			}
			clientCtx = clientCtx.WithSkipConfirmation(true)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.ErrOrStderr()
			q := types.NewQueryClient(clientCtx)
			chain := p2p.QueryChain{Q: q}
			storeDir := filepath.Join(clientCtx.HomeDir, "p2p", "store")
			store, err := p2p.OpenStore(storeDir)
			if err != nil {
				return err
			}
			n, err := startNode(cmd, clientCtx, true, store, chain)
			if err != nil {
				return err
			}
			defer n.h.Close()
			if err := n.svc.Start(ctx); err != nil {
				return err
			}
			defer n.svc.Stop(context.Background())
			addrs := p2p.HostAddrs(n.h)
			fmt.Fprintf(out, "storage peer %s listening on %v\n", n.h.ID(), addrs)
			if err := ensureRegistered(ctx, cmd, clientCtx, q, n.h.ID().String(), addrs); err != nil {
				return err
			}
			iv, _ := cmd.Flags().GetDuration(flagInterval)
			log := slog.New(slog.NewTextHandler(out, nil))
			sp := &p2p.StoragePeer{Svc: n.svc, Chain: chain, Coder: p2p.NewCoder(), Ring: ringConfig(cmd), Interval: iv, Log: log}
			if err := startMonitoring(ctx, cmd, clientCtx.HomeDir, storeDir, q, n.svc, sp, log); err != nil {
				return err
			}
			return sp.Run(ctx)
		},
	}
	cmd.Flags().String(flagBond, "", "bond for a new registration (default: the chain's min_worker_bond)")
	cmd.Flags().Duration(flagInterval, 10*time.Second, "how often to re-read the ring and re-replicate")
	addMetricsFlags(cmd)
	addP2PFlags(cmd, p2p.DefaultHostConfig("").ListenAddrs)
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// ensureRegistered registers the account as a storage worker with this
// peer id and addresses unless it already is exactly that.
func ensureRegistered(ctx context.Context, cmd *cobra.Command, clientCtx client.Context, q types.QueryClient, peerID string, addrs []string) error {
	addr := clientCtx.GetFromAddress().String()
	res, err := q.Worker(ctx, &types.QueryWorkerRequest{Address: addr})
	var cur *types.Worker
	if err == nil {
		cur = &res.Worker
	}
	if cur != nil && cur.Role == types.WORKER_ROLE_STORAGE && cur.Status == types.WORKER_STATUS_BONDED &&
		cur.PeerId == peerID && slices.Equal(cur.Multiaddrs, addrs) {
		fmt.Fprintf(cmd.ErrOrStderr(), "already registered as storage worker %s\n", addr)
		return nil
	}
	if cur != nil && cur.Role != types.WORKER_ROLE_STORAGE {
		return fmt.Errorf("p2pcmd: %s is registered as %s; a storage peer needs its own account", addr, cur.Role)
	}
	params, err := q.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		return err
	}
	bond := sdk.NewCoin(params.Params.MinWorkerBond.Denom, sdkmath.ZeroInt())
	if cur == nil {
		bond = params.Params.MinWorkerBond
		if s, _ := cmd.Flags().GetString(flagBond); s != "" {
			if bond, err = sdk.ParseCoinNormalized(s); err != nil {
				return err
			}
		}
	}
	msg := &types.MsgRegisterWorker{Address: addr, Role: types.WORKER_ROLE_STORAGE, Bond: bond, PeerId: peerID, Multiaddrs: addrs}
	if _, err := broadcast(clientCtx, cmd.Flags(), cmd.ErrOrStderr(), msg); err != nil {
		return err
	}
	_, err = waitFor(ctx, 90*time.Second, func() (*types.Worker, error) {
		res, err := q.Worker(ctx, &types.QueryWorkerRequest{Address: addr})
		if err != nil || res.Worker.PeerId != peerID || !slices.Equal(res.Worker.Multiaddrs, addrs) {
			return nil, nil
		}
		return &res.Worker, nil
	})
	if err != nil {
		return fmt.Errorf("p2pcmd: storage registration not seen on chain: %w", err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "registered storage worker %s (peer %s, bond %s)\n", addr, peerID, bond)
	return nil
}

func newFetchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fetch DATASET_ID --out DIR",
		Short: "Fetch any k verified shards of a registered dataset in parallel, rebuild it and write the prepared directory",
		Long: `Reads the dataset record and the storage ring from chain state, fetches shards
from the peers the ring places them on (then the registered providers, then any
storage peer), verifying each against its hash on chain, rebuilds the canonical
bytes, checks them against the dataset's sha256 and writes DIR/dataset.pouw and
DIR/meta.json. Peers that sent bad data are named.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, err := client.GetClientQueryContext(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			outDir, _ := cmd.Flags().GetString(flagOut)
			if outDir == "" {
				return errors.New("p2pcmd: --out is required")
			}
			var id uint64
			if _, err := fmt.Sscan(args[0], &id); err != nil {
				return fmt.Errorf("p2pcmd: dataset id %q: %w", args[0], err)
			}
			chain := p2p.QueryChain{Q: types.NewQueryClient(clientCtx)}
			ds, err := chain.Dataset(ctx, id)
			if err != nil {
				return err
			}
			n, err := startNode(cmd, clientCtx, false, nil, chain)
			if err != nil {
				return err
			}
			defer n.h.Close()
			par, _ := cmd.Flags().GetInt(flagParallel)
			errOut := cmd.ErrOrStderr()
			b, rep, err := n.svc.FetchFromRing(ctx, chain, ds, ringConfig(cmd),
				p2p.FetchOptions{Parallel: par, Progress: func(v, k int) { fmt.Fprintf(errOut, "\rverified %d/%d shards", v, k) }})
			fmt.Fprintln(errOut)
			if rep != nil {
				for _, f := range rep.Faults {
					fmt.Fprintf(errOut, "bad peer: %v\n", f)
				}
			}
			if err != nil {
				return err
			}
			if _, err := WriteFetched(outDir, ds, b); err != nil {
				return err
			}
			mbps := float64(len(b)) / rep.Elapsed.Seconds() / 1e6
			fmt.Fprintf(errOut, "dataset %d: %d bytes in %v (%.1f MB/s), parity used: %v, sha256 %x\n", ds.Id, len(b), rep.Elapsed.Round(time.Millisecond), mbps, rep.Rebuilt, ds.Sha256)
			fmt.Fprintln(cmd.OutOrStdout(), outDir)
			return nil
		},
	}
	cmd.Flags().String(flagOut, "", "directory to write dataset.pouw and meta.json into")
	cmd.Flags().Int(flagParallel, 0, "parallel shard fetches (default k)")
	addP2PFlags(cmd, []string{"/ip4/127.0.0.1/tcp/0"})
	flags.AddQueryFlagsToCmd(cmd)
	cmd.Flags().String(flags.FlagChainID, "", "chain id (default: client.toml, else asked from the node)")
	return cmd
}
