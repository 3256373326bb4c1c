// Command bgpwatch watches BGP for national Internet shutdowns: it replays MRT
// archives or peers live, tracks per-country and per-ASN visibility in
// PostgreSQL, detects withdrawal events and serves them over HTTP.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
