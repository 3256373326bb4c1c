#!/bin/sh
# bench-backfill.sh — backfill throughput with 1 and 2 worker processes on
# one PostgreSQL: a generated archive of DAYS days (two collectors, RIS and
# RouteViews, 6 full-feed peers, WORLD_V4 IPv4 prefixes of WORLD_ASNS
# networks) is queued as one-day windows and worked on by N workers; the
# time from the queueing to the end of the detection over the range is
# printed, with the windows per minute. The generator's "scale" archive
# holds one day (one window), which cannot show a second worker's gain;
# this script's archive is smaller per day but has several.
# Usage: scripts/bench-backfill.sh [DAYS]   (default 4)
# Env:   WORLD_ASNS (default 3000), WORLD_V4 (default 60000),
#        BENCH_DIR (work dir, kept when set).
set -eu
DAYS=${1:-4}
ASNS=${WORLD_ASNS:-3000}
V4=${WORLD_V4:-60000}
. "$(dirname "$0")/benchsetup.sh"
bench_setup backfill
END=$(date -u -d "2024-04-01 + $DAYS days" +%Y-%m-%dT00:00:00Z)
cat > "$WORK/scenario.yaml" <<YAML
name: bench-backfill
description: backfill benchmark archive
start: 2024-04-01T00:00:00Z
end: $END
seed: 5
networks:
  - {asn: 64510, name: "fixed (synthetic)", country: AM, access: fixed, v4: 400, v6: 4}
world: {asns: $ASNS, v4: $V4, v6: $((V4 / 10)), countries: [GE, DE, US, BR, KZ, IR]}
collectors:
  - name: rrc00
    project: ris
    peers:
      - {asn: 3356, addr: 80.81.192.10, share: 1}
      - {asn: 1299, addr: 80.81.192.20, share: 1}
      - {asn: 9002, addr: 80.81.193.9, share: 1}
  - name: route-views2
    project: routeviews
    peers:
      - {asn: 2914, addr: 129.250.1.71, share: 1}
      - {asn: 6453, addr: 66.110.0.86, share: 1}
      - {asn: 7018, addr: 12.0.1.63, share: 1}
churn: {flaps_per_peer_hour: 200, path_changes_per_peer_hour: 200}
happenings:
  - {at: 2024-04-02T09:00:00Z, kind: withdraw, asns: [64510], share: 0.9, jitter: 1m}
  - {at: 2024-04-02T13:00:00Z, kind: restore, asns: [64510], share: 1, jitter: 1m}
YAML
if [ ! -f "$WORK/archive/.done" ]; then
	echo "generating $DAYS days ($V4 IPv4 prefixes) into $WORK/archive ..." >&2
	"$BIN" generate --scenario "$WORK/scenario.yaml" --out "$WORK/archive" >&2
	touch "$WORK/archive/.done"
fi
echo "archive: $(du -sh "$WORK/archive" | cut -f1), $(find "$WORK/archive" -type f | wc -l) files" >&2
DELEG=$(find "$WORK/archive/rir" -name 'delegated-*-extended-*' | sed 's/^/--delegations /' | tr '\n' ' ')

for N in 1 2; do
	export BGPWATCH_DATA_DIR="$WORK/pg$N"
	rm -rf "$BGPWATCH_DATA_DIR"
	"$BIN" migrate >/dev/null 2>&1
	T0=$(date +%s.%N)
	# shellcheck disable=SC2086
	"$BIN" backfill --from 2024-04-01T00:00:00Z --to "$END" $DELEG --asn-info "$WORK/archive/asn-info.csv" "$WORK/archive" >&2
	PIDS=""
	i=0
	while [ $i -lt $N ]; do
		"$BIN" worker -v=false 2>"$WORK/worker$N.$i.log" &
		PIDS="$PIDS $!"
		i=$((i + 1))
	done
	while ! "$BIN" backfill --status | grep -q "detected yes"; do sleep 1; done
	T1=$(date +%s.%N)
	# shellcheck disable=SC2086
	kill $PIDS; wait $PIDS 2>/dev/null || true
	"$BIN" backfill --status >&2
	echo "$N worker(s): $DAYS windows in $(echo "$T1 - $T0" | bc) s ($(echo "scale=2; $DAYS * 60 / ($T1 - $T0)" | bc) windows/min)"
done
