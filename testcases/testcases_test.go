package testcases

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestInRange(t *testing.T) {
	tests := []struct {
		release, rng string
		want         bool
	}{
		{"2.6.32-42-server", "<3.6", true},
		{"3.6.2-1-ARCH", "<3.6", false},
		{"3.6.2-1-ARCH", ">=3.6", true},
		{"3.4.9", ">=3.1 <3.6", true},
		{"6.1.0-56-amd64", ">=3.7", true},
		{"6.12.117+deb12-amd64", ">=6.12.117", true},
		{"6.12.116", ">=6.12.117", false},
		{"4.11", "=4.11.0", true},
		{"5.4", "", true},
	}
	for _, tt := range tests {
		got, err := InRange(tt.release, tt.rng)
		require.NoError(t, err, tt.release+" "+tt.rng)
		require.Equal(t, tt.want, got, tt.release+" "+tt.rng)
	}
	for _, bad := range []struct{ release, rng string }{{"x", "<3.6"}, {"3.6", "~3.6"}, {"3.6", "<three"}} {
		_, err := InRange(bad.release, bad.rng)
		require.Error(t, err, bad)
	}
}

func TestSelect(t *testing.T) {
	got, err := Select([]string{"tfo.sendmsg.*", "linger0.reset"})
	require.NoError(t, err)
	require.Equal(t, []string{"linger0.reset", "tfo.sendmsg.no-name", "tfo.sendmsg.with-name"}, IDs(got))
	all, err := Select(nil)
	require.NoError(t, err)
	require.Len(t, all, len(All()))
	_, err = Select([]string{"tfo.nope"})
	require.ErrorContains(t, err, `no case matches "tfo.nope"`)
	_, err = Select([]string{"["})
	require.ErrorContains(t, err, "case glob")
}

// TestCasesWellFormed checks the case table: unique IDs, a purpose, a
// source, a timeout, and expectations that parse.
func TestCasesWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range All() {
		require.False(t, seen[c.ID], "duplicate case %s", c.ID)
		seen[c.ID] = true
		require.NotEmpty(t, c.Title, c.ID)
		require.NotEmpty(t, c.About, c.ID)
		require.NotEmpty(t, c.Source, c.ID)
		require.NotZero(t, c.Timeout, c.ID)
		require.NotNil(t, c.Run, c.ID)
		for _, e := range c.Expect {
			_, err := e.Applies("3.6.0", "x86_64", "default")
			require.NoError(t, err, c.ID)
			require.NotEmpty(t, e.Source, c.ID)
			for _, p := range e.Profiles {
				_, err := ParseProfile(p)
				require.NoError(t, err, c.ID)
			}
		}
	}
	require.Len(t, seen, 20)
}

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile("tfo=0x207")
	require.NoError(t, err)
	require.Equal(t, map[string]string{SysctlTCPFastOpen: "519"}, p.Sysctls)
	p, err = ParseProfile("tfo=0x1003")
	require.NoError(t, err)
	require.Equal(t, "4099", p.Sysctls[SysctlTCPFastOpen])
	p, err = ParseProfile("default")
	require.NoError(t, err)
	require.Empty(t, p.Sysctls)
	_, err = ParseProfile("tfo=-1")
	require.ErrorContains(t, err, "unknown profile")
	_, err = ParseProfile("fast")
	require.ErrorContains(t, err, "use one of default, ipv6, tfo=0")

	// The address family: +ipv6 on any profile, or ipv6 alone.
	p, err = ParseProfile("tfo=3+ipv6")
	require.NoError(t, err)
	require.Equal(t, IPv6, p.Family)
	require.Equal(t, "3", p.Sysctls[SysctlTCPFastOpen])
	p, err = ParseProfile("ipv6")
	require.NoError(t, err)
	require.Equal(t, IPv6, p.Family)
	require.Empty(t, p.Sysctls)
	p, err = ParseProfile("tfo=3")
	require.NoError(t, err)
	require.Equal(t, IPv4, p.Family)
	_, err = ParseProfile("ipv6+ipv6")
	require.ErrorContains(t, err, "unknown profile")
	_, err = ParseProfile("nope+ipv6")
	require.ErrorContains(t, err, "unknown profile")

	// Expectations claim IPv4 unless they name IPv6.
	e := Expect{Summary: "x"}
	ok, _, _ := e.Covers("6.1", "x86_64", "tfo=3+ipv6", nil)
	require.False(t, ok)
	e.Families = []string{IPv6}
	e.Profiles = []string{"tfo=3"}
	ok, _, _ = e.Covers("6.1", "x86_64", "tfo=3+ipv6", nil)
	require.True(t, ok)
	// Every built-in case runs over both, raw segments too.
	for _, c := range builtin() {
		require.True(t, c.RunsOver(IPv4), c.ID)
		require.True(t, c.RunsOver(IPv6), c.ID)
	}
}

func TestSegments(t *testing.T) {
	// A SYN from port 40000 to 80; its checksums over 127.0.0.1 > 127.0.0.1
	// and ::1 > ::1, summed by hand from RFC 793's and RFC 8200's
	// pseudo-headers.
	seg := []byte{0x9c, 0x40, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0}
	lo4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()
	require.Equal(t, uint16(0x154f), tcpChecksum(lo4, lo4, seg))
	require.Equal(t, uint16(0x1350), tcpChecksum(lo6, lo6, seg))

	seg4 := append([]byte(nil), seg...)
	seg4[16], seg4[17] = 0x15, 0x4f
	ip := append([]byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}, seg4...)
	s, ok := parseIPv4TCP(ip)
	require.True(t, ok)
	require.Equal(t, Segment{Src: 40000, Dst: 80, Seq: 1, Flags: tcpSYN, SrcIP: lo4, DstIP: lo4, ChecksumOK: true}, s)
	require.Equal(t, "SYN", s.FlagString())
	require.NoError(t, tookInjected([]Segment{s}, Segment{Src: 40000, Dst: 80, Seq: 1, Flags: tcpSYN}))

	// The same segment on the wire from another address (the kernel chose
	// 127.0.0.1 as source where the checksum assumed the case address):
	// the receiver drops it, and the case must not claim an outcome.
	copy(ip[12:16], []byte{127, 9, 8, 7})
	s, ok = parseIPv4TCP(ip)
	require.True(t, ok)
	require.False(t, s.ChecksumOK)
	require.ErrorContains(t, tookInjected([]Segment{s}, Segment{Src: 40000, Dst: 80, Seq: 1, Flags: tcpSYN}), "checksum wrong for 127.9.8.7 > 127.0.0.1")
	require.ErrorContains(t, tookInjected(nil, Segment{Src: 40000, Dst: 80, Seq: 1, Flags: tcpSYN}), "did not see the injected SYN")
	_, ok = parseIPv4TCP(ip[:30])
	require.False(t, ok)

	// Over IPv6 the raw socket reads the bare segment; its addresses come
	// beside it.
	seg6 := append([]byte(nil), seg...)
	seg6[16], seg6[17] = 0x13, 0x50
	s, ok = parseTCP(lo6, lo6, seg6)
	require.True(t, ok)
	require.True(t, s.ChecksumOK)
	s, ok = parseTCP(netip.MustParseAddr("::2"), lo6, seg6)
	require.True(t, ok)
	require.ErrorContains(t, tookInjected([]Segment{s}, Segment{Src: 40000, Dst: 80, Seq: 1, Flags: tcpSYN}), "checksum wrong for ::2 > ::1")
	_, ok = parseTCP(lo6, lo6, seg6[:19])
	require.False(t, ok)
	seg6[12] = 0xf0 // a data offset past the segment's end
	_, ok = parseTCP(lo6, lo6, seg6)
	require.False(t, ok)
}

func TestFlagString(t *testing.T) {
	require.Equal(t, "MSG_NOSIGNAL|MSG_FASTOPEN", flagString(MSG_FASTOPEN|0x4000))
	require.Equal(t, "0x80000000", flagString(int(int32(-0x80000000))))
	require.Equal(t, "0", flagString(0))
}

// TestConfigExpectations: an expectation can require kernel options; it
// covers a kernel built so, not one built otherwise, and where the build is
// not known it is neither applied nor ruled out. flags.unknown.sendmsg is
// judged by CONFIG_COMPAT, not by version and architecture alone.
func TestConfigExpectations(t *testing.T) {
	c, err := Lookup("flags.unknown.sendmsg")
	require.NoError(t, err)
	compat := KernelConfig{"CONFIG_COMPAT": "y"}
	noCompat := KernelConfig{"CONFIG_NET": "y"}
	for _, tc := range []struct {
		release, arch string
		config        KernelConfig
		want          string
		unknown       bool
	}{
		{"6.1.0-57-amd64", "x86_64", compat, "0x40000000=5 0x80000000=-1 EINVAL", false},
		{"6.1.0-50-686", "i686", nil, "0x40000000=5 0x80000000=5", false},   // i386 never has CONFIG_COMPAT
		{"4.9.171", "x86_64", noCompat, "0x40000000=5 0x80000000=5", false}, // OpenWrt's build
		{"2.6.32-42-server", "x86_64", compat, "0x40000000=5 0x80000000=-1 EFAULT", false},
		{"4.9.171", "x86_64", nil, "0x40000000=5 0x80000000=5", true}, // not known: not judged
		{"3.2.0-4-amd64", "x86_64", compat, "", false},                // 3.2 to 3.13: backports differ, no claim
	} {
		e, unknown, err := c.ExpectedWith(tc.release, tc.arch, "default", tc.config)
		require.NoError(t, err)
		require.Equal(t, tc.unknown, unknown, "%s %s %v", tc.release, tc.arch, tc.config)
		if tc.want == "" {
			require.Nil(t, e)
			continue
		}
		require.NotNil(t, e, "%s %s", tc.release, tc.arch)
		require.Equal(t, tc.want, e.Summary, "%s %s %v", tc.release, tc.arch, tc.config)
	}
	ok, unknown, err := Expect{Config: []string{"CONFIG_X=m"}}.Covers("6.1", "x86_64", "default", KernelConfig{"CONFIG_X": "m"})
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, unknown)
	require.Equal(t, KernelConfig{"CONFIG_A": "y", "CONFIG_B": "some thing"}, ParseKernelConfig("CONFIG_A=y\n# CONFIG_C is not set\nCONFIG_B=\"some thing\"\n"))
	require.ErrorContains(t, Expect{Config: []string{"COMPAT"}}.CheckConfig(), "write CONFIG_NAME=y")
	require.Equal(t, []string{"CONFIG_COMPAT"}, ConfigOptions([]*Case{c}))
}

// TestLineageExpectations: a distribution's backport is an expectation of
// its own, read from the release's tag and build numbers (CentOS 6.6's
// 2.6.32-504.el6 on), while the upstream range stays right for the rest.
func TestLineageExpectations(t *testing.T) {
	c, err := Lookup("reconnect.syn-in-window")
	require.NoError(t, err)
	for _, tc := range []struct{ release, want string }{
		{"2.6.32-642.el6.i686", "recv=-1 EAGAIN @3s replies=1 ACK"},
		{"2.6.32-504.23.4.el6.x86_64", "recv=-1 EAGAIN @3s replies=1 ACK"},
		{"2.6.32-431.el6.x86_64", "recv=-1 ECONNRESET @0s replies=1 RST|ACK"}, // CentOS 6.5: upstream 2.6.32
		{"2.6.32-42-server", "recv=-1 ECONNRESET @0s replies=1 RST|ACK"},
		{"3.7.10", "recv=-1 EAGAIN @3s replies=1 ACK"},
	} {
		e, err := c.Expected(tc.release, "x86_64", "default")
		require.NoError(t, err)
		require.NotNil(t, e, tc.release)
		require.Equal(t, tc.want, e.Summary, tc.release)
	}
	require.Equal(t, "el6", Lineage("2.6.32-504.el6.x86_64"))
	require.Equal(t, "", Lineage("6.1.0-57-amd64"))
	require.Equal(t, Version{2, 6, 32, 504, 23, 4}, BuildVersion("2.6.32-504.23.4.el6.x86_64"))
}
