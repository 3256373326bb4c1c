// Package shareddata finds the public sample data that some tests read
// (real MRT archives, RIR files, live-feed captures). The data is not part
// of the repository and nothing but tests uses it: where it is absent those
// tests are skipped (and fail under CI=true, where it must be present). It
// is found through $BGPWATCH_SHARED_DATA, else as shared/data beside the
// checkout, where the development machines keep it.
package shareddata

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Env names a directory that overrides the search.
const Env = "BGPWATCH_SHARED_DATA"

// Dir returns the shared data directory: $BGPWATCH_SHARED_DATA, else
// shared/data beside the repository (found by walking up from the working
// directory to the directory holding go.mod).
func Dir() (string, error) {
	if d := os.Getenv(Env); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", err
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", "data")
			if _, err := os.Stat(p); err != nil {
				return "", err
			}
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("no go.mod above " + wd)
		}
	}
}

// Path returns the path of rel (slash-separated) under the shared data
// directory. When it is absent the test is skipped, or fails under CI=true,
// where every test must run.
func Path(t testing.TB, rel string) string {
	t.Helper()
	d, err := Dir()
	if err == nil {
		p := filepath.Join(d, filepath.FromSlash(rel))
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("sample data %s not found (set $%s to the sample data directory): %v", rel, Env, err)
	}
	t.Skipf("sample data %s not found (optional; $%s names its directory): %v", rel, Env, err)
	return ""
}
