module github.com/runmatrix/runmatrix

go 1.23.0

require (
	github.com/cavaliergopher/cpio v1.0.1
	github.com/digitalocean/go-qemu v0.0.0-20230711162256-2e3d0186973e
	github.com/klauspost/compress v1.17.11
	github.com/mattn/go-runewidth v0.0.16
	github.com/spf13/cobra v1.8.1
	github.com/spf13/pflag v1.0.5
	github.com/stretchr/testify v1.10.0
	github.com/vbauerster/mpb/v8 v8.8.3
	github.com/yuin/goldmark v1.7.8
	golang.org/x/crypto v0.41.0
	golang.org/x/net v0.43.0
	golang.org/x/sys v0.35.0
	golang.org/x/term v0.34.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/VividCortex/ewma v1.2.0 // indirect
	github.com/acarl005/stripansi v0.0.0-20180116102854-5a71ef0e047d // indirect
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/digitalocean/go-libvirt v0.0.0-20220804181439-8648fbde413e // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
)

// The Go module proxy refuses go-qemu and go-libvirt here; Debian ships their
// source (golang-github-digitalocean-go-qemu-dev), which `make deps` installs.
replace (
	github.com/digitalocean/go-libvirt => /usr/share/gocode/src/github.com/digitalocean/go-libvirt
	github.com/digitalocean/go-qemu => /usr/share/gocode/src/github.com/digitalocean/go-qemu
)
