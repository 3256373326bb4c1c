// Package netmeta reads public metadata about networks — who they serve and
// how — and combines it into one access type and one users estimate per
// ASN, each with its source and date:
//
//	APNIC AS population estimates   users and share of a country's users
//	PeeringDB network records       info_type(s): access, transit, content
//	CAIDA AS classification         Transit/Access, Content, Enterprise
//	CAIDA AS-to-organisation        organisation names (and countries)
//	curated mobile operators table  national mobile operators, with sources
//	words in registered names       "mobile", "cellular", ... (weak)
//
// Parsers take the files in their published formats; Resolve applies the
// precedence rules. The package has no SQL: the store keeps the rows of
// each dataset and the resolved values.
package netmeta

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/bgpwatch/bgpwatch"
)

// Dataset names, as stored and reported.
const (
	DatasetAPNIC      = "apnic-aspop"
	DatasetPeeringDB  = "peeringdb-net"
	DatasetCAIDATypes = "caida-as2types"
	DatasetCAIDAOrgs  = "caida-as-org2info"
)

// Datasets lists the dataset names in a fixed order.
var Datasets = []string{DatasetAPNIC, DatasetPeeringDB, DatasetCAIDATypes, DatasetCAIDAOrgs}

// ErrFormat marks input that is not in the expected published format.
var ErrFormat = errors.New("bad metadata format")

// Row is one record of a dataset, reduced to what bgpwatch uses. Fields a
// dataset does not have are zero; Users and Share are -1 when absent.
type Row struct {
	ASN     bgpwatch.ASN
	Country string    // APNIC: the economy; CAIDA orgs: the organisation's country
	Name    string    // PeeringDB net name, CAIDA organisation name, APNIC AS name
	Kind    string    // PeeringDB info_type(s) joined by ";", CAIDA type
	Users   int64     // APNIC estimated users, -1 when absent
	Share   float64   // APNIC share of the economy's users (0..1), -1 when absent
	Updated time.Time // PeeringDB updated, CAIDA changed; zero when absent
}

// Dataset is one parsed file of one source.
type Dataset struct {
	Name   string    // DatasetAPNIC, ...
	Date   time.Time // the date of the data (as the source states it)
	Origin string    // URL or path it was read from
	Rows   []Row
}

// Parse reads a file of the named dataset (raw or gzip).
func Parse(dataset string, r io.Reader, name string) (Dataset, error) {
	rd, err := maybeGzip(r)
	if err != nil {
		return Dataset{}, fmt.Errorf("%s: %w", name, err)
	}
	var ds Dataset
	switch dataset {
	case DatasetAPNIC:
		ds, err = ParseAPNIC(rd, name)
	case DatasetPeeringDB:
		ds, err = ParsePeeringDB(rd, name)
	case DatasetCAIDATypes:
		ds, err = ParseAS2Types(rd, name)
	case DatasetCAIDAOrgs:
		ds, err = ParseASOrg(rd, name)
	default:
		return Dataset{}, fmt.Errorf("%s: %w dataset %q", name, bgpwatch.ErrInvalid, dataset)
	}
	ds.Origin = name
	return ds, err
}

// ParseFile reads a file of the named dataset from disk.
func ParseFile(dataset, path string) (Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return Dataset{}, err
	}
	defer f.Close()
	ds, err := Parse(dataset, f, path)
	if err == nil && ds.Date.IsZero() {
		if st, serr := f.Stat(); serr == nil {
			ds.Date = st.ModTime().UTC().Truncate(24 * time.Hour)
		}
	}
	return ds, err
}

func maybeGzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(2)
	if bytes.Equal(head, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrFormat, err)
		}
		return zr, nil
	}
	return br, nil
}

// decodeJSON reads the JSON document of r (file name) into v; an error
// names the file and the offset.
func decodeJSON(r io.Reader, name string, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: offset %d: %w: %v", name, dec.InputOffset(), ErrFormat, err)
	}
	return nil
}

// jsonASN checks an AS number field of a JSON dataset: present and a
// 32-bit AS number other than 0 (reserved, RFC 7607; no network has it).
func jsonASN(n *int64) (bgpwatch.ASN, bool) {
	if n == nil || *n <= 0 || *n > math.MaxUint32 {
		return 0, false
	}
	return bgpwatch.ASN(*n), true
}
