package netmeta

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FileNames are the names LoadDir looks for and fetch writes, by dataset
// (gzip-compressed copies with a .gz suffix are read too). A directory of
// CAIDA's own file names (YYYYMMDD.as2types.txt.gz, ...) works as well:
// the newest such file is used.
var FileNames = map[string]string{
	DatasetAPNIC:      "apnic-aspop.json",
	DatasetPeeringDB:  "peeringdb-net.json",
	DatasetCAIDATypes: "caida-as2types.txt",
	DatasetCAIDAOrgs:  "caida-as-org2info.txt",
}

var patterns = map[string][]string{
	DatasetAPNIC:      {"*aspop*.json", "*aspop*.json.gz"},
	DatasetPeeringDB:  {"*peeringdb*.json", "*peeringdb*.json.gz", "net-0.json", "net.json"},
	DatasetCAIDATypes: {"*as2types*.txt", "*as2types*.txt.gz"},
	DatasetCAIDAOrgs:  {"*as-org2info*.txt", "*as-org2info*.txt.gz"},
}

// FindDir returns, for each dataset present in dir, the file to read.
func FindDir(dir string) (map[string]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("metadata directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("metadata directory %s: not a directory", dir)
	}
	out := map[string]string{}
	for _, ds := range Datasets {
		var found []string
		for _, p := range patterns[ds] {
			m, _ := filepath.Glob(filepath.Join(dir, p))
			found = append(found, m...)
		}
		if len(found) == 0 {
			continue
		}
		// Our own name wins; else the last by name (CAIDA's YYYYMMDD prefix).
		slices.SortFunc(found, func(a, b string) int {
			ao, bo := strings.HasPrefix(filepath.Base(a), FileNames[ds]), strings.HasPrefix(filepath.Base(b), FileNames[ds])
			switch {
			case ao && !bo:
				return 1
			case bo && !ao:
				return -1
			}
			return strings.Compare(a, b)
		})
		out[ds] = found[len(found)-1]
	}
	return out, nil
}

// Loaded is the result of reading a metadata directory: the datasets that
// parsed and, by dataset, why the others did not.
type Loaded struct {
	Datasets []Dataset
	Failed   map[string]error
}

// LoadDir parses every dataset found in dir. A file that fails to parse is
// reported in Failed and left out; the others load.
func LoadDir(dir string) (Loaded, error) {
	files, err := FindDir(dir)
	if err != nil {
		return Loaded{}, err
	}
	l := Loaded{Failed: map[string]error{}}
	for _, ds := range Datasets {
		p, ok := files[ds]
		if !ok {
			continue
		}
		d, err := ParseFile(ds, p)
		if err != nil {
			l.Failed[ds] = err
			continue
		}
		l.Datasets = append(l.Datasets, d)
	}
	if len(files) == 0 {
		return l, fmt.Errorf("metadata directory %s: no dataset files (want %s, %s, %s or %s)", dir,
			FileNames[DatasetAPNIC], FileNames[DatasetPeeringDB], FileNames[DatasetCAIDATypes], FileNames[DatasetCAIDAOrgs])
	}
	return l, nil
}

// LoadDirCheck reports whether dir holds at least one dataset file,
// without parsing any: the files it would read.
func LoadDirCheck(dir string) (map[string]string, error) {
	files, err := FindDir(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("metadata directory %s: no dataset files (want %s, %s, %s or %s)", dir,
			FileNames[DatasetAPNIC], FileNames[DatasetPeeringDB], FileNames[DatasetCAIDATypes], FileNames[DatasetCAIDAOrgs])
	}
	return files, nil
}
