// Package cnames spells bit sets of socket constants as C headers do
// ("MSG_NOSIGNAL|MSG_FASTOPEN"), for the steps of built-in cases and of
// traced programs alike.
package cnames

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Bit is one named flag.
type Bit struct {
	Bit  int
	Name string
}

// Flags spells v with the names of table, in table order, and the bits no
// name covers in hex; 0 is "0".
func Flags(v int, table []Bit) string {
	if v == 0 {
		return "0"
	}
	var parts []string
	for _, b := range table {
		if v&b.Bit != 0 {
			parts = append(parts, b.Name)
			v &^= b.Bit
		}
	}
	if v != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint32(v)))
	}
	return strings.Join(parts, "|")
}

// MsgFlags are the send/recv flags traces name and repro.c reads back
// (their values are the same on every architecture).
var MsgFlags = []Bit{{0x1, "MSG_OOB"}, {0x2, "MSG_PEEK"}, {0x4, "MSG_DONTROUTE"},
	{0x20, "MSG_TRUNC"}, {0x40, "MSG_DONTWAIT"}, {0x80, "MSG_EOR"}, {0x100, "MSG_WAITALL"},
	{0x4000, "MSG_NOSIGNAL"}, {0x8000, "MSG_MORE"}, {0x10000, "MSG_WAITFORONE"},
	{0x20000000, "MSG_FASTOPEN"}, {0x40000000, "MSG_CMSG_CLOEXEC"}}

// pollBits are the poll(2) events a trace names.
var pollBits = []Bit{{unix.POLLIN, "POLLIN"}, {unix.POLLOUT, "POLLOUT"}, {unix.POLLERR, "POLLERR"}, {unix.POLLHUP, "POLLHUP"}, {unix.POLLRDHUP, "POLLRDHUP"}}

// Poll spells poll(2) events by their names; others are left out and none
// is "0".
func Poll(ev int16) string {
	var parts []string
	for _, b := range pollBits {
		if int(ev)&b.Bit != 0 {
			parts = append(parts, b.Name)
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

// Protocols are socket(2)'s protocols of AF_INET and AF_INET6, as strace
// names them.
var Protocols = map[int]string{0: "IPPROTO_IP", 1: "IPPROTO_ICMP", 6: "IPPROTO_TCP", 17: "IPPROTO_UDP", 58: "IPPROTO_ICMPV6",
	132: "IPPROTO_SCTP", 136: "IPPROTO_UDPLITE", 255: "IPPROTO_RAW", 262: "IPPROTO_MPTCP"}

// Protocol names socket(2)'s protocol for a family as strace does, and
// numbers what it does not name (any protocol of another family).
func Protocol(family, proto int) string {
	if n, ok := Protocols[proto]; ok && (family == unix.AF_INET || family == unix.AF_INET6) {
		return n
	}
	return strconv.Itoa(proto)
}

// Levels are the socket option levels the tables below name, as C headers
// spell them (SOL_TCP is IPPROTO_TCP's other name, which strace uses).
var Levels = map[int]string{unix.SOL_SOCKET: "SOL_SOCKET", unix.IPPROTO_IP: "SOL_IP", unix.IPPROTO_TCP: "SOL_TCP", unix.IPPROTO_UDP: "SOL_UDP", unix.IPPROTO_IPV6: "SOL_IPV6"}

// Options are the socket options by level and number, with this
// architecture's numbers (SOL_SOCKET's differ on some), as strace names them.
var Options = map[[2]int]string{}

func init() {
	for level, names := range map[int]map[int]string{
		unix.SOL_SOCKET: {unix.SO_DEBUG: "SO_DEBUG", unix.SO_REUSEADDR: "SO_REUSEADDR", unix.SO_TYPE: "SO_TYPE", unix.SO_ERROR: "SO_ERROR",
			unix.SO_DONTROUTE: "SO_DONTROUTE", unix.SO_BROADCAST: "SO_BROADCAST", unix.SO_SNDBUF: "SO_SNDBUF", unix.SO_RCVBUF: "SO_RCVBUF",
			unix.SO_KEEPALIVE: "SO_KEEPALIVE", unix.SO_OOBINLINE: "SO_OOBINLINE", unix.SO_PRIORITY: "SO_PRIORITY", unix.SO_LINGER: "SO_LINGER",
			unix.SO_REUSEPORT: "SO_REUSEPORT", unix.SO_PASSCRED: "SO_PASSCRED", unix.SO_PEERCRED: "SO_PEERCRED", unix.SO_RCVLOWAT: "SO_RCVLOWAT",
			unix.SO_SNDLOWAT: "SO_SNDLOWAT", unix.SO_RCVTIMEO: "SO_RCVTIMEO", unix.SO_SNDTIMEO: "SO_SNDTIMEO", unix.SO_BINDTODEVICE: "SO_BINDTODEVICE",
			unix.SO_TIMESTAMP: "SO_TIMESTAMP", unix.SO_ACCEPTCONN: "SO_ACCEPTCONN", unix.SO_SNDBUFFORCE: "SO_SNDBUFFORCE", unix.SO_RCVBUFFORCE: "SO_RCVBUFFORCE",
			unix.SO_TIMESTAMPNS: "SO_TIMESTAMPNS", unix.SO_MARK: "SO_MARK", unix.SO_TIMESTAMPING: "SO_TIMESTAMPING", unix.SO_PROTOCOL: "SO_PROTOCOL",
			unix.SO_DOMAIN: "SO_DOMAIN", unix.SO_RXQ_OVFL: "SO_RXQ_OVFL", unix.SO_PEEK_OFF: "SO_PEEK_OFF", unix.SO_BUSY_POLL: "SO_BUSY_POLL",
			unix.SO_INCOMING_CPU: "SO_INCOMING_CPU", unix.SO_ZEROCOPY: "SO_ZEROCOPY", unix.SO_TXTIME: "SO_TXTIME", unix.SO_PASSPIDFD: "SO_PASSPIDFD"},
		unix.IPPROTO_TCP: {unix.TCP_NODELAY: "TCP_NODELAY", unix.TCP_MAXSEG: "TCP_MAXSEG", unix.TCP_CORK: "TCP_CORK", unix.TCP_KEEPIDLE: "TCP_KEEPIDLE",
			unix.TCP_KEEPINTVL: "TCP_KEEPINTVL", unix.TCP_KEEPCNT: "TCP_KEEPCNT", unix.TCP_SYNCNT: "TCP_SYNCNT", unix.TCP_LINGER2: "TCP_LINGER2",
			unix.TCP_DEFER_ACCEPT: "TCP_DEFER_ACCEPT", unix.TCP_WINDOW_CLAMP: "TCP_WINDOW_CLAMP", unix.TCP_INFO: "TCP_INFO", unix.TCP_QUICKACK: "TCP_QUICKACK",
			unix.TCP_CONGESTION: "TCP_CONGESTION", unix.TCP_MD5SIG: "TCP_MD5SIG", unix.TCP_USER_TIMEOUT: "TCP_USER_TIMEOUT", unix.TCP_REPAIR: "TCP_REPAIR",
			unix.TCP_REPAIR_QUEUE: "TCP_REPAIR_QUEUE", unix.TCP_QUEUE_SEQ: "TCP_QUEUE_SEQ", unix.TCP_REPAIR_OPTIONS: "TCP_REPAIR_OPTIONS",
			unix.TCP_FASTOPEN: "TCP_FASTOPEN", unix.TCP_TIMESTAMP: "TCP_TIMESTAMP", unix.TCP_NOTSENT_LOWAT: "TCP_NOTSENT_LOWAT", unix.TCP_CC_INFO: "TCP_CC_INFO",
			unix.TCP_SAVE_SYN: "TCP_SAVE_SYN", unix.TCP_SAVED_SYN: "TCP_SAVED_SYN", unix.TCP_REPAIR_WINDOW: "TCP_REPAIR_WINDOW",
			unix.TCP_FASTOPEN_CONNECT: "TCP_FASTOPEN_CONNECT", unix.TCP_ULP: "TCP_ULP", unix.TCP_MD5SIG_EXT: "TCP_MD5SIG_EXT", unix.TCP_FASTOPEN_KEY: "TCP_FASTOPEN_KEY",
			unix.TCP_FASTOPEN_NO_COOKIE: "TCP_FASTOPEN_NO_COOKIE", unix.TCP_ZEROCOPY_RECEIVE: "TCP_ZEROCOPY_RECEIVE", unix.TCP_INQ: "TCP_INQ", unix.TCP_TX_DELAY: "TCP_TX_DELAY"},
		unix.IPPROTO_IP: {unix.IP_TOS: "IP_TOS", unix.IP_TTL: "IP_TTL", unix.IP_HDRINCL: "IP_HDRINCL", unix.IP_OPTIONS: "IP_OPTIONS", unix.IP_PKTINFO: "IP_PKTINFO",
			unix.IP_MTU_DISCOVER: "IP_MTU_DISCOVER", unix.IP_RECVERR: "IP_RECVERR", unix.IP_RECVTTL: "IP_RECVTTL", unix.IP_RECVTOS: "IP_RECVTOS", unix.IP_MTU: "IP_MTU",
			unix.IP_FREEBIND: "IP_FREEBIND", unix.IP_TRANSPARENT: "IP_TRANSPARENT", unix.IP_BIND_ADDRESS_NO_PORT: "IP_BIND_ADDRESS_NO_PORT",
			unix.IP_MULTICAST_IF: "IP_MULTICAST_IF", unix.IP_MULTICAST_TTL: "IP_MULTICAST_TTL", unix.IP_MULTICAST_LOOP: "IP_MULTICAST_LOOP",
			unix.IP_ADD_MEMBERSHIP: "IP_ADD_MEMBERSHIP", unix.IP_DROP_MEMBERSHIP: "IP_DROP_MEMBERSHIP"},
		unix.IPPROTO_IPV6: {unix.IPV6_UNICAST_HOPS: "IPV6_UNICAST_HOPS", unix.IPV6_MULTICAST_IF: "IPV6_MULTICAST_IF", unix.IPV6_MULTICAST_HOPS: "IPV6_MULTICAST_HOPS",
			unix.IPV6_MULTICAST_LOOP: "IPV6_MULTICAST_LOOP", unix.IPV6_JOIN_GROUP: "IPV6_JOIN_GROUP", unix.IPV6_LEAVE_GROUP: "IPV6_LEAVE_GROUP",
			unix.IPV6_MTU_DISCOVER: "IPV6_MTU_DISCOVER", unix.IPV6_MTU: "IPV6_MTU", unix.IPV6_RECVERR: "IPV6_RECVERR", unix.IPV6_V6ONLY: "IPV6_V6ONLY",
			unix.IPV6_RECVPKTINFO: "IPV6_RECVPKTINFO", unix.IPV6_RECVTCLASS: "IPV6_RECVTCLASS", unix.IPV6_TCLASS: "IPV6_TCLASS",
			unix.IPV6_TRANSPARENT: "IPV6_TRANSPARENT", unix.IPV6_FREEBIND: "IPV6_FREEBIND"},
		unix.IPPROTO_UDP: {unix.UDP_CORK: "UDP_CORK", unix.UDP_ENCAP: "UDP_ENCAP", unix.UDP_SEGMENT: "UDP_SEGMENT", unix.UDP_GRO: "UDP_GRO"},
	} {
		for opt, name := range names {
			Options[[2]int{level, opt}] = name
		}
	}
}

// Sockopt names a socket option level and option as strace does, and
// numbers what no table names.
func Sockopt(level, opt int) (string, string) {
	l, ok := Levels[level]
	if !ok {
		l = strconv.Itoa(level)
	}
	n, ok := Options[[2]int{level, opt}]
	if !ok {
		n = strconv.Itoa(opt)
	}
	return l, n
}

// internalErrnos are the kernel's own errno values (include/linux/errno.h)
// that system calls return to user space although no C library names
// them: ENOTSUPP is what some socket options return where EOPNOTSUPP is
// meant.
var internalErrnos = map[unix.Errno]string{512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD",
	516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER", 518: "EOPENSTALE", 519: "ENOPARAM", 521: "EBADHANDLE", 522: "ENOTSYNC",
	523: "EBADCOOKIE", 524: "ENOTSUPP", 525: "ETOOSMALL", 526: "ESERVERFAULT", 527: "EBADTYPE", 528: "EJUKEBOX", 529: "EIOCBQUEUED",
	530: "ERECALLCONFLICT", 531: "ENOGRACE"}

// InternalErrno is the kernel-internal errno of that name (ENOTSUPP: 524).
func InternalErrno(name string) (unix.Errno, bool) {
	for e, n := range internalErrnos {
		if n == name {
			return e, true
		}
	}
	return 0, false
}

// Errno names an errno as C headers do (EOPNOTSUPP, not ENOTSUP), and the
// kernel's internal ones as the kernel does; others are "errnoN".
func Errno(e unix.Errno) string {
	if e == unix.EOPNOTSUPP {
		return "EOPNOTSUPP" // the same value as ENOTSUP; the socket code says EOPNOTSUPP
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	if n, ok := internalErrnos[e]; ok {
		return n
	}
	return "errno" + strconv.Itoa(int(e))
}
