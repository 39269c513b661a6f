package worker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	sdkmath "cosmossdk.io/math"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/pouw/pouwd/accel"
	"github.com/pouw/pouwd/accel/nvml"
	"github.com/pouw/pouwd/x/pouwml/types"
)

// Devices are the devices a machine declares with its bond: every GPU when
// this build can train on them (the CUDA backend and a driver that lists
// them), else the CPU, named by its model and core count, with the
// machine's RAM.
func Devices(d accel.Devices) []types.Device {
	var out []types.Device
	if d.CUDABuilt && d.GPUError == "" {
		for _, g := range d.GPUs {
			if len(out) == types.MaxDevices {
				break
			}
			name := g.Name
			if name == "" {
				name = fmt.Sprintf("gpu %d", g.Index)
			}
			out = append(out, types.Device{Kind: "gpu", Name: deviceName(name), MemoryBytes: g.MemoryTotal})
		}
	}
	if len(out) == 0 {
		model := d.CPU.Model
		if model == "" {
			model = d.CPU.Arch
		}
		if model == "" {
			model = "cpu"
		}
		out = append(out, types.Device{Kind: "cpu", Name: deviceName(fmt.Sprintf("%s (%d cores)", model, d.CPU.Cores)), MemoryBytes: d.CPU.MemoryTotal})
	}
	return out
}

func deviceName(s string) string {
	if len(s) > types.MaxDeviceNameLen {
		s = s[:types.MaxDeviceNameLen]
	}
	return s
}

// DetectDevices detects this machine's devices (accel.Detect with NVML)
// and returns what Devices declares for them.
func DetectDevices(ctx context.Context) []types.Device {
	return Devices(accel.Detect(ctx, nvml.Prober{}))
}

// EnsureBonded registers c's account as a worker of role with the minimum
// bond, tops its bond up to the minimum, or, when it is bonded but
// registered with another peer id, addresses or devices (a restart on
// other ports, another GPU), re-registers those with a zero top-up. It
// declares cfg.Devices (nil: DetectDevices).
func EnsureBonded(ctx context.Context, c Chain, role types.WorkerRole, cfg Config, log *slog.Logger) error {
	devices := cfg.Devices
	if devices == nil {
		devices = DetectDevices(ctx)
	}
	p, err := c.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		return fmt.Errorf("params: %w", err)
	}
	me := c.Address().String()
	min := p.Params.MinWorkerBond
	bond := min
	reg := func(bond sdk.Coin) error {
		_, err := c.Broadcast(ctx, &types.MsgRegisterWorker{Address: me, Role: role, Bond: bond, PeerId: cfg.PeerID,
			Multiaddrs: cfg.Multiaddrs, Devices: devices})
		return err
	}
	w, err := c.Worker(ctx, &types.QueryWorkerRequest{Address: me})
	if err == nil {
		if w.Worker.Role != role {
			return fmt.Errorf("%s is registered as %s, not %s", me, w.Worker.Role, role)
		}
		if w.Worker.Status == types.WORKER_STATUS_BONDED && w.Worker.Bond.IsGTE(min) {
			if w.Worker.PeerId == cfg.PeerID && slices.Equal(w.Worker.Multiaddrs, cfg.Multiaddrs) && slices.Equal(w.Worker.Devices, devices) {
				log.Info("already bonded", "role", role, "bond", w.Worker.Bond)
				return nil
			}
			log.Info("updating the registered libp2p address and devices", "role", role, "peer", cfg.PeerID, "addrs", cfg.Multiaddrs, "devices", devices)
			return reg(sdk.NewCoin(min.Denom, sdkmath.ZeroInt()))
		}
		if w.Worker.Bond.IsLT(min) {
			bond = min.Sub(w.Worker.Bond)
		}
	}
	log.Info("registering and bonding", "role", role, "bond", bond, "devices", devices)
	return reg(bond)
}

// TopUp restores a bonded worker's bond to min_worker_bond after slashes
// took it below: under the minimum a worker is never drawn or allowed to
// claim again, and before TopUp only a restart (EnsureBonded) brought it
// back, so verifiers slashed during a transaction flood stayed out until
// someone restarted them and tasks waited for evaluators (fault row 10,
// finding 16). It re-sends what the chain has registered (peer id,
// addresses, devices) with the difference, and returns what it added: a
// zero coin when nothing was needed. A worker not registered in role, or
// unbonding, is left alone.
func TopUp(ctx context.Context, c Chain, role types.WorkerRole, log *slog.Logger) (sdk.Coin, error) {
	p, err := c.Params(ctx, &types.QueryParamsRequest{})
	if err != nil {
		return sdk.Coin{}, fmt.Errorf("params: %w", err)
	}
	min := p.Params.MinWorkerBond
	none := sdk.NewCoin(min.Denom, sdkmath.ZeroInt())
	me := c.Address().String()
	res, err := c.Worker(ctx, &types.QueryWorkerRequest{Address: me})
	if err != nil {
		return none, fmt.Errorf("worker %s: %w", me, err)
	}
	w := res.Worker
	if w.Role != role || w.Status != types.WORKER_STATUS_BONDED || w.Bond.Denom != min.Denom || w.Bond.IsGTE(min) {
		return none, nil
	}
	add := min.Sub(w.Bond)
	log.Info("bond below the minimum after slashes; topping it up", "role", role, "bond", w.Bond, "minimum", min, "adding", add)
	if _, err := c.Broadcast(ctx, &types.MsgRegisterWorker{Address: me, Role: role, Bond: add, PeerId: w.PeerId,
		Multiaddrs: w.Multiaddrs, Devices: w.Devices}); err != nil {
		return none, fmt.Errorf("top up %s by %s: %w", me, add, err)
	}
	return add, nil
}

// KeepBonded runs TopUp every interval until ctx ends (interval <= 0: never).
// A failure (the account cannot pay, the node is unreachable) is logged
// and tried again at the next interval.
func KeepBonded(ctx context.Context, c Chain, role types.WorkerRole, interval time.Duration, log *slog.Logger) {
	if interval <= 0 {
		return
	}
	Every(ctx, interval, func() {
		if _, err := TopUp(ctx, c, role, log); err != nil && ctx.Err() == nil {
			log.Warn("bond top-up", "err", err)
		}
	})
}
