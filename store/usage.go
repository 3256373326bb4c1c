package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// UsageLockID is the advisory lock that tells whether bgpwatch processes use
// a database (the ASCII bytes "bgpu"). Each command that works on the data
// (serve, replay, events) holds it shared for as long as it runs; a
// destructive schema change (migrate --down, --reset) takes it exclusively
// without waiting, and so is refused while any of them runs. Advisory
// locks belong to one database and end with the session that holds them,
// so a killed process leaves none behind.
const UsageLockID int64 = 0x6267_7075

// ErrInUse is returned by LockExclusive while other processes use the
// database.
var ErrInUse = errors.New("the database is in use by other bgpwatch processes")

// usageLock is a held shared usage lock: a dedicated connection (not one of
// the pool's) that keeps it, and takes it again after the database was
// restarted.
type usageLock struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// holdUsage takes the shared usage lock on its own connection, waiting
// while a destructive migration holds it exclusively, and keeps it until
// release. name goes into the connection's application_name, which
// LockExclusive reports.
func (db *DB) holdUsage(ctx context.Context, name string) (*usageLock, error) {
	conn, err := db.usageConn(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open database: usage lock: %w", err)
	}
	lctx, cancel := context.WithCancel(context.Background())
	u := &usageLock{cancel: cancel, done: make(chan struct{})}
	go u.keep(lctx, db, name, conn)
	return u, nil
}

// usageConn connects and takes the shared lock.
func (db *DB) usageConn(ctx context.Context, name string) (*pgx.Conn, error) {
	cc := db.pool.Config().ConnConfig.Copy()
	cc.RuntimeParams["application_name"] = "bgpwatch " + name
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock_shared($1)", UsageLockID); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// keep checks the lock's connection every few seconds and, when it is
// gone (a database restart), connects and takes the lock again.
func (u *usageLock) keep(ctx context.Context, db *DB, name string, conn *pgx.Conn) {
	defer close(u.done)
	wait := time.Second
	for {
		select {
		case <-ctx.Done():
			if conn != nil {
				// Unlock first: the server ends a closed session's backend
				// (and drops its locks) only some time after the close, so
				// a migrate --down run right after this process exits could
				// still find the lock held.
				uctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				conn.Exec(uctx, "SELECT pg_advisory_unlock_shared($1)", UsageLockID) // closing releases it anyway
				cancel()
				conn.Close(context.Background())
			}
			return
		case <-time.After(5 * time.Second):
		}
		if conn != nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Ping(pctx)
			cancel()
			if err == nil {
				continue
			}
			if ctx.Err() != nil {
				continue
			}
			conn.Close(context.Background())
			conn = nil
			db.log.Warn("database usage lock lost; taking it again", "err", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := db.usageConn(cctx, name)
		cancel()
		if err != nil {
			wait = min(2*wait, 30*time.Second)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			continue
		}
		conn, wait = c, time.Second
		db.log.Info("database usage lock taken again")
	}
}

func (u *usageLock) release() {
	u.cancel()
	<-u.done
}

// LockExclusive takes the usage lock exclusively, without waiting, for a
// destructive schema change; call the returned function when done. While
// other bgpwatch processes use the database it fails with ErrInUse, whose
// text names them (application_name and server process id).
func (db *DB) LockExclusive(ctx context.Context) (_ func(), err error) {
	defer markUnavailable(&err)
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("usage lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", UsageLockID).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("usage lock: %w", err)
	}
	if !ok {
		var who []string
		rows, err := conn.Query(ctx, `
			SELECT coalesce(nullif(a.application_name, ''), 'unknown') || ' (pid ' || l.pid || ')'
			FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			  AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1 AND l.granted AND l.pid <> pg_backend_pid()
			ORDER BY l.pid`, uint32(UsageLockID>>32), uint32(UsageLockID))
		if err == nil {
			who, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		conn.Release()
		if err != nil || len(who) == 0 {
			return nil, ErrInUse
		}
		return nil, fmt.Errorf("%w: %s", ErrInUse, strings.Join(who, ", "))
	}
	return func() {
		// Unlock on the same session; a failure (connection gone) releases
		// it anyway, with the session.
		if _, err := conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", UsageLockID); err != nil {
			conn.Conn().Close(context.Background())
		}
		conn.Release()
	}, nil
}
