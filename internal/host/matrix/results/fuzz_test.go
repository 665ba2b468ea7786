package results

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"format":2,"cells":[{"case":"epipe.write-after-close","profile":"default","kernel":"debian:6.1","kernel_info":{"ref":"debian:6.1","release":"6.1.0-9-amd64","arch":"x86_64"},"outcome":{"status":"ok","summary":"write1=1 write2=-1 EPIPE +SIGPIPE","steps":[{"label":"write","call":"write","ret":1}]},"reps":1,"agree":1}]}`))
	f.Add([]byte(`{"cells":[{"case":"a","profile":"default","kernel":"k","outcome":{"status":"ok"}}],"format":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(archivetest.ScratchDir(t), "results.json")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Read(p)
		if err != nil {
			return
		}
		for _, c := range r.Cells {
			if err := c.KernelInfo.Check(); err != nil {
				t.Fatalf("Read accepted %v", err)
			}
			_ = c.Text()
		}
		_ = r.FindTransitions()
	})
}

func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"case":"a","profile":"default","kernel":"k","rep":1,"kernel_info":{"ref":"k","release":"6.1.0"},"outcome":{"status":"ok","summary":"x=1"},"attempt":1,"time":"2026-01-01T00:00:00Z"}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(archivetest.ScratchDir(t), "results.jsonl")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		recs, err := ReadJournal(p)
		if err == nil {
			_ = Done(recs)
		}
	})
}
