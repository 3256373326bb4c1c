package storetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch/store"
)

// Hang is a relay between a store.DB and its PostgreSQL server that can
// be frozen: a database that hangs (a stalled disk, a lost network path,
// a stopped process) rather than refusing. Frozen, it accepts connections
// and reads what clients send but passes nothing on, so every query waits
// until its context ends. Create it with Hanging.
type Hang struct {
	mu     sync.Mutex
	frozen bool
	thaw   chan struct{} // closed by Thaw; replaced by Freeze
	conns  map[net.Conn]struct{}
	ln     net.Listener
}

// Hanging opens a second store.DB on db's database through a Hang relay
// (a Unix socket in a test directory). Both close with the test.
func Hanging(t testing.TB, db *store.DB) (*Hang, *store.DB) {
	t.Helper()
	cfg, err := pgx.ParseConfig(db.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	network, target := "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if filepath.IsAbs(cfg.Host) {
		network, target = "unix", filepath.Join(cfg.Host, fmt.Sprintf(".s.PGSQL.%d", cfg.Port))
	}
	// Unix socket paths are short (108 bytes): not under t.TempDir().
	dir, err := os.MkdirTemp("", "bgpwatch-hang")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, fmt.Sprintf(".s.PGSQL.%d", cfg.Port)))
	if err != nil {
		t.Fatal(err)
	}
	h := &Hang{ln: ln, thaw: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(h.thaw)
	go h.accept(network, target)
	t.Cleanup(h.close)

	url := fmt.Sprintf("host=%s port=%d user=%s dbname=%s sslmode=disable", dir, cfg.Port, cfg.User, cfg.Database)
	if cfg.Password != "" {
		url += " password=" + cfg.Password
	}
	hdb, err := store.Open(context.Background(), store.Config{URL: url, SkipMigrate: true})
	if err != nil {
		t.Fatalf("open through the relay: %v", err)
	}
	t.Cleanup(hdb.Close)
	return h, hdb
}

// Freeze stops the relay: from now on nothing passes in either direction.
func (h *Hang) Freeze() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.frozen {
		h.frozen = true
		h.thaw = make(chan struct{})
	}
}

// Thaw lets everything through again, starting with what waited.
func (h *Hang) Thaw() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.frozen {
		h.frozen = false
		close(h.thaw)
	}
}

// wait blocks while the relay is frozen.
func (h *Hang) wait() {
	h.mu.Lock()
	c := h.thaw
	h.mu.Unlock()
	<-c
}

func (h *Hang) accept(network, target string) {
	for {
		c, err := h.ln.Accept()
		if err != nil {
			return
		}
		go h.relay(c, network, target)
	}
}

func (h *Hang) relay(c net.Conn, network, target string) {
	h.wait()
	s, err := net.Dial(network, target)
	if err != nil {
		c.Close()
		return
	}
	if !h.track(c, s) {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				h.wait()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go pipe(s, c)
	go pipe(c, s)
	<-done
	c.Close()
	s.Close()
	<-done
	h.untrack(c, s)
}

func (h *Hang) track(cs ...net.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conns == nil { // closed
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		h.conns[c] = struct{}{}
	}
	return true
}

func (h *Hang) untrack(cs ...net.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range cs {
		delete(h.conns, c)
	}
}

// close stops accepting, thaws what waits and closes every relayed
// connection.
func (h *Hang) close() {
	h.ln.Close()
	h.Thaw()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
	h.conns = nil
}
