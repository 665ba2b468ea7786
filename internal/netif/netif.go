// Package netif configures network interfaces with ioctls, which work on
// every kernel from 2.6.32 on without netlink.
package netif

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
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

// in6Ifreq is struct in6_ifreq, what SIOCSIFADDR and SIOCDIFADDR take on
// an AF_INET6 socket.
type in6Ifreq struct {
	addr      [16]byte
	prefixlen uint32
	ifindex   int32
}

// AddAddr6 gives the interface name the IPv6 address a/128. On the
// loopback an address is usable at once: it skips duplicate address
// detection.
func AddAddr6(name string, a netip.Addr) error {
	return ioctl6(name, unix.SIOCSIFADDR, a)
}

// DelAddr6 takes the address a/128 from the interface name again.
func DelAddr6(name string, a netip.Addr) error {
	return ioctl6(name, unix.SIOCDIFADDR, a)
}

func ioctl6(name string, req uintptr, a netip.Addr) error {
	if !a.Is6() || a.Is4In6() {
		return fmt.Errorf("%s is not an IPv6 address", a)
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_DGRAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return fmt.Errorf("index of %s: %w", name, err)
	}
	r := in6Ifreq{addr: a.As16(), prefixlen: 128, ifindex: int32(ifr.Uint32())}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(&r))); e != 0 {
		return fmt.Errorf("%s on %s: %w", a, name, e)
	}
	return nil
}
