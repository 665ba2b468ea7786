# runmatrix. `make run` is the main job (the default matrix); `make test`
# runs every test; `make bench` prints the speed figures.
SHELL := /bin/bash
GO ?= go
GUEST_TOOLCHAIN := go1.23.12
GUEST_ENV := GOTOOLCHAIN=$(GUEST_TOOLCHAIN) CGO_ENABLED=0 GOOS=linux GOARM=7
PREBUILT := internal/host/guestbin/prebuilt
# VERSION is what runmatrix --version prints: the commit, marked when the
# tree has changes (GOFLAGS may turn the go command's own VCS stamp off).
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

.PHONY: deps binaries build guest run probe test unit e2e bench fuzz clean

# deps installs what runmatrix needs on a Debian machine (root) and the Go
# 1.23 toolchain for guest binaries (Linux 2.6.32 support).
deps:
	@# QEMU and the tools the tests use; kernels come from Debian's archive
	@# over HTTP (runmatrix reads it itself), so apt's own indexes do not matter.
	@# xz, lz4 and lzop read kernels compressed so (Ubuntu's are lz4): Go
	@# has no reader for the kernel's forms of them. gcc and gcc-multilib
	@# build the C programs the tests run as cases, for x86_64 and i386 guests;
	@# strace is what the tests hold --trace against, in the same guest.
	@if ! command -v qemu-system-x86_64 >/dev/null || ! command -v cpio >/dev/null || ! command -v xz >/dev/null \
	   || ! command -v zstd >/dev/null || ! command -v lz4 >/dev/null || ! command -v lzop >/dev/null \
	   || ! command -v chromium >/dev/null || ! command -v musl-gcc >/dev/null \
	   || ! command -v gcc >/dev/null || ! command -v strace >/dev/null || [ ! -e /usr/lib32/crt1.o ] || ! command -v qemu-system-aarch64 >/dev/null || ! command -v qemu-system-riscv64 >/dev/null || ! command -v qemu-system-ppc64 >/dev/null; then \
	  apt-get update -qq || echo "apt-get update reported errors; continuing with the indexes it fetched"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    qemu-system-x86 qemu-system-arm qemu-system-misc qemu-system-ppc cpio xz-utils zstd lz4 lzop chromium musl-tools gcc gcc-multilib strace >/dev/null; \
	fi
	GOTOOLCHAIN=$(GUEST_TOOLCHAIN) $(GO) version

guest:
	for a in amd64 386 arm64 riscv64 arm ppc64le s390x; do \
	  $(GUEST_ENV) GOARCH=$$a $(GO) build -trimpath -ldflags='-s -w' -o $(PREBUILT)/linux_$$a/guest-init ./cmd/guest-init && \
	  $(GUEST_ENV) GOARCH=$$a $(GO) build -trimpath -ldflags='-s -w' -o $(PREBUILT)/linux_$$a/guest-agent ./cmd/guest-agent || exit 1; \
	done

# binaries builds runmatrix with its guest binaries embedded, without root
# or apt (the GitHub Actions example calls it on ubuntu-latest).
binaries: guest
	$(GO) build -tags embedguest -ldflags "-X main.buildVersion=$(VERSION)" -o bin/runmatrix ./cmd/runmatrix

build: deps binaries

run: build
	./bin/runmatrix run --out results/$$(date +%Y%m%d-%H%M%S)

probe: build
	./bin/runmatrix probe debian:6.1 debian:6.12

# unit runs every test that needs no booted kernel; tests that need root
# skip (and are listed) when run as another user.
unit:
	$(GO) vet ./...
	@rc=0; $(GO) test -count=1 -v $$($(GO) list ./... | grep -v -e /e2e -e /bench) > .unit.log 2>&1 || rc=$$?; \
	  grep -E '^(ok|FAIL|panic:|--- FAIL)' .unit.log; \
	  if grep -q -- '--- SKIP' .unit.log; then echo "skipped:"; grep -A1 -- '--- SKIP' .unit.log | grep -v -e '^--$$' | sed 's/^/  /'; fi; \
	  if [ $$rc -ne 0 ]; then grep -B2 -A20 -E -- '--- FAIL|^panic:' .unit.log | head -200; fi; exit $$rc

e2e: build
	RUNMATRIX_E2E=1 $(GO) test -count=1 -timeout 30m -v ./e2e

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./bench

# fuzz runs every fuzz target (each parser of outside data: images,
# archives, signatures, indexes, manifests, results, matrix files, guest
# lines, repro.c's grammar) for FUZZTIME each, and fails on any crash; a
# crashing input is left in the package's testdata/fuzz for go test to
# replay.
FUZZTIME ?= 10s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz

test: deps unit e2e
	@if pgrep -f '[q]emu-system-x86_64.*runmatrix-guest' >/dev/null; then echo "QEMU processes left behind"; exit 1; fi

clean:
	rm -rf bin $(PREBUILT)/linux_*
