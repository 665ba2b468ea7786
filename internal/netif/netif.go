// Package netif configures network interfaces with ioctls, which work on
// every kernel from 2.6.32 on without netlink.
package netif

import (
	"errors"
	"fmt"
	"net"

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
