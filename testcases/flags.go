package testcases

import "time"

// i386 are the `uname -m` values of 32-bit x86 kernels.
var i386 = []string{"i386", "i486", "i586", "i686"}

// bothFamilies marks an expectation whose source is code TCP over IPv4 and
// over IPv6 share (the socket layer, tcp_sendmsg()).
var bothFamilies = []string{IPv4, IPv6}

// unknownFlags are send flag bits no kernel defines for sending.
var unknownFlags = []uint32{0x40000000, 0x80000000}

const flagsSource = "seed 004 (claims sendto ignores unknown flags and sendmsg rejects them); net/socket.c __sys_sendmsg() rejects MSG_CMSG_COMPAT (0x80000000) from user space since Linux commit 1be374a0518a (3.14)"

func flagCases() []*Case {
	return []*Case{
		{
			ID:    "flags.unknown.sendto",
			Title: "sendto() on a connected socket with flags 0x40000000 and 0x80000000",
			About: "Seed 004 concluded that sendto() ignores unknown flag bits while sendmsg() rejects them with EINVAL. This case and " +
				"flags.unknown.sendmsg send with two high bits on an established connection: 0x40000000 (MSG_CMSG_CLOEXEC, a receive flag) " +
				"and 0x80000000 (MSG_CMSG_COMPAT, kernel-internal on 64-bit kernels, where sendmsg() refuses it; 2.6.32 took it as a request " +
				"to read a 32-bit msghdr). 32-bit kernels define MSG_CMSG_COMPAT as 0 and ignore the bit.",
			Source:  flagsSource,
			Timeout: 20 * time.Second,
			Expect:  []Expect{{Summary: "0x40000000=5 0x80000000=5", Families: bothFamilies, Source: "net/socket.c __sys_sendto() passes flags to the protocol, and tcp_sendmsg() (TCP over IPv4 and IPv6 alike) ignores bits it does not use"}},
			Run:     func(t *T) error { return unknownFlagSends(t, false) },
		},
		{
			ID:      "flags.unknown.sendmsg",
			Title:   "sendmsg() on a connected socket with flags 0x40000000 and 0x80000000",
			About:   "The sendmsg() half of flags.unknown.sendto: the same two flag bits, same connection, msg_name NULL.",
			Source:  flagsSource,
			Timeout: 20 * time.Second,
			// Whether 0x80000000 means anything is the kernel's build, not
			// its version: MSG_CMSG_COMPAT exists only with CONFIG_COMPAT
			// (never on i386; not on OpenWrt's x86_64 builds).
			Expect: []Expect{
				{Arches: i386, Families: bothFamilies, Summary: "0x40000000=5 0x80000000=5",
					Source: "include/linux/socket.h: MSG_CMSG_COMPAT is 0 without CONFIG_COMPAT, which i386 never has, so 0x80000000 is just an unused bit"},
				{Config: []string{"CONFIG_COMPAT=n"}, Families: bothFamilies, Summary: "0x40000000=5 0x80000000=5",
					Source: "include/linux/socket.h: MSG_CMSG_COMPAT is 0 without CONFIG_COMPAT, so 0x80000000 is just an unused bit"},
				{Kernels: ">=3.14", Config: []string{"CONFIG_COMPAT=y"}, Families: bothFamilies, Summary: "0x40000000=5 0x80000000=-1 EINVAL", Source: flagsSource},
				{Kernels: "<3.2", Arches: []string{"x86_64"}, Config: []string{"CONFIG_COMPAT=y"}, Families: bothFamilies, Summary: "0x40000000=5 0x80000000=-1 EFAULT",
					Source: "net/socket.c before 1be374a0518a: sys_sendmsg() took MSG_CMSG_COMPAT as a request to read a 32-bit msghdr (get_compat_msghdr), which a 64-bit caller's fails with EFAULT"},
			},
			Run: func(t *T) error { return unknownFlagSends(t, true) },
		},
	}
}

func unknownFlagSends(t *T, msg bool) error {
	cfd, _, _, err := t.Pair()
	if err != nil {
		return err
	}
	for _, u := range unknownFlags {
		f := int(int32(u)) // the kernel reads flags as unsigned int
		label := flagString(f)
		if msg {
			t.Sendmsg(Client, cfd, defaultPayload, f, NoAddr).Key(label)
		} else {
			t.Sendto(Client, cfd, defaultPayload, f, NoAddr).Key(label)
		}
	}
	return nil
}
