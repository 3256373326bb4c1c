package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/bgpwatch/bgpwatch"
	"github.com/bgpwatch/bgpwatch/synth"
)

func init() {
	register(&command{name: "generate", summary: "write a synthetic MRT archive with known truth", run: runGenerate})
}

const generateHelp = `
Writes a synthetic but realistic route-collector archive, exactly as the
collectors publish theirs, plus the truth a correct monitor should find:

  OUT/rrc00/YYYY.MM/bview.YYYYMMDD.HHMM.gz        RIPE RIS RIB, every 8 h (00/08/16)
  OUT/rrc00/YYYY.MM/updates.YYYYMMDD.HHMM.gz      RIPE RIS updates, every 5 min
  OUT/route-views2/bgpdata/YYYY.MM/RIBS/rib.YYYYMMDD.HHMM.bz2        every 2 h
  OUT/route-views2/bgpdata/YYYY.MM/UPDATES/updates.YYYYMMDD.HHMM.bz2 every 15 min
  OUT/rir/delegated-RIR-YYYYMMDD, delegated-RIR-extended-YYYYMMDD  (--delegations)
  OUT/asn-info.csv                                 (--asn-info; asn,name,access: the truth,
                                                   an override that masks every other source)
  OUT/asn-names.txt                                (--asn-names; CIDR report layout)
  OUT/metadata/                                    (--metadata-dir; synthetic APNIC, PeeringDB
                                                   and CAIDA files in their published formats)
  OUT/truth.json                                   expected events and per-bin counts

RouteViews publishes route-views2 at the archive root (bgpdata/...); here it
is under OUT/route-views2/ so several collectors can sit side by side.
.bz2 files are compressed with an external lbzip2, pbzip2 or bzip2.

The same scenario and seed give byte-identical files (with the same bzip2
tool). SCENARIO is a built-in name (see --list) or a JSON/YAML file.

Examples:
  bgpwatch generate --scenario kazakhstan-2022 --out /tmp/kz
  bgpwatch replay --delegations /tmp/kz/rir/delegated-ripencc-20220103 \
      --asn-names /tmp/kz/asn-names.txt --metadata-dir /tmp/kz/metadata /tmp/kz/rrc00 /tmp/kz/route-views2
  bgpwatch generate --scenario scale --only rib --out /tmp/scale
`

func runGenerate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "generate", "--scenario NAME|FILE --out DIR [flags]", generateHelp)
	scenario := fs.String("scenario", "", "built-in scenario name or a JSON/YAML scenario `file`")
	out := fs.String("out", "", "output `directory` (created if missing)")
	seed := fs.Uint64("seed", 0, "random seed (default: the scenario's own)")
	only := fs.String("only", "all", "what to write: all, rib (first RIB of each collector only) or updates (no RIBs)")
	list := fs.Bool("list", false, "list the built-in scenarios and exit")
	bz := fs.String("bzip2", "", "bzip2 `program` for RouteViews files (default: lbzip2, pbzip2 or bzip2 from PATH)")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	if err := parseFlags(fs, args, e); err != nil {
		return err
	}
	if *list {
		for _, n := range synth.BuiltinNames() {
			fmt.Fprintf(e.stdout, "%-16s %s\n", n, synth.BuiltinSummary(n))
		}
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if *scenario == "" || *out == "" {
		return fmt.Errorf("%w: --scenario and --out are required (try --list)", errUsage)
	}
	sc, err := synth.Builtin(*scenario)
	if errors.Is(err, bgpwatch.ErrNotFound) {
		if _, serr := os.Stat(*scenario); serr != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		sc, err = synth.LoadScenario(*scenario)
	}
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if *quiet {
		level = slog.LevelError
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	t0 := time.Now()
	truth, err := synth.Generate(ctx, sc, *out, synth.Options{Seed: *seed, Only: *only, BZip2: *bz, Logger: log})
	if err != nil {
		if errors.Is(err, bgpwatch.ErrInvalid) {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		return err
	}
	var bytes int64
	for _, f := range truth.Files {
		bytes += f.Bytes
	}
	fmt.Fprintf(e.stdout, "%s: %d MRT files (%.1f MiB), %d expected events, %s to %s, in %s\ntruth: %s/truth.json\n",
		truth.Scenario, len(truth.Files), float64(bytes)/(1<<20), len(truth.Events),
		truth.Start.Format(time.RFC3339), truth.End.Format(time.RFC3339), time.Since(t0).Round(10*time.Millisecond), *out)
	return nil
}
