package main

import "context"

func init() {
	register(&command{name: "fetch", summary: "download public MRT archives and RIR files", run: runFetch})
}

func runFetch(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "fetch", "[flags]", "Not implemented yet.")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	return errNotImplemented
}
