package main

import "context"

func init() {
	register(&command{name: "serve", summary: "serve the HTTP API, webhooks and live ingest", run: runServe})
}

func runServe(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "serve", "[flags]", "Not implemented yet.")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	return errNotImplemented
}
