#!/bin/sh
# bench-cache.sh — memory of the API response cache under requests that
# each ask for a different series (a different from=), the pattern that
# used to grow `serve` by hundreds of MB: the cache bounded its entries
# (4096), not their bytes.
#
# Fills a throw-away embedded database with the generated kazakhstan-2022
# replay (as bench-api.sh), starts `bgpwatch serve` with --cache-ttl 60s
# and --cache-max-bytes CACHE_MAX, sends REQUESTS GETs of the country
# series, each with its own from= (7-day windows sliding by 5 minutes, half
# of them asking for gzip), and prints the server's resident memory before
# and after, and the cache's own accounting from /metrics
# (bgpwatch_api_cache_bytes, _entries, _evictions_total).
#
# Usage: scripts/bench-cache.sh              (CACHE_MAX=32MiB REQUESTS=1500)
# Env:   CACHE_MAX (a size: 32MiB, 4GiB, ...), REQUESTS, CLIENTS (8).
set -eu
. "$(dirname "$0")/benchsetup.sh"
CACHE_MAX=${CACHE_MAX:-32MiB}
REQUESTS=${REQUESTS:-1500}
CLIENTS=${CLIENTS:-8}

unset BGPWATCH_DB # a throw-away database of its own
bench_setup cache
echo "bench-cache: generating and replaying kazakhstan-2022" >&2
bench_fill_kz || exit 1
bench_serve --rate-limit 0 --cache-ttl 60s --cache-max-bytes "$CACHE_MAX" --webhooks=false --access-log=false
python3 - "$URL" "$SERVE_PID" "$REQUESTS" "$CLIENTS" "$CACHE_MAX" <<'PY'
import concurrent.futures, datetime, json, sys, urllib.request
url, pid, n, clients, budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
def metrics():
    out = {}
    for line in urllib.request.urlopen(url + "/metrics").read().decode().splitlines():
        if line.startswith("bgpwatch_api_cache_"):
            k, v = line.split()
            out[k] = float(v)
    return out

last = json.load(urllib.request.urlopen(url + "/v1/health"))["latest_bin"]
last = datetime.datetime.fromisoformat(last.replace("Z", "+00:00"))
start = last - datetime.timedelta(days=7)
before = rss()
sent = [0]
def get(i):
    f = (start + datetime.timedelta(minutes=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    req = urllib.request.Request(f"{url}/v1/countries/KZ/series?from={f}")
    if i % 2:
        req.add_header("Accept-Encoding", "gzip")
    with urllib.request.urlopen(req) as r:
        return len(r.read())
with concurrent.futures.ThreadPoolExecutor(clients) as ex:
    total = sum(ex.map(get, range(n)))
m = metrics()
print(f"bench-cache: budget {budget}: {n} requests with distinct from=, {total / 2**20:.1f} MiB of bodies sent")
print(f"bench-cache: serve RSS {before:.0f} MiB before, {rss():.0f} MiB after")
print(f"bench-cache: cache {m.get('bgpwatch_api_cache_bytes', 0) / 2**20:.1f} MiB in {m.get('bgpwatch_api_cache_entries', 0):.0f} entries "
      f"(budget {m.get('bgpwatch_api_cache_max_bytes', 0) / 2**20:.0f} MiB), {m.get('bgpwatch_api_cache_evictions_total', 0):.0f} evicted")
PY
