#!/bin/sh
# bench-replay.sh — measures `bgpwatch replay` against the generator's
# archives and prints medians:
#   1. one RIB dump of the "scale" scenario (.gz) replayed into PostgreSQL,
#      against `zcat` of the same file (target: replay <= 2x zcat);
#   2. one day of update files (target: < 1 minute);
#   3. peak RSS of the RIB replay (/usr/bin/time -v; target <= 1.5 GiB for
#      1M IPv4 + 200k IPv6 prefixes x 100 full-feed peers).
# Usage: scripts/bench-replay.sh [RUNS]   (default 3 runs per measurement)
# Env:   BENCH_DIR (work dir, default a temp dir, removed at the end unless set),
#        BGPWATCH_DB (use this PostgreSQL instead of an embedded server).
set -eu
RUNS=${1:-3}
. "$(dirname "$0")/benchsetup.sh"
bench_setup replay

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

if [ ! -f "$WORK/scale/.done" ]; then
	echo "generating the scale scenario into $WORK/scale ..." >&2
	"$BIN" generate --scenario scale --out "$WORK/scale" >&2
	touch "$WORK/scale/.done"
fi
RIB=$(find "$WORK/scale" -path '*rrc*' -name 'bview.*.gz' | sort | head -n 1)
[ -n "$RIB" ] || { echo "no RIS bview .gz in $WORK/scale" >&2; exit 1; }
DELEG=$(find "$WORK/scale" -name 'delegated-*' | sed 's/^/--delegations /' | tr '\n' ' ')
INFO=$(find "$WORK/scale" -name '*.csv' | head -n 1)
INFOFLAG=${INFO:+--asn-info $INFO}
echo "RIB: $RIB ($(du -h "$RIB" | cut -f1))" >&2

# Warm up the embedded server data dir and the page cache.
"$BIN" migrate >/dev/null 2>&1 || true
zcat "$RIB" >/dev/null

: >"$WORK/zcat.times"; : >"$WORK/rib.times"; : >"$WORK/rib.rss"; : >"$WORK/upd.times"; : >"$WORK/mig.times"
for i in $(seq "$RUNS"); do
	t0=$(now); zcat "$RIB" >/dev/null; t1=$(now)
	elapsed "$t0" "$t1" >>"$WORK/zcat.times"
	t0=$(now); "$BIN" migrate >/dev/null 2>&1; t1=$(now)
	elapsed "$t0" "$t1" >>"$WORK/mig.times"
	t0=$(now)
	# shellcheck disable=SC2086
	/usr/bin/time -v -o "$WORK/time.out" "$BIN" replay $DELEG $INFOFLAG "$RIB" 2>"$WORK/rib.err" >/dev/null
	t1=$(now)
	elapsed "$t0" "$t1" >>"$WORK/rib.times"
	awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$WORK/time.out" >>"$WORK/rib.rss"
done

# One day of update files of the scale scenario (all collectors), from the
# first RIB on: what a daily catch-up replay does.
DAY=$(basename "$RIB" | sed -E 's/^bview\.([0-9]{8})\..*/\1/')
FROM=$(date -u -d "$DAY" +%Y-%m-%dT00:00:00Z)
TO=$(date -u -d "$DAY + 1 day" +%Y-%m-%dT00:00:00Z)
for i in $(seq "$RUNS"); do
	t0=$(now)
	# shellcheck disable=SC2086
	"$BIN" replay $DELEG $INFOFLAG --from "$FROM" --to "$TO" "$WORK/scale" 2>"$WORK/upd.err" >/dev/null
	t1=$(now)
	elapsed "$t0" "$t1" >>"$WORK/upd.times"
done

Z=$(median <"$WORK/zcat.times"); R=$(median <"$WORK/rib.times"); M=$(median <"$WORK/mig.times")
U=$(median <"$WORK/upd.times"); RSS=$(median <"$WORK/rib.rss")
echo "runs per measurement:         $RUNS"
echo "zcat RIB (median s):          $Z"
echo "replay RIB -> PostgreSQL (s): $R   (ratio $(echo "scale=2; $R / $Z" | bc)x; target <= 2x)"
echo "  of which db start+migrate:  $M   (bgpwatch migrate on the embedded server)"
echo "replay one day (s):           $U   (target < 60)"
echo "peak RSS RIB replay (MiB):    $(echo "$RSS / 1024" | bc)   (target <= 1536)"
tail -n 8 "$WORK/rib.err" >&2
