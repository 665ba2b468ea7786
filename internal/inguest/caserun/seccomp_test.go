package caserun

import (
	"encoding/binary"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestTraceFilter runs the seccomp filter in a BPF interpreter: every call
// the trace keeps or that changes the descriptor table stops, any other
// call runs, and a call through another ABI stops.
func TestTraceFilter(t *testing.T) {
	arch := auditArch[runtime.GOARCH]
	var raw []bpf.RawInstruction
	for _, f := range traceFilter(arch) {
		raw = append(raw, bpf.RawInstruction{Op: f.Code, Jt: f.Jt, Jf: f.Jf, K: f.K})
	}
	insns, ok := bpf.Disassemble(raw)
	require.True(t, ok)
	vm, err := bpf.NewVM(insns)
	require.NoError(t, err)
	verdict := func(nr int, arch uint32) uint32 {
		data := make([]byte, 64) // struct seccomp_data, in the kernel's byte order
		binary.NativeEndian.PutUint32(data, uint32(nr))
		binary.NativeEndian.PutUint32(data[4:], arch)
		// x/net/bpf loads words big-endian; the kernel loads native ones.
		for i := 0; i < 8; i += 4 {
			v := binary.NativeEndian.Uint32(data[i:])
			binary.BigEndian.PutUint32(data[i:], v)
		}
		v, err := vm.Run(data)
		require.NoError(t, err)
		return uint32(v)
	}
	stops := map[int]bool{}
	for nr := range sysNames {
		stops[nr] = true
	}
	for nr := range fdTableCalls {
		stops[nr] = true
	}
	if socketcallNr >= 0 {
		stops[socketcallNr] = true
	}
	for nr := 0; nr < 600; nr++ {
		want := uint32(unix.SECCOMP_RET_ALLOW)
		if stops[nr] {
			want = unix.SECCOMP_RET_TRACE
		}
		require.Equal(t, want, verdict(nr, arch), "call %d (%s)", nr, sysNames[nr])
	}
	require.Equal(t, uint32(unix.SECCOMP_RET_TRACE), verdict(unix.SYS_GETPID, arch^1), "another ABI's calls all stop")
}
