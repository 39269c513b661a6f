package p2p

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"
)

// Wire messages. Every request and every response header is one
// varint-delimited message (an unsigned LEB128 length, then that many bytes)
// in the protobuf wire format, written and parsed with protowire so that no
// generated code is needed. Fields:
//
//	ShardRequest   1 dataset_id uint64, 2 index uint32, 3 op uint32 (0 get, 1 put), 4 size uint64 (put: payload bytes that follow)
//	CkptRequest    1 task_id uint64, 2 job_index uint32, 3 weights_hash bytes(32), 4 optimizer_hash bytes(32)
//	ModelRequest   1 hash bytes(32)
//	Response       1 status uint32, 2 size uint64 (payload bytes that follow), 3 message string (<= 256 bytes)
//
// Unknown fields are skipped (forward compatibility); a field with the wrong
// wire type, a repeated scalar, a truncated message or trailing garbage is
// ErrMalformed. A delimited message longer than the reader's cap is
// ErrTooLarge before a single byte of it is buffered.

// MaxRequestSize caps every request message (the raw payload of a put is
// capped separately by the dataset's shard size on chain).
const MaxRequestSize = 256

// MaxResponseHeaderSize caps every response header.
const MaxResponseHeaderSize = 512

// maxMessage is the longest Response.Message kept.
const maxMessage = 256

// Wire errors.
var (
	ErrMalformed = errors.New("p2p: malformed message")
	ErrTooLarge  = errors.New("p2p: message too large")
)

// Op is what a shard request asks for.
type Op uint32

const (
	OpGet Op = 0
	OpPut Op = 1
)

// Status is a response's outcome.
type Status uint32

const (
	StatusOK          Status = 0
	StatusNotFound    Status = 1
	StatusBadRequest  Status = 2
	StatusRateLimited Status = 3
	StatusInternal    Status = 4
	StatusRejected    Status = 5 // a pushed shard failed verification
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusNotFound:
		return "not found"
	case StatusBadRequest:
		return "bad request"
	case StatusRateLimited:
		return "rate limited"
	case StatusInternal:
		return "internal error"
	case StatusRejected:
		return "rejected"
	}
	return fmt.Sprintf("status(%d)", uint32(s))
}

// ShardRequest asks for (get) or offers (put) one shard of a registered dataset.
type ShardRequest struct {
	DatasetID uint64
	Index     uint32
	Op        Op
	Size      uint64
}

// CkptRequest asks for the checkpoint a job's commitment names: its
// weights hash (ml.WeightsHash) and optimizer state hash (ml.OptimizerHash),
// both 32 bytes, exactly as MsgCommitCheckpoint records them. The reply's
// payload is the checkpoint file (ml.SaveCheckpoint's bytes).
type CkptRequest struct {
	TaskID        uint64
	JobIndex      uint32
	WeightsHash   []byte
	OptimizerHash []byte
}

// Key is the checkpoint the request names (hashes shorter or longer than
// 32 bytes are cut or zero-padded: Unmarshal refuses them first).
func (r CkptRequest) Key() CkptKey {
	k := CkptKey{TaskID: r.TaskID, JobIndex: r.JobIndex}
	copy(k.WeightsHash[:], r.WeightsHash)
	copy(k.OptimizerHash[:], r.OptimizerHash)
	return k
}

// ModelRequest asks for a final model by its hash.
type ModelRequest struct {
	Hash []byte
}

// Response is the header every reply starts with; Size payload bytes follow
// when Status is StatusOK and the request was a get.
type Response struct {
	Status  Status
	Size    uint64
	Message string
}

// Marshal encodes the request (without the length prefix).
func (r ShardRequest) Marshal() []byte {
	var b []byte
	b = appendUint(b, 1, r.DatasetID)
	b = appendUint(b, 2, uint64(r.Index))
	b = appendUint(b, 3, uint64(r.Op))
	b = appendUint(b, 4, r.Size)
	return b
}

// Unmarshal decodes a ShardRequest.
func (r *ShardRequest) Unmarshal(b []byte) error {
	*r = ShardRequest{}
	return decodeFields(b, func(num protowire.Number, v uint64, bs []byte, isBytes bool) error {
		switch num {
		case 1:
			r.DatasetID = v
		case 2:
			if v > 1<<32-1 {
				return fmt.Errorf("%w: index %d overflows uint32", ErrMalformed, v)
			}
			r.Index = uint32(v)
		case 3:
			if v > uint64(OpPut) {
				return fmt.Errorf("%w: unknown op %d", ErrMalformed, v)
			}
			r.Op = Op(v)
		case 4:
			r.Size = v
		default:
			return nil
		}
		if isBytes {
			return fmt.Errorf("%w: field %d must be a varint", ErrMalformed, num)
		}
		return nil
	})
}

// Marshal encodes the request.
func (r CkptRequest) Marshal() []byte {
	var b []byte
	b = appendUint(b, 1, r.TaskID)
	b = appendUint(b, 2, uint64(r.JobIndex))
	b = appendBytes(b, 3, r.WeightsHash)
	b = appendBytes(b, 4, r.OptimizerHash)
	return b
}

// Unmarshal decodes a CkptRequest; both hashes must be 32 bytes.
func (r *CkptRequest) Unmarshal(b []byte) error {
	*r = CkptRequest{}
	err := decodeFields(b, func(num protowire.Number, v uint64, bs []byte, isBytes bool) error {
		switch num {
		case 1, 2:
			if isBytes {
				return fmt.Errorf("%w: field %d must be a varint", ErrMalformed, num)
			}
			if num == 1 {
				r.TaskID = v
			} else {
				if v > 1<<32-1 {
					return fmt.Errorf("%w: job index %d overflows uint32", ErrMalformed, v)
				}
				r.JobIndex = uint32(v)
			}
		case 3, 4:
			if !isBytes {
				return fmt.Errorf("%w: field %d must be bytes", ErrMalformed, num)
			}
			if num == 3 {
				r.WeightsHash = append([]byte(nil), bs...)
			} else {
				r.OptimizerHash = append([]byte(nil), bs...)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(r.WeightsHash) != 32 {
		return fmt.Errorf("%w: weights_hash has %d bytes, expected 32", ErrMalformed, len(r.WeightsHash))
	}
	if len(r.OptimizerHash) != 32 {
		return fmt.Errorf("%w: optimizer_hash has %d bytes, expected 32", ErrMalformed, len(r.OptimizerHash))
	}
	return nil
}

// Marshal encodes the request.
func (r ModelRequest) Marshal() []byte { return appendBytes(nil, 1, r.Hash) }

// Unmarshal decodes a ModelRequest; the hash must be 32 bytes.
func (r *ModelRequest) Unmarshal(b []byte) error {
	*r = ModelRequest{}
	err := decodeFields(b, func(num protowire.Number, v uint64, bs []byte, isBytes bool) error {
		if num == 1 {
			if !isBytes {
				return fmt.Errorf("%w: field 1 must be bytes", ErrMalformed)
			}
			r.Hash = append([]byte(nil), bs...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(r.Hash) != 32 {
		return fmt.Errorf("%w: hash has %d bytes, expected 32", ErrMalformed, len(r.Hash))
	}
	return nil
}

// Marshal encodes the response header; Message is cut to 256 bytes.
func (r Response) Marshal() []byte {
	var b []byte
	b = appendUint(b, 1, uint64(r.Status))
	b = appendUint(b, 2, r.Size)
	msg := r.Message
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	b = appendBytes(b, 3, []byte(msg))
	return b
}

// Unmarshal decodes a response header.
func (r *Response) Unmarshal(b []byte) error {
	*r = Response{}
	return decodeFields(b, func(num protowire.Number, v uint64, bs []byte, isBytes bool) error {
		switch num {
		case 1, 2:
			if isBytes {
				return fmt.Errorf("%w: field %d must be a varint", ErrMalformed, num)
			}
			if num == 1 {
				if v > 1<<32-1 {
					return fmt.Errorf("%w: status %d overflows uint32", ErrMalformed, v)
				}
				r.Status = Status(v)
			} else {
				r.Size = v
			}
		case 3:
			if !isBytes {
				return fmt.Errorf("%w: field 3 must be bytes", ErrMalformed)
			}
			if len(bs) > maxMessage {
				return fmt.Errorf("%w: message of %d bytes, at most %d", ErrMalformed, len(bs), maxMessage)
			}
			r.Message = string(bs)
		}
		return nil
	})
}

func appendUint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// decodeFields walks a message, calling f for every varint or bytes field;
// a known field seen twice, a group or a fixed-width field with a known
// number is the callback's business (it sees isBytes); other wire types of
// unknown fields are skipped.
func decodeFields(b []byte, f func(num protowire.Number, v uint64, bs []byte, isBytes bool) error) error {
	var seen [8]bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: bad tag: %v", ErrMalformed, protowire.ParseError(n))
		}
		b = b[n:]
		if num < protowire.Number(len(seen)) {
			if seen[num] {
				return fmt.Errorf("%w: field %d repeated", ErrMalformed, num)
			}
			seen[num] = true
		}
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
			if err := f(num, v, nil, false); err != nil {
				return err
			}
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
			if err := f(num, 0, v, true); err != nil {
				return err
			}
		default:
			if num < protowire.Number(len(seen)) {
				return fmt.Errorf("%w: field %d has wire type %d", ErrMalformed, num, typ)
			}
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", ErrMalformed, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	return nil
}

// marshaler is any wire message.
type marshaler interface{ Marshal() []byte }

// WriteDelimited writes one varint-delimited message.
func WriteDelimited(w io.Writer, m marshaler) error {
	body := m.Marshal()
	buf := make([]byte, 0, binary.MaxVarintLen64+len(body))
	buf = binary.AppendUvarint(buf, uint64(len(body)))
	buf = append(buf, body...)
	_, err := w.Write(buf)
	return err
}

// ReadDelimited reads one varint-delimited message of at most max bytes
// from r. The length is checked before anything is allocated.
func ReadDelimited(r io.ByteReader, max int) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: length prefix: %v", ErrMalformed, err)
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, n, max)
	}
	b := make([]byte, n)
	rd, ok := r.(io.Reader)
	if !ok {
		return nil, fmt.Errorf("p2p: reader cannot read bodies")
	}
	if _, err := io.ReadFull(rd, b); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	return b, nil
}

// byteReader is what ReadDelimited reads from.
type byteReader interface {
	io.Reader
	io.ByteReader
}

var _ byteReader = (*bufio.Reader)(nil)
