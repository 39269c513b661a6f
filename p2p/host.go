package p2p

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// ServiceName is the resource-manager service of every pouw protocol.
const ServiceName = "pouw.data"

// HostConfig configures the libp2p host.
type HostConfig struct {
	// IdentityPath is the Ed25519 key file (created 0600 when missing),
	// normally <home>/p2p/identity.key. Empty: an ephemeral key.
	IdentityPath string
	// ListenAddrs default to TCP and QUIC on 127.0.0.1, ephemeral ports.
	ListenAddrs []string
	// MaxMemory and MaxFD scale the resource manager's limits (explicit,
	// not auto-detected). Defaults 2 GiB and 512.
	MaxMemory int64
	MaxFD     int
	// ServiceMemory caps memory reserved by the pouw protocols in all
	// (default 1 GiB) and ServicePeerMemory per remote peer (default 256 MiB).
	ServiceMemory     int64
	ServicePeerMemory int64
}

// DefaultHostConfig returns loopback listeners and the key under home
// (<home>/p2p/identity.key; no key file when home is empty).
func DefaultHostConfig(home string) HostConfig {
	c := HostConfig{
		ListenAddrs:       []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"},
		MaxMemory:         2 << 30,
		MaxFD:             512,
		ServiceMemory:     1 << 30,
		ServicePeerMemory: 256 << 20,
	}
	if home != "" {
		c.IdentityPath = filepath.Join(home, "p2p", "identity.key")
	}
	return c
}

// Validate checks the configuration.
func (c HostConfig) Validate() error {
	if len(c.ListenAddrs) == 0 {
		return errors.New("p2p: host: no listen addresses")
	}
	for _, a := range c.ListenAddrs {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return fmt.Errorf("p2p: host: listen address %q: %w", a, err)
		}
	}
	if c.MaxMemory < 64<<20 || c.MaxFD < 16 || c.ServiceMemory < 1<<20 || c.ServicePeerMemory < 1<<20 {
		return fmt.Errorf("p2p: host: limits too small (memory %d, fds %d, service %d, per peer %d)", c.MaxMemory, c.MaxFD, c.ServiceMemory, c.ServicePeerMemory)
	}
	return nil
}

// LoadOrCreateIdentity reads an Ed25519 libp2p key (protobuf-marshalled)
// from path, creating it with mode 0600 when missing. A key file readable
// by others is refused.
func LoadOrCreateIdentity(path string) (crypto.PrivKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("p2p: identity %s has mode %v, expected 0600", path, st.Mode().Perm())
		}
		k, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return nil, fmt.Errorf("p2p: identity %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	raw, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("p2p: identity %s: %w", path, err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return nil, err
	}
	return k, f.Close()
}

// Limits returns the resource manager's concrete limits: libp2p's defaults
// scaled to MaxMemory/MaxFD, plus explicit limits for the pouw service.
func (c HostConfig) Limits() rcmgr.ConcreteLimitConfig {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	// Our payloads are whole shards (MNIST: 5.5 MB each) reserved per
	// stream: the defaults (16 MiB per stream and per protocol and peer)
	// are too small for parallel transfers, so the generic protocol and
	// stream memory limits follow the service's, exactly (no scaling).
	scaling.StreamBaseLimit.Memory = c.ServicePeerMemory
	scaling.StreamLimitIncrease.Memory = 0
	scaling.ProtocolPeerBaseLimit.Memory = c.ServicePeerMemory
	scaling.ProtocolPeerLimitIncrease.Memory = 0
	scaling.ProtocolBaseLimit.Memory = c.ServiceMemory
	scaling.ProtocolLimitIncrease.Memory = 0
	scaling.AddServiceLimit(ServiceName,
		rcmgr.BaseLimit{StreamsInbound: 256, StreamsOutbound: 256, Streams: 512, Memory: c.ServiceMemory},
		rcmgr.BaseLimitIncrease{})
	scaling.AddServicePeerLimit(ServiceName,
		rcmgr.BaseLimit{StreamsInbound: 32, StreamsOutbound: 32, Streams: 64, Memory: c.ServicePeerMemory},
		rcmgr.BaseLimitIncrease{})
	return scaling.Scale(c.MaxMemory, c.MaxFD)
}

// NewHost starts a libp2p host with TCP and QUIC, the given identity and
// an explicit resource manager. Relay, NAT port mapping and hole punching
// stay off: storage peers announce the addresses they registered on chain.
func NewHost(cfg HostConfig) (host.Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var key crypto.PrivKey
	var err error
	if cfg.IdentityPath != "" {
		key, err = LoadOrCreateIdentity(cfg.IdentityPath)
	} else {
		key, _, err = crypto.GenerateEd25519Key(rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(cfg.Limits()))
	if err != nil {
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.ResourceManager(rm),
		libp2p.DisableRelay(),
		libp2p.SwarmOpts(swarm.WithDialRanker(tcpFirst)),
	)
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("p2p: host: %w", err)
	}
	return h, nil
}

// tcpFirst ranks dials for bulk transfers: TCP addresses at once, QUIC
// after 300 ms (libp2p's default prefers QUIC, whose user-space crypto
// moves a third of TCP's bytes per CPU second here; see scripts/bench/p2p.sh).
func tcpFirst(addrs []ma.Multiaddr) []network.AddrDelay {
	out := make([]network.AddrDelay, 0, len(addrs))
	for _, a := range addrs {
		d := 300 * time.Millisecond
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			d = 0
		}
		out = append(out, network.AddrDelay{Addr: a, Delay: d})
	}
	return out
}

// HostAddrs returns the host's listen addresses as strings, each with
// /p2p/<id> appended (what a storage worker registers on chain is without it).
func HostAddrs(h host.Host) []string {
	var out []string
	for _, a := range h.Addrs() {
		out = append(out, a.String())
	}
	return out
}

// AddWorkerAddrs puts the registered multiaddrs of workers into the host's
// peerstore and returns their peer ids (workers with a bad peer id are
// skipped; bad addresses are dropped).
func AddWorkerAddrs(h host.Host, workers []types.Worker) []peer.ID {
	var ids []peer.ID
	for _, w := range workers {
		id, err := peer.Decode(w.PeerId)
		if err != nil {
			continue
		}
		var addrs []ma.Multiaddr
		for _, s := range w.Multiaddrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				addrs = append(addrs, a)
			}
		}
		if id != h.ID() {
			h.Peerstore().AddAddrs(id, addrs, peerstore.TempAddrTTL*60)
		}
		ids = append(ids, id)
	}
	return ids
}

// ConnectWithRetry dials a (bootstrap) peer, retrying with exponential
// backoff (from base, doubling, at most 30 s) until attempts are used or
// ctx ends.
func ConnectWithRetry(ctx context.Context, h host.Host, ai peer.AddrInfo, attempts int, base time.Duration) error {
	var err error
	wait := base
	for i := 0; i < attempts; i++ {
		if err = h.Connect(ctx, ai); err == nil {
			return nil
		}
		if i+1 == attempts {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("p2p: connect %s: %w (last error: %v)", ai.ID, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
	return fmt.Errorf("p2p: connect %s: %d attempts failed: %w", ai.ID, attempts, err)
}

// ParseBootstrap parses /…/p2p/<id> multiaddrs into AddrInfos.
func ParseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	for _, s := range addrs {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("p2p: bootstrap peer %q: %w", s, err)
		}
		out = append(out, *ai)
	}
	return out, nil
}
