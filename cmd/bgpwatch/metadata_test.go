package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/netmeta"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func fixtureBytes(t *testing.T, ds string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "netmeta", "testdata", netmeta.FileNames[ds]))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// metadataServer serves the fixtures at the sources' paths; pdb can be
// swapped to simulate a truncated download.
func metadataServer(t *testing.T) (*httptest.Server, *atomic.Pointer[[]byte], *atomic.Pointer[[]byte]) {
	t.Helper()
	var pdb, apnic atomic.Pointer[[]byte]
	p, a := fixtureBytes(t, netmeta.DatasetPeeringDB), fixtureBytes(t, netmeta.DatasetAPNIC)
	pdb.Store(&p)
	apnic.Store(&a)
	types, orgs := gz(fixtureBytes(t, netmeta.DatasetCAIDATypes)), gz(fixtureBytes(t, netmeta.DatasetCAIDAOrgs))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/aspop":
			w.Write(*apnic.Load())
		case "/api/net":
			w.Write(*pdb.Load())
		case "/types/":
			fmt.Fprint(w, `<a href="20211101.as2types.txt.gz">old</a> <a href="20211201.as2types.txt.gz">new</a> <a href="README.txt">r</a>`)
		case "/types/20211201.as2types.txt.gz":
			w.Write(types)
		case "/orgs/":
			fmt.Fprint(w, `<a href="/orgs/20220101.as-org2info.txt.gz">x</a>`)
		case "/orgs/20220101.as-org2info.txt.gz":
			w.Write(orgs)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &pdb, &apnic
}

func TestFetchMetadata(t *testing.T) {
	srv, pdb, apnic := metadataServer(t)
	db := storetest.New(t)
	ctx := context.Background()
	if err := db.UpsertASNs(ctx, []bgpwatch.ASNInfo{{ASN: 9198, Country: "KZ"}, {ASN: 48503, Country: "KZ"}}); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	args := []string{"fetch", "--metadata", "--db", db.Pool().Config().ConnString(), "--dir", cache,
		"--apnic-url", srv.URL + "/aspop", "--peeringdb-url", srv.URL + "/api/net",
		"--caida-types-url", srv.URL + "/types/", "--caida-orgs-url", srv.URL + "/orgs/"}
	code, _, errOut := runCLI(t, nil, args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"apnic-aspop: 7 rows of 2022-01-04 imported", "peeringdb-net: 5 rows", "caida-as2types: 8 rows of 2021-12-01",
		"caida-as-org2info: 5 rows of 2022-01-01"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("output lacks %q:\n%s", want, errOut)
		}
	}
	for _, ds := range netmeta.Datasets {
		if _, err := os.Stat(filepath.Join(cache, "metadata", netmeta.FileNames[ds])); err != nil {
			t.Errorf("cache: %v", err)
		}
	}
	check := func(asn bgpwatch.ASN, acc bgpwatch.Access, src string) {
		t.Helper()
		in, err := db.ASNSummary(ctx, asn, time.Time{})
		if err != nil || in.Access != acc || in.AccessSource != src {
			t.Errorf("AS%d: %+v %v, want %s from %s", asn, in, err, acc, src)
		}
	}
	check(9198, bgpwatch.AccessFixed, "peeringdb")
	check(48503, bgpwatch.AccessMobile, "curated")
	check(35104, bgpwatch.AccessTransit, "peeringdb")

	// A truncated PeeringDB answer and a broken APNIC file: previous data
	// stays (APNIC: the cached copy is used), and the output says why.
	short := []byte(`{"data": [{"asn": 9198, "name": "x", "info_type": "NSP", "status": "ok"}]}`)
	pdb.Store(&short)
	broken := []byte(`{"Data": [{"AS": 9198, "CC": "KZ"`)
	apnic.Store(&broken)
	code, _, errOut = runCLI(t, nil, args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "looks truncated: 1 rows, the previous import had 5") ||
		!strings.Contains(errOut, "downloaded file rejected") {
		t.Errorf("second run output:\n%s", errOut)
	}
	check(9198, bgpwatch.AccessFixed, "peeringdb")
	sum, err := db.ASNSummary(ctx, 9198, time.Time{})
	if err != nil || sum.Users == nil || sum.Users.Estimate != 5610000 {
		t.Errorf("APNIC users after a broken download: %+v %v", sum.Users, err)
	}

	// Offline: --metadata-dir of the same files, no request.
	dbOff := storetest.New(t)
	code, _, errOut = runCLI(t, nil, "fetch", "--metadata-dir", filepath.Join("..", "..", "netmeta", "testdata"),
		"--db", dbOff.Pool().Config().ConnString())
	if code != exitOK || !strings.Contains(errOut, "peeringdb-net: 5 rows") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if in, err := dbOff.ASNSummary(ctx, 48716, time.Time{}); err != nil || in.Access != bgpwatch.AccessHosting {
		t.Errorf("offline import: AS48716 %+v %v", in, err)
	}
	code, _, errOut = runCLI(t, nil, "fetch", "--metadata-dir", t.TempDir(), "--db", dbOff.Pool().Config().ConnString())
	if code == exitOK || !strings.Contains(errOut, "no dataset files") {
		t.Errorf("empty dir: exit %d: %s", code, errOut)
	}
}

// TestReplayWithMetadata replays the small scenario with its generated
// metadata and names list instead of its asn-info CSV: the ASN event's
// network gets its access type with a source, and the country networks
// their users.
func TestReplayWithMetadata(t *testing.T) {
	dir, truth := scenarioDir(t, "small")
	if truth.Metadata == "" || truth.ASNames == "" {
		t.Fatal("the generator wrote no metadata")
	}
	db := storetest.New(t)
	args := []string{"replay", "--db", db.Pool().Config().ConnString(), "--json",
		"--asn-names", filepath.Join(dir, truth.ASNames), "--metadata-dir", filepath.Join(dir, truth.Metadata)}
	for _, f := range truth.RIRFiles {
		if strings.Contains(f, "extended") {
			args = append(args, "--delegations", filepath.Join(dir, f))
		}
	}
	for _, c := range truth.Collectors {
		args = append(args, filepath.Join(dir, c.Name))
	}
	code, _, errOut := runCLI(t, nil, args...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	evs, _, err := db.ListEvents(context.Background(), bgpwatch.EventFilter{Scope: bgpwatch.ScopeASN})
	if err != nil || len(evs) == 0 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	matched := 0
	for _, ev := range evs {
		for _, tn := range truth.Networks {
			if tn.ASN != ev.ASN {
				continue
			}
			matched++
			a := ev.ASNs[0]
			if a.Access != tn.Access || a.AccessSource == "" {
				t.Errorf("AS%d: %s from %q, truth %s", ev.ASN, a.Access, a.AccessSource, tn.Access)
			}
			if (tn.Access == bgpwatch.AccessFixed || tn.Access == bgpwatch.AccessMobile) && ev.Users == nil {
				t.Errorf("AS%d event: no users estimate", ev.ASN)
			}
		}
	}
	if matched == 0 {
		t.Fatalf("no ASN event of a named network among %d events", len(evs))
	}
}

// TestRefreshMetadata runs serve's refresh loop on a short interval over a
// metadata directory whose PeeringDB file changes: the next refresh
// replaces the data.
func TestRefreshMetadata(t *testing.T) {
	db := storetest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	for _, ds := range netmeta.Datasets {
		if err := os.WriteFile(filepath.Join(dir, netmeta.FileNames[ds]), fixtureBytes(t, ds), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := &metaFlags{dir: dir}
	log := slog.New(slog.DiscardHandler)
	if err := m.importMetadata(ctx, db, io.Discard, log); err != nil {
		t.Fatal(err)
	}
	if in, _ := db.ASNSummary(ctx, 48716, time.Time{}); in.Access != bgpwatch.AccessHosting {
		t.Fatalf("AS48716 %+v", in)
	}
	// AS48716 becomes a transit network in the next dump.
	changed := bytes.Replace(fixtureBytes(t, netmeta.DatasetPeeringDB), []byte(`"info_type": "Content", "info_types": []`), []byte(`"info_type": "NSP", "info_types": []`), 1)
	if bytes.Equal(changed, fixtureBytes(t, netmeta.DatasetPeeringDB)) {
		t.Fatal("fixture edit did not apply")
	}
	if err := os.WriteFile(filepath.Join(dir, netmeta.FileNames[netmeta.DatasetPeeringDB]), changed, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { refreshMetadata(ctx, m, db, 20*time.Millisecond, log); close(done) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		in, err := db.ASNSummary(ctx, 48716, time.Time{})
		if err == nil && in.Access == bgpwatch.AccessTransit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refresh did not pick up the new file: %+v %v", in, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestServeMetadataDir: serve --metadata-dir imports in the background and
// the API shows the result; a directory without dataset files fails the
// start.
func TestServeMetadataDir(t *testing.T) {
	db := storetest.New(t)
	url := db.Pool().Config().ConnString()
	s := startServe(t, "--db", url, "--webhooks=false", "--metadata-dir", filepath.Join("..", "..", "netmeta", "testdata"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := s.get(t, "/v1/asns/48503")
		if code == http.StatusOK && strings.Contains(body, `"access_source":"curated"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("AS48503: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, _, errOut := runCLI(t, nil, "serve", "--db", url, "--listen", "127.0.0.1:0", "--metadata-dir", t.TempDir())
	if code == exitOK || !strings.Contains(errOut, "no dataset files") {
		t.Errorf("empty metadata dir: exit %d: %s", code, errOut)
	}
}
