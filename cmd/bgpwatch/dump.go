package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bgpwatch/bgpwatch/bgp/bmp"
	"github.com/bgpwatch/bgpwatch/bgp/mrt"
	"github.com/bgpwatch/bgpwatch/ingest"
)

func init() {
	register(&command{name: "dump", summary: "print every MRT record or BMP capture (bgpdump -m compatible)", run: runDump})
}

const dumpHelp = `Prints every route of the MRT files (raw, gzip or bzip2, detected by
content) one per line. A PATH that is a directory stands for the files under
it, found as replay finds them (walked recursively, symbolic links followed,
in time order); a directory without any file is a usage error (exit 2).

--format bgpdump (the default) prints exactly what 'bgpdump -m' prints:
  TABLE_DUMP2|time|B|peer|peer_as|prefix|as_path|origin|next_hop|local_pref|med|communities|AG/NAG|aggregator|
  BGP4MP|time|A|... for announcements, BGP4MP|time|W|peer|peer_as|prefix for
  withdrawals, BGP4MP|time|STATE|peer|peer_as|old|new for state changes
  (_AP, _ET, _LOCAL variants, TABLE_DUMP for the v1 format, as bgpdump).
--format json prints one JSON object per line with the same fields.

Damaged input: records up to the damage are printed; the damage (file,
byte offset in the uncompressed stream, reason) is reported on stderr and
reading resumes at the next plausible record when the framing allows.

BMP (RFC 7854) is read too, detected by content: a raw BMP byte stream
(what a router sends to a station) or a pcap/pcapng capture of BMP TCP
sessions (each direction reassembled in sequence order). Route
Monitoring messages print as BGP4MP lines of their monitored peer (every
RIB kind: pre- and post-policy Adj-RIB-In, Adj-RIB-Out, Loc-RIB), Peer Up
and Peer Down as STATE lines to 6 (Established) and to 1 (Idle).
Damage does not change the exit status; it is 1 only when a file could not
be opened at all (all other files are still printed).`

func runDump(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dump", "[--format bgpdump|json] PATH...", dumpHelp)
	format := fs.String("format", "bgpdump", "output format: bgpdump or json")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	var f mrt.Formatter
	switch *format {
	case "bgpdump":
		f.Format = mrt.FormatBgpdump
	case "json":
		f.Format = mrt.FormatJSON
	default:
		return fmt.Errorf("%w: --format must be bgpdump or json, not %q", errUsage, *format)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: no MRT file given", errUsage)
	}
	// A directory stands for the files under it, found as replay finds
	// them (links followed, time order); one with none is a usage error.
	var paths []string
	for _, arg := range fs.Args() {
		if st, err := os.Stat(arg); err != nil || !st.IsDir() {
			paths = append(paths, arg) // a file, or an error reported below
			continue
		}
		found, err := ingest.Scan([]string{arg})
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		for _, sk := range found.Skipped {
			fmt.Fprintf(e.stderr, "bgpwatch dump: not reading %s: %s\n", sk.Path, sk.Reason)
		}
		if len(found.Files) == 0 {
			return fmt.Errorf("%w: %s is a directory with no files to read (%d entries skipped)", errUsage, arg, len(found.Skipped))
		}
		for _, f := range found.Files {
			paths = append(paths, f.Path)
		}
	}
	w := bufio.NewWriterSize(e.stdout, 256<<10)
	var failed int
	for _, path := range paths {
		if err := ctx.Err(); err != nil {
			w.Flush()
			return err
		}
		if err := dumpFile(ctx, path, &f, w, e.stderr); err != nil {
			fmt.Fprintf(e.stderr, "bgpwatch dump: %v\n", err)
			failed++
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files could not be opened", failed, len(paths))
	}
	return nil
}

// dumpFile prints one file; it returns an error only when the file cannot
// be opened (damage inside it is reported on stderr).
func dumpFile(ctx context.Context, path string, f *mrt.Formatter, w *bufio.Writer, stderr io.Writer) error {
	if ok, err := dumpBMP(path, f, w, stderr); ok || err != nil {
		return err
	}
	file, err := mrt.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	var buf []byte
	for n := 0; ; n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			return nil
		}
		rec, err := file.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var fe *mrt.FormatError
			if !errors.As(err, &fe) {
				return err
			}
			fmt.Fprintf(stderr, "bgpwatch dump: %v\n", err)
			if rec == nil {
				continue
			}
		}
		peers, ok := file.Peers()
		if !ok {
			peers = nil
		}
		buf, err = f.Append(buf[:0], rec, peers)
		if err != nil {
			fmt.Fprintf(stderr, "bgpwatch dump: %v\n", err)
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
}

// dumpBMP prints path if it is a BMP stream or a capture of BMP sessions
// (found by content) and reports whether it was.
func dumpBMP(path string, f *mrt.Formatter, w *bufio.Writer, stderr io.Writer) (bool, error) {
	file, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer file.Close()
	br := bufio.NewReaderSize(file, 64<<10)
	head, _ := br.Peek(bmp.CommonHeaderLen)
	d := bmp.Dumper{Formatter: mrt.Formatter{Format: f.Format}}
	switch {
	case bmp.IsCapture(head):
		streams, err := bmp.ReadCapture(br)
		if err != nil {
			return true, fmt.Errorf("%s: %w", path, err)
		}
		n := 0
		for _, s := range streams {
			if !bmp.LooksLikeBMP(s.Data) {
				continue
			}
			n++
			name := fmt.Sprintf("%s: %s->%s", path, s.Src, s.Dst)
			if err := d.DumpStream(bytes.NewReader(s.Data), name, w, stderr); err != nil {
				return true, fmt.Errorf("write output: %w", err)
			}
			if s.Gap {
				fmt.Fprintf(stderr, "bgpwatch dump: %s: segments missing from the capture after byte %d (%d bytes later not read)\n", name, len(s.Data), s.Lost)
			}
		}
		if n == 0 {
			fmt.Fprintf(stderr, "bgpwatch dump: %s: no BMP session in the capture\n", path)
		}
		return true, nil
	case bmp.LooksLikeBMP(head):
		if err := d.DumpStream(br, path, w, stderr); err != nil {
			return true, fmt.Errorf("write output: %w", err)
		}
		return true, nil
	}
	return false, nil
}
