#!/usr/bin/env bash
# Churn and soak against Switchyard: builds (release) the bench server and the load generator,
# starts the server on a free loopback port with a short heartbeat (so that clients that vanish
# are reaped within the drain), runs `loadgen soak`, and prints its summary. Exits non-zero when
# the soak's end conditions fail (sessions, sockets, room entries back to zero; resident memory
# back within 10 % of the warm-up's once idle) or the server died.
#
#   bash bench/soak.sh                          # 10,000 clients (or what the fd limit allows), 10 minutes
#   bash bench/soak.sh --clients 500 --minutes 1    # the CI smoke run
#   bash bench/soak.sh --no-build
#   bash bench/soak.sh --debug-server           # the debug bench_server (`cargo build --examples`
#                                               # has built it in CI: no release build of the crate)
#   bash bench/soak.sh --ping-interval 10000 --ping-timeout 5000   # the defaults here (ms)
#   bash bench/soak.sh --allocator system --minutes 3   # the bench server built with another
#                                               # allocator (jemalloc, the default; mimalloc; system)
#   bash bench/soak.sh -- --drop-pct 40 --think-ms 1000            # anything after `--` goes to `loadgen soak`
#
# Only the PIDs this script starts are ever signalled. Everything stays on 127.0.0.1. The server's
# log, the load generator's progress and the JSON of every figure go to bench/results/soak/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
BENCH="$ROOT/bench"
RESULTS="$BENCH/results/soak"
# shellcheck source=allocators.sh
. "$BENCH/allocators.sh"

clients=10000
minutes=10
ping_interval=10000
ping_timeout=5000
build=1
server_profile=release
allocator=""
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="$2"; shift 2 ;;
    --minutes) minutes="$2"; shift 2 ;;
    --ping-interval) ping_interval="$2"; shift 2 ;;
    --ping-timeout) ping_timeout="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --debug-server) server_profile=debug; shift ;;
    --allocator) allocator="$2"; allocator_features "$allocator" >/dev/null || exit 2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$clients" in ''|*[!0-9]*) echo "--clients: a count" >&2; exit 2 ;; esac
case "$minutes" in ''|*[!0-9.]*) echo "--minutes: a number" >&2; exit 2 ;; esac
case "$ping_interval$ping_timeout" in ''|*[!0-9]*) echo "--ping-*: milliseconds" >&2; exit 2 ;; esac

raise_fd_limit

if [ "$build" = 1 ]; then
  echo "=== build (bench_server: $server_profile; loadgen: release)"
  if [ -n "$allocator" ]; then
    [ "$server_profile" = release ] || { echo "--allocator builds a release server" >&2; exit 2; }
    build_bench_server "$allocator"
  elif [ "$server_profile" = release ]; then
    cargo build --release --example bench_server </dev/null
  else
    cargo build --example bench_server </dev/null
  fi
  (cd "$BENCH" && cargo build --release </dev/null)
fi

LOADGEN="$TARGET_BENCH/release/loadgen"
SERVER="$TARGET_ROOT/$server_profile/examples/bench_server${allocator:+.$allocator}"
for bin in "$LOADGEN" "$SERVER"; do
  [ -x "$bin" ] || { echo "missing $bin (run without --no-build)" >&2; exit 1; }
done
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/*.log "$RESULTS"/*.txt

trap term_started EXIT
trap 'exit 130' INT TERM

free_port port
log="$RESULTS/server.log"
"$SERVER" --port "$port" --ping-interval "$ping_interval" --ping-timeout "$ping_timeout" \
  >"$log" 2>&1 </dev/null &
server_pid=$!
started+=("$server_pid")
wait_for "$server_pid" "$log" "listening on 127.0.0.1:$port" || exit 1
echo "bench_server ($server_profile${allocator:+, $allocator}) on 127.0.0.1:$port (pid $server_pid), ping interval $ping_interval ms, timeout $ping_timeout ms"

# Bound of the whole soak: the load, warm-up and drain (heartbeat + 30 s, twice), settling, slack.
bound=$(awk -v m="$minutes" -v i="$ping_interval" -v t="$ping_timeout" \
  'BEGIN { printf "%d", m * 60 + 4 * ((i + t) / 1000 + 30) + 300 }')
status=0
timeout "$bound" "$LOADGEN" soak --port "$port" --server-pid "$server_pid" \
  --clients "$clients" --minutes "$minutes" --json "$RESULTS/soak.json" "${extra[@]}" \
  >"$RESULTS/summary.txt" 2> >(tee "$RESULTS/loadgen.log" >&2) || status=$?
sleep 0.2
echo
cat "$RESULTS/summary.txt"
if [ "$status" = 124 ]; then echo "!!! the soak did not finish within ${bound}s" >&2; fi

if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "!!! bench_server (pid $server_pid) exited during the run; its log: $log" >&2
  status=1
else
  stop "$server_pid"
fi
other=$(grep -v -e '^listening on ' -e '^open http' -e '^counters ' "$log" | head -5 || true)
if [ -n "$other" ]; then echo "--- bench_server's log also has:"; echo "$other"; fi
echo "results: $RESULTS"
exit "$status"
