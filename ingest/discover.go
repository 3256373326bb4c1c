package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
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

// Discover lists the files under paths in replay order; see Scan, whose
// Files it returns. Callers that must not lose entries without a word (a
// replay) use Scan and report its Skipped list.
func Discover(paths []string) ([]ArchiveFile, error) {
	d, err := Scan(paths)
	if err != nil {
		return nil, err
	}
	return d.Files, nil
}

// Discovery is what Scan found: the files to read, and every entry it did
// not take, with the reason.
type Discovery struct {
	Files   []ArchiveFile
	Skipped []SkippedEntry
}

// SkippedEntry is a directory entry Scan did not take.
type SkippedEntry struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Scan lists the files under paths (files as given, directories walked
// recursively) in replay order: by name time, RIBs before updates of the
// same time, then by path; files without a time in their name come first.
// Every regular file is returned: whether it is MRT is decided by its
// content when it is opened.
//
// Symbolic links are followed, to files and to directories, and a path
// argument may itself be a link to a directory: archives on shared storage
// are full of them. A file keeps the path it was found under (the link's
// name, which carries the collector and time; links are followed after the
// real tree, so a file also reachable without a link keeps its real path).
// Nothing is dropped without
// a reason in Skipped: hidden entries (a name starting with a dot, below a
// path argument), links whose target is missing, links that lead back to a
// directory above them (loops), a directory or file reached a second time
// through another link (read once), and entries that are neither regular
// files nor directories (sockets, devices, pipes). A path argument that
// does not exist, and a directory that cannot be read, are errors.
func Scan(paths []string) (*Discovery, error) {
	w := &walker{d: &Discovery{}, files: map[fileID]string{}, dirs: map[fileID]string{}, seen: map[string]bool{}}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("replay input: %w", err)
		}
		if !st.IsDir() {
			w.file(root, st)
			continue
		}
		if err := w.dir(root, st, nil); err != nil {
			return nil, fmt.Errorf("replay input %s: %w", root, err)
		}
	}
	// Links are followed after the real tree was read, so that a file
	// reachable both ways keeps its real path (whose layout names the
	// collector) and a "latest" link to a directory is the one skipped.
	for len(w.links) > 0 {
		l := w.links[0]
		w.links = w.links[1:]
		if err := w.link(l); err != nil {
			return nil, fmt.Errorf("replay input %s: %w", l.path, err)
		}
	}
	sortFiles(w.d.Files)
	return w.d, nil
}

// walker is the state of one Scan.
type walker struct {
	d     *Discovery
	files map[fileID]string // file identity -> the path it was taken under
	dirs  map[fileID]string // directory identity -> the path it was read under
	seen  map[string]bool   // paths taken (where identities are unknown)
	links []pendingLink     // symbolic links met, followed after the real tree
}

// pendingLink is a symbolic link to follow, with the directories above it.
type pendingLink struct {
	path  string
	stack []fs.FileInfo
}

func (w *walker) skip(path, format string, a ...any) {
	w.d.Skipped = append(w.d.Skipped, SkippedEntry{Path: path, Reason: fmt.Sprintf(format, a...)})
}

func (w *walker) file(p string, st fs.FileInfo) {
	if w.seen[p] {
		return
	}
	w.seen[p] = true
	if id, ok := identity(st); ok {
		if first, dup := w.files[id]; dup {
			w.skip(p, "same file as %s (read once)", first)
			return
		}
		w.files[id] = p
	}
	af := classify(p)
	af.Size = st.Size()
	w.d.Files = append(w.d.Files, af)
}

// dir reads directory p (st is its Stat, through links); stack holds the
// directories above it, to recognise a link back to one of them.
func (w *walker) dir(p string, st fs.FileInfo, stack []fs.FileInfo) error {
	for i, up := range stack {
		if os.SameFile(up, st) {
			w.skip(p, "symlink loop: leads back to a directory above it (%d levels up)", len(stack)-i)
			return nil
		}
	}
	if id, ok := identity(st); ok {
		if first, dup := w.dirs[id]; dup {
			w.skip(p, "same directory as %s (read once)", first)
			return nil
		}
		w.dirs[id] = p
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	stack = append(stack, st)
	for _, e := range ents {
		c := filepath.Join(p, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			w.skip(c, "hidden")
			continue
		}
		t := e.Type()
		if t&fs.ModeSymlink != 0 {
			// A copy: siblings reuse stack's array while the link waits.
			w.links = append(w.links, pendingLink{path: c, stack: append([]fs.FileInfo(nil), stack...)})
			continue
		}
		switch {
		case t.IsDir():
			st, err := os.Stat(c)
			if err != nil {
				return err
			}
			if err := w.dir(c, st, stack); err != nil {
				return err
			}
		case t.IsRegular():
			st, err := e.Info()
			if err != nil {
				return err
			}
			w.file(c, st)
		default:
			w.skip(c, "a %s, not a regular file", kindOf(t))
		}
	}
	return nil
}

// link follows a symbolic link met in a directory.
func (w *walker) link(l pendingLink) error {
	target, err := os.Stat(l.path)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			w.skip(l.path, "symlink loop: %v", err)
		} else {
			w.skip(l.path, "broken symlink: %v", err)
		}
		return nil
	}
	switch {
	case target.IsDir():
		return w.dir(l.path, target, l.stack)
	case target.Mode().IsRegular():
		w.file(l.path, target)
	default:
		w.skip(l.path, "symlink to a %s, not a regular file", kindOf(target.Mode()))
	}
	return nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m&fs.ModeIrregular != 0:
		return "irregular file"
	}
	return "special file"
}

// fileID identifies a file or directory across the paths that lead to it.
type fileID struct{ dev, ino uint64 }

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
