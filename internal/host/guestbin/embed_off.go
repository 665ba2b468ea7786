//go:build !embedguest

package guestbin

func (b *Builder) fromEmbedded(string) (Binaries, bool, error) { return Binaries{}, false, nil }
