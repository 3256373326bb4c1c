#!/bin/sh
# bench-api.sh — load test of the HTTP API on loopback with wrk.
#
# Fills a throw-away embedded database (a generated kazakhstan-2022 replay
# when `bgpwatch generate` works, else the API test fixture scaled to 250
# countries and 2500 ASNs), starts `bgpwatch serve` on a free port and runs
# wrk against the 7-day country series (the default window) at 200
# connections for DURATION seconds. Target: p99 <= 20 ms on 2 cores.
#
# wrk runs on the same machine as the server, and on 2 cores they would
# fight over both: the figure would then measure the load generator's and
# the server's preemption of each other as much as the server. By default
# each gets its own core: the server is pinned (taskset) to CPU 0, so Go
# runs it with GOMAXPROCS=1, and wrk, one thread, to the last CPU. With
# SERVER_CPUS= (empty) the server may use every CPU (sharing wrk's); with
# PIN= (empty) and THREADS=2 wrk is unpinned too, the plain `wrk -t2`.
#
# Usage: scripts/bench-api.sh [DURATION]      (default 20 s)
# Env:   CONNS (200), THREADS (1), PIN (wrk's CPU, the last; empty: any),
#        SERVER_CPUS (the server's, 0; empty: any),
#        GZIP (1: send Accept-Encoding: gzip), CACHE_TTL (5s; 0 measures
#        the database path), ACCESS_LOG (true), PATH_UNDER_TEST.
set -eu
. "$(dirname "$0")/benchsetup.sh"
DURATION=${1:-20}
CONNS=${CONNS:-200}
THREADS=${THREADS:-1}
ncpu=$(nproc 2>/dev/null || echo 1)
if [ "${PIN-unset}" = unset ]; then
	PIN=""
	[ "$ncpu" -ge 2 ] && command -v taskset >/dev/null && PIN=$((ncpu - 1))
fi
if [ "${SERVER_CPUS-unset}" = unset ]; then
	SERVER_CPUS=""
	[ "$ncpu" -ge 2 ] && command -v taskset >/dev/null && SERVER_CPUS=0
fi
GZIP=${GZIP:-1}
CACHE_TTL=${CACHE_TTL:-5s}
command -v wrk >/dev/null || { echo "bench-api: wrk not found (apt-get install wrk)" >&2; exit 1; }

unset BGPWATCH_DB # a throw-away database of its own
bench_setup api
cc=KZ
echo "bench-api: replaying the generated kazakhstan-2022 scenario" >&2
if ! bench_fill_kz; then
	echo "bench-api: generate not available; filling with the API test fixture" >&2
	(cd "$ROOT" && BGPWATCH_BENCH_DATA_DIR="$WORK/data" go test -count=1 -run '^TestBenchFill$' ./api) >"$WORK/fill.log" 2>&1 || { cat "$WORK/fill.log" >&2; exit 1; }
fi

SERVE_PREFIX=${SERVER_CPUS:+taskset -c $SERVER_CPUS}
bench_serve --rate-limit 0 --cache-ttl "$CACHE_TTL" --webhooks=false --access-log="${ACCESS_LOG:-true}"
url=$URL
target=${PATH_UNDER_TEST:-/v1/countries/$cc/series}
[ -n "$(curl -fsS "$url/v1/countries" | grep -o '"code":"KZ"')" ] || { echo "bench-api: no KZ data after the fill" >&2; exit 1; }
points=$(curl -fsS "$url$target" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["points"]))')
echo "bench-api: GET $target -> $points points; wrk -t$THREADS -c$CONNS -d${DURATION}s gzip=$GZIP cache-ttl=$CACHE_TTL wrk-cpu=${PIN:-any} server-cpus=${SERVER_CPUS:-any} cpus=$ncpu" >&2
hdr=""
[ "$GZIP" = 1 ] && hdr="Accept-Encoding: gzip"
${PIN:+taskset -c "$PIN"} wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency ${hdr:+-H "$hdr"} "$url$target"
echo "bench-api: access log lines: $(grep -c 'msg=request' "$WORK/serve.log" || true)" >&2
