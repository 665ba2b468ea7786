package bootproto

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChoose(t *testing.T) {
	virtio := NIC{Iface: "eth0", Driver: "virtio_net", MAC: "52:54:00:12:34:01"}
	e1000 := NIC{Iface: "eth1", Driver: "e1000", MAC: "52:54:00:12:34:02"}
	other := NIC{Iface: "eth2", Driver: "8139too", MAC: "52:54:00:12:34:03"}
	noDriver := NIC{Iface: "dummy0", Driver: "."}
	tests := []struct {
		name string
		nics []NIC
		want Ready
	}{
		{"virtio first", []NIC{e1000, virtio}, Ready{Transport: TransportNet, Iface: "eth0", Driver: "virtio_net", MAC: virtio.MAC}},
		{"e1000 when no virtio", []NIC{other, e1000}, Ready{Transport: TransportNet, Iface: "eth1", Driver: "e1000", MAC: e1000.MAC}},
		{"any driver beats serial", []NIC{noDriver, other}, Ready{Transport: TransportNet, Iface: "eth2", Driver: "8139too", MAC: other.MAC}},
		{"no driver: serial", []NIC{noDriver}, Ready{Transport: TransportSerial, Iface: SerialDevice()}},
		{"no NIC: serial", nil, Ready{Transport: TransportSerial, Iface: SerialDevice()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Choose(tt.nics))
		})
	}
}

func TestReadyLineRoundTrip(t *testing.T) {
	r := Ready{Transport: TransportSerial, Iface: SerialDevice()}
	got, ok := ParseReady("[    3.1] " + r.Line())
	require.True(t, ok)
	require.Equal(t, r, got)
	_, ok = ParseReady("RUNMATRIX-FATAL no")
	require.False(t, ok)
}

func TestRunLine(t *testing.T) {
	r := Run{HostKey: bytes.Repeat([]byte{1}, 32), AuthorizedKey: bytes.Repeat([]byte{2}, 32), Seed: []byte{1, 2, 3}, UnixNano: 42}
	line := r.Line()
	require.Equal(t, byte('\n'), line[len(line)-1])
	require.Equal(t, 1, strings.Count(string(line), "\n"), "one line")
	require.Less(t, len(line), 256, "short: it crosses a serial port")
	got, err := ParseRun(string(line))
	require.NoError(t, err)
	require.Equal(t, r, got)
	noSeed := Run{HostKey: r.HostKey, AuthorizedKey: r.AuthorizedKey}
	got, err = ParseRun(string(noSeed.Line()))
	require.NoError(t, err)
	require.Equal(t, noSeed, got)
	got, err = ParseRun("RUNMATRIX-RUN x=later " + strings.TrimPrefix(string(line), RunPrefix))
	require.NoError(t, err, "a field it does not know is skipped")
	require.Equal(t, r, got)
	for _, bad := range []string{"", "RUNMATRIX-RUN {", "RUNMATRIX-RUN {}", "hello", "RUNMATRIX-RUN h=AQ a=Ag",
		"RUNMATRIX-RUN h=!! a=" + b64.EncodeToString(r.AuthorizedKey), strings.Replace(string(line), "t=42", "t=x", 1)} {
		_, err := ParseRun(bad)
		require.Error(t, err, bad)
	}
}
