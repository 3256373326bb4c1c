#!/bin/sh
# bench-memory.sh — memory of the visibility state for every RIS and
# RouteViews collector at once: 1 000 full-feed sessions on 66 collectors
# (650 peer ASNs), each holding 1.05 M IPv4 + 200 k IPv6 prefixes (1 %
# MOAS), built by applying each collector's RIB dump to the engine
# (visibility.BenchmarkMemoryWorld: synthetic observations, no MRT files),
# then one 8-hourly refresh dump. Target: under 1 GiB resident.
#
# Prints the heap in use, the heap obtained from the OS, the resident set
# after a collection (freed pages returned) and its peak, in MiB, the CPU
# time per applied route and the wall time. It applies 1.3 billion routes:
# a few minutes of CPU (about 100 ns per route).
# Usage: scripts/bench-memory.sh
# Env:   VIS_SESSIONS, VIS_V4, VIS_V6 change the sizes (defaults 1000,
#        1050000, 200000); VIS_HEAPPROFILE=file writes the heap profile
#        of the built state.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$PATH:/usr/local/go/bin"
OUT=$(mktemp /tmp/bench-memory.XXXXXX)
trap 'rm -f "$OUT"' EXIT
START=$(date +%s)
(cd "$ROOT" && go test ./visibility/ -run '^$' -bench 'BenchmarkMemoryWorld$' -benchtime 1x -timeout 2h) >"$OUT"
END=$(date +%s)
grep '^Benchmark' "$OUT" >&2
metric() { awk -v u="$1" '/^BenchmarkMemoryWorld/ {for (i=2;i<NF;i++) if ($(i+1)==u) print $i}' "$OUT"; }
echo "sessions ${VIS_SESSIONS:-1000} x prefixes ${VIS_V4:-1050000} IPv4 + ${VIS_V6:-200000} IPv6"
echo "heap in use (MiB):          $(metric heapinuse-MiB)"
echo "heap from the OS (MiB):     $(metric sys-MiB)"
echo "resident after GC (MiB):    $(metric rss-MiB)   (target < 1024)"
echo "peak resident (MiB):        $(metric peakRSS-MiB)"
echo "CPU per applied route (ns): $(metric cpu-ns/apply)"
echo "wall time (s):              $((END - START))   (build and run)"
