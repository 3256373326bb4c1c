// Package migrations holds bgpwatch's PostgreSQL schema as numbered SQL files
// (goose format), embedded in the binary and applied by store.Migrate.
//
// Version numbers are owned by area so that parallel work never collides:
// 1–9 core schema, 10–19 ingest/replay, 20–29 detection, 30–39 webhooks,
// 40–49 live ingest and network metadata (00048), 50–59 archive fetching,
// detection settings and backfill, 60–64 hardening.
package migrations

import "embed"

// FS contains the *.sql migrations.
//
//go:embed *.sql
var FS embed.FS
