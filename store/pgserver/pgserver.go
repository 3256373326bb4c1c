// Package pgserver runs a private PostgreSQL server from the machine's own
// PostgreSQL binaries in a directory, reachable only on a Unix socket there.
//
// Several processes that use the same directory share one server: Start takes
// an exclusive file lock while it checks, initialises or starts the cluster,
// and every user then holds a shared lock on a second file for as long as it
// uses the server. Stop (the last user leaving) stops the server when no
// other process holds that shared lock. A user killed with SIGKILL releases
// its locks in the kernel; the server it leaves running is simply reused by
// the next Start and stopped by the next clean Stop.
//
// As root the server runs under the unprivileged "postgres" account. When that
// account cannot reach the directory (e.g. under /root, mode 700), the cluster
// lives in /var/lib/bgpwatch/<hash of the directory> and the directory holds a
// symbolic link "pg" to it.
package pgserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoBinaries is returned when no PostgreSQL server binaries are installed.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in PATH or /usr/lib/postgresql/*/bin: install the Debian package postgresql (apt-get install postgresql)")

// Database is the database created in a fresh cluster for bgpwatch; Superuser
// is the cluster's superuser role.
const (
	Database  = "bgpwatch"
	Superuser = "bgpwatch"
)

// RootClusterBase is where clusters live when running as root and the
// postgres account cannot reach the data directory.
const RootClusterBase = "/var/lib/bgpwatch"

// Options configures a server.
type Options struct {
	// Dir is the bgpwatch data directory; the cluster is Dir/pg.
	Dir string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// Unsafe turns off fsync, synchronous commit and full page writes; for
	// throw-away test servers only. It applies when the cluster is created.
	Unsafe bool
	// BinDir, when set, is the only directory searched for initdb, pg_ctl
	// and postgres.
	BinDir string
	// StartTimeout bounds how long pg_ctl waits for the server; 0 means 60 s.
	StartTimeout time.Duration
}

// Server is one process's reference to a running shared server.
type Server struct {
	opts    Options
	dir     string // absolute data directory
	cluster string // the real PGDATA directory
	socket  string // the Unix socket directory
	bin     string // directory with initdb, pg_ctl, postgres
	cred    *syscall.Credential
	users   *os.File // shared lock held while this Server is in use
	log     *slog.Logger
}

// Start starts the server in opts.Dir, or reuses the one already running
// there, and registers this process as a user until Stop.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("pgserver: no data directory")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgserver: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("pgserver: create data directory: %w", err)
	}
	s := &Server{opts: opts, dir: dir, log: log}

	lock, err := lockFile(filepath.Join(dir, "pg.lock"), syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer lock.Close() // releases the start lock

	if err := s.prepare(); err != nil {
		return nil, err
	}
	if err := s.ensureRunning(ctx); err != nil {
		return nil, err
	}
	users, err := lockFile(filepath.Join(dir, "pg.users"), syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	s.users = users
	return s, nil
}

// SocketDir is the directory of the server's Unix socket.
func (s *Server) SocketDir() string { return s.socket }

// ClusterDir is the server's PGDATA directory (after following the link).
func (s *Server) ClusterDir() string { return s.cluster }

// URL returns a connection URL for database db (Database when empty).
func (s *Server) URL(db string) string {
	if db == "" {
		db = Database
	}
	q := url.Values{"host": {s.socket}, "user": {Superuser}}
	return "postgres:///" + url.PathEscape(db) + "?" + q.Encode()
}

// Stop gives up this process's reference and stops the server when no other
// process uses it. It is safe to call more than once.
func (s *Server) Stop(ctx context.Context) error {
	if s.users == nil {
		return nil
	}
	lock, err := lockFile(filepath.Join(s.dir, "pg.lock"), syscall.LOCK_EX)
	if err != nil {
		s.users.Close()
		s.users = nil
		return err
	}
	defer lock.Close()
	s.users.Close() // drops our shared lock
	s.users = nil
	last, err := os.OpenFile(filepath.Join(s.dir, "pg.users"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	defer last.Close()
	if err := syscall.Flock(int(last.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return nil // someone else still uses the server
	}
	return s.stopServer(ctx)
}

// Release gives up this process's reference and leaves the server running,
// for reuse by the next Start.
func (s *Server) Release() {
	if s.users != nil {
		s.users.Close()
		s.users = nil
	}
}

func (s *Server) stopServer(ctx context.Context) error {
	if !s.running(ctx) {
		return nil
	}
	s.log.Info("stopping embedded PostgreSQL", "dir", s.cluster)
	out, err := s.pgctl(ctx, "stop", "-D", s.cluster, "-m", "fast", "-w", "-t", "60")
	if err != nil {
		return fmt.Errorf("pgserver: pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

// lockFile opens path and flocks it with how, waiting as needed.
func lockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgserver: lock file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("pgserver: lock %s: %w", path, err)
	}
	return f, nil
}

// prepare decides where the cluster and socket live and who runs the server.
func (s *Server) prepare() error {
	link := filepath.Join(s.dir, "pg")
	s.cluster = link
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("pgserver: running as root needs the postgres account (install the Debian package postgresql): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		fi, err := os.Lstat(link)
		switch {
		case err == nil && fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(link)
			if err != nil {
				return fmt.Errorf("pgserver: %w", err)
			}
			s.cluster = target
		case err == nil:
			// A cluster in the data directory itself: keep using it.
		case errors.Is(err, os.ErrNotExist):
			if !reachable(s.dir, uint32(uid), uint32(gid)) {
				if err := s.linkRootCluster(link); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("pgserver: %w", err)
		}
	}
	s.socket = s.cluster
	// Unix socket paths are limited to 107 bytes; fall back to a short
	// private directory when the cluster path is too long.
	if len(s.socket)+len("/.s.PGSQL.5432") > 100 {
		h := sha256.Sum256([]byte(s.cluster))
		s.socket = filepath.Join(os.TempDir(), "bgpwatch-pg-"+hex.EncodeToString(h[:8]))
	}
	return nil
}

// linkRootCluster places the cluster under RootClusterBase and points link at it.
func (s *Server) linkRootCluster(link string) error {
	h := sha256.Sum256([]byte(s.dir))
	target := filepath.Join(RootClusterBase, hex.EncodeToString(h[:8]))
	if err := os.MkdirAll(RootClusterBase, 0o755); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	// The data directory has no link, so any cluster at target belongs to an
	// earlier data directory of the same name that was deleted: discard it.
	if _, err := os.Stat(target); err == nil {
		old := *s
		old.cluster = target
		if err := old.findBinaries(); err == nil {
			_ = old.stopServer(context.Background())
		}
		if err := os.RemoveAll(target); err != nil {
			return fmt.Errorf("pgserver: remove stale cluster: %w", err)
		}
	}
	if err := os.Symlink(target, link); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	s.cluster = target
	return nil
}

// reachable reports whether uid/gid can traverse every directory down to dir.
func reachable(dir string, uid, gid uint32) bool {
	for p := dir; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return false
		}
		m := fi.Mode().Perm()
		var okx bool
		switch {
		case st.Uid == uid:
			okx = m&0o100 != 0
		case st.Gid == gid:
			okx = m&0o010 != 0
		default:
			okx = m&0o001 != 0
		}
		if !okx {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// findBinaries picks the PostgreSQL bin directory: the one matching an
// existing cluster's version, else PATH, else the newest
// /usr/lib/postgresql/*/bin.
func (s *Server) findBinaries() error {
	has := func(d string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if s.opts.BinDir != "" {
		if !has(s.opts.BinDir) {
			return ErrNoBinaries
		}
		s.bin = s.opts.BinDir
		return nil
	}
	if v, err := os.ReadFile(filepath.Join(s.cluster, "PG_VERSION")); err == nil {
		d := filepath.Join("/usr/lib/postgresql", strings.TrimSpace(string(v)), "bin")
		if has(d) {
			s.bin = d
			return nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r // Debian-style links in /usr/local/bin: use the real bin directory
		}
		if d := filepath.Dir(p); has(d) {
			s.bin = d
			return nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			s.bin = d
			return nil
		}
	}
	return ErrNoBinaries
}

// version turns /usr/lib/postgresql/15/bin into 15 (0 when not a number).
func version(bin string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(bin)), 64)
	return v
}

const initMarker = "bgpwatch.initialized"

// ensureRunning initialises the cluster when needed and starts the server
// unless it already runs. The caller holds the start lock.
func (s *Server) ensureRunning(ctx context.Context) error {
	if err := s.findBinaries(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(s.cluster, initMarker)); err != nil {
		if err := s.initCluster(ctx); err != nil {
			return err
		}
	}
	if err := s.writeConf(); err != nil {
		return err
	}
	if s.running(ctx) {
		s.log.Debug("reusing embedded PostgreSQL", "dir", s.cluster)
		return nil
	}
	if s.socket != s.cluster {
		if err := os.MkdirAll(s.socket, 0o700); err != nil {
			return fmt.Errorf("pgserver: socket directory: %w", err)
		}
		if err := s.chown(s.socket); err != nil {
			return err
		}
	}
	s.log.Info("starting embedded PostgreSQL", "dir", s.cluster, "bin", s.bin)
	t := strconv.Itoa(int(s.opts.StartTimeout / time.Second))
	out, err := s.pgctl(ctx, "start", "-D", s.cluster, "-w", "-t", t, "-s",
		"-l", filepath.Join(s.cluster, "server.log"))
	if err != nil {
		tail, _ := os.ReadFile(filepath.Join(s.cluster, "server.log"))
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return fmt.Errorf("pgserver: pg_ctl start: %w: %s\nserver.log:\n%s", err, out, tail)
	}
	return nil
}

// running reports whether a server runs on the cluster.
func (s *Server) running(ctx context.Context) bool {
	_, err := s.pgctl(ctx, "status", "-D", s.cluster)
	return err == nil
}

// initCluster runs initdb into an empty cluster directory and creates the
// bgpwatch database in single-user mode.
func (s *Server) initCluster(ctx context.Context) error {
	s.log.Info("initialising embedded PostgreSQL cluster", "dir", s.cluster)
	// A directory without the marker is a half-made cluster (initdb was
	// interrupted): start over.
	if err := os.RemoveAll(s.cluster); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	if err := os.Mkdir(s.cluster, 0o700); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	if err := s.chown(s.cluster); err != nil {
		return err
	}
	out, err := s.runAs(ctx, filepath.Join(s.bin, "initdb"), "-D", s.cluster, "-U", Superuser,
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions", "--no-sync")
	if err != nil {
		return fmt.Errorf("pgserver: initdb: %w: %s", err, out)
	}
	conf := filepath.Join(s.cluster, "postgresql.conf")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	extra := `
# bgpwatch embedded server
listen_addresses = ''
shared_buffers = 128MB
work_mem = 16MB
maintenance_work_mem = 128MB
max_connections = 200
max_wal_size = 2GB
checkpoint_timeout = 15min
wal_level = minimal
max_wal_senders = 0
log_min_messages = warning
include_if_exists = 'bgpwatch.conf'
`
	if s.opts.Unsafe {
		extra += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	}
	if _, err := f.WriteString(extra); err != nil {
		f.Close()
		return fmt.Errorf("pgserver: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	// Create the bgpwatch database without starting a server.
	cmd := s.command(ctx, filepath.Join(s.bin, "postgres"), "--single", "-D", s.cluster, "-j", "postgres")
	cmd.Stdin = strings.NewReader("CREATE DATABASE " + Database + ";\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgserver: create database: %w: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(s.cluster, initMarker), nil, 0o600); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	return s.chown(filepath.Join(s.cluster, initMarker))
}

// writeConf writes the settings that depend on where the cluster is now.
func (s *Server) writeConf() error {
	conf := "unix_socket_directories = '" + strings.ReplaceAll(s.socket, "'", "''") + "'\n"
	p := filepath.Join(s.cluster, "bgpwatch.conf")
	if old, err := os.ReadFile(p); err == nil && string(old) == conf {
		return nil
	}
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	return s.chown(p)
}

func (s *Server) chown(p string) error {
	if s.cred == nil {
		return nil
	}
	if err := os.Chown(p, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
		return fmt.Errorf("pgserver: %w", err)
	}
	return nil
}

func (s *Server) pgctl(ctx context.Context, args ...string) ([]byte, error) {
	return s.runAs(ctx, filepath.Join(s.bin, "pg_ctl"), args...)
}

func (s *Server) runAs(ctx context.Context, name string, args ...string) ([]byte, error) {
	return s.command(ctx, name, args...).CombinedOutput()
}

// command prepares a PostgreSQL tool run: as the postgres account when root,
// in its own session so that a terminal's Ctrl-C does not reach the server.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.cluster
	if _, err := os.Stat(s.cluster); err != nil {
		cmd.Dir = "/"
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: s.cred}
	env := []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	if s.cred != nil {
		env = append(env, "HOME=/var/lib/postgresql", "USER=postgres")
	} else {
		env = append(env, "HOME="+os.Getenv("HOME"))
	}
	cmd.Env = env
	return cmd
}
