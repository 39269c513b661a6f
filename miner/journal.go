package miner

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pouw/pouwd/pouw"
)

// journalRecord is one step's record: step (uint64 little-endian) and the
// four digest inputs (pouw.StepParts, version 2).
const journalRecord = 8 + 4*pouw.HashLen

// journal keeps every step's hashes of a job on disk, so that a miner
// restarted after a crash can still draw the lottery of the steps it
// trained before its last commitment (they are not retrained: training
// resumes from that commitment's checkpoint). Records are appended through
// a buffer flushed at every commitment; a torn last record is ignored.
type journal struct {
	f *os.File
	w *bufio.Writer
}

func journalPath(dir string, task uint64, job uint32) string {
	// ".v2steps": a journal of version 1 step hashes (".steps") is not
	// read as version 2 parts.
	return filepath.Join(dir, "journal", fmt.Sprintf("task%d-job%d.v2steps", task, job))
}

// openJournal opens (creating) the journal of a job for appending.
func openJournal(dir string, task uint64, job uint32) (*journal, error) {
	p := journalPath(dir, task, job)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("miner: step journal: %w", err)
	}
	return &journal{f: f, w: bufio.NewWriterSize(f, 64*journalRecord)}, nil
}

func (j *journal) add(step uint64, h pouw.StepParts) error {
	var b [journalRecord]byte
	binary.LittleEndian.PutUint64(b[:8], step)
	copy(b[8:], h.Prev[:])
	copy(b[8+32:], h.Batch[:])
	copy(b[8+64:], h.GradSample[:])
	copy(b[8+96:], h.WeightSample[:])
	_, err := j.w.Write(b[:])
	return err
}

func (j *journal) flush() error { return j.w.Flush() }

func (j *journal) close() error {
	err := j.w.Flush()
	return errors.Join(err, j.f.Close())
}

// readJournal returns the recorded hashes of a job's steps by step (the
// last record of a step wins; a run after a restart records the same
// hashes again). A missing journal is empty.
func readJournal(dir string, task uint64, job uint32) (map[uint64]pouw.StepParts, error) {
	b, err := os.ReadFile(journalPath(dir, task, job))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("miner: step journal: %w", err)
	}
	out := map[uint64]pouw.StepParts{}
	for ; len(b) >= journalRecord; b = b[journalRecord:] {
		var h pouw.StepParts
		copy(h.Prev[:], b[8:])
		copy(h.Batch[:], b[8+32:])
		copy(h.GradSample[:], b[8+64:])
		copy(h.WeightSample[:], b[8+96:])
		out[binary.LittleEndian.Uint64(b[:8])] = h
	}
	return out, nil
}
