package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tm := func(s string) time.Time { v, _ := time.Parse("2006-01-02 15:04", s); return v }
	tests := []struct {
		path      string
		collector string
		kind      FileKind
		time      time.Time
	}{
		{"a/rrc00/2022.01/bview.20220105.0800.gz", "rrc00", KindRIB, tm("2022-01-05 08:00")},
		{"a/rrc21/2022.01/updates.20220105.0805.gz", "rrc21", KindUpdates, tm("2022-01-05 08:05")},
		{"x/route-views2/bgpdata/2022.01/RIBS/rib.20220105.0600.bz2", "route-views2", KindRIB, tm("2022-01-05 06:00")},
		{"x/route-views.sydney/bgpdata/2022.01/UPDATES/updates.20220105.0615.bz2", "route-views.sydney", KindUpdates, tm("2022-01-05 06:15")},
		{"data/mrt/ris/rrc06.updates.20150401.0000.gz", "rrc06", KindUpdates, tm("2015-04-01 00:00")},
		{"data/route-views6.rib6.20151101.0600_firstMB.bz2", "route-views6", KindRIB, tm("2015-11-01 06:00")},
		{"lab/bird.mrtdump_bgp_addpath_ipv4", "unknown", KindUnknown, time.Time{}},
		{"dumps/rrc03/whatever.mrt", "rrc03", KindUnknown, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := classify(tt.path)
			if got.Collector != tt.collector || got.Kind != tt.kind || !got.Time.Equal(tt.time) {
				t.Fatalf("classify = %+v, want %s %s %s", got, tt.collector, tt.kind, tt.time)
			}
		})
	}
}

func TestDiscoverAndSelectWindow(t *testing.T) {
	dir := t.TempDir()
	names := []string{
		"rrc00/2022.01/bview.20220105.0000.gz",
		"rrc00/2022.01/bview.20220105.0800.gz",
		"rrc00/2022.01/updates.20220105.0755.gz",
		"rrc00/2022.01/updates.20220105.0800.gz",
		"rrc00/2022.01/updates.20220105.0805.gz",
		"rrc00/2022.01/updates.20220105.1205.gz",
		"rv/bgpdata/2022.01/UPDATES/updates.20220105.0745.bz2",
		"rv/bgpdata/2022.01/UPDATES/updates.20220105.0800.bz2",
		".hidden/rrc00/2022.01/bview.20220105.0000.gz",
		"notes.txt",
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Discover([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 9 {
		t.Fatalf("found %d files, want 9 (hidden skipped)", len(files))
	}
	if filepath.Base(files[0].Path) != "notes.txt" {
		t.Errorf("first file = %s, want the one without a time", files[0].Path)
	}
	from := time.Date(2022, 1, 5, 8, 3, 0, 0, time.UTC)
	to := time.Date(2022, 1, 5, 12, 0, 0, 0, time.UTC)
	var got []string
	for _, f := range SelectWindow(files, from, to) {
		rel, _ := filepath.Rel(dir, f.Path)
		got = append(got, rel)
	}
	want := []string{
		"notes.txt",
		"rrc00/2022.01/bview.20220105.0800.gz",
		"rrc00/2022.01/updates.20220105.0800.gz",
		"rv/bgpdata/2022.01/UPDATES/updates.20220105.0800.bz2", // no RV RIB: updates from 15 min before on
		"rrc00/2022.01/updates.20220105.0805.gz",
	}
	if len(got) != len(want) {
		t.Fatalf("selected %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("selected %v, want %v", got, want)
		}
	}
}

// TestScanSymlinks: archives on shared storage are full of symbolic links.
// Links to files and directories are followed (also a path argument that is
// a link), loops end with a report, and every entry not taken is listed
// with its reason.
func TestScanSymlinks(t *testing.T) {
	store := t.TempDir() // where the data really is
	arch := t.TempDir()  // the archive tree of links
	write := func(p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(store, "blob1"))
	write(filepath.Join(store, "rrc01", "2022.01", "updates.20220105.0800.gz"))
	write(filepath.Join(arch, "rrc00", "2022.01", "updates.20220105.0805.gz"))
	// A symlinked bview: taken under the link's name (collector, time).
	link(filepath.Join(store, "blob1"), filepath.Join(arch, "rrc00", "2022.01", "bview.20220105.0800.gz"))
	// A symlinked collector directory.
	link(filepath.Join(store, "rrc01"), filepath.Join(arch, "rrc01"))
	// A loop: a link back to the archive root.
	link(arch, filepath.Join(arch, "rrc00", "2022.01", "again"))
	// A link to itself (ELOOP), a dangling link, a second link to a file
	// already taken, a hidden file.
	link(filepath.Join(arch, "self"), filepath.Join(arch, "self"))
	link(filepath.Join(store, "missing"), filepath.Join(arch, "rrc00", "2022.01", "bview.20220105.1600.gz"))
	link(filepath.Join(store, "blob1"), filepath.Join(arch, "zcopy", "bview.20220105.0800.gz"))
	write(filepath.Join(arch, ".partial"))
	// A "latest" link, met before the real directory it points to: the
	// files keep their real paths, the link is the one skipped.
	link(filepath.Join(arch, "rrc00", "2022.01"), filepath.Join(arch, "aaa", "latest"))

	rootLink := filepath.Join(t.TempDir(), "archive")
	link(arch, rootLink)

	for _, root := range []string{arch, rootLink} {
		t.Run(filepath.Base(root), func(t *testing.T) {
			d, err := Scan([]string{root})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range d.Files {
				rel, _ := filepath.Rel(root, f.Path)
				got = append(got, fmt.Sprintf("%s %s %s", rel, f.Collector, f.Kind))
			}
			want := []string{
				"rrc00/2022.01/bview.20220105.0800.gz rrc00 rib",
				"rrc01/2022.01/updates.20220105.0800.gz rrc01 updates",
				"rrc00/2022.01/updates.20220105.0805.gz rrc00 updates",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			reasons := map[string]string{}
			for _, s := range d.Skipped {
				rel, _ := filepath.Rel(root, s.Path)
				reasons[rel] = s.Reason
			}
			wantSkip := map[string]string{
				"rrc00/2022.01/again":                  "symlink loop",
				"self":                                 "symlink loop",
				"rrc00/2022.01/bview.20220105.1600.gz": "broken symlink",
				"zcopy/bview.20220105.0800.gz":         "same file as",
				".partial":                             "hidden",
				"aaa/latest":                           "same directory as",
			}
			for p, r := range wantSkip {
				if !strings.HasPrefix(reasons[p], r) {
					t.Errorf("skipped %s: reason %q, want %q...", p, reasons[p], r)
				}
			}
			if len(reasons) != len(wantSkip) {
				t.Errorf("skipped %v, want exactly %v", reasons, wantSkip)
			}
		})
	}
}
