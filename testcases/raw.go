package testcases

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runmatrix/runmatrix/testcases/outcome"
)

// TCP header flags.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// Segment is a TCP segment seen on or injected into the loopback.
type Segment struct {
	Src, Dst uint16
	Seq, Ack uint32
	Flags    uint8
	Len      int
	// SrcIP and DstIP are the addresses on the wire; ChecksumOK says the
	// TCP checksum is right for them, as the receiving stack will check.
	SrcIP, DstIP [4]byte
	ChecksumOK   bool
}

// FlagString renders the segment's flags as "SYN|ACK".
func (s Segment) FlagString() string {
	var parts []string
	for _, f := range []struct {
		bit  uint8
		name string
	}{{tcpSYN, "SYN"}, {tcpRST, "RST"}, {tcpFIN, "FIN"}, {tcpPSH, "PSH"}, {tcpACK, "ACK"}} {
		if s.Flags&f.bit != 0 {
			parts = append(parts, f.name)
		}
	}
	return strings.Join(parts, "|")
}

func (s Segment) String() string {
	return fmt.Sprintf("%d>%d %s seq=%d ack=%d len=%d", s.Src, s.Dst, s.FlagString(), s.Seq, s.Ack, s.Len)
}

// RawSocket opens a raw TCP socket, which both injects segments and
// receives a copy of every TCP segment the stack receives.
func (t *T) RawSocket(name string) *Call {
	c := t.record("socket", "observer", name, args("domain", "AF_INET", "type", "SOCK_RAW|SOCK_NONBLOCK", "protocol", "IPPROTO_TCP"), func() (int64, error) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK, unix.IPPROTO_TCP)
		return int64(fd), err
	})
	t.step(c).RetFd = true
	if c.Err == nil {
		t.names[c.Fd()] = name
	}
	return c
}

// Sniff drains the segments the raw socket fd has seen between ports a and
// b. The step's return value is the number of segments from -> to and its
// detail their flags, which is stable across runs; the full segments are
// in its arguments.
func (t *T) Sniff(fd int, from, to uint16) ([]Segment, *Call) {
	return t.SniffFlags(fd, from, to, 0)
}

// SniffFlags is Sniff counting, in its return value, only the segments
// from -> to that carry every flag of mask (tcpSYN|tcpACK: SYN-ACKs).
func (t *T) SniffFlags(fd int, from, to uint16, mask uint8) ([]Segment, *Call) {
	var all []Segment
	a := args("from", fmt.Sprint(from), "to", fmt.Sprint(to), "mask", fmt.Sprintf("%#x", mask))
	c := t.record("recvfrom", "observer", t.name(fd), a, func() (int64, error) {
		buf := make([]byte, 65536)
		n := 0
		for {
			m, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
			if err == unix.EAGAIN {
				return int64(n), nil
			}
			if err != nil {
				return int64(n), err
			}
			seg, ok := parseIPv4TCP(buf[:m])
			if !ok || !(seg.Src == from && seg.Dst == to || seg.Src == to && seg.Dst == from) {
				continue
			}
			all = append(all, seg)
			if seg.Src == from && seg.Flags&mask == mask {
				n++
			}
		}
	})
	var flags []string
	st := t.step(c)
	for _, s := range all {
		st.Args = append(st.Args, outcome.Arg{Name: "segment", Value: s.String()})
		if s.Src == from {
			flags = append(flags, s.FlagString())
		}
	}
	if len(flags) == 0 {
		flags = []string{"none"}
	}
	c.Detail("%s", strings.Join(flags, ","))
	return all, c
}

func parseIPv4TCP(p []byte) (Segment, bool) {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_TCP {
		return Segment{}, false
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:4]))
	if total > len(p) {
		total = len(p)
	}
	if len(p) < ihl+20 || total < ihl+20 {
		return Segment{}, false
	}
	tcp := p[ihl:total]
	off := int(tcp[12]>>4) * 4
	var src, dst [4]byte
	copy(src[:], p[12:16])
	copy(dst[:], p[16:20])
	return Segment{
		Src:        binary.BigEndian.Uint16(tcp[0:2]),
		Dst:        binary.BigEndian.Uint16(tcp[2:4]),
		Seq:        binary.BigEndian.Uint32(tcp[4:8]),
		Ack:        binary.BigEndian.Uint32(tcp[8:12]),
		Flags:      tcp[13],
		Len:        len(tcp) - off,
		SrcIP:      src,
		DstIP:      dst,
		ChecksumOK: tcpChecksum(src, dst, tcp) == 0,
	}, true
}

// Inject sends seg through the raw socket fd to the case address. seg.SrcIP
// must be the address the kernel sends it from (for an unbound raw socket,
// the one it gave the unbound client): the checksum covers it, and a
// segment whose checksum is wrong for the addresses on the wire is dropped
// before TCP sees it (see tookInjected).
func (t *T) Inject(fd int, seg Segment) *Call {
	b := make([]byte, 20)
	binary.BigEndian.PutUint16(b[0:2], seg.Src)
	binary.BigEndian.PutUint16(b[2:4], seg.Dst)
	binary.BigEndian.PutUint32(b[4:8], seg.Seq)
	binary.BigEndian.PutUint32(b[8:12], seg.Ack)
	b[12] = 5 << 4
	b[13] = seg.Flags
	binary.BigEndian.PutUint16(b[14:16], 65535)
	binary.BigEndian.PutUint16(b[16:18], tcpChecksum(seg.SrcIP, t.Addr, b))
	return t.record("sendto", "observer", t.name(fd), args("segment", seg.String(), "from", ipString(seg.SrcIP)), func() (int64, error) {
		sa := &unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: t.Addr} // raw segments are IPv4
		n, err := sendto(fd, b, 0, unsafe.Pointer(sa), unsafe.Sizeof(*sa))
		return int64(n), err
	})
}

// tcpChecksum is the RFC 793 checksum over the IPv4 pseudo-header and seg.
func tcpChecksum(src, dst [4]byte, seg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	add([]byte{0, unix.IPPROTO_TCP, byte(len(seg) >> 8), byte(len(seg))})
	add(seg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func ipString(a [4]byte) string { return fmt.Sprintf("%d.%d.%d.%d", a[0], a[1], a[2], a[3]) }

// tookInjected checks the observer saw the injected segment on the wire
// with a checksum right for its addresses (so the receiving stack took it
// to TCP); an outcome that depends on the segment means nothing otherwise.
func tookInjected(segs []Segment, want Segment) error {
	for _, s := range segs {
		if s.Src == want.Src && s.Dst == want.Dst && s.Seq == want.Seq && s.Flags == want.Flags {
			if !s.ChecksumOK {
				return fmt.Errorf("setup: the injected %s went out with a checksum wrong for %s > %s: the kernel dropped it, so its answer says nothing", want.FlagString(), ipString(s.SrcIP), ipString(s.DstIP))
			}
			return nil
		}
	}
	return fmt.Errorf("setup: the observer did not see the injected %s on the wire: cannot say what the kernel did with it", want.FlagString())
}
