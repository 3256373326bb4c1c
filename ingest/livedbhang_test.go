package ingest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// TestRunHungDatabase freezes the database connection (a server that
// hangs rather than refuses) under live ingest: each tick's write must
// give up after WriteTimeout so that Run keeps going (its ticks answer,
// observations are taken), and once the database answers again every
// held bin is written, none twice.
func TestRunHungDatabase(t *testing.T) {
	hang, db := storetest.Hanging(t, storetest.New(t))
	p := ingest.New(ingest.Config{
		CountryOf: func(a bgpwatch.ASN) string { return "KZ" },
		Source:    store.SourceLive, FlushBins: 1,
	}, db)
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	const timeout = 500 * time.Millisecond
	d := startRun(t, p, t0, ingest.LiveConfig{WriteTimeout: timeout})
	d.announceTwoNetworks(t0.Add(time.Second))
	if st := d.tick(t0.Add(bgpwatch.BinStep)); st.BinsWritten != 1 {
		t.Fatalf("before the freeze: %d bins written, want 1", st.BinsWritten)
	}

	hang.Freeze()
	// Three bins close while the database hangs; each tick waits for the
	// timeout and returns. Observations still go in between.
	began := time.Now()
	for i := 2; i <= 4; i++ {
		d.announceTwoNetworks(t0.Add(time.Duration(i-1)*bgpwatch.BinStep + time.Second))
		if st := d.tick(t0.Add(time.Duration(i) * bgpwatch.BinStep)); st.BinsWritten != 1 {
			t.Fatalf("frozen: %d bins written, want 1", st.BinsWritten)
		}
	}
	t.Logf("frozen: 3 ticks in %v (write timeout %v)", time.Since(began).Round(time.Millisecond), timeout)

	hang.Thaw()
	written := 0
	for i := 0; i < 50 && written != 4; i++ {
		written = d.tick(t0.Add(4*bgpwatch.BinStep + time.Duration(i+1)*time.Second)).BinsWritten
	}
	if written != 4 {
		t.Fatalf("after the thaw: %d bins written, want 4", written)
	}
	d.stop()
	// Each bin once: the country series has one row per bin, each with
	// the eight /24s.
	got := storetest.Dump(t, db, `SELECT bin, visible_slash24 FROM country_series WHERE country = 'KZ' ORDER BY bin`)
	want := ""
	for i := range 4 {
		want += fmt.Sprintln(t0.Add(time.Duration(i)*bgpwatch.BinStep), 8)
	}
	want += "--\n"
	if got != want {
		t.Errorf("stored bins:\n%s\nwant:\n%s", got, want)
	}
}
