package main

import "context"

func init() {
	register(&command{name: "generate", summary: "write a synthetic MRT archive with known truth", run: runGenerate})
}

func runGenerate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "generate", "[flags]", "Not implemented yet.")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	return errNotImplemented
}
