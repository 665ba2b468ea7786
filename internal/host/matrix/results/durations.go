package results

import (
	"encoding/json"
	"os"
	"time"

	"github.com/runmatrix/runmatrix/internal/host/store"
)

// Durations remembers how long each case took under each profile (the
// longest recent run, in ms), so a run can start the longest cells first:
// a guest runs several cells at once, and one that waits out a 3 s
// timeout started last would hold the whole kernel back.
type Durations map[string]float64

func durationKey(c Cell) string { return c.Case + "@" + c.Profile }

// ReadDurations reads what earlier runs remembered; a missing or damaged
// file is an empty memory, never an error (it only orders cells).
func ReadDurations(path string) Durations {
	d := Durations{}
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &d)
	}
	return d
}

// Add remembers the records' durations: a cell's memory is its latest
// duration, or the one before halved if that was longer, so a cell that
// became quick is forgotten slowly and one that became slow at once.
func (d Durations) Add(recs []Record) {
	for _, r := range recs {
		if r.Outcome.DurMS <= 0 {
			continue
		}
		k := durationKey(r.Cell)
		d[k] = max(r.Outcome.DurMS, d[k]/2)
	}
}

// Write stores the memory atomically.
func (d Durations) Write(path string) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return store.WriteFileAtomic(path, b, 0o644)
}

// Of is how long c took last time it ran; 0 when unknown.
func (d Durations) Of(c Cell) time.Duration {
	return time.Duration(d[durationKey(c)] * float64(time.Millisecond))
}
