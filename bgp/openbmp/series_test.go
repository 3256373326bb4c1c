package openbmp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/bmp"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/storetest"
	"github.com/bgpwatch/bgpwatch/visibility"
)

// ingestAll feeds n observations from ch into a live ingest pipeline on
// db (wrapped by wrap), then writes every bin.
func ingestAll(t *testing.T, db *store.DB, ch <-chan bgpwatch.Observation, n int, wrap func(Pipeline) Pipeline) {
	t.Helper()
	vc := visibility.DefaultConfig()
	vc.Step = 10 * time.Second
	p := wrap(ingest.New(ingest.Config{Visibility: vc, CountryOf: func(bgpwatch.ASN) string { return "" },
		Source: store.SourceLive, FlushBins: 1}, db))
	ctx := context.Background()
	for _, o := range receive(t, ch, n) {
		if err := p.Observe(ctx, &o); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Advance(ctx, time.Unix(1705334000, 0).Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func dumpSeries(t *testing.T, db *store.DB) string {
	return storetest.Dump(t, db, `SELECT asn, bin, visible_prefixes, visible_slash24, visible_v6_prefixes FROM asn_series ORDER BY 1, 2`)
}

// TestKafkaSameSeriesAsStation: the capture's messages (one a second)
// through the TCP station and through kfake as OpenBMP records, each into
// live ingest on its own database, give the same stored series.
func TestKafkaSameSeriesAsStation(t *testing.T) {
	msgs := captureMessages(t, true, 1705334000)
	ribs := bmp.DefaultRIBs.With(bmp.LocRIB)
	dec := bmp.NewDecoder("x", bmp.Options{RIBs: ribs})
	n := 0
	for i, m := range msgs {
		obs, err := dec.Decode(m, int64(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		n += len(obs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The station's clock in the middle of the messages' times (one a
	// second from 1705334000), within bmp.DefaultMaxSkew of all of them,
	// as the records' collector time is: both keep the router times.
	st, err := bmp.Listen(bmp.StationConfig{Listen: "127.0.0.1:0", RIBs: ribs, Now: func() time.Time { return time.Unix(1705334000+171, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	sch := make(chan bgpwatch.Observation, 16)
	go st.Run(ctx, sch)
	conn, err := netDial(st.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		for _, m := range msgs {
			conn.Write(m)
		}
	}()
	dbStation := storetest.New(t)
	ingestAll(t, dbStation, sch, n, func(p Pipeline) Pipeline { return p })

	c := cluster(t)
	produce(t, c, wrapAll(msgs)...)
	cons, err := New(Config{Brokers: c.ListenAddrs(), Topics: []string{topic}, Group: "series", FromStart: true, RIBs: ribs})
	if err != nil {
		t.Fatal(err)
	}
	kch := make(chan bgpwatch.Observation, 16)
	go cons.Run(ctx, kch)
	dbKafka := storetest.New(t)
	ingestAll(t, dbKafka, kch, n, func(p Pipeline) Pipeline { return cons.Wrap(p, 10*time.Second) })

	a, b := dumpSeries(t, dbStation), dumpSeries(t, dbKafka)
	if strings.Count(a, "\n") < 10 {
		t.Fatalf("station path stored only:\n%s", a)
	}
	if a != b {
		t.Errorf("series differ: %s", storetest.FirstDiff(a, b))
	}
	// Close committed every record: nothing pending.
	if s := cons.Stats(); s.Pending != 0 || s.Stored != int64(n) {
		t.Errorf("consumer after close: %+v", s)
	}
}
