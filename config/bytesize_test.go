package config

import "testing"

// FuzzParseByteSize: a size either is refused or is a non-negative number
// of bytes that its String form reads back as.
func FuzzParseByteSize(f *testing.F) {
	for _, s := range []string{"32MiB", "64 MB", "1", "0x10", "9223372036854775807", "8EiB", " 7 kib "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseByteSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("%q: negative %d", s, n)
		}
		if m, err := ParseByteSize(n.String()); err != nil || m != n {
			t.Fatalf("%q: %d reads back as %d (%v)", s, n, m, err)
		}
	})
}
