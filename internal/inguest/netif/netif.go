// Package netif configures network interfaces with ioctls, which work on
// every kernel from 2.6.32 on, and with netlink where no ioctl can say
// what is needed (an IPv6 address without duplicate address detection).
package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Up gives the interface name an IPv4 address and mask and brings it up.
func Up(name, addr, mask string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	set := func(req uint, ip string) error {
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		if err := ifr.SetInet4Addr(net.ParseIP(ip).To4()); err != nil {
			return err
		}
		return unix.IoctlIfreq(fd, req, ifr)
	}
	if err := set(unix.SIOCSIFADDR, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("address: %w", err)
	}
	if err := set(unix.SIOCSIFNETMASK, mask); err != nil {
		return fmt.Errorf("netmask: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	return nil
}

// AddAddr6 gives the interface name the IPv6 address a/128, usable at
// once: it is added with IFA_F_NODAD, which no ioctl can set, since from
// Linux 4.x duplicate address detection runs after the call returns (even
// on the loopback) and a bind() in between fails with EADDRNOTAVAIL.
func AddAddr6(name string, a netip.Addr) error {
	return addr6(name, unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, a)
}

// DelAddr6 takes the address a/128 from the interface name again.
func DelAddr6(name string, a netip.Addr) error {
	return addr6(name, unix.RTM_DELADDR, 0, a)
}

// addr6 sends one RTM_NEWADDR or RTM_DELADDR request for a/128 on name
// and reads the kernel's answer.
func addr6(name string, typ, flags uint16, a netip.Addr) error {
	if !a.Is6() || a.Is4In6() {
		return fmt.Errorf("%s is not an IPv6 address", a)
	}
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer unix.Close(fd)
	// struct nlmsghdr, struct ifaddrmsg, then IFA_LOCAL and IFA_ADDRESS.
	const attrLen = unix.SizeofRtAttr + 16
	msg := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfAddrmsg+2*attrLen)
	*(*unix.NlMsghdr)(unsafe.Pointer(&msg[0])) = unix.NlMsghdr{
		Len: uint32(len(msg)), Type: typ, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK | flags, Seq: 1,
	}
	*(*unix.IfAddrmsg)(unsafe.Pointer(&msg[unix.SizeofNlMsghdr])) = unix.IfAddrmsg{
		Family: unix.AF_INET6, Prefixlen: 128, Flags: unix.IFA_F_NODAD, Index: uint32(ifi.Index),
	}
	off := unix.SizeofNlMsghdr + unix.SizeofIfAddrmsg
	b16 := a.As16()
	for _, t := range []uint16{unix.IFA_LOCAL, unix.IFA_ADDRESS} {
		*(*unix.RtAttr)(unsafe.Pointer(&msg[off])) = unix.RtAttr{Len: attrLen, Type: t}
		copy(msg[off+unix.SizeofRtAttr:], b16[:])
		off += attrLen
	}
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	buf := make([]byte, 4096)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return fmt.Errorf("netlink answer: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type == unix.NLMSG_ERROR && len(m.Data) >= 4 {
			if e := int32(binary.NativeEndian.Uint32(m.Data[:4])); e != 0 {
				return fmt.Errorf("%s on %s: %w", a, name, unix.Errno(-e))
			}
			return nil
		}
	}
	return fmt.Errorf("%s on %s: no answer from the kernel", a, name)
}
