#!/bin/sh
# bench-rislive.sh — RIS Live decoding speed on one core: bgp/rislive
# Decode + Observations over 10 000 firehose-shaped UPDATE messages (many
# collectors and peers, paths of 3-9 ASes, communities, 1-16 prefixes per
# message, withdrawals, a few KEEPALIVE and peer-state messages; see
# firehose() in bgp/rislive/bench_test.go), against the encoding/json
# decoder it replaced. Target: >= 100 000 messages/s.
#
# Prints messages per second of wall time and per second of the process's
# CPU time (GC included). On a shared, loaded machine the wall figure
# measures the share of the core the benchmark got; the CPU figure is what
# one core of its own would do.
# Usage: scripts/bench-rislive.sh [COUNT]   (default 3 runs of 2 s each)
set -eu
COUNT=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/usr/local/go/bin"
PIN=""
command -v taskset >/dev/null 2>&1 && PIN="taskset -c 0"
OUT=$(mktemp /tmp/bench-rislive.XXXXXX)
trap 'rm -f "$OUT"' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
(cd "$ROOT" && GOMAXPROCS=1 $PIN go test ./bgp/rislive/ -run '^$' -bench 'BenchmarkDecode' \
	-benchtime 2s -count "$COUNT") >"$OUT"
grep '^Benchmark' "$OUT" >&2
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.0f\n", (a[NR/2]+a[NR/2+1])/2}'; }
metric() { # benchmark name, metric unit
	awk -v b="$1" -v u="$2" '$1 ~ "^"b"(-[0-9]+)?$" {for (i=2;i<NF;i++) if ($(i+1)==u) print $i}' "$OUT" | median
}
printf 'Decode+Observations (median of %s):     %8.0f msgs/s wall  %8.0f msgs/s CPU  (target >= 100000)\n' \
	"$COUNT" "$(metric BenchmarkDecode msgs/s)" "$(metric BenchmarkDecode msgs/cpu-s)"
printf 'encoding/json reference (median of %s):  %8.0f msgs/s wall  %8.0f msgs/s CPU\n' \
	"$COUNT" "$(metric BenchmarkDecodeReference msgs/s)" "$(metric BenchmarkDecodeReference msgs/cpu-s)"
printf 'observations per message: %s\n' "$(metric BenchmarkDecode obs/msg)"
