#!/usr/bin/env bash
# Builds the Switchyard bench server, the three peers (Node socket.io, socketioxide, and raw-ws:
# the raw WebSocket floor, no JSON, no polling) and the load generator (release), then runs the
# same scenarios against each server in turn on a free loopback port, prints the table (figures
# per server, ratios Switchyard/peer) and writes it into BENCHMARKS.md.
#
#   bash bench/run.sh                      # full run: 2 rounds over the 4 servers, ~9-10 minutes on 2 cores
#   bash bench/run.sh --rounds 3           # medians over more rounds (tails are noisy on a small VM)
#   bash bench/run.sh --quick              # 1 round of small sizes, a smoke test of the harness
#   bash bench/run.sh --servers switchyard,socketioxide
#   bash bench/run.sh --servers switchyard-recovery,switchyard --no-write   # recovery on vs off
#   bash bench/run.sh --servers switchyard-msgpack,switchyard --no-write    # msgpack vs JSON parser
#   bash bench/run.sh --servers switchyard,switchyard-system,switchyard-mimalloc --no-write
#                                          # the allocators: jemalloc (the default), glibc's, mimalloc
#   bash bench/run.sh --no-write           # print the table only, leave BENCHMARKS.md alone
#   bash bench/run.sh -- --connect-n 50000 --source-ips 127.0.0.2,127.0.0.3 --scenarios connect
#                                          # anything after `--` goes to `loadgen run`
#
# Only the PIDs this script starts are ever signalled. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
BENCH="$ROOT/bench"
RESULTS="$BENCH/results"
# shellcheck source=allocators.sh
. "$BENCH/allocators.sh"

servers="switchyard,node,socketioxide,raw-ws"
rounds=2
write=1
build=1
quick=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --servers) servers="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --no-write) write=0; shift ;;
    --no-build) build=0; shift ;;
    --quick) quick=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

raise_fd_limit

IFS=, read -r -a server_list <<<"$servers"
# Builds what the servers listed need (release).
if [ "$build" = 1 ]; then
  echo "=== build (release)"
  for name in "${server_list[@]}"; do
    case "$name" in
      switchyard-jemalloc|switchyard-mimalloc|switchyard-system) build_bench_server "${name#switchyard-}" ;;
    esac
  done
  # The default allocator last: cargo writes every variant to the same path.
  cargo build --release --example bench_server </dev/null
  (cd "$BENCH" && cargo build --release </dev/null)
  if [[ ",$servers," == *,socketioxide,* ]]; then
    (cd "$BENCH/peers/socketioxide" && cargo build --release </dev/null)
  fi
  if [[ ",$servers," == *,raw-ws,* ]]; then
    (cd "$BENCH/peers/rawws" && cargo build --release </dev/null)
  fi
  if [[ ",$servers," == *,node,* ]] && { [ ! -d "$BENCH/peers/node/node_modules" ] ||
     [ "$BENCH/peers/node/package-lock.json" -nt "$BENCH/peers/node/node_modules/.package-lock.json" ]; }; then
    (cd "$BENCH/peers/node" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
  fi
fi

LOADGEN="$TARGET_BENCH/release/loadgen"
SERVER="$TARGET_ROOT/release/examples/bench_server"
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/*.log

trap term_started EXIT INT TERM

sizes=()
if [ "$quick" = 1 ]; then
  rounds=1
  sizes=(--connect-n 500 --echo-duration 3 --fanout-receivers 100 --fanout-duration 3
         --poll-duration 3 --pause-ms 500)
fi

declare -A files=()
# Rounds go over all servers in turn (switchyard, node, socketioxide, switchyard, ...), so that
# a slow minute of the machine does not fall on one server only; each start is a fresh process.
for round in $(seq "$rounds"); do
for name in "${server_list[@]}"; do
  free_port port
  log="$RESULTS/$name.r$round.server.log"
  out="$RESULTS/$name.r$round.json"
  parser=json
  # Scenario flags for this server only (raw-ws serves no long-polling).
  only=()
  case "$name" in
    switchyard) cmd=("$SERVER" --port "$port") ;;
    # The same built with another allocator (jemalloc is the default; system = glibc's malloc).
    switchyard-jemalloc|switchyard-mimalloc|switchyard-system)
      cmd=("$SERVER.${name#switchyard-}" --port "$port") ;;
    # The same speaking socket.io-msgpack-parser (the load generator too; WebSocket scenarios).
    switchyard-msgpack)
      cmd=("$SERVER" --port "$port" --parser msgpack)
      parser=msgpack ;;
    # The same with connection state recovery on: what keeping broadcasts costs.
    switchyard-recovery) cmd=("$SERVER" --port "$port" --recovery 1) ;;
    node) cmd=(node "$BENCH/peers/node/server.js" --port "$port") ;;
    socketioxide) cmd=("$TARGET_SOCKETIOXIDE/release/socketioxide-peer" --port "$port") ;;
    # The floor: the load generator's frames over a bare WebSocket, answered by slicing.
    raw-ws)
      cmd=("$TARGET_RAWWS/release/rawws-peer" --port "$port")
      only=(--websocket-only) ;;
    *) echo "unknown server $name (switchyard, switchyard-recovery, switchyard-msgpack," \
         "switchyard-jemalloc, switchyard-mimalloc, switchyard-system, node, socketioxide, raw-ws)" >&2; exit 2 ;;
  esac
  echo "=== round $round/$rounds, $name: ${cmd[*]}"
  "${cmd[@]}" >"$log" 2>&1 </dev/null &
  pid=$!
  started+=("$pid")
  wait_for "$pid" "$log" "listening on 127.0.0.1:$port" || exit 1
  echo "$name listening on 127.0.0.1:$port (pid $pid)"
  status=0
  timeout 1200 "$LOADGEN" run --port "$port" --server-pid "$pid" --name "$name" --parser "$parser" \
    "${only[@]}" "${sizes[@]}" "${extra[@]}" >"$out" 2> >(tee "$RESULTS/$name.r$round.loadgen.log" >&2) ||
    status=$?
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "!!! $name (pid $pid) exited during the run; its log: $log" >&2
  fi
  stop "$pid"
  if [ "$status" != 0 ]; then echo "!!! loadgen exited $status against $name" >&2; fi
  if [ -s "$log" ] && [ "$(wc -l <"$log")" -gt 1 ]; then
    echo "--- $name wrote to its log ($log):" >&2
    head -20 "$log" >&2
  fi
  files[$name]="${files[$name]:+${files[$name]},}$out"
  sleep 2
done
done

report_args=()
for name in "${server_list[@]}"; do report_args+=("$name=${files[$name]}"); done
table=$("$LOADGEN" report "${report_args[@]}")
echo
echo "$table"

if [ "$write" = 1 ]; then
  cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
  sio_version=$(awk '/^name = "socketioxide"$/ {getline; print $3}' "$BENCH/peers/socketioxide/Cargo.lock" | tr -d '"')
  rawws_version=$(awk '/^name = "fastwebsockets"$/ {getline; print $3}' "$BENCH/peers/rawws/Cargo.lock" | tr -d '"')
  node_sio=$(node -p 'require(process.argv[1]).version' "$BENCH/peers/node/node_modules/socket.io/package.json" 2>/dev/null || echo '?')
  args_shown=$(echo "${sizes[*]} ${extra[*]}" | xargs)
  notes=""
  if [ -f "$ROOT/BENCHMARKS.md" ]; then
    notes=$(awk '/<!-- notes:begin -->/,/<!-- notes:end -->/' "$ROOT/BENCHMARKS.md")
  fi
  if [ -z "$notes" ]; then
    notes=$'<!-- notes:begin -->\n<!-- notes:end -->'
  fi
  {
    cat <<EOF
# Benchmarks

Switchyard against the reference Node socket.io server and socketioxide, all three serving the
same contract (\`bench/README.md\`) on 127.0.0.1, and against raw-ws, the floor: a bare WebSocket
server that answers only the load generator's frames by slicing them (no JSON values, no
long-polling, so no polling figures); all driven by one load generator speaking raw Engine.IO v4 /
Socket.IO frames (\`bench/\`). Regenerate with one command:

\`\`\`sh
bash bench/run.sh
\`\`\`

## Last run

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $(nproc) CPUs ($cpu), $mem, kernel $(uname -r)
- servers: Switchyard \`examples/bench_server.rs\` (release); Node $(node --version) with socket.io $node_sio;
  socketioxide $sio_version (axum, tokio multi-threaded runtime); raw-ws \`bench/peers/rawws\`
  (fastwebsockets $rawws_version, tokio multi-threaded runtime)
- load generator: $("$LOADGEN" --version 2>/dev/null || echo loadgen), one tokio runtime, options: \`${args_shown:-defaults}\`;
  $rounds round(s), servers in turn, each round on a freshly started server

Ratios are Switchyard / peer; ↑ marks figures where higher is better, ↓ lower.

$table

## How the figures are taken

- **connect**: N WebSocket sessions opened (at most 128 handshakes in flight): TCP connect,
  WebSocket upgrade, Engine.IO open packet, \`40\`, and the server's \`40{...}\`. sessions/s is N over
  the time to the last \`40{...}\`. Server memory is VmRSS from /proc/PID/status before the ramp and
  after the N sessions have been held idle for 2 s, divided by N (KiB = 1024 bytes).
- **echo**: C clients, each on its own evenly staggered schedule (open loop) so that together they
  send the target rate; round trip from writing \`42["echo",[t,"pad"]]\` to reading the echo
  (\`echo+ack\`: \`42<id>["echo",...]\` answered by \`43<id>[...]\`). Server CPU is utime+stime from
  /proc/PID/stat over the scenario (10 ms ticks).
- **fan-out**: N receivers join one room; one sender emits \`fanout\` keeping at most W requests
  without their ack; each receiver counts every delivery, checks the sequence numbers, and takes
  the latency from the sender's timestamp in the payload. expected = broadcasts sent × receivers
  joined; lost = expected − delivered after the deliveries stop coming (bounded wait). Delivered
  msgs/s is deliveries over the time from the first send to the last delivery. Server CPU per
  delivery is the server's CPU time over the scenario divided by the deliveries.
- **polling**: C clients on HTTP long-polling only (a GET connection and a POST connection each),
  emitting \`echo\` at the target rate; round trip from the POST to the GET that brings the echo.
- The load generator and the server share this machine's CPUs; the load generator's own CPU share
  is in the table so a reader can see when it, or the machine, is the limit. On loopback part of
  the receiving side's TCP work is charged to the sender, so CPU figures include some kernel work
  done on the other side's behalf, the same way for every server.
- Tail latencies (p90 and up) move a lot from one run to the next on a small VM (stalls of ~10 ms
  show up as a p90/p99 near 10 ms for any of the servers in some runs and not in others); the
  medians over rounds damp this, more rounds (\`--rounds 3\`) damp it more.

$notes
EOF
  } >"$ROOT/BENCHMARKS.md"
  echo "wrote BENCHMARKS.md"
fi
