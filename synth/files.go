package synth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// findBZip2 picks the bzip2 compressor. Go has no bzip2 writer, so .bz2
// files are piped through an external program.
func findBZip2() (string, error) {
	for _, name := range []string{"lbzip2", "pbzip2", "bzip2"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no bzip2 compressor for RouteViews files: install lbzip2 or bzip2 (apt-get install lbzip2)")
}

// bzipArgs makes every tool write one deterministic stream to stdout.
func bzipArgs(tool string, threads int) []string {
	switch filepath.Base(tool) {
	case "lbzip2":
		return []string{"-1", "-c", "-n", fmt.Sprint(threads)}
	case "pbzip2":
		return []string{"-1", "-c", fmt.Sprintf("-p%d", threads)}
	}
	return []string{"-1", "-c"}
}

// job is one file to compress and write.
type job struct {
	path   string
	comp   string // "gzip" or "bzip2"
	data   []byte
	damage string
	info   *FileInfo
}

// writerPool compresses and writes files on a few goroutines.
type writerPool struct {
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	bz   string
	dirs sync.Map
	gz   sync.Pool
}

func newWriterPool(n int, bz string) *writerPool {
	return &writerPool{sem: make(chan struct{}, n), bz: bz}
}

func (p *writerPool) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
}

func (p *writerPool) wait() error {
	p.wg.Wait()
	return p.err
}

func (p *writerPool) mkdir(path string) error {
	d := filepath.Dir(path)
	if _, ok := p.dirs.Load(d); ok {
		return nil
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", d, err)
	}
	p.dirs.Store(d, true)
	return nil
}

func (p *writerPool) submit(ctx context.Context, j job) {
	p.sem <- struct{}{}
	p.wg.Add(1)
	go func() {
		defer func() { <-p.sem; p.wg.Done() }()
		if err := p.write(ctx, j); err != nil {
			p.fail(err)
		}
	}()
}

// notMRT is what a collector sometimes serves instead of an update file.
const notMRT = "<html><head><title>503 Service Unavailable</title></head>\n<body>The archive is being rebuilt. Try again later.</body></html>\n"

func (p *writerPool) write(ctx context.Context, j job) error {
	if err := p.mkdir(j.path); err != nil {
		return err
	}
	var out bytes.Buffer
	switch {
	case j.damage == string(NotMRT):
		out.WriteString(notMRT)
	case j.comp == "gzip":
		zw, _ := p.gz.Get().(*gzip.Writer)
		if zw == nil {
			zw, _ = gzip.NewWriterLevel(&out, gzip.DefaultCompression)
		} else {
			zw.Reset(&out)
		}
		defer p.gz.Put(zw)
		if _, err := zw.Write(j.data); err != nil {
			return fmt.Errorf("compress %s: %w", j.path, err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("compress %s: %w", j.path, err)
		}
	default:
		cmd := exec.CommandContext(ctx, p.bz, bzipArgs(p.bz, 1)...)
		cmd.Stdin = bytes.NewReader(j.data)
		cmd.Stdout = &out
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("bzip2 %s: %w: %s", j.path, err, strings.TrimSpace(stderr.String()))
		}
	}
	b := out.Bytes()
	if j.damage == string(Truncate) {
		b = b[:len(b)*3/5]
	}
	if err := os.WriteFile(j.path, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", j.path, err)
	}
	p.mu.Lock()
	j.info.Bytes = int64(len(b))
	p.mu.Unlock()
	return nil
}

// stream opens a compressing writer for a file too large to hold in memory;
// compression runs on another goroutine (or process) while the caller
// encodes.
func (p *writerPool) stream(ctx context.Context, path, comp string, info *FileInfo) (io.WriteCloser, error) {
	if err := p.mkdir(path); err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	s := &streamWriter{f: f, info: info, path: path}
	if comp == "gzip" {
		pr, pw := io.Pipe()
		s.pw = pw
		s.done = make(chan error, 1)
		go func() {
			bw := bufio.NewWriterSize(f, 1<<20)
			zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
			_, err := io.Copy(zw, pr)
			if err == nil {
				err = zw.Close()
			}
			if err == nil {
				err = bw.Flush()
			}
			pr.CloseWithError(err)
			s.done <- err
		}()
		return s, nil
	}
	cmd := exec.CommandContext(ctx, p.bz, bzipArgs(p.bz, runtimeProcs())...)
	cmd.Stdout = f
	in, err := cmd.StdinPipe()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("bzip2 %s: %w", path, err)
	}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("bzip2 %s: %w", path, err)
	}
	s.pw, s.cmd = in, cmd
	return s, nil
}

type streamWriter struct {
	f    *os.File
	pw   io.WriteCloser
	cmd  *exec.Cmd
	done chan error
	info *FileInfo
	path string
}

func (s *streamWriter) Write(b []byte) (int, error) { return s.pw.Write(b) }

func (s *streamWriter) Close() error {
	err := s.pw.Close()
	if s.done != nil {
		if e := <-s.done; err == nil {
			err = e
		}
	}
	if s.cmd != nil {
		if e := s.cmd.Wait(); err == nil && e != nil {
			err = e
		}
	}
	if st, e := s.f.Stat(); e == nil {
		s.info.Bytes = st.Size()
	}
	if e := s.f.Close(); err == nil && e != nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return nil
}

// ---- RIR delegation files and ASN info

// writeRIRFiles writes classic and extended delegation files per RIR into
// OUT/rir and returns their paths relative to out.
func writeRIRFiles(out string, sc *Scenario, w *world) ([]string, error) {
	date := sc.Start.UTC().Format("20060102")
	type row struct {
		cc, typ, start, value, date, status, opaque string
		sortKey                                     string
	}
	rows := map[string][]row{}
	for _, a := range w.ases {
		rir := rirOf(a.country)
		opaque := fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", mix(uint64(a.asn))&0xffffffff, a.asn&0xffff, 0x4000|mix(uint64(a.asn)+9)&0xfff, 0x8000|mix(uint64(a.asn)+7)&0x3fff, mix(uint64(a.asn)+5)&0xffffffffffff)
		rows[rir] = append(rows[rir], row{cc: a.country, typ: "asn", start: fmt.Sprint(a.asn), value: "1", date: a.regDate, status: "allocated", opaque: opaque, sortKey: fmt.Sprintf("1%010d", a.asn)})
		for _, p := range a.v4blocks {
			rows[rir] = append(rows[rir], row{cc: a.country, typ: "ipv4", start: p.Addr().String(), value: fmt.Sprint(uint64(1) << (32 - p.Bits())), date: a.regDate, status: "allocated", opaque: opaque, sortKey: fmt.Sprintf("2%010d", addrU32(p.Addr()))})
		}
		for _, p := range a.v6blocks {
			b := p.Addr().As16()
			rows[rir] = append(rows[rir], row{cc: a.country, typ: "ipv6", start: p.Addr().String(), value: fmt.Sprint(p.Bits()), date: a.regDate, status: "allocated", opaque: opaque, sortKey: fmt.Sprintf("3%x", b[:8])})
		}
	}
	if err := os.MkdirAll(filepath.Join(out, "rir"), 0o755); err != nil {
		return nil, fmt.Errorf("create rir directory: %w", err)
	}
	rirs := make([]string, 0, len(rows))
	for r := range rows {
		rirs = append(rirs, r)
	}
	sort.Strings(rirs)
	var files []string
	serial := sc.Start.UTC().Add(-time.Second).Unix()
	for _, rir := range rirs {
		rs := rows[rir]
		sort.Slice(rs, func(a, b int) bool { return rs[a].sortKey < rs[b].sortKey })
		count := map[string]int{}
		for _, r := range rs {
			count[r.typ]++
		}
		for _, ext := range []bool{false, true} {
			var b strings.Builder
			n := len(rs)
			if ext {
				n += 2
			}
			// Version line: version|registry|serial|records|startdate|enddate|UTCoffset.
			fmt.Fprintf(&b, "2|%s|%d|%d|19830705|%s|+0000\n", rir, serial, n, date)
			for _, t := range []string{"asn", "ipv4", "ipv6"} {
				c := count[t]
				if ext && t != "ipv6" {
					c++ // the available/reserved rows below
				}
				fmt.Fprintf(&b, "%s|*|%s|*|%d|summary\n", rir, t, c)
			}
			for _, r := range rs {
				if ext {
					fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%s|%s\n", rir, r.cc, r.typ, r.start, r.value, r.date, r.status, r.opaque)
				} else {
					fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%s|%s\n", rir, r.cc, r.typ, r.start, r.value, r.date, r.status)
				}
			}
			name := "delegated-" + rir + "-" + date
			if ext {
				// Extended files also list free and reserved resources.
				fmt.Fprintf(&b, "%s||asn|64000|1||reserved|\n", rir)
				fmt.Fprintf(&b, "%s||ipv4|223.255.0.0|256||available|\n", rir)
				name = "delegated-" + rir + "-extended-" + date
			}
			if err := os.WriteFile(filepath.Join(out, "rir", name), []byte(b.String()), 0o644); err != nil {
				return nil, fmt.Errorf("write %s: %w", name, err)
			}
			files = append(files, filepath.Join("rir", name))
		}
	}
	return files, nil
}

// writeASNInfo writes the ASN info CSV that replay --asn-info reads
// (asn,name,access).
func writeASNInfo(path string, w *world) error {
	var b strings.Builder
	b.WriteString("asn,name,access\n")
	as := make([]*asEntry, len(w.ases))
	for i := range w.ases {
		as[i] = &w.ases[i]
	}
	sort.Slice(as, func(x, y int) bool { return as[x].asn < as[y].asn })
	for _, a := range as {
		name := a.name
		if strings.ContainsAny(name, ",\"\n") {
			name = `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
		}
		fmt.Fprintf(&b, "%d,%s,%s\n", a.asn, name, a.access)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write asn info: %w", err)
	}
	return nil
}
