package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDumpDirectory: a directory given to dump stands for the MRT files
// under it, in replay's order; one without files is a usage error (exit 2).
func TestDumpDirectory(t *testing.T) {
	dir, _ := scenarioDir(t, "small")
	files, err := filepath.Glob(filepath.Join(dir, "rrc00", "*", "*"))
	if err != nil || len(files) < 3 {
		t.Fatalf("scenario files: %v %v", files, err)
	}
	// An archive directory of three files, one of them a symbolic link.
	arch := filepath.Join(t.TempDir(), "rrc00", "2022.01")
	if err := os.MkdirAll(arch, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, f := range files[:3] {
		dst := filepath.Join(arch, filepath.Base(f))
		var err error
		if i == 0 {
			err = os.Symlink(f, dst)
		} else {
			var b []byte
			if b, err = os.ReadFile(f); err == nil {
				err = os.WriteFile(dst, b, 0o644)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var want strings.Builder
	for _, f := range files[:3] { // Glob sorts, and these names sort in time order
		code, out, errOut := runCLI(t, nil, "dump", f)
		if code != exitOK {
			t.Fatalf("dump %s: exit %d: %s", f, code, errOut)
		}
		want.WriteString(out)
	}
	if want.Len() == 0 {
		t.Fatal("the scenario files print nothing")
	}
	root := filepath.Dir(filepath.Dir(arch))
	code, out, errOut := runCLI(t, nil, "dump", root)
	if code != exitOK || out != want.String() {
		t.Fatalf("dump %s: exit %d, %d bytes of output (want %d); stderr %q", root, code, len(out), want.Len(), errOut)
	}

	empty := t.TempDir()
	code, out, errOut = runCLI(t, nil, "dump", empty)
	if code != exitUsage || out != "" || !strings.Contains(errOut, empty+" is a directory with no files") {
		t.Fatalf("dump of an empty directory: exit %d (want %d), stdout %q, stderr %q", code, exitUsage, out, errOut)
	}
}
