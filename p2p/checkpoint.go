package p2p

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/zeebo/blake3"

	"github.com/pouw/pouwd/x/pouwml/types"
)

// ErrMismatch marks data that is not what its trusted hash names: a
// checkpoint whose weights or optimizer state differ from the commitment
// on chain (or that is not a checkpoint at all), a model whose SHA-256 is
// not the submitted hash. Errors from a peer match ErrLyingPeer too; use
// errors.As with *MismatchError for the peer and the hashes.
var ErrMismatch = errors.New("p2p: data does not match its trusted hash")

// CkptKey names a committed checkpoint: the job and the two hashes of a
// Commitment on chain (ml.WeightsHash of the model, ml.OptimizerHash of the
// optimizer state). It is how checkpoints are stored, asked for and checked.
type CkptKey struct {
	TaskID        uint64
	JobIndex      uint32
	WeightsHash   [32]byte
	OptimizerHash [32]byte
}

// VerifyFunc checks that b is the checkpoint key names (for pouwd
// checkpoints: ml.VerifyCheckpoint against key's two hashes, which is what
// worker.VerifyCheckpoint does) and returns it parsed. p2p never looks
// inside a checkpoint: it stores, serves and fetches bytes, and what the
// function returns is handed back as it is (FetchedCheckpoint.Checkpoint).
// Any error means the bytes are not the committed checkpoint; p2p reports
// it as a *MismatchError wrapping it.
type VerifyFunc func(key CkptKey, b []byte) (any, error)

// CommitmentKey is the key of a chain commitment; it fails when a hash is
// not 32 bytes.
func CommitmentKey(c *types.Commitment) (CkptKey, error) {
	k := CkptKey{TaskID: c.TaskId, JobIndex: c.JobIndex}
	if len(c.WeightsHash) != len(k.WeightsHash) || len(c.OptimizerHash) != len(k.OptimizerHash) {
		return k, fmt.Errorf("p2p: commitment of task %d job %d step %d: weights hash has %d bytes and optimizer hash %d, expected 32 each",
			c.TaskId, c.JobIndex, c.Step, len(c.WeightsHash), len(c.OptimizerHash))
	}
	copy(k.WeightsHash[:], c.WeightsHash)
	copy(k.OptimizerHash[:], c.OptimizerHash)
	return k, nil
}

// Request is the wire request for the key.
func (k CkptKey) Request() CkptRequest {
	return CkptRequest{TaskID: k.TaskID, JobIndex: k.JobIndex, WeightsHash: k.WeightsHash[:], OptimizerHash: k.OptimizerHash[:]}
}

func (k CkptKey) String() string {
	return fmt.Sprintf("task %d job %d checkpoint (weights %x, optimizer %x)", k.TaskID, k.JobIndex, k.WeightsHash[:], k.OptimizerHash[:])
}

// HashDiff is one hash that differs from the trusted one.
type HashDiff struct {
	Name      string // "weights hash", "optimizer hash", "sha256"
	Want, Got []byte
}

// MismatchError is data that does not match its trusted hash (ErrMismatch).
// When Peer is set it came from that peer and also matches ErrLyingPeer.
type MismatchError struct {
	Peer peer.ID // empty when the bytes were checked locally (Store.PutCheckpoint)
	What string  // what was asked for, with its trusted hashes
	// Diffs lists every hash p2p itself found to differ (a model's
	// SHA-256). For a checkpoint it is empty and Err is the VerifyFunc's
	// error: with ml.VerifyCheckpoint, an *ml.CheckpointMismatchError
	// listing the committed hashes that differ, or why the bytes are not a
	// checkpoint at all (ml.ErrCheckpoint: foreign, corrupt, truncated).
	Diffs []HashDiff
	Err   error
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	b.WriteString("p2p: ")
	if e.Peer != "" {
		fmt.Fprintf(&b, "peer %s served ", e.Peer)
	}
	b.WriteString(e.What)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	for i, d := range e.Diffs {
		sep := ";"
		if i == 0 {
			sep = ":"
		}
		fmt.Fprintf(&b, "%s %s %x, expected %x", sep, d.Name, d.Got, d.Want)
	}
	return b.String()
}

// Unwrap makes the error match ErrMismatch, ErrLyingPeer (from a peer) and
// the verification error when there is one (ml.ErrCheckpoint,
// ml.ErrCheckpointMismatch).
func (e *MismatchError) Unwrap() []error {
	out := []error{ErrMismatch}
	if e.Peer != "" {
		out = append(out, ErrLyingPeer)
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// verifyCheckpoint runs verify on b and reports a failure as a
// *MismatchError (without a peer) wrapping its error.
func verifyCheckpoint(verify VerifyFunc, key CkptKey, b []byte) (any, error) {
	if verify == nil {
		return nil, fmt.Errorf("p2p: %s: no checkpoint verifier", key)
	}
	ck, err := verify(key, b)
	if err != nil {
		return nil, &MismatchError{What: key.String(), Err: err}
	}
	return ck, nil
}

// checkpointIntact is the cheap check a server makes before serving a
// checkpoint it verified (or encoded) when it was stored: the pouwd magic
// and the file's own trailer (one pass, no decoding: BLAKE3 for format 2,
// SHA-256 for format 1; ml/checkpoint.go), which catches damage on disk
// and truncation.
func checkpointIntact(b []byte) error {
	const magic = "POUWCKPT"
	if len(b) < len(magic)+8+32 || string(b[:len(magic)]) != magic {
		return fmt.Errorf("not a pouwd checkpoint (%d bytes)", len(b))
	}
	body, trailer := b[:len(b)-32], b[len(b)-32:]
	var sum [32]byte
	switch v := binary.LittleEndian.Uint32(b[len(magic):]); v {
	case 1:
		sum = sha256.Sum256(body)
	case 2:
		sum = blake3.Sum256(body)
	default:
		return fmt.Errorf("checkpoint format %d, expected 1 or 2", v)
	}
	if !bytes.Equal(sum[:], trailer) {
		return fmt.Errorf("trailer %s does not match the file's hash %s (damaged or truncated)", hex.EncodeToString(trailer), hex.EncodeToString(sum[:]))
	}
	return nil
}
