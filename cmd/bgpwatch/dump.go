package main

import "context"

func init() {
	register(&command{name: "dump", summary: "print every MRT record (bgpdump -m compatible)", run: runDump})
}

func runDump(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "dump", "[flags]", "Not implemented yet.")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	return errNotImplemented
}
