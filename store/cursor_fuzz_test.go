package store

import (
	"testing"
	"time"
)

// FuzzDecodeCursor: arbitrary cursors never panic, and every cursor the
// store hands out decodes to what was encoded.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(time.Date(2022, 1, 5, 12, 30, 0, 0, time.UTC), 42))
	f.Add("")
	f.Add("!!")
	f.Add("MTY0MTM4NTgwMDAwMDAwMC4xMg")
	f.Fuzz(func(t *testing.T, c string) {
		ts, id, err := decodeCursor(c)
		if err != nil {
			return
		}
		if got := encodeCursor(ts, id); got != c {
			ts2, id2, err := decodeCursor(got)
			if err != nil || !ts2.Equal(ts) || id2 != id {
				t.Fatalf("cursor %q decodes to %v/%d, re-encodes to %q", c, ts, id, got)
			}
		}
	})
}
