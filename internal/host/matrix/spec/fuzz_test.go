package spec

import "testing"

func FuzzParse(f *testing.F) {
	f.Add(defaultSpec)
	f.Add([]byte("kernels: [debian:6.1, ./bzImage]\nprofiles: [default, tfo=0x207]\ncases: ['tfo.*', 'program:*']\nrepeat: 3\nexpect:\n  tfo.sendto.blocking:\n    - when: '>=3.6'\n      summary: 'sendto=5'\n"))
	f.Add([]byte("kernels: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse("fuzz.yaml", b)
		if err == nil {
			_ = s.GoDirs()
		}
	})
}
