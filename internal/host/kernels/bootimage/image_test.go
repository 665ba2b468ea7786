package bootimage

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/runmatrix/runmatrix/internal/host/kernels/cpu"
	"github.com/runmatrix/runmatrix/internal/testkit/archivetest"
)

func TestSyssizeRoundsUp(t *testing.T) {
	b := archivetest.Image("2.6.32-test", cpu.X86_64)
	le := binary.LittleEndian
	const setupEnd = 2 * 512
	// syssize counts 16-byte paragraphs rounded up: the file may end up to
	// 15 bytes before setupEnd + 16*syssize.
	le.PutUint32(b[0x1f4:], uint32((len(b)-setupEnd+15)/16))
	if (len(b)-setupEnd)%16 == 0 {
		b = b[:len(b)-1]
	}
	_, err := ParseImage(b)
	require.NoError(t, err)
	le.PutUint32(b[0x1f4:], uint32((len(b)-setupEnd+15)/16+1))
	_, err = ParseImage(b)
	require.ErrorIs(t, err, ErrTruncated)
}
