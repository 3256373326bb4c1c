package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/config"
	"github.com/bgpwatch/bgpwatch/detect"
	"github.com/bgpwatch/bgpwatch/ingest"
	"github.com/bgpwatch/bgpwatch/rir"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/visibility"
)

func init() {
	register(&command{name: "replay", summary: "replay MRT archives into the database and detect events", run: runReplay})
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "replay", "[flags] PATH...", `
Replays MRT archives into the database: per-ASN and per-country visibility
in 5-minute bins, and the shutdown events detected in them.

PATH is an MRT file (raw, .gz or .bz2) or a directory walked recursively
(RIPE RIS rrcNN/YYYY.MM/{bview,updates}.* and RouteViews
*/bgpdata/YYYY.MM/{RIBS,UPDATES}/* layouts; the collector is taken from the
path). Symbolic links are followed (loops and dangling links are reported,
as is every entry not read: hidden names, sockets, a file reached twice).
Records are applied in time order across files and collectors.
Files that are not MRT are reported and skipped. A damaged file is reported
(file, offset, reason), the good records are kept and the replay goes on
(exit 0) unless --strict is given (exit 1 at the first bad record).

Thresholds: --config FILE (its visibility: and detection: sections, as
serve reads them) and the flags below, each overriding one key of the file.
Out-of-range values are refused with the key's name.

With --from, each collector starts from its latest RIB at or before --from;
bins before --from are computed but not written. Replaying the same input
again leaves the database as it was after the first replay.

With --collectors (e.g. rrc00,route-views2) and --from/--to, the files are
first fetched from the public archives into the cache (see 'bgpwatch fetch
--help'), with the RIR delegation files of --from's day unless
--delegations is given; already cached files are not downloaded again.

Progress goes to stderr; the summary too, or to stdout as one JSON object
with --json.`)
	db := addDBFlags(fs, e)
	rf := addRegistryFlags(fs)
	from := fs.String("from", "", "start of the replay (RFC 3339)")
	to := fs.String("to", "", "end of the replay (RFC 3339)")
	notify := fs.Bool("notify", false, "queue webhook notices for the events found")
	overwriteLive := fs.Bool("overwrite-live", false, "replace series bins that live ingest (serve) stored; without it replay stops there with an error")
	asJSON := fs.Bool("json", false, "print one JSON summary object on stdout at the end")
	strict := fs.Bool("strict", false, "stop at the first damaged record (exit 1)")
	flushBins := fs.Int("flush-bins", 24, "bins per database transaction")
	verbose := fs.Bool("v", false, "log every event and file to stderr")
	df := addDetectionFlags(fs, nil)
	arch := addArchiveFlags(fs, e, true)
	meta := addMetaFlags(fs, e, false)
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	conf, err := df.load(fs)
	if err != nil {
		return err
	}
	vc, dc := replaySettings(conf)
	if fs.NArg() == 0 && !arch.selected() {
		return fmt.Errorf("%w: need at least one PATH or --collectors", errUsage)
	}
	fromT, toT, err := parseTimeRange(*from, *to)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	tty := isTerminal(e.stderr)
	prog := &progressLine{w: e.stderr, tty: tty}
	log := slog.New(slog.NewTextHandler(&clearingWriter{w: e.stderr, p: prog}, &slog.HandlerOptions{Level: level}))
	db.logger = log

	inputs := fs.Args()
	if arch.selected() {
		mrtFiles, dels, err := arch.fetchForReplay(ctx, e, fromT, toT, len(rf.delegations) == 0)
		if err != nil {
			return err
		}
		inputs = append(inputs, mrtFiles...)
		rf.delegations = append(rf.delegations, dels...)
	}
	found, err := ingest.Scan(inputs)
	if err != nil {
		return err
	}
	// Entries not taken (hidden, broken links, loops, ...) are each logged
	// and listed in the summary: nothing in an archive is dropped unsaid.
	for _, sk := range found.Skipped {
		log.Warn("replay: not reading", "file", sk.Path, "reason", sk.Reason)
	}
	files := ingest.SelectWindow(found.Files, fromT, toT)
	if len(files) == 0 {
		msg := fmt.Sprintf("no input files in %s", strings.Join(inputs, " "))
		if n := len(found.Skipped); n > 0 {
			msg += fmt.Sprintf(" (%d entries not read:", n)
			for i, sk := range found.Skipped {
				if i == 5 {
					msg += " ..."
					break
				}
				msg += fmt.Sprintf(" %s: %s;", sk.Path, sk.Reason)
			}
			msg = strings.TrimSuffix(msg, ";") + ")"
		}
		return errors.New(msg)
	}
	reg, err := loadRegistry(rf.delegations, rf.asnInfo, rf.asnNames)
	if err != nil {
		return err
	}
	if len(reg.reg.Countries()) == 0 {
		log.Warn("no ASN has a country: country series and country events need RIR delegation files (--delegations FILE, or 'bgpwatch fetch --delegations')")
	}

	st, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if infos := reg.all(); len(infos) > 0 {
		if err := st.UpsertASNs(ctx, infos); err != nil {
			return err
		}
	}
	// Network metadata: import --metadata-dir (or only recompute what is
	// stored, for new registry names and the curated table), then give the
	// detector the stored access types with their provenance.
	if err := meta.importMetadata(ctx, st, e.stderr, log); err != nil {
		return err
	}
	stored, err := st.NetworkInfos(ctx)
	if err != nil {
		return err
	}
	reg.withMeta(stored)
	hash, err := putSettings(ctx, st, dc, vc)
	if err != nil {
		return err
	}

	p := ingest.New(ingest.Config{
		Visibility:   vc,
		Detect:       dc,
		SettingsHash: hash,
		CountryOf:    reg.countryOf,
		Info:         reg.info,
		WriteFrom:    fromT,
		FlushBins:    *flushBins,
		Source:       store.SourceReplay,
		Exclusive:    !*overwriteLive,
		Notify:       *notify,
		History:      st, // resume from what earlier replays stored before the first bin
		Logger:       log,
	}, st)
	every := 5 * time.Second
	if tty {
		every = 500 * time.Millisecond
	}
	sum, err := ingest.Replay(ctx, ingest.ReplayConfig{
		Files: files, From: fromT, To: toT, Strict: *strict, Logger: log,
		Progress: prog.update, ProgressEvery: every,
	}, p)
	prog.clear()
	if sum != nil {
		sk := make([]ingest.FileError, 0, len(found.Skipped)+len(sum.Skipped))
		for _, e := range found.Skipped {
			sk = append(sk, ingest.FileError{File: e.Path, Reason: e.Reason})
		}
		sum.Skipped = append(sk, sum.Skipped...)
		sum.FilesSkipped += len(found.Skipped)
		if *asJSON {
			enc := json.NewEncoder(e.stdout)
			if jerr := enc.Encode(sum); jerr != nil && err == nil {
				err = jerr
			}
		} else {
			printSummary(e.stderr, sum)
		}
	}
	if errors.Is(err, ingest.ErrDamaged) {
		return fmt.Errorf("stopped (--strict): %w", err)
	}
	if errors.Is(err, store.ErrOtherSource) {
		return fmt.Errorf("%w: the replay stopped there; replay a range outside them (--from, --to), or pass --overwrite-live to replace them", err)
	}
	return err
}

// replaySettings returns the visibility and detection settings of conf on
// the series' 5-minute grid: archives are binned on it whatever bin_step
// (a live-ingest setting for tests) says.
func replaySettings(conf *config.File) (visibility.Config, detect.Config) {
	vc, dc := conf.Visibility, conf.Detection
	vc.Step, dc.Step = bgpwatch.BinStep, bgpwatch.BinStep
	return vc, dc
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressLine renders replay progress: a live line on a terminal, plain
// lines otherwise.
type progressLine struct {
	w     io.Writer
	tty   bool
	shown bool
}

func (p *progressLine) update(pr ingest.Progress) {
	if pr.Done {
		return
	}
	rate := 0.0
	if s := pr.Elapsed.Seconds(); s > 0 {
		rate = float64(pr.Observations) / s
	}
	pct := 0.0
	eta := "?"
	if pr.BytesTotal > 0 {
		pct = 100 * float64(pr.BytesDone) / float64(pr.BytesTotal)
		if pr.BytesDone > 0 {
			left := time.Duration(float64(pr.Elapsed) * float64(pr.BytesTotal-pr.BytesDone) / float64(pr.BytesDone))
			eta = left.Round(time.Second).String()
		}
	}
	data := ""
	if !pr.DataTime.IsZero() {
		data = " at " + pr.DataTime.UTC().Format("2006-01-02 15:04")
	}
	line := fmt.Sprintf("replay: files %d/%d, %s obs (%s/s), %.1f%% of bytes, ETA %s%s",
		pr.FilesDone, pr.FilesTotal, human(float64(pr.Observations)), human(rate), pct, eta, data)
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.shown = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// clear erases the live line before other output.
func (p *progressLine) clear() {
	if p.tty && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// clearingWriter clears the progress line before each log line.
type clearingWriter struct {
	w io.Writer
	p *progressLine
}

func (c *clearingWriter) Write(b []byte) (int, error) {
	c.p.clear()
	return c.w.Write(b)
}

func human(f float64) string {
	switch {
	case f >= 1e9:
		return fmt.Sprintf("%.2fG", f/1e9)
	case f >= 1e6:
		return fmt.Sprintf("%.2fM", f/1e6)
	case f >= 1e3:
		return fmt.Sprintf("%.1fk", f/1e3)
	}
	return fmt.Sprintf("%.0f", f)
}

func printSummary(w io.Writer, s *ingest.Summary) {
	secs := s.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(s.Observations) / secs
	}
	fmt.Fprintf(w, "replay: %d files read, %d skipped; %d observations in %s (%s/s)\n",
		s.Files, s.FilesSkipped, s.Observations, s.Elapsed.Round(time.Millisecond), human(rate))
	printCounts(w, "records", s.Records)
	printCounts(w, "observations", s.ByKind)
	if !s.FirstTime.IsZero() {
		fmt.Fprintf(w, "  data: %s to %s\n", s.FirstTime.UTC().Format(time.RFC3339), s.LastTime.UTC().Format(time.RFC3339))
	}
	ps := s.Pipeline
	fmt.Fprintf(w, "  bins written: %d", ps.BinsWritten)
	if ps.BinsWritten > 0 {
		fmt.Fprintf(w, " (%s to %s)", ps.FirstBin.UTC().Format(time.RFC3339), ps.LastBin.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "; before --from: %d; without full-feed peers: %d\n", ps.BinsBeforeFrom, ps.BinsNoFeed)
	fmt.Fprintf(w, "  events: %d started, %d ended\n", ps.EventsStarted, ps.EventsEnded)
	for _, f := range s.Skipped {
		fmt.Fprintf(w, "  skipped %s: %s\n", f.File, f.Reason)
	}
	if len(s.Errors) > 0 {
		fmt.Fprintf(w, "  errors: %d\n", len(s.Errors))
		for i, f := range s.Errors {
			if i == 50 {
				fmt.Fprintf(w, "    ... %d more (see --json)\n", len(s.Errors)-50)
				break
			}
			fmt.Fprintf(w, "    %s: offset %d: %s\n", f.File, f.Offset, f.Reason)
		}
	}
}

func printCounts(w io.Writer, name string, m map[string]int64) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	fmt.Fprintf(w, "  %s: %s\n", name, strings.Join(parts, ", "))
}

// replayRegistry is what replay (and live ingest, in serve_live.go) knows
// about ASNs: countries from the delegation files, names and access from the
// asn-info CSV and the names list (package rir).
// It is safe for concurrent use (the ingest Pipeline caches countryOf).
type replayRegistry struct {
	reg  *rir.Registry
	meta map[bgpwatch.ASN]bgpwatch.ASNInfo // stored access types with provenance (withMeta); read-only
}

func (r *replayRegistry) countryOf(a bgpwatch.ASN) string { return r.reg.CountryOf(a) }

// info is the registry's view of a, completed by the stored metadata: an
// access type the asn-info CSV does not give comes from the store (curated
// table, PeeringDB, CAIDA, name), with its source and date.
func (r *replayRegistry) info(a bgpwatch.ASN) bgpwatch.ASNInfo {
	in := r.reg.Info(a)
	m, ok := r.meta[a]
	if !ok {
		return in
	}
	if in.Access == bgpwatch.AccessUnknown || in.Access == "" {
		in.Access, in.AccessSource, in.AccessDate = m.Access, m.AccessSource, m.AccessDate
	}
	if in.Name == "" {
		in.Name = m.Name
	}
	return in
}

// all lists every ASN the registry knows something about, for the store's
// asns table.
func (r *replayRegistry) all() []bgpwatch.ASNInfo {
	seen := map[bgpwatch.ASN]bool{}
	var out []bgpwatch.ASNInfo
	add := func(a bgpwatch.ASN) {
		if !seen[a] {
			seen[a] = true
			out = append(out, r.reg.Info(a))
		}
	}
	for _, a := range r.reg.Known() {
		add(a)
	}
	for _, cc := range r.reg.Countries() {
		for _, a := range r.reg.ASNs(cc) {
			add(a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ASN < out[j].ASN })
	return out
}

// registryFlags name the registry files replay reads and backfill passes
// on to its workers.
type registryFlags struct {
	delegations       stringList
	asnInfo, asnNames string
}

// addRegistryFlags registers --delegations, --asn-info and --asn-names.
func addRegistryFlags(fs *flag.FlagSet) *registryFlags {
	rf := &registryFlags{}
	fs.Var(&rf.delegations, "delegations", "RIR delegated-* stats `file` (classic or extended) giving each ASN's country; repeatable")
	fs.StringVar(&rf.asnInfo, "asn-info", "", "CSV `file` with header asn,name,access (overrides every other source of access types)")
	fs.StringVar(&rf.asnNames, "asn-names", "", "optional ASN names `file` (CIDR-report asnames.txt: AS<n> NAME, CC)")
	return rf
}

// loadRegistry reads the delegation, asn-info and asn-names files.
func loadRegistry(delegations []string, asnInfo, asnNames string) (*replayRegistry, error) {
	reg := rir.New()
	for _, path := range delegations {
		if err := reg.LoadDelegations(path); err != nil {
			return nil, err
		}
	}
	if asnNames != "" {
		if err := reg.LoadASNames(asnNames); err != nil {
			return nil, err
		}
	}
	if asnInfo != "" {
		if err := reg.LoadASNInfo(asnInfo); err != nil {
			return nil, err
		}
	}
	return &replayRegistry{reg: reg}, nil
}
