package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/migrations"
	"github.com/bgpwatch/bgpwatch/store"
	"github.com/bgpwatch/bgpwatch/store/pgserver"
	"github.com/bgpwatch/bgpwatch/store/storetest"
)

func runCLI(t *testing.T, environ map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return environ[k] }}
	c, ok := commands[args[0]]
	if !ok {
		t.Fatalf("no command %s", args[0])
	}
	code := exitCode(e, c.name, c.run(context.Background(), e, args[1:]))
	return code, out.String(), errb.String()
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	db := storetest.New(t)
	if _, err := db.MigrateReset(context.Background()); err != nil {
		t.Fatal(err)
	}
	url := db.Pool().Config().ConnString()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"first run applies", []string{"migrate", "--db", url}, "applied 00001_init.sql"},
		{"second run is a no-op", []string{"migrate", "--db", url}, "schema is up to date"},
		{"status", []string{"migrate", "--status", "--db", url}, "applied  00001_init.sql"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, nil, tc.args...)
			if code != exitOK || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, stdout %q (want %q), stderr %q", code, out, tc.want, errOut)
			}
		})
	}
}

func TestMigrateEmbedded(t *testing.T) {
	// End to end through BGPWATCH_DATA_DIR: cold start, migrate, stop; then
	// a second run on the same data dir finds nothing to do.
	dir := filepath.Join(t.TempDir(), "data")
	environ := map[string]string{"BGPWATCH_DATA_DIR": dir}
	t.Cleanup(func() {
		if l, err := os.Readlink(filepath.Join(dir, "pg")); err == nil && strings.HasPrefix(l, pgserver.RootClusterBase+"/") {
			os.RemoveAll(l)
		}
	})
	for _, want := range []string{"applied 00001_init.sql", "schema is up to date"} {
		code, out, errOut := runCLI(t, environ, "migrate")
		if code != exitOK || !strings.Contains(out, want) {
			t.Fatalf("exit %d, stdout %q (want %q), stderr %q", code, out, want, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pg", "postmaster.pid")); err == nil {
		t.Error("embedded server still running after the last command ended")
	}
}

func TestMigrateUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"help", []string{"migrate", "--help"}, exitOK},
		{"two modes", []string{"migrate", "--down", "--status"}, exitUsage},
		{"argument", []string{"migrate", "x"}, exitUsage},
		{"bad flag", []string{"migrate", "--nope"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, _ := runCLI(t, nil, tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
		})
	}
}

func TestDefaultDataDir(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"explicit", map[string]string{"BGPWATCH_DATA_DIR": "/d", "XDG_DATA_HOME": "/x", "HOME": "/h"}, "/d"},
		{"xdg", map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, "/x/bgpwatch"},
		{"home", map[string]string{"HOME": "/h"}, "/h/.local/share/bgpwatch"},
		{"none", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := defaultDataDir(func(k string) string { return tc.env[k] }); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestMigrateDownRefusedWhileInUse: `migrate --down` and `--reset` under a
// running serve used to succeed silently and drop the webhook tables with
// every subscription. They are refused (exit 1, naming the process) while
// another bgpwatch process holds the database's usage lock, work once it
// is gone, and --force overrides.
func TestMigrateDownRefusedWhileInUse(t *testing.T) {
	db := storetest.New(t)
	ctx := context.Background()
	url := db.Pool().Config().ConnString()
	if err := db.CreateSubscription(ctx, &bgpwatch.Subscription{URL: "https://hooks.example/in", Secret: "0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	subs := func() int {
		t.Helper()
		s, err := db.ListSubscriptions(ctx)
		if err != nil {
			return -1
		}
		return len(s)
	}

	s := startServe(t, "--db", url, "--webhooks=false")
	for _, mode := range []string{"--down", "--reset"} {
		code, out, errOut := runCLI(t, nil, "migrate", mode, "--db", url)
		if code != exitFailure || out != "" || !strings.Contains(errOut, "refusing migrate "+mode+": the database is in use by other bgpwatch processes: bgpwatch serve (pid ") ||
			!strings.Contains(errOut, "--force") {
			t.Errorf("migrate %s under serve: exit %d, stdout %q, stderr %q", mode, code, out, errOut)
		}
		if n := subs(); n != 1 {
			t.Fatalf("after a refused migrate %s: %d subscriptions", mode, n)
		}
	}
	s.cancel()
	if code := <-s.done; code != exitOK {
		t.Fatalf("serve exited %d", code)
	}

	// serve gone: allowed; --down rolls back the newest migration.
	newest := newestMigration(t)
	code, out, errOut := runCLI(t, nil, "migrate", "--down", "--db", url)
	if code != exitOK || !strings.Contains(out, "rolled back "+newest) {
		t.Fatalf("migrate --down without serve: exit %d, %q, %q", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, nil, "migrate", "--db", url); code != exitOK {
		t.Fatalf("migrate: exit %d, %q, %q", code, out, errOut)
	}

	// Another process holding the lock (as replay or events do), and --force.
	other, err := store.Open(ctx, store.Config{URL: url, Usage: "replay", SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if code, _, errOut := runCLI(t, nil, "migrate", "--down", "--db", url); code != exitFailure || !strings.Contains(errOut, "bgpwatch replay (pid ") {
		t.Fatalf("migrate --down under replay: exit %d, %q", code, errOut)
	}
	code, out, errOut = runCLI(t, nil, "migrate", "--down", "--force", "--db", url)
	if code != exitOK || !strings.Contains(out, "rolled back "+newest) {
		t.Fatalf("migrate --down --force: exit %d, %q, %q", code, out, errOut)
	}
}

// newestMigration is the file name of the highest-numbered migration.
func newestMigration(t *testing.T) string {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v %v", names, err)
	}
	slices.Sort(names) // zero-padded version numbers sort as numbers
	return names[len(names)-1]
}
