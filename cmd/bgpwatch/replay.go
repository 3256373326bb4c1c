package main

import "context"

func init() {
	register(&command{name: "replay", summary: "replay MRT archives into the database and detect events", run: runReplay})
}

func runReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "replay", "[flags]", "Not implemented yet.")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	return errNotImplemented
}
