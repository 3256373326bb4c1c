package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch/api"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

// BenchmarkCountrySeries measures the 7-day country series (2017 points)
// in process: "db" goes to PostgreSQL on every request, "cached" is the
// steady state of a dashboard polled by many clients.
func BenchmarkCountrySeries(b *testing.B) {
	db := storetest.New(b)
	fill(b, db)
	for _, bc := range []struct {
		name string
		ttl  time.Duration
		gzip bool
	}{{"db", 0, false}, {"cached", time.Hour, false}, {"cached-gzip", time.Hour, true}} {
		b.Run(bc.name, func(b *testing.B) {
			srv := api.New(api.Config{Store: db, CacheTTL: bc.ttl, Now: func() time.Time { return fxNow }})
			req := httptest.NewRequest("GET", "/v1/countries/KZ/series", nil)
			if bc.gzip {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkCountryASNs measures the networks of KZ (2502, 2500 of them
// changing every 37 bins) at the end of benchFill's second day, with the
// 24 h baseline window, from PostgreSQL on every request (no cache).
func BenchmarkCountryASNs(b *testing.B) {
	db := storetest.New(b)
	benchFill(b, db, 2)
	srv := api.New(api.Config{Store: db, Now: func() time.Time { return fxNow }})
	at := fxStart.Add(48*time.Hour - 5*time.Minute).Format(time.RFC3339)
	for _, format := range []string{"json", "csv"} {
		b.Run(format, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/v1/countries/KZ/asns?at="+at+"&format="+format, nil)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				if w.Code != http.StatusOK || w.Body.Len() < 30*benchASNs {
					b.Fatalf("%d, %d bytes: %.300s", w.Code, w.Body.Len(), w.Body)
				}
			}
		})
	}
}
