package backfill

import (
	"errors"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

func TestPlan(t *testing.T) {
	d := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	w, err := Plan(d("2024-04-01T13:00:00Z"), d("2024-04-04T06:00:00Z"), Day)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{"2024-04-01T00:00:00Z", "2024-04-02T00:00:00Z"},
		{"2024-04-02T00:00:00Z", "2024-04-03T00:00:00Z"},
		{"2024-04-03T00:00:00Z", "2024-04-04T00:00:00Z"},
		{"2024-04-04T00:00:00Z", "2024-04-04T06:00:00Z"},
	}
	if len(w) != len(want) {
		t.Fatalf("%d windows, want %d: %v", len(w), len(want), w)
	}
	for i := range w {
		if !w[i][0].Equal(d(want[i][0])) || !w[i][1].Equal(d(want[i][1])) {
			t.Errorf("window %d = %v, want %v", i, w[i], want[i])
		}
	}
	if w2, err := Plan(d("2024-04-01T00:00:00Z"), d("2024-04-05T00:00:00Z"), 2*Day); err != nil || len(w2) != 2 {
		t.Errorf("two-day windows: %v %v", w2, err)
	}
	for _, bad := range []time.Duration{0, 8 * time.Hour, 36 * time.Hour, -Day} {
		if _, err := Plan(d("2024-04-01T00:00:00Z"), d("2024-04-05T00:00:00Z"), bad); !errors.Is(err, bgpwatch.ErrInvalid) {
			t.Errorf("window %s: err %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := Plan(d("2024-04-05T00:00:00Z"), d("2024-04-05T00:00:00Z"), Day); !errors.Is(err, bgpwatch.ErrInvalid) {
		t.Errorf("empty range: %v", err)
	}
}
