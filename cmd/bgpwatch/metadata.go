package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/fetch"
	"github.com/bgpwatch/bgpwatch/netmeta"
	"github.com/bgpwatch/bgpwatch/store"
)

// Default locations of the public network metadata.
const (
	defaultAPNICURL     = "https://stats.labs.apnic.net/cgi-bin/aspop?f=j"
	defaultPeeringDBURL = "https://www.peeringdb.com/api/net?fields=asn,name,info_type,info_types,info_scope,status,updated"
	defaultCAIDATypes   = "https://publicdata.caida.org/datasets/as-classification_restricted/"
	defaultCAIDAOrgs    = "https://publicdata.caida.org/datasets/as-organizations/"
)

// metaFlags select the network metadata: --metadata-dir reads saved files
// (offline); with download set (fetch --metadata, serve --metadata) the
// files are first downloaded into the cache.
type metaFlags struct {
	dir        string
	download   bool
	apnicURL   string
	pdbURL     string
	caidaTypes string
	caidaOrgs  string
	cacheDir   string
}

// addMetaFlags registers --metadata-dir and, when withDownload, --metadata
// and the source URLs.
func addMetaFlags(fs *flag.FlagSet, e *env, withDownload bool) *metaFlags {
	m := &metaFlags{}
	fs.StringVar(&m.dir, "metadata-dir", "", "`directory` of saved network metadata files to import (apnic-aspop.json, peeringdb-net.json, caida-as2types.txt, caida-as-org2info.txt; raw or .gz)")
	if !withDownload {
		return m
	}
	fs.BoolVar(&m.download, "metadata", false, "download the public network metadata (APNIC users per AS, PeeringDB networks, CAIDA AS classification and AS-to-organisation) into the cache and import it")
	fs.StringVar(&m.apnicURL, "apnic-url", envOr(e, "BGPWATCH_APNIC_URL", defaultAPNICURL), "APNIC AS population estimates `URL` (JSON)")
	fs.StringVar(&m.pdbURL, "peeringdb-url", envOr(e, "BGPWATCH_PEERINGDB_URL", defaultPeeringDBURL), "PeeringDB net objects `URL` (API or saved dump)")
	fs.StringVar(&m.caidaTypes, "caida-types-url", envOr(e, "BGPWATCH_CAIDA_TYPES_URL", defaultCAIDATypes), "directory `URL` of CAIDA's YYYYMMDD.as2types.txt.gz files (the newest is used)")
	fs.StringVar(&m.caidaOrgs, "caida-orgs-url", envOr(e, "BGPWATCH_CAIDA_ORGS_URL", defaultCAIDAOrgs), "directory `URL` of CAIDA's YYYYMMDD.as-org2info.txt.gz files (the newest is used)")
	m.cacheDir = fetch.DefaultCacheDir(e.getenv)
	return m
}

// any reports whether any metadata was asked for.
func (m *metaFlags) any() bool { return m.dir != "" || m.download }

// load parses the metadata: downloaded into the cache (when asked), then
// the files of --metadata-dir, which win for the datasets they hold.
func (m *metaFlags) load(ctx context.Context, log *slog.Logger) (netmeta.Loaded, error) {
	l := netmeta.Loaded{Failed: map[string]error{}}
	if m.download {
		dir := filepath.Join(m.cacheDir, "metadata")
		failed := downloadMetadata(ctx, m, dir, log)
		got, err := netmeta.LoadDir(dir)
		if err != nil && len(failed) == 0 {
			return l, err
		}
		l.Datasets = got.Datasets
		for k, v := range got.Failed {
			l.Failed[k] = v
		}
		for k, v := range failed {
			if !slices.ContainsFunc(l.Datasets, func(d netmeta.Dataset) bool { return d.Name == k }) {
				l.Failed[k] = v
			} else {
				log.Warn("metadata download failed, using the cached copy", "dataset", k, "err", v)
			}
		}
	}
	if m.dir != "" {
		got, err := netmeta.LoadDir(m.dir)
		if err != nil {
			return l, err
		}
		for _, d := range got.Datasets {
			l.Datasets = slices.DeleteFunc(l.Datasets, func(x netmeta.Dataset) bool { return x.Name == d.Name })
			l.Datasets = append(l.Datasets, d)
			delete(l.Failed, d.Name)
		}
		for k, v := range got.Failed {
			l.Failed[k] = v
		}
	}
	return l, nil
}

// importMetadata loads the metadata (see load) and imports it; with
// nothing asked for it only recomputes the stored metadata (curated table,
// registry names). Results go to w, one line per dataset.
func (m *metaFlags) importMetadata(ctx context.Context, st *store.DB, w io.Writer, log *slog.Logger) error {
	var l netmeta.Loaded
	if m.any() {
		var err error
		if l, err = m.load(ctx, log); err != nil {
			return err
		}
	}
	res, err := st.ImportNetworkMeta(ctx, l.Datasets, l.Failed)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Imported {
			fmt.Fprintf(w, "metadata: %s: %d rows of %s imported from %s\n", r.Dataset, r.Rows, dateOr(r.Date), r.Origin)
		} else {
			fmt.Fprintf(w, "metadata: %s: %s\n", r.Dataset, r.Reason)
		}
	}
	return nil
}

func dateOr(t time.Time) string {
	if t.IsZero() {
		return "undated data"
	}
	return t.Format("2006-01-02")
}

// downloadMetadata fetches each source into dir under netmeta.FileNames.
// A file is parsed before it replaces the cached copy, so a broken
// download never hides a good older one. It returns the failures by
// dataset.
func downloadMetadata(ctx context.Context, m *metaFlags, dir string, log *slog.Logger) map[string]error {
	failed := map[string]error{}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		for _, ds := range netmeta.Datasets {
			failed[ds] = err
		}
		return failed
	}
	client := &http.Client{Timeout: 10 * time.Minute}
	get := func(ds, u string) error {
		if ds == netmeta.DatasetCAIDATypes || ds == netmeta.DatasetCAIDAOrgs {
			suffix := ".as2types.txt.gz"
			if ds == netmeta.DatasetCAIDAOrgs {
				suffix = ".as-org2info.txt.gz"
			}
			newest, err := newestListed(ctx, client, u, suffix)
			if err != nil {
				return err
			}
			u = newest
		}
		return downloadVerified(ctx, client, ds, u, filepath.Join(dir, netmeta.FileNames[ds]))
	}
	for ds, u := range map[string]string{
		netmeta.DatasetAPNIC: m.apnicURL, netmeta.DatasetPeeringDB: m.pdbURL,
		netmeta.DatasetCAIDATypes: m.caidaTypes, netmeta.DatasetCAIDAOrgs: m.caidaOrgs,
	} {
		if u == "" || u == "none" {
			continue
		}
		if err := get(ds, u); err != nil {
			failed[ds] = err
			log.Warn("metadata download failed", "dataset", ds, "url", u, "err", err)
		}
	}
	return failed
}

var hrefRe = regexp.MustCompile(`href="([^"]+)"`)

// newestListed reads a directory index page and returns the address of
// the newest YYYYMMDD<suffix> file in it.
func newestListed(ctx context.Context, c *http.Client, dirURL, suffix string) (string, error) {
	body, err := httpGet(ctx, c, dirURL, 8<<20)
	if err != nil {
		return "", err
	}
	base, err := url.Parse(dirURL)
	if err != nil {
		return "", err
	}
	var best string
	for _, m := range hrefRe.FindAllStringSubmatch(string(body), -1) {
		name := filepath.Base(m[1])
		if len(name) == 8+len(suffix) && strings.HasSuffix(name, suffix) && isDigits(name[:8]) && name > filepath.Base(best) {
			ref, err := base.Parse(m[1])
			if err == nil {
				best = ref.String()
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s: no YYYYMMDD%s file listed", dirURL, suffix)
	}
	return best, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func httpGet(ctx context.Context, c *http.Client, u string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "bgpwatch/"+version)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", u, limit)
	}
	return b, nil
}

// downloadVerified downloads u to a hidden .part file beside dest, parses
// it as dataset ds and only then renames it to dest.
func downloadVerified(ctx context.Context, c *http.Client, ds, u, dest string) error {
	body, err := httpGet(ctx, c, u, 2<<30)
	if err != nil {
		return err
	}
	part := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".part")
	if err := os.WriteFile(part, body, 0o644); err != nil {
		return err
	}
	d, err := netmeta.ParseFile(ds, part)
	if err == nil && len(d.Rows) == 0 {
		err = errors.New("no rows")
	}
	if err != nil {
		os.Remove(part)
		return fmt.Errorf("%s: downloaded file rejected: %w", u, err)
	}
	return os.Rename(part, dest)
}

// withMeta gives the registry the stored access types (every source, with
// provenance) to complete what the registry files say; see info.
func (r *replayRegistry) withMeta(m map[bgpwatch.ASN]bgpwatch.ASNInfo) { r.meta = m }

// fetchMetadata is fetch --metadata / --metadata-dir: load and import.
func fetchMetadata(ctx context.Context, e *env, m *metaFlags, dbf *dbFlags) error {
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dbf.logger = log
	st, err := dbf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return m.importMetadata(ctx, st, e.stderr, log)
}

// refreshMetadata imports the metadata every interval until ctx ends
// (serve --metadata / --metadata-dir). Failures are logged; the previous
// data stays.
func refreshMetadata(ctx context.Context, m *metaFlags, st *store.DB, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := m.importMetadata(ctx, st, slogWriter{log}, log); err != nil && ctx.Err() == nil {
			log.Warn("metadata refresh failed; previous data kept", "err", err)
		}
	}
}

// slogWriter turns importMetadata's report lines into info log records.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		if line != "" {
			w.log.Info(line)
		}
	}
	return len(p), nil
}

// printDryRun lists what --metadata would download and --metadata-dir
// would import, without any request.
func (m *metaFlags) printDryRun(w io.Writer) {
	if m.download {
		dir := filepath.Join(m.cacheDir, "metadata")
		for _, ds := range netmeta.Datasets {
			u := map[string]string{netmeta.DatasetAPNIC: m.apnicURL, netmeta.DatasetPeeringDB: m.pdbURL,
				netmeta.DatasetCAIDATypes: m.caidaTypes + " (newest YYYYMMDD.as2types.txt.gz)",
				netmeta.DatasetCAIDAOrgs:  m.caidaOrgs + " (newest YYYYMMDD.as-org2info.txt.gz)"}[ds]
			fmt.Fprintf(w, "metadata %s -> %s\n", u, filepath.Join(dir, netmeta.FileNames[ds]))
		}
	}
	if m.dir != "" {
		files, err := netmeta.FindDir(m.dir)
		if err != nil {
			fmt.Fprintf(w, "metadata: %v\n", err)
			return
		}
		for _, ds := range netmeta.Datasets {
			if p, ok := files[ds]; ok {
				fmt.Fprintf(w, "metadata import %s (%s)\n", p, ds)
			}
		}
	}
}
