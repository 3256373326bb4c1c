#!/bin/sh
# bench-detect.sh — measures `bgpwatch detect` over a month of stored
# series at 80 000 ASNs (250 countries, 8640 five-minute bins, daily key
# frames, BENCH_CHANGES ASNs changing per bin, default 200), and prints the
# benchmark lines: "query" is reading the series from PostgreSQL alone,
# "detect" the whole recomputation (read, detector, comparison with the
# stored events). The setup writes the month once (about a minute).
# Usage: scripts/bench-detect.sh
# Env:   BENCH_CHANGES (ASNs changing per bin).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/usr/local/go/bin"
cd "$ROOT"
go test -run '^$' -bench 'BenchmarkDetectMonth' -benchtime 1x -benchmem -timeout 30m ./cmd/bgpwatch
