package synth

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/bgpwatch/bgpwatch/internal/archive"
)

// ---- files

// relPath is where the collector's project puts the file (package
// archive), under a directory named after the collector.
func (g *gen) relPath(c *Collector, kind string, t int64) string {
	k := archive.KindUpdates
	if kind == "rib" {
		k = archive.KindRIB
	}
	return filepath.Join(c.Name, filepath.FromSlash(c.archive().Path(k, time.Unix(t, 0))))
}

func (g *gen) compression(c *Collector) string { return c.archive().Compression() }

func (g *gen) openUpdates(c *colState, t int64) {
	if inWindows(c.gaps, t, t+1) {
		c.enc, c.info = nil, nil
		return
	}
	c.info = &FileInfo{Path: g.relPath(c.c, "updates", t), Collector: c.c.Name, Kind: "updates", Time: time.Unix(t, 0).UTC(), Damage: c.damage[t]}
	c.buf = new(bytes.Buffer)
	c.enc = NewEncoder(c.buf)
}

func (g *gen) closeUpdates(c *colState) {
	if c.enc == nil {
		return
	}
	g.files = append(g.files, c.info)
	g.pool.submit(g.ctx, job{path: filepath.Join(g.out, c.info.Path), comp: g.compression(c.c), data: c.buf.Bytes(), damage: c.info.Damage, info: c.info})
	c.enc, c.info, c.buf = nil, nil, nil
}

// dumpRIB writes collector ci's RIB dump at t.
func (g *gen) dumpRIB(ci int, t int64) error {
	c := g.cols[ci]
	info := &FileInfo{Path: g.relPath(c.c, "rib", t), Collector: c.c.Name, Kind: "rib", Time: time.Unix(t, 0).UTC()}
	g.files = append(g.files, info)
	est := int64(len(g.w.pfx)) * int64(len(c.sessions)) * 48
	path := filepath.Join(g.out, info.Path)
	var sink io.Writer
	var closeSink func() error
	var mem *bytes.Buffer
	if est < 256<<20 {
		mem = bytes.NewBuffer(make([]byte, 0, est))
		sink = mem
	} else {
		wc, err := g.pool.stream(g.ctx, path, g.compression(c.c), info)
		if err != nil {
			return err
		}
		sink, closeSink = wc, wc.Close
	}
	bw := bufio.NewWriterSize(sink, 1<<20)
	enc := NewEncoder(bw)
	peers := make([]IndexPeer, len(c.sessions))
	for k, s := range c.sessions {
		peers[k] = IndexPeer{BGPID: s.bgpID, Addr: s.addr, ASN: uint32(s.spec.ASN), AS4: !s.spec.AS2}
	}
	ts := uint32(t)
	if err := enc.PeerIndexTable(ts, collectorID(c.c.Name), "", peers); err != nil {
		return err
	}
	info.Records++
	if len(g.attrCache) < len(g.w.sessions) {
		g.attrCache = make([]attrCacheEntry, len(g.w.sessions)*2)
	}
	sidx := make([]int, len(c.sessions))
	for k, s := range c.sessions {
		sidx[k] = slices.Index(g.w.sessions, s)
	}
	var seq uint32
	for i := range g.w.pfx {
		if i&0xffff == 0 {
			if err := g.ctx.Err(); err != nil {
				return err
			}
		}
		pfx := g.w.pfx[i]
		opened := false
		for k, s := range c.sessions {
			if s.spec.AddPath || !s.up || !s.rib.get(i) {
				continue
			}
			if !opened {
				enc.BeginRIB(ts, seq, pfx, false)
				opened = true
			}
			enc.AddRIBEntry(uint16(k), g.originated(sidx[k], i), 0, g.ribAttrs(sidx[k], i, 1))
			info.RIB++
		}
		if opened {
			if err := enc.EndRIB(); err != nil {
				return err
			}
			seq++
			info.Records++
		}
		for k, s := range c.sessions {
			if !s.spec.AddPath || !s.up || !s.rib.get(i) {
				continue
			}
			enc.BeginRIB(ts, seq, pfx, true)
			enc.AddRIBEntry(uint16(k), g.originated(sidx[k], i), 1, g.ribAttrs(sidx[k], i, 1))
			info.RIB++
			if g.w.twoPaths(i) {
				enc.AddRIBEntry(uint16(k), g.originated(sidx[k], i), 2, g.ribAttrs(sidx[k], i, 2))
				info.RIB++
			}
			if err := enc.EndRIB(); err != nil {
				return err
			}
			seq++
			info.Records++
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", info.Path, err)
	}
	if mem != nil {
		g.pool.submit(g.ctx, job{path: path, comp: g.compression(c.c), data: mem.Bytes(), info: info})
		return nil
	}
	return closeSink()
}

func (g *gen) originated(si, i int) uint32 {
	if g.hasO[si].get(i) {
		return g.orig[uint64(si)<<32|uint64(i)]
	}
	return uint32(g.start - 86400 - int64(hash3(g.w.seed, uint64(si), uint64(i))%(30*86400)))
}

// ribAttrs returns the RIB encoding of session si's route for prefix i,
// cached per session while consecutive prefixes share an origin.
func (g *gen) ribAttrs(si, i int, pathID uint32) []byte {
	ver := g.verOf(si, i)
	key := uint64(g.w.owner[i])<<32 | uint64(ver)<<16 | uint64(pathID)<<8 | uint64(btoi(i >= g.w.nV4)) | 1<<63
	ce := &g.attrCache[si*2+int(pathID-1)]
	if ce.key == key {
		return ce.b
	}
	g.w.attrsFor(&g.attrs, g.w.sessions[si], i, ver, pathID)
	var e Encoder
	ce.b = e.AppendRIBAttrs(ce.b[:0], &g.attrs)
	ce.key = key
	return ce.b
}
