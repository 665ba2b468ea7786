package bootproto

import "testing"

// FuzzGuestLines parses arbitrary console lines as the ready line and the
// run line: what a guest prints is untrusted.
func FuzzGuestLines(f *testing.F) {
	f.Add(Ready{Transport: TransportNet, MAC: "52:54:00:12:34:56"}.Line())
	f.Add(string(Run{}.Line()))
	f.Add("runmatrix-ready {\"transport\":\"serial\"")
	f.Fuzz(func(t *testing.T, line string) {
		_, _ = ParseReady(line)
		_, _ = ParseRun(line)
	})
}
