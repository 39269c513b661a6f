package worker

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// DefaultPeerID and DefaultMultiaddrs are the placeholder libp2p identity
// of a DefaultConfig: a well-formed peer id and a loopback address, for a
// daemon that serves nothing. `pouwd miner start` and `pouwd verifier
// start` replace them with their host's own.
const DefaultPeerID = "12D3KooWLtxJQg1GQ2VFDMnaoZH2YdkoHN8jL4e8tNAiJPfTPGvv"

// DefaultMultiaddrs returns the placeholder addresses (a new slice each
// call, so a config may append to its own).
func DefaultMultiaddrs() []string { return []string{"/ip4/127.0.0.1/tcp/4001"} }

// Config is what both daemons are configured with (miner.Config and
// verifier.Config embed it).
type Config struct {
	// Poll is how often the chain is polled.
	Poll time.Duration
	// PeerID and Multiaddrs are registered with the bond: where the
	// daemon's libp2p host is reached.
	PeerID     string
	Multiaddrs []string
	// Devices are declared with the bond (nil: DetectDevices).
	Devices []types.Device
	// StateDir keeps what a restarted daemon needs (the miner's step
	// journals, the verifier's committed verdicts); empty: nothing is kept.
	StateDir string
	Logger   *slog.Logger
	// TopUpEvery is how often the daemon checks that slashes have not
	// taken its bond below min_worker_bond, and tops it up from its
	// account if they have (TopUp); 0: never (the operator tops up).
	TopUpEvery time.Duration
}

// DefaultTopUpEvery is Config.TopUpEvery's default: a slashed worker is
// back in the draw within half a minute of the slash that took it under
// the minimum.
const DefaultTopUpEvery = 30 * time.Second

// DefaultConfig polls every second with the placeholder identity and
// keeps the bond topped up (DefaultTopUpEvery).
func DefaultConfig() Config {
	return Config{Poll: time.Second, PeerID: DefaultPeerID, Multiaddrs: DefaultMultiaddrs(), TopUpEvery: DefaultTopUpEvery}
}

// Validate checks the shared fields; who names the daemon in the error.
func (c Config) Validate(who string) error {
	if c.Poll <= 0 {
		return fmt.Errorf("%s: poll %s: expected > 0", who, c.Poll)
	}
	if c.TopUpEvery < 0 {
		return fmt.Errorf("%s: top-up interval %s: expected >= 0 (0: never)", who, c.TopUpEvery)
	}
	if len(c.PeerID) < 32 {
		return fmt.Errorf("%s: peer id %q is not a libp2p peer id", who, c.PeerID)
	}
	if c.Devices != nil {
		if err := types.ValidateDevices(c.Devices); err != nil {
			return fmt.Errorf("%s: devices: %w", who, err)
		}
	}
	return nil
}

// Log returns the configured logger or slog.Default().
func (c Config) Log() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}
