package fetch

import (
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

var (
	errNeedRange    = errors.New("need both a start and an end time")
	errBadRange     = errors.New("end time must be after start time")
	errNoCollectors = errors.New("no collectors given")
	// ErrNotFound reports a file the archive does not have (HTTP 404/410).
	ErrNotFound = errors.New("not found upstream")
	// ErrVerify reports a downloaded file that failed verification.
	ErrVerify = errors.New("verification failed")
)

// Options configure Select and Fetch. The zero value fetches from the public
// archives into DefaultCacheDir with 4 connections.
type Options struct {
	// RISURL and RouteViewsURL are the archive roots (defaults
	// DefaultRISURL, DefaultRouteViewsURL).
	RISURL, RouteViewsURL string
	// Registries are the RIR delegation file locations; nil means
	// DefaultRegistries().
	Registries []Registry
	// CacheDir is where files go (default DefaultCacheDir).
	CacheDir string
	// Parallel is the number of simultaneous downloads (default 4).
	Parallel int
	// UserAgent is sent with every request (default "bgpwatch/dev").
	UserAgent string
	// Client does the requests; nil builds one with connect and
	// response-header timeouts.
	Client *http.Client
	// IdleTimeout aborts (and later resumes) a transfer that receives
	// nothing for this long (default 2 minutes).
	IdleTimeout time.Duration
	// Retries is how often a failed transfer is retried (default 5);
	// RetryWait the first back-off (default 2 s, doubling, at most
	// MaxRetryWait, default 2 minutes). A Retry-After header wins up to
	// MaxRetryWait.
	Retries      int
	RetryWait    time.Duration
	MaxRetryWait time.Duration
	// RetryMissing asks again for files recorded as missing upstream.
	RetryMissing bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Sleep waits between retries (default: a timer honouring ctx).
	Sleep func(ctxDone <-chan struct{}, d time.Duration) bool
	// Logger receives one line per missing or failed file; nil discards.
	Logger *slog.Logger
	// Progress, when set, is called every ProgressEvery (default 1 s) and
	// once at the end with Done set.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// DefaultCacheDir is $BGPWATCH_CACHE_DIR, else $XDG_CACHE_HOME/bgpwatch,
// else ~/.cache/bgpwatch, given an environment lookup function.
func DefaultCacheDir(getenv func(string) string) string {
	if d := getenv("BGPWATCH_CACHE_DIR"); d != "" {
		return d
	}
	if d := getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "bgpwatch")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".cache", "bgpwatch")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "bgpwatch")
	}
	return filepath.Join(os.TempDir(), "bgpwatch-cache")
}

func (o Options) risURL() string {
	if o.RISURL != "" {
		return o.RISURL
	}
	return DefaultRISURL
}

func (o Options) routeViewsURL() string {
	if o.RouteViewsURL != "" {
		return o.RouteViewsURL
	}
	return DefaultRouteViewsURL
}

// withDefaults fills unset options.
func (o Options) withDefaults() Options {
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir(os.Getenv)
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.UserAgent == "" {
		o.UserAgent = "bgpwatch/dev"
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 2 * time.Minute
	}
	if o.Retries == 0 {
		o.Retries = 5
	}
	if o.RetryWait <= 0 {
		o.RetryWait = 2 * time.Second
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = 2 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.Client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = time.Minute
		t.MaxConnsPerHost = o.Parallel
		t.MaxIdleConnsPerHost = o.Parallel
		o.Client = &http.Client{Transport: t}
	}
	return o
}

func sleep(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// CachedPath returns where it lives in the cache and whether a verified
// copy is there already (files get their final name only once verified).
func (o Options) CachedPath(it Item) (string, bool) {
	dir := o.CacheDir
	if dir == "" {
		dir = DefaultCacheDir(os.Getenv)
	}
	p := filepath.Join(dir, filepath.FromSlash(it.Rel))
	return p, fileExists(p)
}
