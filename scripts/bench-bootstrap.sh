#!/bin/sh
# bench-bootstrap.sh — loading a RIB dump into the visibility engine (the
# bootstrap of live ingest and the first step of a replay) against `zcat`
# of the same file. Target: bootstrap <= 1.2x zcat.
#
# The dump is the generator's "scale" scenario: one RIS bview of 1.05 M
# IPv4 + 200 k IPv6 prefixes from 67 peers (64 full feeds), 80.6 M routes,
# 684 MiB gzip. It is generated once into the cache directory and reused.
# The bootstrap is internal/bootstrapbench: ingest.Replay with the
# pipeline's engine and detector, bins discarded instead of written to
# PostgreSQL (the database work of a bootstrap is one bin).
#
# Prints medians of RUNS runs: wall seconds and CPU seconds (user+sys)
# of each, their ratios, the bootstrap's peak RSS, and the load average.
# On a shared machine the wall ratio depends on the load (the bootstrap
# is a pipeline of three goroutines: inflate, decode, engine).
#
# Usage: scripts/bench-bootstrap.sh [RUNS]      (default 3)
# Env:   BENCH_CACHE  cache directory (default ~/.cache/bgpwatch/bench)
#        BOOTSTRAP_CPUPROFILE  write the last run's CPU profile there
set -eu
RUNS=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${BENCH_CACHE:-$HOME/.cache/bgpwatch/bench}
export PATH="$PATH:/usr/local/go/bin"
WORK=$(mktemp -d /tmp/bench-bootstrap.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && go build -o "$WORK/bgpwatch" ./cmd/bgpwatch && go build -o "$WORK/bootstrapbench" ./internal/bootstrapbench)
mkdir -p "$CACHE"
if [ ! -f "$CACHE/scale/.done" ]; then
	echo "generating the scale scenario's RIB into $CACHE/scale (about a minute) ..." >&2
	rm -rf "$CACHE/scale"
	"$WORK/bgpwatch" generate --scenario scale --only rib --out "$CACHE/scale" >&2
	touch "$CACHE/scale/.done"
fi
RIB=$(find "$CACHE/scale" -name 'bview.*.gz' | sort | head -n 1)
[ -n "$RIB" ] || { echo "no bview in $CACHE/scale" >&2; exit 1; }
echo "RIB: $RIB ($(du -h "$RIB" | cut -f1))" >&2

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
# timed OUT CMD...: appends "wall cpu maxrss_kB" to OUT
timed() {
	out=$1; shift
	/usr/bin/time -f "%e %U %S %M" -o "$WORK/t" "$@" >"$WORK/stdout"
	awk '{printf "%s %.2f %s\n", $1, $2+$3, $4}' "$WORK/t" >>"$out"
}
zcat "$RIB" >/dev/null # page cache
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$RUNS"); do
	timed "$WORK/zcat" zcat "$RIB"
	PROF=""
	if [ "$i" = "$RUNS" ] && [ -n "${BOOTSTRAP_CPUPROFILE:-}" ]; then PROF="-cpuprofile $BOOTSTRAP_CPUPROFILE"; fi
	# shellcheck disable=SC2086
	timed "$WORK/boot" "$WORK/bootstrapbench" $PROF "$RIB"
	cat "$WORK/stdout" >&2
done
ZW=$(cut -d' ' -f1 "$WORK/zcat" | median); ZC=$(cut -d' ' -f2 "$WORK/zcat" | median)
BW=$(cut -d' ' -f1 "$WORK/boot" | median); BC=$(cut -d' ' -f2 "$WORK/boot" | median)
RSS=$(cut -d' ' -f3 "$WORK/boot" | median)
echo "runs:                    $RUNS (load average before: $LOAD0, after: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "zcat (median):           wall $ZW s, CPU $ZC s"
echo "bootstrap (median):      wall $BW s, CPU $BC s, peak RSS $(echo "$RSS / 1024" | bc) MiB"
echo "ratio bootstrap/zcat:    wall $(echo "scale=2; $BW / $ZW" | bc)x (target <= 1.2x), CPU $(echo "scale=2; $BC / $ZC" | bc)x"
