package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Journal appends records to results.jsonl as they arrive, one whole line
// per write, synced, so an interrupted run keeps what it measured.
type Journal struct {
	mu   sync.Mutex
	path string
	f    *os.File
	err  error
}

// JournalError is a failed write to the journal: the run must stop, since
// what it measures next could not be kept.
type JournalError struct {
	Path string
	Err  error
}

func (e *JournalError) Error() string {
	return fmt.Sprintf("results journal %s: %v; free space or fix the output directory, then --resume", e.Path, e.Err)
}

func (e *JournalError) Unwrap() error { return e.Err }

// OpenJournal opens path for appending, creating it if needed. A torn last
// line (a run killed mid-write) is cut off first, so appends start on a
// line of their own; warn is told about it.
func OpenJournal(path string, warn func(string)) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, &JournalError{Path: path, Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &JournalError{Path: path, Err: err}
	}
	if !st.Mode().IsRegular() {
		return &Journal{path: path, f: f}, nil // a device or pipe: nothing to resume
	}
	good, total, err := scanJournal(f)
	if err != nil {
		f.Close()
		return nil, &JournalError{Path: path, Err: err}
	}
	if good < total {
		warn(fmt.Sprintf("%s: dropped a torn last line (%d bytes) left by an interrupted run; its cell runs again", path, total-good))
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, &JournalError{Path: path, Err: err}
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, &JournalError{Path: path, Err: err}
	}
	return &Journal{path: path, f: f}, nil
}

// scanJournal returns the length of the prefix made of whole, valid lines
// and the file's size.
func scanJournal(f *os.File) (good, total int64, err error) {
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		total += int64(len(line))
		if errors.Is(err, io.EOF) {
			return good, total, nil
		}
		if err != nil {
			return 0, 0, err
		}
		var rec Record
		if json.Unmarshal(bytes.TrimSpace(line), &rec) != nil {
			// Only the last line may be torn: lines are written whole.
			if _, err := r.Peek(1); err == nil {
				return 0, 0, fmt.Errorf("byte %d: a line that is not a result record, with more after it; the journal is damaged, not torn", good)
			}
			return good, total, nil
		}
		good = total
	}
}

// Add writes one record as one line and syncs it; after a failed write
// every later Add fails too.
func (j *Journal) Add(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		j.err = &JournalError{Path: j.path, Err: err}
		return j.err
	}
	if err := j.f.Sync(); err != nil {
		j.err = &JournalError{Path: j.path, Err: err}
		return j.err
	}
	return nil
}

// Close closes the journal file.
func (j *Journal) Close() error { return j.f.Close() }

// ReadJournal reads every whole record of a results.jsonl; a torn last
// line is left out (OpenJournal cuts it off).
func ReadJournal(path string) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil, err // a device or pipe holds no earlier records
	}
	var recs []Record
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return recs, nil // a last line without its newline is torn
		}
		if err != nil {
			return nil, err
		}
		var rec Record
		if err := json.Unmarshal(bytes.TrimSpace(line), &rec); err != nil {
			if _, perr := r.Peek(1); perr == nil {
				return nil, &JournalError{Path: path, Err: fmt.Errorf("record %d is damaged: %v", len(recs)+1, err)}
			}
			return recs, nil // torn last line
		}
		if err := rec.KernelInfo.Check(); err != nil {
			return nil, &JournalError{Path: path, Err: fmt.Errorf("record %d: %v", len(recs)+1, err)}
		}
		recs = append(recs, rec)
	}
}
