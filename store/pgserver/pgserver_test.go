package pgserver_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch/store/pgserver"
)

// TestMain lets the test binary act as a second bgpwatch process: with
// PGSERVER_HELPER_DIR set it starts (or joins) the server there, prints
// "ready" and holds it until stdin closes, then stops it.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PGSERVER_HELPER_DIR"); dir != "" {
		os.Exit(helper(dir))
	}
	os.Exit(m.Run())
}

func helper(dir string) int {
	ctx := context.Background()
	s, err := pgserver.Start(ctx, pgserver.Options{Dir: dir})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	if err := s.Stop(ctx); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	return 0
}

// child is a second process holding the server in dir.
type child struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PGSERVER_HELPER_DIR="+dir)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper process: %q", line)
	}
	return &child{cmd: cmd, stdin: in}
}

// postmasterPID is the running server's PID from postmaster.pid (0 if none).
func postmasterPID(s *pgserver.Server) int {
	b, err := os.ReadFile(filepath.Join(s.ClusterDir(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscan(string(b), &pid)
	if pid > 0 && syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

func ping(t *testing.T, s *pgserver.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL(""))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close(ctx)
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("select 1: %v %d", err, one)
	}
}

// dataDir makes a data directory; reachable ones are traversable by the
// postgres account, so that as root the cluster lives inside them.
func dataDir(t *testing.T, reachable bool) string {
	d := filepath.Join(t.TempDir(), "data")
	if !reachable {
		return d
	}
	if err := os.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := filepath.Dir(d); p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func cleanupCluster(t *testing.T, s *pgserver.Server) {
	t.Cleanup(func() {
		s.Stop(context.Background())
		if strings.HasPrefix(s.ClusterDir(), pgserver.RootClusterBase+"/") {
			os.RemoveAll(s.ClusterDir())
		}
	})
}

func TestSharedServer(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reachable bool
	}{
		{"dir unreachable by postgres", false},
		{"dir reachable by postgres", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.reachable && os.Geteuid() != 0 {
				t.Skip("only differs when run as root")
			}
			ctx := context.Background()
			dir := dataDir(t, tc.reachable)

			t0 := time.Now()
			s, err := pgserver.Start(ctx, pgserver.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			cleanupCluster(t, s)
			t.Logf("cold start (initdb + start): %v", time.Since(t0))
			ping(t, s)
			inside := strings.HasPrefix(s.ClusterDir(), dir)
			if os.Geteuid() == 0 && inside != tc.reachable {
				t.Errorf("cluster at %s, want inside data dir: %v", s.ClusterDir(), tc.reachable)
			}
			pid := postmasterPID(s)
			if pid == 0 {
				t.Fatal("no server running after Start")
			}

			// A second process joins the running server.
			t0 = time.Now()
			c := startChild(t, dir)
			t.Logf("second process joins running server: %v (incl. process start)", time.Since(t0))
			if got := postmasterPID(s); got != pid {
				t.Errorf("server pid %d after second process, want %d (reuse)", got, pid)
			}
			// First user leaves: the server stays for the second.
			if err := s.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if got := postmasterPID(s); got != pid {
				t.Fatalf("server pid %d after first user left, want %d still running", got, pid)
			}
			// Last user leaves: the server stops.
			c.stdin.Close()
			if err := c.cmd.Wait(); err != nil {
				t.Fatalf("helper: %v", err)
			}
			if got := postmasterPID(s); got != 0 {
				t.Fatalf("server %d still running after the last user left", got)
			}

			// Warm start of the existing cluster.
			t0 = time.Now()
			s2, err := pgserver.Start(ctx, pgserver.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("warm start (existing cluster): %v", time.Since(t0))
			ping(t, s2)
			if err := s2.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestKilledUser(t *testing.T) {
	ctx := context.Background()
	dir := dataDir(t, false)
	c := startChild(t, dir) // cold start in the child
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()

	t0 := time.Now()
	s, err := pgserver.Start(ctx, pgserver.Options{Dir: dir})
	if err != nil {
		t.Fatalf("start after kill -9 of the holder: %v", err)
	}
	cleanupCluster(t, s)
	t.Logf("reuse of a running server: %v", time.Since(t0))
	ping(t, s)
	pid := postmasterPID(s)
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if postmasterPID(s) != 0 {
		t.Fatalf("server %d still running after the last user left", pid)
	}

	// The server itself killed with -9: the next start recovers.
	s, err = pgserver.Start(ctx, pgserver.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pid = postmasterPID(s)
	s.Release()
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	s, err = pgserver.Start(ctx, pgserver.Options{Dir: dir})
	if err != nil {
		t.Fatalf("start after kill -9 of the server: %v", err)
	}
	ping(t, s)
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestInterruptedInit(t *testing.T) {
	// A cluster directory without the init marker (initdb was killed) is
	// rebuilt rather than failing every later start.
	ctx := context.Background()
	dir := dataDir(t, true)
	if err := os.Mkdir(filepath.Join(dir, "pg"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pg", "PG_VERSION"), []byte("15\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := pgserver.Start(ctx, pgserver.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cleanupCluster(t, s)
	ping(t, s)
}

func TestMissingBinaries(t *testing.T) {
	_, err := pgserver.Start(context.Background(), pgserver.Options{Dir: filepath.Join(t.TempDir(), "data"), BinDir: t.TempDir()})
	if !errors.Is(err, pgserver.ErrNoBinaries) {
		t.Fatalf("got %v, want ErrNoBinaries", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "postgresql") {
		t.Errorf("message should be one line naming the package: %q", msg)
	}
}
