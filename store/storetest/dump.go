package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bgpwatch/bgpwatch/store"
)

// Dump renders the rows of each query, one line a row and "--" after each
// query, for comparing database states (idempotent replays, restarts).
// The queries should ORDER BY everything they select.
func Dump(t testing.TB, db *store.DB, queries ...string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range queries {
		rows, err := db.Pool().Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// FirstDiff says where two dumps start to differ.
func FirstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  %s\n  %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("lengths %d vs %d lines", len(al), len(bl))
}
