package country

import (
	"testing"
	"time"
)

func TestZonesLoad(t *testing.T) {
	if len(zones) < 240 {
		t.Fatalf("%d countries with zones", len(zones))
	}
	for cc, z := range zones {
		if _, err := time.LoadLocation(z.name); err != nil {
			t.Errorf("%s: %s: %v", cc, z.name, err)
		}
		if z.count < 1 {
			t.Errorf("%s: %d zones", cc, z.count)
		}
	}
}

func TestFormatLocal(t *testing.T) {
	at := time.Date(2022, 1, 5, 12, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		cc   string
		t    time.Time
		want string
	}{
		// Almaty was UTC+6 in 2022 (Kazakhstan moved to UTC+5 in 2024).
		{"KZ", at, "18:30 Asia/Almaty (UTC+6), main zone of 7"},
		{"KZ", time.Date(2025, 1, 5, 12, 30, 0, 0, time.UTC), "17:30 Asia/Almaty (UTC+5), main zone of 7"},
		{"IR", at, "16:00 Asia/Tehran (UTC+3:30)"},
		{"MM", time.Date(2021, 2, 6, 20, 0, 0, 0, time.UTC), "02:30 on 2021-02-07 Asia/Yangon (UTC+6:30)"},
		{"US", at, "07:30 America/New_York (UTC-5), main zone of 29"},
		{"GB", at, "12:30 Europe/London (UTC)"},
		{"XX", at, ""},
	} {
		if got := FormatLocal(tc.cc, tc.t); got != tc.want {
			t.Errorf("%s %s: %q, want %q", tc.cc, tc.t, got, tc.want)
		}
	}
}
