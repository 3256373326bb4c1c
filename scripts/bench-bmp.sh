#!/bin/sh
# bench-bmp.sh — BMP Route Monitoring decoding speed on one core.
#
# Runs BenchmarkRouteMonitoring (bgp/bmp): a BMP stream made of the real
# UPDATEs of the shared RouteViews update file (route-views2, 2026-02-22
# 15:30, about 119k routes), one pre-policy Route Monitoring message per
# UPDATE, decoded end to end (framing, per-peer header, UPDATE, prefixes
# into observations) on one goroutine, GOMAXPROCS=1, pinned to one CPU
# when taskset is there. Prints routes/s of each run (wall clock, and per
# CPU second of the process, which a machine loaded by other processes
# does not skew), then the best and the median. Target: >= 1,000,000
# routes/s.
#
# Usage: scripts/bench-bmp.sh [RUNS]     (default 5)
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-5}
PIN=""
ncpu=$(nproc 2>/dev/null || echo 1)
[ "$ncpu" -ge 2 ] && command -v taskset >/dev/null && PIN="taskset -c $((ncpu - 1))"
out=$(GOMAXPROCS=1 $PIN go test ./bgp/bmp -run '^$' -bench '^BenchmarkRouteMonitoring$' -benchtime 5x -count "$RUNS")
echo "$out" | grep '^BenchmarkRouteMonitoring' || { echo "$out" >&2; exit 1; }
for unit in routes/s routes/cpu-s; do
	echo "$out" | awk -v unit="$unit" '/^BenchmarkRouteMonitoring/ {
		for (i = 1; i <= NF; i++) if ($i == unit) v[n++] = $(i-1)
	} END {
		if (n == 0) exit 0
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		printf "%s: best %.0f, median %.0f (%d runs; target 1000000)\n", unit, v[n-1], v[int(n/2)], n
	}'
done
