// Package shareddata finds the public sample data that tests read (real
// MRT archives, RIR files, live-feed captures): ../shared/data next to the
// repository, described in its README. The data is never copied into the
// repository.
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
		t.Fatalf("shared test data %s missing (want ../shared/data beside the repository, or $%s): %v", rel, Env, err)
	}
	t.Skipf("shared test data %s missing (want ../shared/data beside the repository, or $%s): %v", rel, Env, err)
	return ""
}
