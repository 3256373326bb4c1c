package mrt

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch/internal/shareddata"
)

// dataDir returns the shared MRT samples directory (package shareddata).
func dataDir(t testing.TB) string { return shareddata.Path(t, "mrt") }

func mrtFiles(t testing.TB) []string {
	d := dataDir(t)
	var files []string
	filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatal("no MRT files in " + d)
	}
	return files
}

// render formats a whole file like `bgpdump -m`, collecting damage reports.
func render(t testing.TB, path string, format OutputFormat) ([]byte, []error) {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fm := Formatter{Format: format}
	var out []byte
	var errs []error
	for {
		rec, err := f.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, err)
			if rec == nil {
				continue
			}
		}
		peers, ok := f.Peers()
		if !ok {
			peers = nil
		}
		out, err = fm.Append(out, rec, peers)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errs
}

// damaged lists files whose framing is broken: bgpdump prints garbage for
// them, so they are not compared (see the package documentation).
var damaged = map[string]bool{"rrc00.updates.20000325.0345.gz": true}

func TestBgpdumpCompat(t *testing.T) {
	bin, err := exec.LookPath("bgpdump")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bgpdump not installed (apt-get install bgpdump)")
		}
		t.Skip("bgpdump not installed")
	}
	for _, path := range mrtFiles(t) {
		path := path
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if damaged[name] {
				t.Skip("damaged file: bgpdump output is not a reference")
			}
			want, err := exec.Command(bin, "-m", path).Output()
			if err != nil {
				t.Fatalf("bgpdump: %v", err)
			}
			got, _ := render(t, path, FormatBgpdump)
			if bytes.Equal(got, want) {
				return
			}
			gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
			shown := 0
			for i := 0; i < len(gl) || i < len(wl); i++ {
				var g, w string
				if i < len(gl) {
					g = gl[i]
				}
				if i < len(wl) {
					w = wl[i]
				}
				if g != w {
					t.Errorf("line %d:\n got  %s\n want %s", i+1, g, w)
					if shown++; shown == 5 {
						break
					}
				}
			}
			t.Fatalf("%d lines, bgpdump %d", len(gl), len(wl))
		})
	}
}
