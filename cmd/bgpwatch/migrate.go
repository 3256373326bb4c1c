package main

import "context"

func init() {
	register(&command{name: "migrate", summary: "apply database migrations", run: runMigrate})
}

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "migrate", "[flags]", "Not implemented yet.")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	return errNotImplemented
}
