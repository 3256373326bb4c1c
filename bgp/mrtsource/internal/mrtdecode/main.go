// Command mrtdecode reads MRT files through mrtsource (the decode path of
// replay) and prints observation counts; scripts/bench-mrt.sh times it.
//
//	mrtdecode FILE...                 decode to observations (replay's path)
//	mrtdecode -records FILE...        only decompress and frame records
//	mrtdecode -repeat N -o OUT FILE   write the file's complete records N times (raw)
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/bgp/mrt"
	"github.com/bgpwatch/bgpwatch/bgp/mrtsource"
)

func main() {
	records := flag.Bool("records", false, "only read records (decompression and framing)")
	repeat := flag.Int("repeat", 0, "write the complete records of FILE this many times to -o")
	out := flag.String("o", "", "output file for -repeat (raw MRT)")
	flag.Parse()
	var err error
	switch {
	case *repeat > 0:
		err = repeatFile(flag.Arg(0), *out, *repeat)
	case *records:
		err = readRecords(flag.Args())
	default:
		err = decode(flag.Args())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mrtdecode:", err)
		os.Exit(1)
	}
}

func decode(paths []string) error {
	var kinds [8]int
	damage := 0
	for _, path := range paths {
		s, err := mrtsource.Open(path, mrtsource.Options{Collector: "bench"})
		if err != nil {
			return err
		}
		for {
			o, err := s.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				damage++
				continue
			}
			kinds[o.Kind]++
		}
		s.Close()
	}
	for k, n := range kinds {
		if n > 0 {
			fmt.Printf("%s %d\n", bgpwatch.ObservationKind(k), n)
		}
	}
	fmt.Printf("damage %d\n", damage)
	return nil
}

func readRecords(paths []string) error {
	n, damage := 0, 0
	for _, path := range paths {
		f, err := mrt.Open(path)
		if err != nil {
			return err
		}
		for {
			_, err := f.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				damage++
				continue
			}
			n++
		}
		f.Close()
	}
	fmt.Printf("records %d damage %d\n", n, damage)
	return nil
}

func repeatFile(in, out string, times int) error {
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(o, 1<<20)
	for i := 0; i < times; i++ {
		f, err := mrt.Open(in)
		if err != nil {
			return err
		}
		for {
			rec, err := f.Next()
			if err != nil {
				break // EOF or damage: stop at the last complete record
			}
			var h [16]byte
			binary.BigEndian.PutUint32(h[0:], rec.Timestamp)
			binary.BigEndian.PutUint16(h[4:], rec.Type)
			binary.BigEndian.PutUint16(h[6:], rec.Subtype)
			hl, l := 12, uint32(len(rec.Body))
			if rec.Type == mrt.TypeBGP4MPET {
				binary.BigEndian.PutUint32(h[12:], rec.Micro)
				hl, l = 16, l+4
			}
			binary.BigEndian.PutUint32(h[8:], l)
			w.Write(h[:hl])
			w.Write(rec.Body)
		}
		f.Close()
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return o.Close()
}
