#!/usr/bin/env bash
# What a burst leaves in the server's memory, per allocator: builds (release) the bench server once
# per allocator (src/allocator.rs: jemalloc, the default; mimalloc; system = glibc's malloc) and the
# load generator, then for each allocator and each burst starts a fresh server on a free loopback
# port, runs `loadgen burst` (VmRSS before, at the peak, and once the server is idle again after
# a settle), stops the server, and prints one table.
#
#   bash bench/memory.sh                           # every allocator, both bursts (~3 minutes)
#   bash bench/memory.sh --allocators jemalloc,system --settle 10
#   bash bench/memory.sh --no-build
#   bash bench/memory.sh --env system='GLIBC_TUNABLES=glibc.malloc.arena_max=2'   # an allocator's
#                                                  # environment (repeatable; `NAME=VAR=VALUE`)
#
# The bursts:
#   post-55554   one polling client, one POST of 55,554 `echo` events (maxPayload 1e6): the
#                socket's mailbox (4,096) overflows, the session is closed, the rest is dropped
#   poll-100x4k  100 polling clients at once, each one POST of 4,000 `echo` events (below the
#                mailbox bound) whose echoes they do not read (the server queues them), then `1`
#   poll-50x5x4k 50 polling clients at once, each 5 POSTs of 4,000 `echo` events, reading every
#                echo back before the next POST, then `1`
#
# Only the PIDs this script starts are ever signalled. Everything stays on 127.0.0.1. The logs and
# the JSON of every burst go to bench/results/memory/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
BENCH="$ROOT/bench"
RESULTS="$BENCH/results/memory"
# shellcheck source=allocators.sh
. "$BENCH/allocators.sh"

allocators="jemalloc,mimalloc,system"
settle=10
build=1
declare -A envs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --allocators) allocators="$2"; shift 2 ;;
    --settle) settle="$2"; shift 2 ;;
    --env) envs[${2%%=*}]="${envs[${2%%=*}]:-} ${2#*=}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
IFS=, read -r -a alloc_list <<<"$allocators"

if [ "$build" = 1 ]; then
  for a in "${alloc_list[@]}"; do
    echo "=== build bench_server ($a, release)"
    build_bench_server "$a"
  done
  (cd "$BENCH" && cargo build --release </dev/null)
fi
LOADGEN="$TARGET_BENCH/release/loadgen"
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/*.log

trap term_started EXIT
trap 'exit 130' INT TERM

declare -A bursts=(
  [post-55554]="--clients 1 --posts 1 --events 55554 --pad 4"
  [poll-100x4k]="--clients 100 --posts 1 --events 4000"
  [poll-50x5x4k]="--clients 50 --posts 5 --events 4000 --read"
)
burst_order=(post-55554 poll-100x4k poll-50x5x4k)

rows=()
status=0
for a in "${alloc_list[@]}"; do
  bin="$TARGET_ROOT/release/examples/bench_server.$a"
  [ -x "$bin" ] || { echo "missing $bin (run without --no-build)" >&2; exit 1; }
  read -r -a env_words <<<"${envs[$a]:-}"
  for b in "${burst_order[@]}"; do
    free_port port
    log="$RESULTS/$a.$b.server.log"
    env "${env_words[@]}" "$bin" --port "$port" >"$log" 2>&1 </dev/null &
    server_pid=$!
    started+=("$server_pid")
    wait_for "$server_pid" "$log" "listening on 127.0.0.1:$port" || exit 1
    echo "=== $a ${env_words[*]}: $b (pid $server_pid, port $port)"
    out="$RESULTS/$a.$b.json"
    # shellcheck disable=SC2086 # the burst's flags are words
    if timeout 600 "$LOADGEN" burst --port "$port" --server-pid "$server_pid" --settle "$settle" \
        ${bursts[$b]} >"$out" 2> >(tee "$RESULTS/$a.$b.loadgen.log" >&2); then
      rows+=("$(node -e '
        const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const mb = (k) => r[k] == null ? "?" : (r[k] / 1024).toFixed(1);
        const d = r.rss_after_kib - r.rss_before_kib;
        console.log(`| ${process.argv[2]} | ${process.argv[3]} | ${mb("rss_before_kib")} | ${mb("rss_peak_kib")} | ${mb("rss_after_kib")} | ${(d >= 0 ? "+" : "") + (d / 1024).toFixed(1)} | ${mb("rss_after_trimmed_kib")} | ${r.echoed} / ${r.posted} | ${r.idle ? "yes" : "NO"} |`);
      ' "$out" "$a${env_words[*]:+ (${env_words[*]})}" "$b")")
    else
      echo "!!! loadgen burst failed against $a ($b)" >&2
      status=1
    fi
    stop "$server_pid"
  done
done

echo
echo "Settle ${settle} s after the server is idle; MiB = VmRSS / 1024 KiB."
echo
echo "| allocator | burst | before MiB | peak MiB | after MiB | after - before | after trim MiB | echoed / posted | idle |"
echo "|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "results: $RESULTS"
exit "$status"
