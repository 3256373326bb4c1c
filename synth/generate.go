package synth

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Options tune Generate.
type Options struct {
	// Seed overrides Scenario.Seed when non-zero.
	Seed uint64
	// Only limits what is written: "" or "all"; "rib" (the first RIB of each
	// collector, no updates); "updates" (no RIBs). Truth and metadata files
	// are always written.
	Only string
	// BZip2 is the bzip2 compressor for RouteViews files; default the first
	// of lbzip2, pbzip2, bzip2 on PATH. Byte-identical output needs the same
	// tool.
	BZip2 string
	// Workers compress files in parallel; default GOMAXPROCS.
	Workers int
	// Logger receives progress; nil discards.
	Logger *slog.Logger
}

const binSec = int64(bgpwatch.BinStep / time.Second)

// event kinds of the per-peer timeline.
const (
	evOrigin uint8 = iota + 1 // val: origin-withdrawn as seen by the peer
	evFlap                    // val: flapped away
	evPath                    // path change
	evDown                    // session down
	evUp                      // session up
)

type event struct {
	t    int64
	seq  uint32
	pfx  int32
	sess uint16
	kind uint8
	val  bool
}

type pendA struct {
	key    uint64
	i      int32
	pathID uint32
}

// pending batches one session's changes of one second into UPDATEs.
type pending struct {
	t      int64
	w4, w6 []NLRI
	a      []pendA
	ops    map[int32]uint8 // 1 withdrawn, 2 announced in this batch
}

// colState is one collector's open update file.
type colState struct {
	c        *Collector
	sessions []*session
	buf      *bytes.Buffer
	enc      *Encoder
	info     *FileInfo
	fileLen  int64
	ribEvery int64
	windows  [][2]int64 // blackout windows for flaps
	gaps     [][2]int64
	damage   map[int64]string // file start → damage kind
}

type gen struct {
	ctx    context.Context
	sc     *Scenario
	w      *world
	opts   Options
	out    string
	log    *slog.Logger
	pool   *writerPool
	cols   []*colState
	start  int64
	end    int64
	events []event
	seq    uint32

	pend  []pending
	gcnt  [][]uint8 // per full-feed group, per prefix: sessions holding it
	seen  []uint16
	vis   bitset
	ver   map[uint64]uint8
	hasV  []bitset
	orig  map[uint64]uint32
	hasO  []bitset
	attrs Attrs

	asCounts  []bgpwatch.Counts
	asDirty   []bool
	ccCounts  map[string]*bgpwatch.Counts
	trackAS   map[int]*SeriesData
	trackCC   map[string]*SeriesData
	files     []*FileInfo
	anyDirty  bool
	attrCache []attrCacheEntry
}

type attrCacheEntry struct {
	key uint64
	b   []byte
}

// Generate writes the scenario's archive into outDir and returns its truth
// (also written to outDir/truth.json).
func Generate(ctx context.Context, sc Scenario, outDir string, opts Options) (*Truth, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	switch opts.Only {
	case "", "all", "rib", "updates":
	default:
		return nil, fmt.Errorf("%w only %q: want all, rib or updates", bgpwatch.ErrInvalid, opts.Only)
	}
	seed := sc.Seed
	if opts.Seed != 0 {
		seed = opts.Seed
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	needBZ := false
	for _, c := range sc.Collectors {
		needBZ = needBZ || c.Project == "routeviews"
	}
	bz := opts.BZip2
	if needBZ && bz == "" {
		var err error
		if bz, err = findBZip2(); err != nil {
			return nil, err
		}
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = max(1, runtimeProcs())
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create output directory: %w", err)
	}
	t0 := time.Now()
	w, err := buildWorld(&sc, seed)
	if err != nil {
		return nil, err
	}
	log.Info("world built", "asns", len(w.ases), "prefixes", len(w.pfx), "sessions", len(w.sessions), "took", time.Since(t0).Round(time.Millisecond))
	g := &gen{ctx: ctx, sc: &sc, w: w, opts: opts, out: outDir, log: log, pool: newWriterPool(workers, bz),
		start: sc.Start.Unix(), end: sc.End.Unix(), ver: map[uint64]uint8{}, orig: map[uint64]uint32{}}
	truth, err := g.run(seed)
	if perr := g.pool.wait(); err == nil && perr != nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	for _, f := range g.files {
		truth.Files = append(truth.Files, *f)
	}
	if needBZ {
		truth.BZip2 = filepath.Base(bz)
	}
	b, err := json.MarshalIndent(truth, "", " ")
	if err != nil {
		return nil, fmt.Errorf("encode truth: %w", err)
	}
	if err := os.WriteFile(filepath.Join(outDir, "truth.json"), append(b, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("write truth: %w", err)
	}
	log.Info("archive written", "dir", outDir, "files", len(truth.Files), "took", time.Since(t0).Round(time.Millisecond))
	return truth, nil
}

func (g *gen) run(seed uint64) (*Truth, error) {
	sc, w := g.sc, g.w
	n := len(w.pfx)
	truth := &Truth{Scenario: sc.Name, Description: sc.Description, Seed: seed, Start: sc.Start.UTC(), End: sc.End.UTC(),
		BinSeconds: int(binSec), FullFeedASNsV4: w.groupsV4, FullFeedASNsV6: w.groupsV6,
		Events: slices.Clone(sc.Expect), Happenings: slices.Clone(sc.Happenings),
		Totals: map[string]int{"v4_prefixes": w.nV4, "v6_prefixes": n - w.nV4, "asns": len(w.ases)}}
	if truth.Events == nil {
		truth.Events = []TruthEvent{}
	}
	for ci := range sc.Collectors {
		c := &sc.Collectors[ci]
		tc := TruthCollector{Name: c.Name, Project: c.Project}
		cs := &colState{c: c, damage: map[int64]string{}}
		cs.fileLen, cs.ribEvery = int64(c.archive().UpdatesEvery()/time.Second), int64(c.archive().RIBEvery()/time.Second)
		for _, s := range w.sessions {
			if s.col == ci {
				cs.sessions = append(cs.sessions, s)
				tc.Peers = append(tc.Peers, TruthPeer{ASN: s.spec.ASN, Addr: s.addr.String(), FullFeed: s.full, Share: s.spec.Share,
					V4: s.v4, V6: s.v6, AS2: s.spec.AS2, AddPath: s.spec.AddPath})
			}
		}
		g.cols = append(g.cols, cs)
		truth.Collectors = append(truth.Collectors, tc)
	}
	for _, h := range sc.Happenings {
		cs := g.colByName(h.Collector)
		switch h.Kind {
		case Gap:
			a, b := h.At.Unix(), h.At.Add(time.Duration(h.For)).Unix()
			cs.gaps = append(cs.gaps, [2]int64{a, b})
			cs.windows = append(cs.windows, [2]int64{a, b})
		case Truncate, NotMRT:
			fs := h.At.Unix() - (h.At.Unix()-g.start)%cs.fileLen
			cs.damage[fs] = string(h.Kind)
			cs.windows = append(cs.windows, [2]int64{fs, fs + cs.fileLen})
		}
	}
	// Metadata files.
	rirFiles, err := writeRIRFiles(g.out, sc, w)
	if err != nil {
		return nil, err
	}
	truth.RIRFiles = rirFiles
	if err := writeASNInfo(filepath.Join(g.out, "asn-info.csv"), w); err != nil {
		return nil, err
	}
	truth.ASNInfo = "asn-info.csv"
	if err := writeNetworkMetadata(filepath.Join(g.out, "metadata"), filepath.Join(g.out, "asn-names.txt"), w, sc.Start); err != nil {
		return nil, err
	}
	truth.Metadata, truth.ASNames = "metadata", "asn-names.txt"

	// Initial state.
	ann := make([]bool, n)
	for i := range ann {
		ann[i] = w.parent[i] < 0
	}
	for _, s := range w.sessions {
		for i := 0; i < n; i++ {
			if !ann[i] {
				s.odown.set(i, true)
			}
		}
		for k := range s.rib {
			s.rib[k] = s.feed[k] &^ s.odown[k]
		}
	}
	g.pend = make([]pending, len(w.sessions))
	for i := range g.pend {
		g.pend[i].ops = map[int32]uint8{}
	}
	g.hasV = make([]bitset, len(w.sessions))
	g.hasO = make([]bitset, len(w.sessions))
	for i := range w.sessions {
		g.hasV[i], g.hasO[i] = newBitset(n), newBitset(n)
	}
	g.gcnt = make([][]uint8, w.groups)
	for k := range g.gcnt {
		g.gcnt[k] = make([]uint8, n)
	}
	g.seen = make([]uint16, n)
	g.vis = newBitset(n)
	for _, s := range w.sessions {
		if s.group < 0 {
			continue
		}
		gc := g.gcnt[s.group]
		for i := 0; i < n; i++ {
			if s.rib.get(i) {
				if gc[i] == 0 {
					g.seen[i]++
				}
				gc[i]++
			}
		}
	}
	for i := 0; i < n; i++ {
		g.vis.set(i, int(g.seen[i])*2 > g.groupsFor(i))
	}
	g.initTruth(truth)

	if g.opts.Only == "rib" {
		for ci := range g.cols {
			if err := g.dumpRIB(ci, g.start); err != nil {
				return nil, err
			}
		}
		g.recordBin()
		return truth, nil
	}
	if err := g.buildEvents(ann); err != nil {
		return nil, err
	}
	g.log.Info("timeline built", "events", len(g.events))
	return truth, g.walk()
}

func (g *gen) colByName(name string) *colState {
	for _, c := range g.cols {
		if c.c.Name == name {
			return c
		}
	}
	return nil
}

func (g *gen) groupsFor(i int) int {
	if i < g.w.nV4 {
		return g.w.groupsV4
	}
	return g.w.groupsV6
}

func (g *gen) add(t int64, kind uint8, sess int, pfx int, val bool) {
	if t < g.start || t >= g.end {
		return
	}
	g.events = append(g.events, event{t: t, seq: g.seq, kind: kind, sess: uint16(sess), pfx: int32(pfx), val: val})
	g.seq++
}

// buildEvents turns happenings and churn into the per-peer timeline.
func (g *gen) buildEvents(ann []bool) error {
	sc, w := g.sc, g.w
	withdrawn := make([]bool, len(w.pfx))
	deagg := map[int32]bool{}
	announced := func(i int) bool {
		if p := w.parent[i]; p >= 0 {
			return !withdrawn[p] && deagg[p]
		}
		if _, ok := w.children[int32(i)]; ok {
			return !withdrawn[i] && !deagg[int32(i)]
		}
		return !withdrawn[i]
	}
	type change struct {
		t      int64
		i      int
		ann    bool
		jitter float64
		hs     uint64
	}
	var changes []change
	touch := func(t int64, i int, j float64, hs uint64) {
		if a := announced(i); a != ann[i] {
			ann[i] = a
			changes = append(changes, change{t, i, a, j, hs})
		}
	}
	hs := slices.Clone(sc.Happenings)
	sort.SliceStable(hs, func(a, b int) bool { return hs[a].At.Before(hs[b].At) })
	for hi, h := range hs {
		t := h.At.Unix()
		j := time.Duration(h.Jitter).Seconds()
		hseq := uint64(hi) + 1
		for _, c := range g.cols {
			for _, win := range c.windows {
				if h.Kind != Gap && h.Kind != Truncate && h.Kind != NotMRT && t+int64(j) >= win[0]-300 && t <= win[1] {
					return fmt.Errorf("%w scenario %q: %s at %s falls in a damaged or missing file window of %s", bgpwatch.ErrInvalid, sc.Name, h.Kind, h.At.Format(time.RFC3339), c.c.Name)
				}
			}
		}
		switch h.Kind {
		case Withdraw, Restore:
			for _, asn := range h.ASNs {
				a := &w.ases[w.asIdx[uint32(asn)]]
				share := h.Share
				if share <= 0 {
					share = 1
				}
				if h.Kind == Withdraw {
					k := int(math.Round(share * float64(len(a.base))))
					for _, i := range a.base[:k] {
						withdrawn[i] = true
						g.touchFamily(i, func(x int) { touch(t, x, j, hseq) })
					}
				} else {
					var wd []int
					for _, i := range a.base {
						if withdrawn[i] {
							wd = append(wd, i)
						}
					}
					k := int(math.Round(share * float64(len(wd))))
					for _, i := range wd[:k] {
						withdrawn[i] = false
						g.touchFamily(i, func(x int) { touch(t, x, j, hseq) })
					}
				}
			}
		case Deaggregate, Reaggregate:
			for _, asn := range h.ASNs {
				a := &w.ases[w.asIdx[uint32(asn)]]
				for _, i := range a.base {
					kids, ok := w.children[int32(i)]
					if !ok {
						continue
					}
					deagg[int32(i)] = h.Kind == Deaggregate
					first, second := []int{}, []int{i} // make before break
					for _, k := range kids {
						first = append(first, int(k))
					}
					if h.Kind == Reaggregate {
						first, second = second, first
					}
					for _, x := range first {
						touch(t, x, j, hseq)
					}
					for _, x := range second {
						touch(t+30, x, j, hseq)
					}
				}
			}
		case PeerReset:
			for si, s := range w.sessions {
				if s.colName == h.Collector && s.spec.Addr == h.Peer {
					g.add(t, evDown, si, 0, false)
					g.add(h.At.Add(time.Duration(h.For)).Unix(), evUp, si, 0, false)
				}
			}
		}
	}
	for _, ch := range changes {
		for si, s := range w.sessions {
			if !s.feed.get(ch.i) {
				continue
			}
			pa := uint64(s.spec.ASN)
			d := ch.jitter * (0.85*unit(hash3(w.seed, pa, ch.hs)) + 0.15*unit(hash3(pa, uint64(ch.i), ch.hs)))
			g.add(ch.t+int64(d), evOrigin, si, ch.i, !ch.ann)
		}
	}
	// Churn.
	r := rand.New(rand.NewPCG(w.seed, 0xc4a2))
	hours := float64(g.end-g.start) / 3600
	span := g.end - g.start - 600
	for si, s := range w.sessions {
		cs := g.cols[s.col]
		share := min(s.spec.Share, 1)
		pick := func() int {
			for try := 0; try < 16; try++ {
				i := r.IntN(len(w.pfx))
				if s.feed.get(i) {
					return i
				}
			}
			return -1
		}
		nf := int(math.Round(sc.Churn.FlapsPerPeerHour * hours * share))
		for k := 0; k < nf; k++ {
			t := g.start + r.Int64N(max(span, 1))
			d := 20 + r.Int64N(280)
			i := pick()
			if i < 0 || inWindows(cs.windows, t-60, t+d+60) {
				continue
			}
			g.add(t, evFlap, si, i, true)
			g.add(t+d, evFlap, si, i, false)
		}
		np := int(math.Round(sc.Churn.PathChangesPerPeerHour * hours * share))
		for k := 0; k < np; k++ {
			t := g.start + r.Int64N(max(span, 1))
			if i := pick(); i >= 0 {
				g.add(t, evPath, si, i, false)
			}
		}
	}
	slices.SortFunc(g.events, func(a, b event) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	return nil
}

// touchFamily calls f for prefix i and its de-aggregation children.
func (g *gen) touchFamily(i int, f func(int)) {
	f(i)
	for _, k := range g.w.children[int32(i)] {
		f(int(k))
	}
}

func inWindows(ws [][2]int64, a, b int64) bool {
	for _, w := range ws {
		if a < w[1] && w[0] < b {
			return true
		}
	}
	return false
}

// walk applies the timeline bin by bin and writes the files.
func (g *gen) walk() error {
	writeRIBs := g.opts.Only != "updates"
	writeUpd := g.opts.Only != "rib"
	for ci, c := range g.cols {
		if writeRIBs {
			if err := g.dumpRIB(ci, g.start); err != nil {
				return err
			}
		}
		if writeUpd {
			g.openUpdates(c, g.start)
		}
	}
	k := 0
	for b := g.start + binSec; b <= g.end; b += binSec {
		if err := g.ctx.Err(); err != nil {
			return err
		}
		for ; k < len(g.events) && g.events[k].t < b; k++ {
			if err := g.apply(&g.events[k]); err != nil {
				return err
			}
		}
		if err := g.flushAll(); err != nil {
			return err
		}
		g.recordBin()
		for ci, c := range g.cols {
			if (b-g.start)%c.fileLen == 0 && writeUpd {
				g.closeUpdates(c)
				if b < g.end {
					g.openUpdates(c, b)
				}
			}
			if b < g.end && writeRIBs && !g.sc.FirstRIBOnly && b%c.ribEvery == 0 {
				if err := g.dumpRIB(ci, b); err != nil {
					return err
				}
			}
		}
	}
	for _, c := range g.cols {
		if c.enc != nil {
			g.closeUpdates(c)
		}
	}
	return nil
}

func (g *gen) apply(e *event) error {
	s := g.w.sessions[e.sess]
	i := int(e.pfx)
	switch e.kind {
	case evOrigin:
		s.odown.set(i, e.val)
	case evFlap:
		s.flap.set(i, e.val)
	case evPath:
		key := uint64(e.sess)<<32 | uint64(i)
		g.ver[key]++
		g.hasV[e.sess].set(i, true)
		if s.up && s.rib.get(i) {
			return g.announce(e.t, int(e.sess), i)
		}
		return nil
	case evDown:
		if !s.up {
			return nil
		}
		if err := g.flush(int(e.sess)); err != nil {
			return err
		}
		if err := g.state(e.t, s, StateEstablished, StateIdle); err != nil {
			return err
		}
		s.up = false
		g.sessionRoutes(s, false)
		return nil
	case evUp:
		if s.up {
			return nil
		}
		for _, st := range [][2]uint16{{StateIdle, StateConnect}, {StateConnect, StateOpenSent}, {StateOpenSent, StateOpenConfirm}, {StateOpenConfirm, StateEstablished}} {
			if err := g.state(e.t, s, st[0], st[1]); err != nil {
				return err
			}
		}
		s.up = true
		g.sessionRoutes(s, true)
		for i := range g.w.pfx {
			if s.rib.get(i) {
				if err := g.announce(e.t, int(e.sess), i); err != nil {
					return err
				}
			}
		}
		return nil
	}
	nv := s.feed.get(i) && !s.odown.get(i) && !s.flap.get(i)
	if nv == s.rib.get(i) {
		return nil
	}
	s.rib.set(i, nv)
	if !s.up {
		return nil
	}
	g.groupChange(s, i, nv)
	if nv {
		return g.announce(e.t, int(e.sess), i)
	}
	return g.withdraw(e.t, int(e.sess), i)
}

func (g *gen) sessionRoutes(s *session, up bool) {
	if s.group < 0 {
		return
	}
	for i := range g.w.pfx {
		if s.rib.get(i) {
			g.groupChange(s, i, up)
		}
	}
}

func (g *gen) groupChange(s *session, i int, has bool) {
	if s.group < 0 {
		return
	}
	c := &g.gcnt[s.group][i]
	before := *c > 0
	if has {
		*c++
	} else {
		*c--
	}
	if after := *c > 0; after != before {
		if after {
			g.seen[i]++
		} else {
			g.seen[i]--
		}
		if v := int(g.seen[i])*2 > g.groupsFor(i); v != g.vis.get(i) {
			g.vis.set(i, v)
			g.asDirty[g.w.owner[i]] = true
			g.anyDirty = true
		}
	}
}
