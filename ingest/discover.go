package ingest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/archive"
)

// FileKind says what an archive file holds, judged from its name.
type FileKind = archive.Kind

// File kinds.
const (
	KindUnknown = archive.KindUnknown // no recognised name: time and kind come from the content
	KindRIB     = archive.KindRIB     // bview.* / rib.* table dump
	KindUpdates = archive.KindUpdates // updates.* message stream
)

// ArchiveFile is one file found by Discover.
type ArchiveFile struct {
	Path      string
	Collector string    // from the path layout, else "unknown"
	Kind      FileKind  // from the name
	Time      time.Time // from the name; zero when the name has none
	Size      int64
}

// classify derives collector, kind and time from a file's path, by the
// archive layouts (package archive).
func classify(path string) ArchiveFile {
	f := archive.Classify(path)
	af := ArchiveFile{Path: path, Collector: f.Collector, Kind: f.Kind, Time: f.Time}
	if af.Collector == "" {
		af.Collector = "unknown"
	}
	return af
}

// Discover lists the files under paths (files as given, directories walked
// recursively, hidden entries skipped) in replay order: by name time, RIBs
// before updates of the same time, then by path; files without a time in
// their name come first. Every regular file is returned: whether it is MRT
// is decided by its content when it is opened.
func Discover(paths []string) ([]ArchiveFile, error) {
	var out []ArchiveFile
	seen := map[string]bool{}
	add := func(p string, size int64) {
		if seen[p] {
			return
		}
		seen[p] = true
		af := classify(p)
		af.Size = size
		out = append(out, af)
	}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("replay input: %w", err)
		}
		if !st.IsDir() {
			add(root, st.Size())
			continue
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != root && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			add(p, info.Size())
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("replay input %s: %w", root, err)
		}
	}
	sortFiles(out)
	return out, nil
}

func sortFiles(fs []ArchiveFile) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Kind != b.Kind {
			return a.Kind == KindRIB || (a.Kind == KindUnknown && b.Kind == KindUpdates)
		}
		return a.Path < b.Path
	})
}

// SelectWindow drops the files a replay of [from, to] does not need: per
// collector, files older than its latest RIB at or before from (or, without
// such a RIB, updates files that end before from), and files named after a
// time past to. Zero from or to means unbounded. Files without a name time
// are kept.
func SelectWindow(files []ArchiveFile, from, to time.Time) []ArchiveFile {
	cutoff := map[string]time.Time{}
	if !from.IsZero() {
		for _, f := range files {
			if f.Kind == KindRIB && !f.Time.IsZero() && !f.Time.After(from) && f.Time.After(cutoff[f.Collector]) {
				cutoff[f.Collector] = f.Time
			}
		}
	}
	var out []ArchiveFile
	for _, f := range files {
		if f.Time.IsZero() {
			out = append(out, f)
			continue
		}
		if !to.IsZero() && f.Time.After(to) {
			continue
		}
		if !from.IsZero() {
			if c, ok := cutoff[f.Collector]; ok {
				if f.Time.Before(c) {
					continue
				}
			} else if f.Kind != KindRIB && f.Time.Add(15*time.Minute).Before(from) {
				continue // updates files are at most 15 minutes long
			}
		}
		out = append(out, f)
	}
	return out
}
