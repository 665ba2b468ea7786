package testcases

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

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
	// SrcIP and DstIP are the addresses on the wire (IPv4 or IPv6);
	// ChecksumOK says the TCP checksum is right for them, as the receiving
	// stack will check.
	SrcIP, DstIP netip.Addr
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

// RawSocket opens a raw TCP socket of the case's family, which both
// injects segments and receives a copy of every TCP segment the stack
// receives. Over IPv6 the kernel strips the IP header, so the socket also
// asks for each segment's destination (IPV6_RECVPKTINFO): its checksum
// covers it.
func (t *T) RawSocket(name string) *Call {
	dom, domName := t.domain()
	c := t.record("socket", "observer", name, outcome.ArgsOf(outcome.SocketArgs{Domain: domName, Type: "SOCK_RAW|SOCK_NONBLOCK", Protocol: "IPPROTO_TCP"}), func() (int64, error) {
		fd, err := unix.Socket(dom, unix.SOCK_RAW|unix.SOCK_NONBLOCK, unix.IPPROTO_TCP)
		return int64(fd), err
	})
	t.step(c).RetFd = true
	if c.Err != nil {
		return c
	}
	t.names[c.Fd()] = name
	if t.Family == IPv6 {
		if p := t.SetsockoptInt("observer", c.Fd(), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1); !p.OK() {
			return p
		}
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
	sa := outcome.SniffArgs{From: fmt.Sprint(from), To: fmt.Sprint(to), Mask: fmt.Sprintf("%#x", mask)}
	call := "recvfrom"
	if t.Family == IPv6 {
		call = "recvmsg"
	}
	c := t.record(call, "observer", t.name(fd), outcome.ArgsOf(sa), func() (int64, error) {
		buf := make([]byte, 65536)
		oob := make([]byte, 128)
		n := 0
		for {
			seg, ok, err := t.readSegment(fd, buf, oob)
			if err == unix.EAGAIN {
				return int64(n), nil
			}
			if err != nil {
				return int64(n), err
			}
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
	for _, s := range all {
		sa.Segments = append(sa.Segments, s.String())
		if s.Src == from {
			flags = append(flags, s.FlagString())
		}
	}
	t.step(c).Args = outcome.ArgsOf(sa)
	if len(flags) == 0 {
		flags = []string{"none"}
	}
	c.Detail("%s", strings.Join(flags, ","))
	return all, c
}

// readSegment reads one packet from the raw socket fd without blocking:
// an IPv4 packet with its header, or over IPv6 a bare TCP segment whose
// source comes with it and whose destination comes in IPV6_PKTINFO.
func (t *T) readSegment(fd int, buf, oob []byte) (Segment, bool, error) {
	if t.Family != IPv6 {
		m, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			return Segment{}, false, err
		}
		seg, ok := parseIPv4TCP(buf[:m])
		return seg, ok, nil
	}
	m, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, unix.MSG_DONTWAIT)
	if err != nil {
		return Segment{}, false, err
	}
	src, ok := from.(*unix.SockaddrInet6)
	if !ok {
		return Segment{}, false, nil
	}
	dst, ok := pktinfoDst(oob[:oobn])
	if !ok {
		return Segment{}, false, nil
	}
	seg, ok := parseTCP(netip.AddrFrom16(src.Addr), dst, buf[:m])
	return seg, ok, nil
}

// pktinfoDst is the destination address an IPV6_PKTINFO message carries.
func pktinfoDst(oob []byte) (netip.Addr, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.Addr{}, false
	}
	for _, m := range msgs {
		if m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_PKTINFO && len(m.Data) >= 16 {
			return netip.AddrFrom16([16]byte(m.Data[:16])), true
		}
	}
	return netip.Addr{}, false
}

// parseIPv4TCP reads a TCP segment from an IPv4 packet.
func parseIPv4TCP(p []byte) (Segment, bool) {
	if len(p) < 20 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_TCP {
		return Segment{}, false
	}
	ihl := int(p[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(p[2:4]))
	if total > len(p) {
		total = len(p)
	}
	if ihl < 20 || total < ihl {
		return Segment{}, false
	}
	return parseTCP(netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20])), p[ihl:total])
}

// parseTCP reads a TCP segment sent from src to dst.
func parseTCP(src, dst netip.Addr, tcp []byte) (Segment, bool) {
	if len(tcp) < 20 {
		return Segment{}, false
	}
	off := int(tcp[12]>>4) * 4
	if off < 20 || off > len(tcp) {
		return Segment{}, false
	}
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
	binary.BigEndian.PutUint16(b[16:18], tcpChecksum(seg.SrcIP, t.caseAddr(), b))
	return t.record("sendto", "observer", t.name(fd), outcome.ArgsOf(outcome.InjectArgs{Segment: seg.String(), From: seg.SrcIP.String()}), func() (int64, error) {
		// Port 0: a raw socket's port is its protocol, and IPv6 refuses any other.
		sa, size := t.rawSockaddr(0)
		n, err := sendto(fd, b, 0, sa, size)
		return int64(n), err
	})
}

// tcpChecksum is the RFC 793 checksum of seg over the pseudo-header of
// src and dst: IPv4's (RFC 793) or IPv6's (RFC 8200 section 8.1).
func tcpChecksum(src, dst netip.Addr, seg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	n := len(seg)
	if src.Is4() {
		add([]byte{0, unix.IPPROTO_TCP, byte(n >> 8), byte(n)})
	} else {
		add([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 0, 0, 0, unix.IPPROTO_TCP})
	}
	add(seg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// tookInjected checks the observer saw the injected segment on the wire
// with a checksum right for its addresses (so the receiving stack took it
// to TCP); an outcome that depends on the segment means nothing otherwise.
func tookInjected(segs []Segment, want Segment) error {
	for _, s := range segs {
		if s.Src == want.Src && s.Dst == want.Dst && s.Seq == want.Seq && s.Flags == want.Flags {
			if !s.ChecksumOK {
				return fmt.Errorf("setup: the injected %s went out with a checksum wrong for %s > %s: the kernel dropped it, so its answer says nothing", want.FlagString(), s.SrcIP, s.DstIP)
			}
			return nil
		}
	}
	return fmt.Errorf("setup: the observer did not see the injected %s on the wire: cannot say what the kernel did with it", want.FlagString())
}
