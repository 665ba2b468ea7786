// Package hostile holds tests that fail, crash and hang: each must end in
// its own cell, and the other tests of the run must still be measured.
package hostile

import (
	"os"
	"testing"
	"time"
)

func TestFails(t *testing.T) { t.Fatal("this test fails on purpose") }

func TestPanics(t *testing.T) { panic("this test panics on purpose") }

func TestHangs(t *testing.T) { time.Sleep(time.Hour) }

func TestExits(t *testing.T) { os.Exit(3) }

func TestFloods(t *testing.T) {
	line := make([]byte, 4096)
	for i := range line {
		line[i] = 'x'
	}
	for i := 0; i < 50000; i++ { // 200 MB on stdout
		os.Stdout.Write(line)
	}
}

func TestPasses(t *testing.T) {}
