package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/bgpwatch/bgpwatch/store"
)

// SetReachable shuts or opens db's database on the shared test server.
// Shut, it refuses new sessions and its open ones are ended, as in an
// outage, while the server goes on serving the other tests' databases
// (StartPrivate stops a whole server instead). A test that shuts its
// database should open it again in a Cleanup.
func SetReachable(t testing.TB, db *store.DB, up bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := URL("postgres")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := db.Pool().Config().ConnConfig.Database
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" ALLOW_CONNECTIONS "+strconv.FormatBool(up)); err != nil {
		t.Fatal(err)
	}
	if up {
		return
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		t.Fatal(err)
	}
}
