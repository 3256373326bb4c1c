#!/bin/sh
# bench-mrt.sh — wall-clock comparison of bgpwatch's MRT decoding with zcat,
# bzcat and bgpdump. Prints medians of N runs.
#
#   scripts/bench-mrt.sh [-n RUNS] [FILE.gz [FILE.bz2]]
#
# FILE.gz: a large RIB (e.g. from `bgpwatch generate --scenario scale --only rib`).
# Without FILE the script builds one from the public RouteViews sample in
# $BGPWATCH_SHARED_DATA, the tests' sample data directory (route-views2 RIB
# repeated 20 times: 5.4M routes, 35 peers); or pass a RIB of your own.
# FILE.bz2: bzip2 input for the bz2 comparison (default: FILE recompressed).
set -eu
RUNS=3
if [ "${1:-}" = "-n" ]; then RUNS=$2; shift 2; fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT"
go build -o "$TMP/bgpwatch" ./cmd/bgpwatch
go build -o "$TMP/mrtdecode" ./bgp/mrtsource/internal/mrtdecode

GZ=${1:-}
if [ -z "$GZ" ]; then
	SAMPLE="${BGPWATCH_SHARED_DATA:-}/mrt/routeviews/route-views2.rib.20140523.0600_firstMB.bz2"
	if [ ! -f "$SAMPLE" ]; then
		echo "bench-mrt.sh: give a RIB file, or set BGPWATCH_SHARED_DATA to the sample data directory" >&2
		exit 2
	fi
	"$TMP/mrtdecode" -repeat 20 -o "$TMP/rib.mrt" "$SAMPLE"
	gzip -6 -c "$TMP/rib.mrt" > "$TMP/rib.gz"
	GZ="$TMP/rib.gz"
fi
BZ=${2:-}
if [ -z "$BZ" ]; then
	zcat "$GZ" | lbzip2 -9 -c > "$TMP/rib.bz2"
	BZ="$TMP/rib.bz2"
fi

# median wall seconds of RUNS runs of a shell command
median() {
	for i in $(seq "$RUNS"); do
		s=$(date +%s.%N)
		sh -c "$1" >/dev/null 2>&1 || true
		e=$(date +%s.%N)
		echo "$e - $s" | bc
	done | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'
}

echo "input: $GZ ($(du -h "$GZ" | cut -f1)), $BZ ($(du -h "$BZ" | cut -f1)); $("$TMP/mrtdecode" "$GZ" | tr '\n' ' ')"
echo "median of $RUNS runs, wall seconds (machine: $(nproc) cores)"
ZC=$(median "zcat '$GZ' >/dev/null")
DEC=$(median "'$TMP/mrtdecode' '$GZ'")
DUMP=$(median "'$TMP/bgpwatch' dump '$GZ' >/dev/null")
BD=-
if command -v bgpdump >/dev/null; then BD=$(median "bgpdump -m -O /dev/null '$GZ'"); fi
BZC=$(median "bzcat '$BZ' >/dev/null")
BZOURS=$(median "'$TMP/mrtdecode' -records '$BZ'")
ratio() { if [ "$2" = "-" ]; then echo "-"; else echo "scale=2; $1 / $2" | bc; fi; }
printf '%-44s %8s  %s\n' "command" "seconds" "ratio"
printf '%-44s %8s  %s\n' "zcat FILE >/dev/null" "$ZC" "1.00 (reference)"
printf '%-44s %8s  %sx zcat; bgpdump/this = %s (target >= 10)\n' "mrtsource decode (replay's path)" "$DEC" "$(ratio "$DEC" "$ZC")" "$(ratio "$BD" "$DEC")"
printf '%-44s %8s  bgpdump/this = %s (target >= 3)\n' "bgpwatch dump FILE >/dev/null" "$DUMP" "$(ratio "$BD" "$DUMP")"
printf '%-44s %8s\n' "bgpdump -m -O /dev/null FILE" "$BD"
printf '%-44s %8s  1.00 (reference)\n' "bzcat FILE.bz2 >/dev/null" "$BZC"
printf '%-44s %8s  %sx bzcat (target <= 1.2)\n' "mrt bz2 path (decompress + frame records)" "$BZOURS" "$(ratio "$BZOURS" "$BZC")"
