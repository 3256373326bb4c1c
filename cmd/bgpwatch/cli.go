package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes that scripts can rely on.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed
	exitUsage   = 2 // bad flags or arguments
)

// errUsage marks an error caused by how the command was called.
var errUsage = errors.New("usage")

// env is what a subcommand gets from the process: streams and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand. run gets the arguments after the subcommand name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands is filled by each subcommand's file in its init function.
var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: osGetenv}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				return exitCode(e, c.name, c.run(ctx, e, []string{"--help"}))
			}
		}
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "-version" {
		args = []string{"version"}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "bgpwatch: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return exitCode(e, c.name, c.run(ctx, e, args[1:]))
}

func exitCode(e *env, name string, err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		fmt.Fprintf(e.stderr, "bgpwatch %s: %v\nRun 'bgpwatch %s --help' for usage.\n", name, err, name)
		return exitUsage
	default:
		fmt.Fprintf(e.stderr, "bgpwatch %s: %v\n", name, err)
		return exitFailure
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `bgpwatch watches BGP for national Internet shutdowns.

It reads route-collector archives (MRT) or peers live, tracks how much of each
country's and network's address space the world can reach, detects withdrawal
events and serves them over an HTTP API and signed webhooks.

Usage:
  bgpwatch <command> [flags] [arguments]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Database: --db URL or BGPWATCH_DB; unset, bgpwatch runs its own PostgreSQL in
--data-dir (BGPWATCH_DATA_DIR, else $XDG_DATA_HOME/bgpwatch, else
~/.local/share/bgpwatch).

Run 'bgpwatch <command> --help' for a command's flags.
`)
}

// newFlagSet returns a flag set whose --help prints a synopsis, a description
// and the flags, and whose errors are returned rather than exiting.
func newFlagSet(e *env, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: bgpwatch %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(description))
		var has bool
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(out, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; a parse error becomes errUsage.
func parseFlags(fs *flag.FlagSet, args []string, e *env) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(e.stdout) // asked-for help goes to stdout, errors to stderr
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
