package fetch

import (
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/bgpwatch/bgpwatch/bgp/mrt"
)

// verify checks a downloaded file and moves it to its final name: MRT
// files must be in the container their name says and read to the end
// without any damage; delegation files must decompress and hold delegation
// rows, and are stored decompressed.
func verify(it Item, part, final string) error {
	if it.Kind == KindDelegation {
		return installDelegation(part, final)
	}
	if err := VerifyMRT(part, path.Ext(it.Rel)); err != nil {
		return err
	}
	return os.Rename(part, final)
}

// VerifyMRT reads an MRT file to the end and returns the first damage
// found: a container other than ext says (".gz", ".bz2", else raw), a
// decompression error, or broken MRT framing.
func VerifyMRT(file, ext string) error {
	f, err := mrt.Open(file)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	want := mrt.Raw
	switch ext {
	case ".gz":
		want = mrt.Gzip
	case ".bz2":
		want = mrt.Bzip2
	}
	if f.Compression() != want {
		return fmt.Errorf("content is %s, name says %s", f.Compression(), want)
	}
	for {
		_, err := f.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// installDelegation decompresses a delegation file (gzip and bzip2 are
// recognised by content), checks that it holds delegation rows and writes
// it to final.
func installDelegation(part, final string) error {
	in, err := os.Open(part)
	if err != nil {
		return err
	}
	defer in.Close()
	br := bufio.NewReader(in)
	magic, _ := br.Peek(4)
	var r io.Reader = br
	switch mrt.Detect(magic) {
	case mrt.Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		r = zr
	case mrt.Bzip2:
		r = bzip2.NewReader(br)
	}
	tmp := filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".tmp")
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	rows, err := copyDelegations(out, r)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && rows == 0 {
		err = errors.New("no delegation rows (registry|cc|type|start|value|date|status)")
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	os.Remove(part)
	return nil
}

// copyDelegations copies r to w, counting well-formed delegation rows; a
// line that is neither a comment, a version/summary line nor a row is
// damage.
func copyDelegations(w io.Writer, r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bw := bufio.NewWriter(w)
	rows, first := 0, true
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		bw.WriteString(line)
		bw.WriteByte('\n')
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			continue
		}
		fl := strings.Split(t, "|")
		isFirst := first
		first = false
		switch {
		case len(fl) >= 6 && fl[5] == "summary":
		case len(fl) >= 7 && (fl[2] == "asn" || fl[2] == "ipv4" || fl[2] == "ipv6"):
			rows++
		case isFirst && len(fl) >= 6 && t[0] >= '0' && t[0] <= '9': // version: 2|registry|serial|records|...
		default:
			return rows, fmt.Errorf("line %d: not a delegation row", ln)
		}
	}
	if err := sc.Err(); err != nil {
		return rows, fmt.Errorf("decompress: %w", err)
	}
	return rows, bw.Flush()
}
