package outcome

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	steps := []Step{
		{Label: "socket", Ret: 3, RetFd: true},
		{Label: "write1", Ret: 1, Key: true},
		{Label: "poll", Ret: 1, Detail: "revents=POLLHUP"},
		{Label: "write2", Ret: -1, Errno: "EPIPE", Signals: []string{"SIGPIPE"}, Key: true},
	}
	tests := []struct {
		name string
		o    Outcome
		want string
	}{
		{"ok", Outcome{Status: OK, Steps: steps}, "write1=1 write2=-1 EPIPE +SIGPIPE"},
		{"timeout keeps steps", Outcome{Status: Timeout, Steps: steps[:2]}, "write1=1 timeout"},
		{"crash with no steps", Outcome{Status: Crashed}, "crashed"},
		{"profile", Outcome{Status: ProfileUnavailable}, "profile unavailable"},
		{"fd and timing", Outcome{Status: OK, Steps: []Step{
			{Label: "accept", Ret: 7, RetFd: true, Key: true, Timed: true, DurMS: 1040},
			{Label: "replies", Ret: 1, Key: true, ShowDetail: true, Detail: "ACK"},
		}}, "accept=fd @1s replies=1 ACK"},
		{"value read in place of the return value", Outcome{Status: OK, Steps: []Step{
			{Label: "x", Ret: 0, Value: "1", Key: true},
			{Label: "y", Ret: -1, Errno: "ENOPROTOOPT", Value: "0", Key: true},
		}}, "x=1 y=-1 ENOPROTOOPT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.o.Summarize())
		})
	}
}
