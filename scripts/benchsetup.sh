# benchsetup.sh — sourced by the scripts/bench-*.sh that run the bgpwatch
# binary: their work directory, the binary, and for the API benchmarks a
# database filled with the generated kazakhstan-2022 replay and served on
# a free loopback port. POSIX sh; the caller has `set -eu`.
#
# bench_setup NAME   ROOT (the repository), WORK (BENCH_DIR when set, kept;
#                    else a fresh /tmp/bench-NAME.XXXXXX removed at exit,
#                    with the server of bench_serve stopped), BIN (the
#                    binary, built into WORK), BGPWATCH_DATA_DIR (WORK/data:
#                    an embedded server of its own unless BGPWATCH_DB is set).
# bench_fill_kz      generates kazakhstan-2022 into WORK/gen and replays it
#                    with the registry files its truth.json names; status 1
#                    when generate fails, exit 1 (the log on stderr) when
#                    the replay does.
# bench_serve ARG... starts `bgpwatch serve` on a free 127.0.0.1 port with
#                    ARGs (SERVE_PREFIX, e.g. "taskset -c 0", in front),
#                    stderr to WORK/serve.log; sets URL and SERVE_PID once
#                    /v1/health answers (10 s at most).

bench_setup() {
	ROOT=$(cd "$(dirname "$0")/.." && pwd)
	if [ -n "${BENCH_DIR:-}" ]; then
		WORK=$BENCH_DIR
		mkdir -p "$WORK"
		trap 'bench_stop' EXIT
	else
		WORK=$(mktemp -d "/tmp/bench-$1.XXXXXX")
		trap 'bench_stop; rm -rf "$WORK"' EXIT
	fi
	trap 'exit 130' INT TERM # through the EXIT trap
	export PATH="$PATH:/usr/local/go/bin"
	export BGPWATCH_DATA_DIR="$WORK/data"
	BIN="$WORK/bgpwatch"
	echo "bench-$1: building" >&2
	(cd "$ROOT" && go build -o "$BIN" ./cmd/bgpwatch)
}

bench_stop() {
	if [ -n "${SERVE_PID:-}" ]; then
		kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
		SERVE_PID=""
	fi
	return 0
}

bench_fill_kz() {
	"$BIN" generate --scenario kazakhstan-2022 --out "$WORK/gen" >"$WORK/gen.log" 2>&1 || { tail -20 "$WORK/gen.log" >&2; return 1; }
	# truth.json names the registry files the scenario comes with.
	extra=$(python3 - "$WORK/gen" <<'PY'
import json, os, sys
d = sys.argv[1]
t = json.load(open(os.path.join(d, "truth.json")))
args = []
for f in t.get("rir_files") or []:
    args += ["--delegations", os.path.join(d, f)]
if t.get("asn_info"):
    args += ["--asn-info", os.path.join(d, t["asn_info"])]
print(" ".join(args))
PY
)
	# shellcheck disable=SC2086
	"$BIN" replay $extra "$WORK/gen" >"$WORK/replay.log" 2>&1 || { tail -20 "$WORK/replay.log" >&2; exit 1; }
}

bench_serve() {
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	# shellcheck disable=SC2086
	${SERVE_PREFIX:-} "$BIN" serve --listen "127.0.0.1:$port" "$@" 2>"$WORK/serve.log" &
	SERVE_PID=$!
	URL="http://127.0.0.1:$port"
	for _ in $(seq 100); do
		curl -fsS "$URL/v1/health" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "serve did not answer on $URL:" >&2
	tail -20 "$WORK/serve.log" >&2
	return 1
}
