package mrt

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
)

// Compression is the container format of an MRT file, found by content.
type Compression int

// Supported containers.
const (
	Raw Compression = iota
	Gzip
	Bzip2
)

func (c Compression) String() string {
	return [...]string{"raw", "gzip", "bzip2"}[c]
}

// Detect tells the container format from the first bytes of a file.
func Detect(magic []byte) Compression {
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return Gzip
	case len(magic) >= 4 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h' && magic[3] >= '1' && magic[3] <= '9':
		return Bzip2
	}
	return Raw
}

// File is an open MRT file: a Reader over its decompressed content.
type File struct {
	*Reader
	f           *os.File
	size        int64
	read        *atomic.Int64
	compression Compression
	closers     []io.Closer
}

// OpenOptions tunes Open.
type OpenOptions struct {
	// NoExternal disables piping bzip2 through lbzip2/pbzip2 (the Go
	// decoder is then used; it is about 2x slower than bzcat).
	NoExternal bool
}

// Open opens an MRT file, raw or compressed with gzip or bzip2 (detected by
// content, not by name).
func Open(path string) (*File, error) { return OpenWith(path, OpenOptions{}) }

// OpenWith is Open with options.
func OpenWith(path string, opt OpenOptions) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var n atomic.Int64
	cr := &countingReader{r: f, n: &n}
	br := bufio.NewReaderSize(cr, 64<<10)
	magic, _ := br.Peek(4)
	file := &File{f: f, size: st.Size(), read: &n, compression: Detect(magic)}
	var src io.Reader
	switch file.compression {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, &FormatError{File: path, Offset: 0, Reason: "bad gzip header: " + err.Error(), Err: err}
		}
		ra := newReadAhead(zr)
		file.closers = append(file.closers, ra, zr)
		src = ra
	case Bzip2:
		if bin := bzip2Tool(opt); bin != "" {
			pr := &pipeBzip2{path: path, bin: bin, in: br, count: &n}
			if err := pr.start(); err == nil {
				file.closers = append(file.closers, pr)
				src = pr
				break
			}
		}
		ra := newReadAhead(bzip2.NewReader(br))
		file.closers = append(file.closers, ra)
		src = ra
	default:
		src = br
	}
	file.Reader = NewReader(src, path)
	return file, nil
}

// Size is the file size in bytes.
func (f *File) Size() int64 { return f.size }

// BytesRead is how many bytes of the (compressed) file were consumed so far.
func (f *File) BytesRead() int64 { return f.read.Load() }

// Compression is the detected container format.
func (f *File) Compression() Compression { return f.compression }

// Close releases the file and any helper process.
func (f *File) Close() error {
	for _, c := range f.closers {
		c.Close()
	}
	return f.f.Close()
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func bzip2Tool(opt OpenOptions) string {
	if opt.NoExternal {
		return ""
	}
	for _, name := range []string{"lbzip2", "pbzip2"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// pipeBzip2 decodes bzip2 with an external parallel decoder. Such tools stop
// early on a truncated or corrupt stream without emitting the last good
// blocks, so when the tool fails, pipeBzip2 re-decodes the file with the Go
// decoder, skips what was already delivered and continues from there: the
// output is then exactly what a sequential decoder (bzcat) would produce,
// followed by its error.
type pipeBzip2 struct {
	path     string
	bin      string
	in       io.Reader
	count    *atomic.Int64
	cmd      *exec.Cmd
	out      io.ReadCloser
	stderr   bytes.Buffer
	produced int64
	fallback io.Reader
	ff       *os.File
	done     bool
}

func (p *pipeBzip2) start() error {
	p.cmd = exec.Command(p.bin, "-dc")
	p.cmd.Stdin = p.in
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	p.out = out
	return p.cmd.Start()
}

func (p *pipeBzip2) Read(b []byte) (int, error) {
	if p.fallback != nil {
		return p.fallback.Read(b)
	}
	if p.done {
		return 0, io.EOF
	}
	n, err := p.out.Read(b)
	p.produced += int64(n)
	if err == nil {
		return n, nil
	}
	if !errors.Is(err, io.EOF) {
		return n, err
	}
	werr := p.cmd.Wait()
	p.cmd = nil
	if werr == nil {
		p.done = true
		return n, io.EOF
	}
	// The tool failed: continue with the Go decoder from the same point.
	if ferr := p.switchToFallback(); ferr != nil {
		return n, ferr
	}
	if n > 0 {
		return n, nil
	}
	return p.fallback.Read(b)
}

func (p *pipeBzip2) switchToFallback() error {
	f, err := os.Open(p.path)
	if err != nil {
		return err
	}
	p.ff = f
	p.count.Store(0)
	zr := bzip2.NewReader(bufio.NewReaderSize(&countingReader{r: f, n: p.count}, 64<<10))
	if _, err := io.CopyN(io.Discard, zr, p.produced); err != nil {
		return fmt.Errorf("bzip2: %w", err)
	}
	p.fallback = zr
	return nil
}

func (p *pipeBzip2) Close() error {
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		p.cmd = nil
	}
	if p.ff != nil {
		p.ff.Close()
	}
	return nil
}
