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
	"sync"
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

// Config configures a Service.
type Config struct {
	ChainID string
	// StreamTimeout bounds every stream, both ways (default 30 s).
	StreamTimeout time.Duration
	// DialTimeout bounds connecting to a peer we are not connected to
	// (default 3 s): a dead peer's QUIC address otherwise holds a shard
	// request until the handshake times out.
	DialTimeout time.Duration
	// MaxBlobSize caps a checkpoint or model served or fetched (default 1 GiB).
	MaxBlobSize uint64
	// RequestsPerSecond and Burst limit each remote peer's requests
	// (defaults 50 and 100).
	RequestsPerSecond float64
	Burst             int
	// Logger (default: discard).
	Logger *slog.Logger
}

// DefaultConfig returns the defaults for a chain.
func DefaultConfig(chainID string) Config {
	return Config{ChainID: chainID, StreamTimeout: 30 * time.Second, DialTimeout: 3 * time.Second, MaxBlobSize: 1 << 30, RequestsPerSecond: 50, Burst: 100}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.ChainID == "" {
		return errors.New("p2p: chain id is empty")
	}
	if c.StreamTimeout <= 0 || c.DialTimeout <= 0 || c.MaxBlobSize == 0 || c.RequestsPerSecond <= 0 || c.Burst < 1 {
		return fmt.Errorf("p2p: bad limits (timeout %v, max blob %d, rate %v, burst %d)", c.StreamTimeout, c.MaxBlobSize, c.RequestsPerSecond, c.Burst)
	}
	return nil
}

// Service serves the shard, checkpoint and model protocols from a Store and
// is the client of the same protocols. Everything it receives is checked
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
	ctx     context.Context
	cancel  context.CancelFunc
	started bool
}

// NewService builds a service; store may be nil for a pure client and
// datasets may be nil when only checkpoints and models are served.
func NewService(h host.Host, cfg Config, store *Store, datasets DatasetSource) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{h: h, cfg: cfg, store: store, datasets: datasets, log: cfg.Logger,
		cache: map[uint64]*types.Dataset{}, checked: map[[2]uint64]bool{}, limits: map[peer.ID]*rate.Limiter{}, ctx: ctx, cancel: cancel}, nil
}

// Host is the service's libp2p host.
func (s *Service) Host() host.Host { return s.h }

// Store is the service's store (nil for a pure client).
func (s *Service) Store() *Store { return s.store }

// Start registers the stream handlers (serving needs a store).
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
	s.h.SetStreamHandler(ShardProtocol(s.cfg.ChainID), s.wrap("shard", s.handleShard))
	s.h.SetStreamHandler(CkptProtocol(s.cfg.ChainID), s.wrap("ckpt", s.handleCkpt))
	s.h.SetStreamHandler(ModelProtocol(s.cfg.ChainID), s.wrap("model", s.handleModel))
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

// Faults returns the peers caught sending bad data so far.
func (s *Service) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault(nil), s.faults...)
}

func (s *Service) report(p peer.ID, what string, err error) {
	s.log.Warn("lying peer", "peer", p, "what", what, "err", err)
	s.mu.Lock()
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

// wrap gives every handler the same frame: the resource-manager service, a
// deadline from the service context, prompt abort (Reset) when it ends,
// the per-peer rate limit, panic recovery, Close on success and Reset on
// error.
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
		stop := context.AfterFunc(ctx, func() { st.Reset() })
		defer stop()
		_ = st.SetDeadline(time.Now().Add(s.cfg.StreamTimeout))
		if !s.allow(remote) {
			_ = WriteDelimited(st, Response{Status: StatusRateLimited, Message: "rate limited"})
			st.Close()
			return
		}
		if err := fn(ctx, st, bufio.NewReaderSize(st, 1024)); err != nil {
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

// sendPayload writes an OK header and the payload.
func sendPayload(st network.Stream, b []byte) error {
	if err := st.Scope().ReserveMemory(len(b), network.ReservationPriorityMedium); err != nil {
		return refuse(st, StatusRateLimited, "busy")
	}
	defer st.Scope().ReleaseMemory(len(b))
	if err := WriteDelimited(st, Response{Status: StatusOK, Size: uint64(len(b))}); err != nil {
		return err
	}
	_, err := st.Write(b)
	return err
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
		return sendPayload(st, b)
	default: // OpPut
		if req.Size != e.ShardSize {
			return fmt.Errorf("%w: put of %d bytes, shard size is %d", ErrTooLarge, req.Size, e.ShardSize)
		}
		if err := st.Scope().ReserveMemory(int(req.Size), network.ReservationPriorityMedium); err != nil {
			return refuse(st, StatusRateLimited, "busy")
		}
		defer st.Scope().ReleaseMemory(int(req.Size))
		b := make([]byte, req.Size)
		if _, err := io.ReadFull(r, b); err != nil {
			return err
		}
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

func (s *Service) handleCkpt(_ context.Context, st network.Stream, r *bufio.Reader) error {
	raw, err := ReadDelimited(r, MaxRequestSize)
	if err != nil {
		return err
	}
	var req CkptRequest
	if err := req.Unmarshal(raw); err != nil {
		return err
	}
	b, err := s.store.Checkpoint(req.TaskID, req.JobIndex, req.WeightsHash)
	if err != nil || uint64(len(b)) > s.cfg.MaxBlobSize {
		return refuse(st, StatusNotFound, "checkpoint not held")
	}
	return sendPayload(st, b)
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
	b, err := s.store.Model(req.Hash)
	if err != nil || uint64(len(b)) > s.cfg.MaxBlobSize {
		return refuse(st, StatusNotFound, "model not held")
	}
	return sendPayload(st, b)
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
// malformed is ErrLyingPeer; the stream is reset on every error.
func (s *Service) roundTrip(ctx context.Context, p peer.ID, proto protocol.ID, req marshaler, payload []byte, max uint64) (_ []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StreamTimeout)
	defer cancel()
	st, err := s.h.NewStream(network.WithDialPeerTimeout(ctx, s.cfg.DialTimeout), p, proto)
	if err != nil {
		return nil, fmt.Errorf("p2p: open %s to %s: %w", proto, p, err)
	}
	stop := context.AfterFunc(ctx, func() { st.Reset() })
	defer stop()
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
	if d, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(d)
	}
	if err := WriteDelimited(st, req); err != nil {
		return nil, fmt.Errorf("p2p: write request to %s: %w", p, err)
	}
	if len(payload) > 0 {
		if _, err := st.Write(payload); err != nil {
			return nil, fmt.Errorf("p2p: write payload to %s: %w", p, err)
		}
	}
	if err := st.CloseWrite(); err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(st, 1024)
	raw, err := ReadDelimited(r, MaxResponseHeaderSize)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("p2p: %s from %s: %w", proto, p, ctx.Err())
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
	if err := st.Scope().ReserveMemory(int(resp.Size), network.ReservationPriorityAlways); err != nil {
		return nil, fmt.Errorf("p2p: reserve %d bytes: %w", resp.Size, err)
	}
	defer st.Scope().ReleaseMemory(int(resp.Size))
	b := make([]byte, resp.Size)
	if _, err := io.ReadFull(r, b); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("p2p: %s from %s: %w", proto, p, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %s: payload cut short: %v", ErrLyingPeer, p, err)
	}
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

// GetCheckpoint fetches a job's checkpoint by weights hash from p and
// checks its SHA-256 (at most max bytes; 0 means Config.MaxBlobSize).
func (s *Service) GetCheckpoint(ctx context.Context, p peer.ID, task uint64, job uint32, weightsHash []byte, max uint64) ([]byte, error) {
	return s.getBlob(ctx, p, CkptProtocol(s.cfg.ChainID), CkptRequest{TaskID: task, JobIndex: job, WeightsHash: weightsHash}, weightsHash, max,
		fmt.Sprintf("task %d job %d checkpoint %x", task, job, weightsHash))
}

// GetModel fetches a final model by hash from p and checks its SHA-256.
func (s *Service) GetModel(ctx context.Context, p peer.ID, hash []byte, max uint64) ([]byte, error) {
	return s.getBlob(ctx, p, ModelProtocol(s.cfg.ChainID), ModelRequest{Hash: hash}, hash, max, fmt.Sprintf("model %x", hash))
}

func (s *Service) getBlob(ctx context.Context, p peer.ID, proto protocol.ID, req marshaler, hash []byte, max uint64, what string) ([]byte, error) {
	if len(hash) != 32 {
		return nil, fmt.Errorf("p2p: %s: hash must be 32 bytes, got %d", what, len(hash))
	}
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
	if h := sha256.Sum256(b); !bytes.Equal(h[:], hash) {
		err := fmt.Errorf("%w: %s: %s has sha256 %x", ErrLyingPeer, p, what, h[:])
		s.report(p, what, err)
		return nil, err
	}
	return b, nil
}

// FetchBlob tries peers in order for a checkpoint (task, job, hash) or,
// with task and job zero and model true, a model; it returns the first
// verified copy.
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

// FetchCheckpoint tries peers in order and returns the first verified copy.
func (s *Service) FetchCheckpoint(ctx context.Context, peers []peer.ID, task uint64, job uint32, hash []byte, max uint64) ([]byte, peer.ID, error) {
	var errs []error
	for _, p := range peers {
		b, err := s.GetCheckpoint(ctx, p, task, job, hash, max)
		if err == nil {
			return b, p, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", fmt.Errorf("p2p: checkpoint %x of task %d job %d from %d peers: %w", hash, task, job, len(peers), errors.Join(errs...))
}
