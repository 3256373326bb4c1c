package retry

import (
	"net/http"
	"testing"
	"time"
)

func TestExp(t *testing.T) {
	base, maxWait := 200*time.Millisecond, 1600*time.Millisecond
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, 200 * time.Millisecond}, {1, 200 * time.Millisecond}, {2, 400 * time.Millisecond},
		{4, 1600 * time.Millisecond}, {5, 1600 * time.Millisecond}, {1 << 30, 1600 * time.Millisecond},
	} {
		if got := Exp(base, maxWait, tc.n); got != tc.want {
			t.Errorf("Exp(n=%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	// A cap near the largest Duration does not overflow.
	const huge = time.Duration(1<<63 - 1)
	if got := Exp(3*time.Second, huge, 200); got != huge {
		t.Errorf("Exp(3s, max, 200) = %v, want %v", got, huge)
	}
	if got := Exp(0, time.Minute, 1<<30); got != 0 {
		t.Errorf("Exp(0, ...) = %v, want 0", got)
	}
}

// TestFullJitter: the webhook dispatcher's schedule, uniform in
// [0, min(max, base·2^(n-1))].
func TestFullJitter(t *testing.T) {
	base, maxWait := 5*time.Second, 30*time.Minute
	for _, tc := range []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{1, 0.999999, 5 * time.Second},
		{2, 0.999999, 10 * time.Second},
		{4, 0.5, 20 * time.Second},
		{20, 0.999999, 30 * time.Minute},
		{1000, 0.5, 15 * time.Minute},
		{3, 0, 0},
	} {
		got := Jitter(0, Exp(base, maxWait, tc.n), tc.u)
		if d := got - tc.want; d > 10*time.Millisecond || d < -10*time.Millisecond {
			t.Errorf("n %d, u %v: %v, want %v", tc.n, tc.u, got, tc.want)
		}
	}
}

// TestJitterFloor: the RIS Live client's schedule, uniform in
// [lo, min(hi, lo·2^(n-1))].
func TestJitterFloor(t *testing.T) {
	lo, hi := time.Second, 10*time.Second
	for _, tc := range []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{1, 1, time.Second}, {2, 1, 2 * time.Second}, {3, 1, 4 * time.Second}, {5, 1, 10 * time.Second},
		{50, 1, 10 * time.Second}, {50, 0, time.Second}, {3, 0.5, 2500 * time.Millisecond},
	} {
		if got := Jitter(lo, Exp(lo, hi, tc.n), tc.u); got != tc.want {
			t.Errorf("n=%d, u=%v: %v, want %v", tc.n, tc.u, got, tc.want)
		}
	}
}

func TestAfter(t *testing.T) {
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 120 * time.Second},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"Mon, 05 Jan 2026 12:02:00 GMT", 2 * time.Minute},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"Mon, 05 Jan 2026 11:00:00 GMT", 0},
		{"soon", 0},
		{"1.5", 0},
		{"99999999999999999999", 0},
		{"9223372036854775807", maxAfter},
		{"Fri, 31 Dec 9999 23:59:59 GMT", maxAfter},
	} {
		if got := After(tc.in, now); got != tc.want {
			t.Errorf("After(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func FuzzAfter(f *testing.F) {
	for _, s := range []string{"120", "Mon, 05 Jan 2026 12:02:00 GMT", "", "-1", "1e9"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d := After(v, now)
		if d < 0 || d > maxAfter {
			t.Errorf("After(%q) = %v, outside [0, %v]", v, d, maxAfter)
		}
		// Adding it to now must not wrap around.
		if now.Add(d).Before(now) {
			t.Errorf("After(%q) = %v overflows", v, d)
		}
	})
}
