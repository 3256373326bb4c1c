package ingest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// FileKind says what an archive file holds, judged from its name.
type FileKind uint8

// File kinds.
const (
	KindUnknown FileKind = iota // no recognised name: time and kind come from the content
	KindRIB                     // bview.* / rib.* table dump
	KindUpdates                 // updates.* message stream
)

func (k FileKind) String() string {
	switch k {
	case KindRIB:
		return "rib"
	case KindUpdates:
		return "updates"
	}
	return "unknown"
}

// ArchiveFile is one file found by Discover.
type ArchiveFile struct {
	Path      string
	Collector string    // from the path layout, else "unknown"
	Kind      FileKind  // from the name
	Time      time.Time // from the name; zero when the name has none
	Size      int64
}

// nameRE finds "bview.YYYYMMDD.HHMM", "rib.…", "rib6.…" or "updates.…" in a
// base name, optionally preceded by a collector ("rrc21.updates.…").
var nameRE = regexp.MustCompile(`^(?:(.+?)\.)?(bview|rib6?|updates)\.(\d{8})\.(\d{4})`)

var (
	risDirRE   = regexp.MustCompile(`^rrc\d+$`)
	monthDirRE = regexp.MustCompile(`^\d{4}\.\d{2}$`)
)

// classify derives collector, kind and time from a file's path.
func classify(path string) ArchiveFile {
	af := ArchiveFile{Path: path, Collector: "unknown"}
	base := filepath.Base(path)
	nameColl := ""
	if m := nameRE.FindStringSubmatch(base); m != nil {
		if t, err := time.Parse("20060102.1504", m[3]+"."+m[4]); err == nil {
			af.Time = t.UTC()
		}
		if m[2] == "updates" {
			af.Kind = KindUpdates
		} else {
			af.Kind = KindRIB
		}
		nameColl = m[1]
	}
	parts := strings.Split(filepath.ToSlash(filepath.Clean(path)), "/")
	dirs := parts[:len(parts)-1]
	// RouteViews: <collector>/bgpdata/YYYY.MM/{RIBS,UPDATES}/file.
	for i := len(dirs) - 1; i >= 1; i-- {
		if dirs[i] == "bgpdata" && dirs[i-1] != "" {
			af.Collector = dirs[i-1]
			return af
		}
	}
	// RIS: rrcNN/YYYY.MM/file.
	if n := len(dirs); n >= 2 && monthDirRE.MatchString(dirs[n-1]) && risDirRE.MatchString(dirs[n-2]) {
		af.Collector = dirs[n-2]
		return af
	}
	if nameColl != "" {
		af.Collector = nameColl
		return af
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if risDirRE.MatchString(dirs[i]) || strings.HasPrefix(dirs[i], "route-views") {
			af.Collector = dirs[i]
			return af
		}
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
