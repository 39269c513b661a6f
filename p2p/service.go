package p2p

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/time/rate"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// Protocol versions.
const (
	shardProtocol = "/pouw/%s/shard/1.0.0"
	ckptProtocol  = "/pouw/%s/ckpt/1.0.0"
	modelProtocol = "/pouw/%s/model/1.0.0"
)

// ShardProtocol, CkptProtocol and ModelProtocol are the protocol ids of a chain.
func ShardProtocol(chainID string) protocol.ID {
	return protocol.ID(fmt.Sprintf(shardProtocol, chainID))
}
func CkptProtocol(chainID string) protocol.ID { return protocol.ID(fmt.Sprintf(ckptProtocol, chainID)) }
func ModelProtocol(chainID string) protocol.ID {
	return protocol.ID(fmt.Sprintf(modelProtocol, chainID))
}

// Errors of the protocols.
var (
	// ErrLyingPeer marks data from a peer that failed verification against
	// a trusted hash, or a reply that broke the protocol.
	ErrLyingPeer = errors.New("p2p: peer sent bad data")
	// ErrRemote is a well-formed refusal (not found, rate limited, ...).
	ErrRemote = errors.New("p2p: peer refused")
	// ErrNoDataset: the dataset is not on chain.
	ErrNoDataset = errors.New("p2p: unknown dataset")
)

// DatasetSource gives the trusted dataset records (the chain).
type DatasetSource interface {
	Dataset(ctx context.Context, id uint64) (*types.Dataset, error)
}

// Fault is a peer caught sending bad data.
type Fault struct {
	Peer  peer.ID
	What  string // what was asked, e.g. "dataset 3 shard 7"
	Err   error
	Since time.Time
}

func (f Fault) String() string { return fmt.Sprintf("%s: %s: %v", f.Peer, f.What, f.Err) }

// Serve is a set of protocols a Service answers.
type Serve uint8

const (
	// ServeShards answers the shard protocol (storage peers, uploaders):
	// get needs the dataset records (a DatasetSource), put stores what
	// checks against them.
	ServeShards Serve = 1 << iota
	// ServeCheckpoints answers the checkpoint protocol from the store.
	ServeCheckpoints
	// ServeModels answers the model protocol from the store.
	ServeModels

	// ServeAll is every protocol (DefaultConfig).
	ServeAll = ServeShards | ServeCheckpoints | ServeModels
	// ServeBlobs is what a miner serves: its committed checkpoints and
	// final models, no dataset shards (BlobConfig).
	ServeBlobs = ServeCheckpoints | ServeModels
)

// Config configures a Service.
type Config struct {
	ChainID string
	// Serve is the set of protocols Start registers (0 means ServeAll).
	// A Service is the client of every protocol whatever it serves.
	Serve Serve
	// StreamTimeout bounds every stream's silence, both ways (default
	// 30 s): a request and its reply header must arrive within it, and a
	// payload may take as long as every chunk of it (PayloadChunk) does.
	// A multi-GB checkpoint moves for minutes on a slow link; a stalled
	// one is cut after StreamTimeout.
	StreamTimeout time.Duration
	// DialTimeout bounds connecting to a peer we are not connected to
	// (default 3 s): a dead peer's QUIC address otherwise holds a shard
	// request until the handshake times out.
	DialTimeout time.Duration
	// MaxBlobSize caps a checkpoint or model served or fetched (default 4
	// GiB: a checkpoint holds the weights and the optimizer's moments, 12
	// bytes a parameter with AdamW, and the chain admits models of up to
	// 200M parameters). The resource manager's stream scope holds one
	// PayloadChunk of it at a time; the blob itself is process memory,
	// bounded on the serving side by BlobServes.
	MaxBlobSize uint64
	// BlobServes is how many checkpoints or models this service sends at
	// once (0: 2); one more request is refused as busy (StatusRateLimited,
	// IsBusy), which a fetcher waits out.
	BlobServes int
	// RequestsPerSecond and Burst limit each remote peer's requests
	// (defaults 50 and 100).
	RequestsPerSecond float64
	Burst             int
	// Logger (default: discard).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults for a chain.
func DefaultConfig(chainID string) Config {
	return Config{ChainID: chainID, Serve: ServeAll, StreamTimeout: 30 * time.Second, DialTimeout: 3 * time.Second, MaxBlobSize: 4 << 30, RequestsPerSecond: 50, Burst: 100}
}

// BlobConfig is DefaultConfig serving only checkpoints and models: a
// miner's host, which needs no dataset records, no ring and no storage
// bond (NewService(h, BlobConfig(chainID), store, nil)).
func BlobConfig(chainID string) Config {
	c := DefaultConfig(chainID)
	c.Serve = ServeBlobs
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.ChainID == "" {
		return errors.New("p2p: chain id is empty")
	}
	if c.Serve&^ServeAll != 0 {
		return fmt.Errorf("p2p: unknown protocols in Serve %#x", uint8(c.Serve))
	}
	if c.StreamTimeout <= 0 || c.DialTimeout <= 0 || c.MaxBlobSize == 0 || c.RequestsPerSecond <= 0 || c.Burst < 1 || c.BlobServes < 0 {
		return fmt.Errorf("p2p: bad limits (timeout %v, max blob %d, rate %v, burst %d)", c.StreamTimeout, c.MaxBlobSize, c.RequestsPerSecond, c.Burst)
	}
	return nil
}

// Service serves the shard, checkpoint and model protocols (those
// Config.Serve names) from a Store and is the client of all three. Everything it receives is checked
// against a trusted hash; peers that send bad data are recorded (Faults).
type Service struct {
	h        host.Host
	cfg      Config
	store    *Store
	datasets DatasetSource
	log      *slog.Logger

	mu      sync.Mutex
	cache   map[uint64]*types.Dataset
	checked map[[2]uint64]bool // shards verified since start (dataset, index)
	limits  map[peer.ID]*rate.Limiter
	faults  []Fault
	// blobSlots holds one token per checkpoint or model being sent: each
	// is read whole from the store, so this bounds that memory.
	blobSlots chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc
	started   bool

	// served and fetched count payload bytes sent to and received from
	// peers (Traffic).
	served, fetched atomic.Uint64
}

// Traffic is what a Service has moved since it was built: payload bytes
// (shards, checkpoints, models; not protocol headers) sent to peers
// (served: answers to their requests and shards pushed) and received from
// them (fetched: answers to this service's requests, verified or not,
// and shards pushed here).
type Traffic struct {
	ServedBytes, FetchedBytes uint64
}

// Traffic returns the bytes moved so far (the storage peer's metrics).
func (s *Service) Traffic() Traffic {
	return Traffic{ServedBytes: s.served.Load(), FetchedBytes: s.fetched.Load()}
}

// NewService builds a service; store may be nil for a pure client and
// datasets may be nil when no shards are served (cfg.Serve without
// ServeShards, e.g. BlobConfig) or fetched.
func NewService(h host.Host, cfg Config, store *Store, datasets DatasetSource) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Serve == 0 {
		cfg.Serve = ServeAll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BlobServes == 0 {
		cfg.BlobServes = 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{h: h, cfg: cfg, store: store, datasets: datasets, log: cfg.Logger,
		cache: map[uint64]*types.Dataset{}, checked: map[[2]uint64]bool{}, limits: map[peer.ID]*rate.Limiter{}, ctx: ctx, cancel: cancel,
		blobSlots: make(chan struct{}, cfg.BlobServes)}, nil
}

// Host is the service's libp2p host.
func (s *Service) Host() host.Host { return s.h }

// Store is the service's store (nil for a pure client).
func (s *Service) Store() *Store { return s.store }

// Start registers the stream handlers of the protocols cfg.Serve names
// (serving needs a store).
func (s *Service) Start(context.Context) error {
	if s.store == nil {
		return errors.New("p2p: serving needs a store")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return nil
	}
	s.started = true
	if s.cfg.Serve&ServeShards != 0 {
		s.h.SetStreamHandler(ShardProtocol(s.cfg.ChainID), s.wrap("shard", s.handleShard))
	}
	if s.cfg.Serve&ServeCheckpoints != 0 {
		s.h.SetStreamHandler(CkptProtocol(s.cfg.ChainID), s.wrap("ckpt", s.handleCkpt))
	}
	if s.cfg.Serve&ServeModels != 0 {
		s.h.SetStreamHandler(ModelProtocol(s.cfg.ChainID), s.wrap("model", s.handleModel))
	}
	return nil
}

// Stop removes the handlers and aborts streams in flight.
func (s *Service) Stop(context.Context) error {
	s.h.RemoveStreamHandler(ShardProtocol(s.cfg.ChainID))
	s.h.RemoveStreamHandler(CkptProtocol(s.cfg.ChainID))
	s.h.RemoveStreamHandler(ModelProtocol(s.cfg.ChainID))
	s.cancel()
	return nil
}

// MaxFaults bounds the faults a Service keeps (Faults): the most recent.
// Any peer may push bad shards (50 a second under the default rate), so
// the record is bounded like every other per-peer state.
const MaxFaults = 1024

// Faults returns the peers caught sending bad data, oldest first: at most
// MaxFaults, the most recent.
func (s *Service) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault(nil), s.faults...)
}

func (s *Service) report(p peer.ID, what string, err error) {
	s.log.Warn("lying peer", "peer", p, "what", what, "err", err)
	s.mu.Lock()
	if len(s.faults) >= MaxFaults {
		// Drop the oldest quarter at once: amortised O(1) per fault.
		s.faults = append(s.faults[:0], s.faults[len(s.faults)-MaxFaults*3/4:]...)
	}
	s.faults = append(s.faults, Fault{Peer: p, What: what, Err: err, Since: time.Now()})
	s.mu.Unlock()
}

func (s *Service) allow(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.limits[p]
	if !ok {
		if len(s.limits) >= 4096 { // forget idle peers rather than grow without bound
			clear(s.limits)
		}
		l = rate.NewLimiter(rate.Limit(s.cfg.RequestsPerSecond), s.cfg.Burst)
		s.limits[p] = l
	}
	return l.Allow()
}

func (s *Service) dataset(ctx context.Context, id uint64) (*types.Dataset, error) {
	s.mu.Lock()
	ds, ok := s.cache[id]
	s.mu.Unlock()
	if ok {
		return ds, nil
	}
	if s.datasets == nil {
		return nil, fmt.Errorf("%w: %d (no chain)", ErrNoDataset, id)
	}
	ds, err := s.datasets.Dataset(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("%w: %d: %v", ErrNoDataset, id, err)
	}
	s.mu.Lock()
	s.cache[id] = ds // registered datasets never change
	s.mu.Unlock()
	return ds, nil
}

func (s *Service) wasChecked(id uint64, idx int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checked[[2]uint64{id, uint64(idx)}]
}

func (s *Service) markChecked(id uint64, idx int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.checked[[2]uint64{id, uint64(idx)}] = true
	} else {
		delete(s.checked, [2]uint64{id, uint64(idx)})
	}
}

// putVerified stores a shard the caller has verified against the chain.
func (s *Service) putVerified(id uint64, idx int, b []byte) error {
	if err := s.store.PutShard(id, idx, b); err != nil {
		return err
	}
	s.markChecked(id, idx, true)
	return nil
}

// wrap gives every handler the same frame: the resource-manager service,
// StreamTimeout for the request (the stream's deadline, which the payload
// writer moves on chunk by chunk) and for the handler's context, prompt
// abort (Reset) when the service stops, the per-peer rate limit, panic
// recovery, Close on success and Reset on error.
func (s *Service) wrap(name string, fn func(ctx context.Context, st network.Stream, r *bufio.Reader) error) network.StreamHandler {
	return func(st network.Stream) {
		remote := st.Conn().RemotePeer()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("handler panic", "protocol", name, "peer", remote, "panic", r)
				st.Reset()
			}
		}()
		if err := st.Scope().SetService(ServiceName); err != nil {
			st.Reset()
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.StreamTimeout)
		defer cancel()
		stop := context.AfterFunc(s.ctx, func() { st.Reset() })
		defer stop()
		_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
		wd := newWatchdog(st, s.cfg.StreamTimeout)
		defer wd.stop()
		ks := kickingStream{Stream: st, wd: wd}
		if !s.allow(remote) {
			_ = WriteDelimited(ks, Response{Status: StatusRateLimited, Message: "rate limited"})
			st.Close()
			return
		}
		if err := fn(ctx, ks, bufio.NewReaderSize(st, 1024)); err != nil {
			s.log.Debug("stream reset", "protocol", name, "peer", remote, "err", err)
			st.Reset()
			return
		}
		st.Close()
	}
}

// refuse writes a refusal and ends the exchange cleanly.
func refuse(st network.Stream, status Status, msg string) error {
	return WriteDelimited(st, Response{Status: status, Message: msg})
}

// PayloadChunk is the unit payloads move in: each chunk written or read
// moves the stream's deadline StreamTimeout on, and the resource manager's
// stream scope holds at most one chunk of a payload.
const PayloadChunk = 4 << 20

// sendPayload writes an OK header and the payload, chunk by chunk.
func (s *Service) sendPayload(st network.Stream, b []byte) error {
	res := min(len(b), PayloadChunk)
	if err := st.Scope().ReserveMemory(res, network.ReservationPriorityMedium); err != nil {
		return refuse(st, StatusRateLimited, busyMessage)
	}
	defer st.Scope().ReleaseMemory(res)
	if err := WriteDelimited(st, Response{Status: StatusOK, Size: uint64(len(b))}); err != nil {
		return err
	}
	if err := writeChunked(st, b, s.cfg.StreamTimeout, nil); err != nil {
		return err
	}
	s.served.Add(uint64(len(b)))
	return nil
}

// watchdog resets a stream that makes no progress for its timeout: kick
// it on progress, stop it when done. Stream deadlines do the same on
// transports that have them; the watchdog also covers those that do not
// (mocknet) and says afterwards whether it fired.
type watchdog struct {
	t       *time.Timer
	timeout time.Duration
	fired   atomic.Bool
}

func newWatchdog(st network.Stream, timeout time.Duration) *watchdog {
	w := &watchdog{timeout: timeout}
	w.t = time.AfterFunc(timeout, func() {
		w.fired.Store(true)
		st.Reset()
	})
	return w
}

func (w *watchdog) kick() { w.t.Reset(w.timeout) }
func (w *watchdog) stop() { w.t.Stop() }

// kickingStream is a handler's stream: every write is progress, so a
// handler's reply may take as long as it keeps moving, while a request
// that stops arriving is cut after StreamTimeout.
type kickingStream struct {
	network.Stream
	wd *watchdog
}

func (k kickingStream) Write(b []byte) (int, error) {
	k.wd.kick()
	return k.Stream.Write(b)
}

// writeChunked writes b in PayloadChunk pieces, giving each timeout (and
// calling kick, when not nil, before each).
func writeChunked(st network.Stream, b []byte, timeout time.Duration, kick func()) error {
	for off := 0; off < len(b); off += PayloadChunk {
		if kick != nil {
			kick()
		}
		_ = st.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := st.Write(b[off:min(off+PayloadChunk, len(b))]); err != nil {
			return err
		}
	}
	return nil
}

// readChunked reads exactly size bytes in PayloadChunk pieces, giving each
// timeout (and calling kick before each). The buffer grows by doubling as
// bytes arrive (from one chunk up to size), so a peer that announces
// gigabytes and sends nothing costs one chunk, and the copies on the way
// sum to less than size.
func readChunked(st network.Stream, r io.Reader, size uint64, timeout time.Duration, kick func()) ([]byte, error) {
	b := make([]byte, 0, min(size, PayloadChunk))
	for uint64(len(b)) < size {
		kick()
		n := int(min(size-uint64(len(b)), PayloadChunk))
		if cap(b)-len(b) < n {
			// Exactly double (append's growth would round up, past size
			// on the last step).
			nb := make([]byte, len(b), int(min(size, 2*uint64(cap(b)))))
			copy(nb, b)
			b = nb
		}
		_ = st.SetReadDeadline(time.Now().Add(timeout))
		if _, err := io.ReadFull(r, b[len(b):len(b)+n]); err != nil {
			return nil, err
		}
		b = b[:len(b)+n]
	}
	return b, nil
}

// acquireBlob takes a blob-serving slot, or reports that all are taken.
func (s *Service) acquireBlob() bool {
	select {
	case s.blobSlots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Service) releaseBlob() { <-s.blobSlots }

// busyMessage is the refusal a peer sends while it serves BlobServes blobs.
const busyMessage = "busy"

// IsBusy reports whether err is a peer's refusal because it is busy (its
// resource limits or blob-serving slots are taken): the peer is honest and
// up, and asking again later is the answer.
func IsBusy(err error) bool {
	var re *RemoteError
	return errors.As(err, &re) && re.Status == StatusRateLimited
}

func (s *Service) handleShard(ctx context.Context, st network.Stream, r *bufio.Reader) error {
	raw, err := ReadDelimited(r, MaxRequestSize)
	if err != nil {
		return err
	}
	var req ShardRequest
	if err := req.Unmarshal(raw); err != nil {
		return err
	}
	ds, err := s.dataset(ctx, req.DatasetID)
	if err != nil {
		return refuse(st, StatusNotFound, fmt.Sprintf("dataset %d unknown", req.DatasetID))
	}
	e := &ds.Erasure
	idx := int(req.Index)
	if idx >= len(e.ShardHashes) {
		return fmt.Errorf("%w: shard %d of %d", ErrMalformed, idx, len(e.ShardHashes))
	}
	switch req.Op {
	case OpGet:
		b, err := s.store.Shard(ds.Id, idx)
		if err != nil {
			return refuse(st, StatusNotFound, fmt.Sprintf("dataset %d shard %d not held", ds.Id, idx))
		}
		// A stored shard is hashed before it is first served (it may have
		// been damaged on disk while we were down); receivers hash it too.
		if !s.wasChecked(ds.Id, idx) {
			if err := VerifyShard(e, idx, b); err != nil {
				s.log.Error("stored shard damaged; dropping it", "dataset", ds.Id, "shard", idx, "err", err)
				_ = s.store.DeleteShard(ds.Id, idx)
				return refuse(st, StatusNotFound, fmt.Sprintf("dataset %d shard %d not held", ds.Id, idx))
			}
			s.markChecked(ds.Id, idx, true)
		}
		return s.sendPayload(st, b)
	default: // OpPut
		if req.Size != e.ShardSize {
			return fmt.Errorf("%w: put of %d bytes, shard size is %d", ErrTooLarge, req.Size, e.ShardSize)
		}
		if err := st.Scope().ReserveMemory(int(req.Size), network.ReservationPriorityMedium); err != nil {
			return refuse(st, StatusRateLimited, busyMessage)
		}
		defer st.Scope().ReleaseMemory(int(req.Size))
		b := make([]byte, req.Size)
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
		s.fetched.Add(uint64(len(b)))
		if err := VerifyShard(e, idx, b); err != nil {
			s.report(st.Conn().RemotePeer(), fmt.Sprintf("pushed dataset %d shard %d", ds.Id, idx), err)
			return refuse(st, StatusRejected, "shard hash mismatch")
		}
		if err := s.store.PutShard(ds.Id, idx, b); err != nil {
			return refuse(st, StatusInternal, "store failed")
		}
		s.markChecked(ds.Id, idx, true)
		return WriteDelimited(st, Response{Status: StatusOK})
	}
}

// handleCkpt serves a checkpoint by the commitment it is for. It trusts
// its store for the content: PutCheckpoint parsed the bytes and checked
// both hashes when they were stored (or this miner encoded them from the
// hashed state), and re-parsing on every request would cost a float32 copy
// of the whole checkpoint and a hash pass per verifier asking. Before
// serving it only checks that the file is intact (one pass over the
// checkpoint's own trailer, checkpointIntact), so damage on disk is dropped
// here instead of getting this peer reported as a liar; every receiver
// verifies in full anyway.
func (s *Service) handleCkpt(_ context.Context, st network.Stream, r *bufio.Reader) error {
	raw, err := ReadDelimited(r, MaxRequestSize)
	if err != nil {
		return err
	}
	var req CkptRequest
	if err := req.Unmarshal(raw); err != nil {
		return err
	}
	key := req.Key()
	if !s.acquireBlob() {
		return refuse(st, StatusRateLimited, fmt.Sprintf("%s: %d checkpoint or model transfers in progress", busyMessage, s.cfg.BlobServes))
	}
	defer s.releaseBlob()
	b, err := s.store.Checkpoint(key)
	if errors.Is(err, ErrDamaged) {
		s.log.Error("stored checkpoint damaged; dropping it", "checkpoint", key, "err", err)
		_ = s.store.DeleteCheckpoint(key)
	}
	if err != nil {
		return refuse(st, StatusNotFound, "checkpoint not held")
	}
	if uint64(len(b)) > s.cfg.MaxBlobSize {
		return refuse(st, StatusNotFound, fmt.Sprintf("checkpoint of %d bytes exceeds this peer's limit of %d", len(b), s.cfg.MaxBlobSize))
	}
	return s.sendPayload(st, b)
}

func (s *Service) handleModel(_ context.Context, st network.Stream, r *bufio.Reader) error {
	raw, err := ReadDelimited(r, MaxRequestSize)
	if err != nil {
		return err
	}
	var req ModelRequest
	if err := req.Unmarshal(raw); err != nil {
		return err
	}
	if !s.acquireBlob() {
		return refuse(st, StatusRateLimited, fmt.Sprintf("%s: %d checkpoint or model transfers in progress", busyMessage, s.cfg.BlobServes))
	}
	defer s.releaseBlob()
	b, err := s.store.Model(req.Hash)
	if errors.Is(err, ErrDamaged) {
		s.log.Error("stored model damaged; dropping it", "model", fmt.Sprintf("%x", req.Hash), "err", err)
		_ = s.store.DeleteModel(req.Hash)
	}
	if err != nil {
		return refuse(st, StatusNotFound, "model not held")
	}
	if uint64(len(b)) > s.cfg.MaxBlobSize {
		return refuse(st, StatusNotFound, fmt.Sprintf("model of %d bytes exceeds this peer's limit of %d", len(b), s.cfg.MaxBlobSize))
	}
	return s.sendPayload(st, b)
}

// isTimeout reports whether err is a stream deadline passing.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &t) && t.Timeout())
}

// RemoteError is a peer's well-formed refusal.
type RemoteError struct {
	Peer    peer.ID
	Status  Status
	Message string
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("p2p: peer %s: %s: %s", e.Peer, e.Status, e.Message)
}

func (e *RemoteError) Unwrap() error { return ErrRemote }

// roundTrip sends one request (and an optional payload) and reads the
// response header and up to max payload bytes. A reply larger than max or
// malformed is ErrLyingPeer; the stream is reset on every error. Opening
// the stream, the request and the reply header get StreamTimeout; a
// payload moves chunk by chunk, each within StreamTimeout (a silent peer
// is cut off, a slow one that keeps sending is not), and ctx ends it all.
func (s *Service) roundTrip(ctx context.Context, p peer.ID, proto protocol.ID, req marshaler, payload []byte, max uint64) (_ []byte, err error) {
	octx, cancel := context.WithTimeout(ctx, s.cfg.StreamTimeout)
	st, err := s.h.NewStream(network.WithDialPeerTimeout(octx, s.cfg.DialTimeout), p, proto)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("p2p: open %s to %s: %w", proto, p, err)
	}
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
	wd := newWatchdog(st, s.cfg.StreamTimeout)
	defer wd.stop()
	defer func() {
		if err != nil {
			st.Reset()
		} else {
			st.Close()
		}
	}()
	if err := st.Scope().SetService(ServiceName); err != nil {
		return nil, err
	}
	_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
	if err := WriteDelimited(st, req); err != nil {
		return nil, fmt.Errorf("p2p: write request to %s: %w", p, err)
	}
	if len(payload) > 0 {
		if err := writeChunked(st, payload, s.cfg.StreamTimeout, wd.kick); err != nil {
			return nil, fmt.Errorf("p2p: write payload to %s: %w", p, err)
		}
		s.served.Add(uint64(len(payload)))
	}
	_ = st.SetReadDeadline(time.Now().Add(s.cfg.StreamTimeout))
	wd.kick()
	if err := st.CloseWrite(); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(st, 1024)
	raw, err := ReadDelimited(r, MaxResponseHeaderSize)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("p2p: %s from %s: %w", proto, p, ctx.Err())
		}
		if wd.fired.Load() || isTimeout(err) {
			return nil, fmt.Errorf("p2p: %s from %s: no reply within %s: %w", proto, p, s.cfg.StreamTimeout, err)
		}
		if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrMalformed) {
			return nil, fmt.Errorf("%w: %s: response header: %v", ErrLyingPeer, p, err)
		}
		return nil, fmt.Errorf("p2p: %s from %s: %w", proto, p, err)
	}
	var resp Response
	if err := resp.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrLyingPeer, p, err)
	}
	if resp.Status != StatusOK {
		return nil, &RemoteError{Peer: p, Status: resp.Status, Message: resp.Message}
	}
	if payload != nil { // a put: the header is the whole answer
		return nil, nil
	}
	if resp.Size > max {
		return nil, fmt.Errorf("%w: %s announced %d bytes, expected at most %d", ErrLyingPeer, p, resp.Size, max)
	}
	res := int(min(resp.Size, PayloadChunk))
	if err := st.Scope().ReserveMemory(res, network.ReservationPriorityAlways); err != nil {
		return nil, fmt.Errorf("p2p: reserve %d bytes: %w", res, err)
	}
	defer st.Scope().ReleaseMemory(res)
	b, err := readChunked(st, r, resp.Size, s.cfg.StreamTimeout, wd.kick)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("p2p: %s from %s: %w", proto, p, ctx.Err())
		}
		if wd.fired.Load() || isTimeout(err) {
			// Slow or gone, not lying: a payload that stops is not a wrong one.
			return nil, fmt.Errorf("p2p: %s from %s: payload stalled for %s: %w", proto, p, s.cfg.StreamTimeout, err)
		}
		return nil, fmt.Errorf("%w: %s: payload cut short: %v", ErrLyingPeer, p, err)
	}
	s.fetched.Add(uint64(len(b)))
	var one [1]byte
	if n, _ := r.Read(one[:]); n != 0 {
		return nil, fmt.Errorf("%w: %s: bytes after the payload", ErrLyingPeer, p)
	}
	return b, nil
}

// GetShard fetches one shard of a registered dataset from p and verifies
// it against the dataset's record. A bad shard is reported (Faults) and
// returned as ErrLyingPeer.
func (s *Service) GetShard(ctx context.Context, p peer.ID, ds *types.Dataset, idx int) ([]byte, error) {
	what := fmt.Sprintf("dataset %d shard %d", ds.Id, idx)
	b, err := s.roundTrip(ctx, p, ShardProtocol(s.cfg.ChainID), ShardRequest{DatasetID: ds.Id, Index: uint32(idx)}, nil, ds.Erasure.ShardSize)
	if err != nil {
		if errors.Is(err, ErrLyingPeer) {
			s.report(p, what, err)
		}
		return nil, err
	}
	if err := VerifyShard(&ds.Erasure, idx, b); err != nil {
		err = fmt.Errorf("%w: %s: %v", ErrLyingPeer, p, err)
		s.report(p, what, err)
		return nil, err
	}
	return b, nil
}

// PutShard pushes a verified shard to p, which checks it against the chain.
func (s *Service) PutShard(ctx context.Context, p peer.ID, datasetID uint64, idx int, b []byte) error {
	_, err := s.roundTrip(ctx, p, ShardProtocol(s.cfg.ChainID), ShardRequest{DatasetID: datasetID, Index: uint32(idx), Op: OpPut, Size: uint64(len(b))}, b, 0)
	return err
}

// FetchedCheckpoint is a checkpoint received from a peer and verified
// against its commitment.
type FetchedCheckpoint struct {
	Key  CkptKey
	From peer.ID
	// Bytes are the checkpoint as received (what Store.PutCheckpoint takes).
	Bytes []byte
	// Checkpoint is what the VerifyFunc returned for Bytes (with
	// worker.VerifyCheckpoint, the *ml.Checkpoint whose weights and
	// optimizer state hash to Key's).
	Checkpoint any
}

// GetCheckpoint fetches from p the checkpoint a commitment names and
// verifies it with verify (it must parse, and its weights and optimizer
// state must hash to key's). At most max bytes are accepted (0,
// or more than Config.MaxBlobSize: Config.MaxBlobSize). A peer that sends
// anything else is reported (Faults) and the error is a *MismatchError
// naming it and the hashes (errors.Is ErrMismatch and ErrLyingPeer); a
// refusal is a *RemoteError (ErrRemote).
func (s *Service) GetCheckpoint(ctx context.Context, p peer.ID, key CkptKey, max uint64, verify VerifyFunc) (*FetchedCheckpoint, error) {
	what := key.String()
	b, err := s.getBlob(ctx, p, CkptProtocol(s.cfg.ChainID), key.Request(), max, what)
	if err != nil {
		return nil, err
	}
	ck, err := verifyCheckpoint(verify, key, b)
	if err != nil {
		var me *MismatchError
		if errors.As(err, &me) {
			me.Peer = p
		}
		s.report(p, what, err)
		return nil, err
	}
	return &FetchedCheckpoint{Key: key, From: p, Bytes: b, Checkpoint: ck}, nil
}

// FetchCheckpoint tries peers in order and returns the first verified
// copy; the error joins every peer's (lying peers are *MismatchError).
func (s *Service) FetchCheckpoint(ctx context.Context, peers []peer.ID, key CkptKey, max uint64, verify VerifyFunc) (*FetchedCheckpoint, error) {
	var errs []error
	for _, p := range peers {
		fc, err := s.GetCheckpoint(ctx, p, key, max, verify)
		if err == nil {
			return fc, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("p2p: %s from %d peers: %w", key, len(peers), errors.Join(errs...))
}

// GetModel fetches a final model by hash (the SHA-256 of its bytes, as
// MsgSubmitResult records it) from p and checks it; other bytes are a
// *MismatchError naming p (errors.Is ErrMismatch and ErrLyingPeer).
func (s *Service) GetModel(ctx context.Context, p peer.ID, hash []byte, max uint64) ([]byte, error) {
	what := fmt.Sprintf("model %x", hash)
	if len(hash) != sha256.Size {
		return nil, fmt.Errorf("p2p: %s: hash must be 32 bytes, got %d", what, len(hash))
	}
	b, err := s.getBlob(ctx, p, ModelProtocol(s.cfg.ChainID), ModelRequest{Hash: hash}, max, what)
	if err != nil {
		return nil, err
	}
	if h := sha256.Sum256(b); !bytes.Equal(h[:], hash) {
		err := &MismatchError{Peer: p, What: what, Diffs: []HashDiff{{Name: "sha256", Want: hash, Got: h[:]}}}
		s.report(p, what, err)
		return nil, err
	}
	return b, nil
}

// getBlob runs one checkpoint or model request, capping the payload at max
// (0 or more than Config.MaxBlobSize: Config.MaxBlobSize).
func (s *Service) getBlob(ctx context.Context, p peer.ID, proto protocol.ID, req marshaler, max uint64, what string) ([]byte, error) {
	if max == 0 || max > s.cfg.MaxBlobSize {
		max = s.cfg.MaxBlobSize
	}
	b, err := s.roundTrip(ctx, p, proto, req, nil, max)
	if err != nil {
		if errors.Is(err, ErrLyingPeer) {
			s.report(p, what, err)
		}
		return nil, err
	}
	return b, nil
}

// FetchModel tries peers in order and returns the first verified copy of
// a model and the peer that sent it.
func (s *Service) FetchModel(ctx context.Context, peers []peer.ID, hash []byte, max uint64) ([]byte, peer.ID, error) {
	var errs []error
	for _, p := range peers {
		b, err := s.GetModel(ctx, p, hash, max)
		if err == nil {
			return b, p, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", fmt.Errorf("p2p: model %x from %d peers: %w", hash, len(peers), errors.Join(errs...))
}
