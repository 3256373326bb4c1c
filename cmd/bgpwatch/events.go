package main

import "context"

func init() {
	register(&command{name: "events", summary: "list detected events", run: runEvents})
}

func runEvents(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "events", "[flags]", "Not implemented yet.")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	return errNotImplemented
}
