#!/usr/bin/env bash
# Fan-out across a two-node Switchyard cluster over the Redis adapter: a throwaway redis-server on
# a free loopback port (or, with --redis-cluster, a throwaway Redis Cluster of three masters), two release bench_server nodes (A and B) on free ports pointing at it,
# then loadgen's fanout scenario in three setups, fresh nodes for each:
#
#   cross        N receivers on node A, the sender on node B: every delivery crosses Redis
#   redis-single receivers and sender on node A, both nodes still in the cluster (redis adapter)
#   local        one node with the local adapter (no Redis), as bench/run.sh runs it
#   cross-streams           as cross, on the Redis streams adapter
#   cross-streams-recovery  as cross-streams, with connection state recovery on (every broadcast
#                           then reaches even the sender's node through the stream)
#   scale-N[-ADAPTER]       N nodes (ADAPTER: classic, the default, sharded or streams), the
#                           receivers spread round robin over them, the sender on the first:
#                           how a node's CPU per delivery moves as nodes are added
#
# and prints one table (delivered msgs/s, latency, lost, CPU per delivery on each node; for the
# scale-N setups a second one with every node's figure and Redis' CPU) followed by each node's
# counters (printed by bench_server on shutdown). It never touches BENCHMARKS.md;
# results go to bench/results/cluster/ (ignored by git).
#
#   bash bench/cluster.sh                     # build (release), 1,000 receivers, W=16,64, 10 s each
#   bash bench/cluster.sh --no-build
#   bash bench/cluster.sh --receivers 2000 --windows 64 --duration 5
#   bash bench/cluster.sh --setups cross      # any of cross,redis-single,local,cross-streams,
#                                             # cross-streams-recovery,scale-N[-ADAPTER]
#   bash bench/cluster.sh --scale             # scale-{1,2,4}-sharded and scale-{1,2,4}-streams
#   bash bench/cluster.sh --scale --redis-cluster   # the same on a Redis Cluster of three masters
#                                             # (not for the classic adapter, which it refuses)
#   bash bench/cluster.sh --drain 30 --drain-idle-ms 5000   # the defaults: after the last ack,
#                                             # wait up to 30 s for deliveries, or until none came for 5 s
#   bash bench/cluster.sh -- --pad 256        # anything after `--` goes to `loadgen run`
#
# Only the PIDs this script starts are ever signalled. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
BENCH="$ROOT/bench"
RESULTS="$BENCH/results/cluster"
# shellcheck source=allocators.sh
. "$BENCH/allocators.sh"

receivers=1000
windows="16,64"
duration=10
setups="cross,redis-single,local"
# Across nodes the sender is not held back by the receivers' node, so backlogs (seconds of
# deliveries) build up there, and receivers whose TCP window closed get the rest only at the
# node's next zero-window probe (backing off past 1 s): wait longer than loadgen's defaults
# (10 s, 1 s idle) so that "lost" means lost, not still on its way.
drain=30
drain_idle_ms=5000
build=1
redis_cluster=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --receivers) receivers="$2"; shift 2 ;;
    --windows) windows="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --setups) setups="$2"; shift 2 ;;
    --scale) setups="scale-1-sharded,scale-2-sharded,scale-4-sharded,scale-1-streams,scale-2-streams,scale-4-streams"; shift ;;
    --drain) drain="$2"; shift 2 ;;
    --drain-idle-ms) drain_idle_ms="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --redis-cluster) redis_cluster=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$receivers" in ''|*[!0-9]*) echo "--receivers: a count" >&2; exit 2 ;; esac
case "$duration" in ''|*[!0-9.]*) echo "--duration: seconds" >&2; exit 2 ;; esac
case "$drain" in ''|*[!0-9.]*) echo "--drain: seconds" >&2; exit 2 ;; esac
case "$drain_idle_ms" in ''|*[!0-9]*) echo "--drain-idle-ms: milliseconds" >&2; exit 2 ;; esac

raise_fd_limit
command -v redis-server >/dev/null || { echo "redis-server is not on PATH" >&2; exit 1; }

if [ "$build" = 1 ]; then
  echo "=== build (release)"
  cargo build --release --example bench_server </dev/null
  (cd "$BENCH" && cargo build --release </dev/null)
fi

LOADGEN="$TARGET_BENCH/release/loadgen"
SERVER="$TARGET_ROOT/release/examples/bench_server"
for bin in "$LOADGEN" "$SERVER"; do
  [ -x "$bin" ] || { echo "missing $bin (run without --no-build)" >&2; exit 1; }
done
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.json "$RESULTS"/*.log "$RESULTS"/*.md

redis_dir=""
cleanup() {
  term_started
  if [ -n "$redis_dir" ]; then rm -rf "$redis_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "=== redis"
redis_dir=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-cluster-redis.XXXXXX")
# start_redis NAME [ARGS...]: one redis-server on a free port in its own directory; sets port and
# pid.
start_redis() {
  local name=$1
  shift
  free_port port
  mkdir -p "$redis_dir/$name"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$redis_dir/$name" --save '' \
    --appendonly no --protected-mode yes --daemonize no --logfile '' "$@" \
    >"$RESULTS/$name.log" 2>&1 </dev/null &
  pid=$!
  started+=("$pid")
  wait_for "$pid" "$RESULTS/$name.log" "Ready to accept connections"
}
redis_pids=()
if [ "$redis_cluster" = 1 ]; then
  # Three masters, no replicas: the slots spread over three servers, as a cluster runs them.
  seeds=()
  for i in 1 2 3; do
    # The bus on a port of its own: port + 10000, its default, may be taken or past 65535.
    free_port bus
    start_redis "redis$i" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-port "$bus"
    redis_pids+=("$pid")
    seeds+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${seeds[@]}" --cluster-replicas 0 --cluster-yes \
    >"$RESULTS/redis-cluster-create.log" 2>&1 </dev/null
  first=${seeds[0]}
  for _ in $(seq 300); do
    if redis-cli -h 127.0.0.1 -p "${first#*:}" cluster info 2>/dev/null | grep -q "cluster_state:ok"; then
      break
    fi
    sleep 0.1
  done
  redis-cli -h 127.0.0.1 -p "${first#*:}" cluster info | grep -q "cluster_state:ok" \
    || { echo "the redis cluster did not come up" >&2; exit 1; }
  redis_args=(--redis-cluster "$(printf 'redis://%s,' "${seeds[@]}" | sed 's/,$//')")
  where="a Redis Cluster of three masters (${seeds[*]})"
else
  start_redis redis
  redis_pids+=("$pid")
  redis_args=(--redis-url "redis://127.0.0.1:$port")
  where="one redis-server on 127.0.0.1:$port"
fi
echo "redis-server $(redis-server --version | awk '{print $3}'): $where (pids ${redis_pids[*]})"

# start_node NAME ADAPTER [ARGS...]: starts bench_server, sets node_pid and node_port.
start_node() {
  local name=$1 adapter=$2 log
  shift 2
  free_port node_port
  log="$RESULTS/$setup.$name.server.log"
  local cmd=("$SERVER" --port "$node_port" "$@")
  if [ "$adapter" != local ]; then cmd+=(--adapter "$adapter" "${redis_args[@]}"); fi
  "${cmd[@]}" >"$log" 2>&1 </dev/null &
  node_pid=$!
  started+=("$node_pid")
  wait_for "$node_pid" "$log" "listening on 127.0.0.1:$node_port"
  echo "node $name ($adapter adapter) on 127.0.0.1:$node_port (pid $node_pid)"
}

n_windows=$(tr ',' '\n' <<<"$windows" | grep -c .)
# Per window: connecting and joining (≤ 20 s), sending, acks (≤ 10 s), drain, pause, closing.
bound=$(awk -v d="$duration" -v n="$n_windows" -v r="$drain" \
  'BEGIN { printf "%d", n * (d + r + 50) + 30 }')
report_args=()
scale_args=()
failed=0
IFS=, read -r -a setup_list <<<"$setups"
for setup in "${setup_list[@]}"; do
  node_args=()
  n_nodes=2
  case "$setup" in
    cross|redis-single|local) adapter=redis ;;
    cross-streams) adapter=redis-streams ;;
    cross-streams-recovery) adapter=redis-streams; node_args=(--recovery 1) ;;
    scale-[0-9]*)
      rest=${setup#scale-}; n_nodes=${rest%%-*}
      case "$rest" in
        "$n_nodes"|"$n_nodes-classic") adapter=redis ;;
        "$n_nodes-sharded") adapter=redis-sharded ;;
        "$n_nodes-streams") adapter=redis-streams ;;
        *) echo "unknown setup $setup (scale-N, scale-N-sharded, scale-N-streams)" >&2; exit 2 ;;
      esac
      case "$n_nodes" in ''|*[!0-9]*|0) echo "$setup: N is a node count" >&2; exit 2 ;; esac ;;
    *) echo "unknown setup $setup (cross, redis-single, local, cross-streams," \
         "cross-streams-recovery, scale-N[-ADAPTER])" >&2; exit 2 ;;
  esac
  echo "=== $setup"
  nodes=()
  more=()
  if [ "$setup" = local ]; then
    start_node A local; pid_a=$node_pid; port_a=$node_port; nodes=("A:$pid_a")
  elif [ "${setup#scale-}" != "$setup" ]; then
    for i in $(seq "$n_nodes"); do
      start_node "n$i" "$adapter" "${node_args[@]}"
      nodes+=("n$i:$node_pid")
      if [ "$i" = 1 ]; then pid_a=$node_pid; port_a=$node_port; else more+=("$node_port:$node_pid"); fi
    done
  else
    start_node A "$adapter" "${node_args[@]}"; pid_a=$node_pid; port_a=$node_port
    start_node B "$adapter" "${node_args[@]}"; pid_b=$node_pid; port_b=$node_port
    nodes=("A:$pid_a" "B:$pid_b")
  fi
  args=(run --port "$port_a" --server-pid "$pid_a" --name "$setup" --scenarios fanout
        --fanout-receivers "$receivers" --fanout-windows "$windows" --fanout-duration "$duration"
        --fanout-drain "$drain" --fanout-drain-idle-ms "$drain_idle_ms")
  case "$setup" in
    cross*) args+=(--sender-port "$port_b" --sender-server-pid "$pid_b") ;;
    scale-*)
      args+=(--redis-pids "$(IFS=,; echo "${redis_pids[*]}")")
      if [ "${#more[@]}" -gt 0 ]; then args+=(--fanout-nodes "$(IFS=,; echo "${more[*]}")"); fi ;;
  esac
  out="$RESULTS/$setup.json"
  status=0
  timeout "$bound" "$LOADGEN" "${args[@]}" "${extra[@]}" >"$out" \
    2> >(tee "$RESULTS/$setup.loadgen.log" >&2) || status=$?
  if [ "$status" != 0 ]; then echo "!!! loadgen exited $status in $setup" >&2; failed=1; fi
  for n in "${nodes[@]}"; do
    name=${n%%:*}; pid=${n#*:}
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "!!! node $name (pid $pid) exited during the run" >&2; failed=1
    fi
    stop "$pid"
  done
  case "$setup" in
    scale-*) scale_args+=("$setup=$out") ;;
    *) report_args+=("$setup=$out") ;;
  esac
  sleep 2
done
for pid in "${redis_pids[@]}"; do stop "$pid"; done

table=""
if [ "${#report_args[@]}" -gt 0 ]; then
  table=$("$LOADGEN" cluster-report "${report_args[@]}") || failed=1
fi
scale_table=""
if [ "${#scale_args[@]}" -gt 0 ]; then
  scale_table=$("$LOADGEN" scale-report "${scale_args[@]}") || failed=1
fi
{
  echo "fan-out: $receivers receivers (on node A, or spread over the scale-N nodes); windows $windows;"
  echo "$duration s each; drain ≤ $drain s (ends after $drain_idle_ms ms without a delivery);"
  echo "$(nproc) CPUs shared by redis-server, the nodes and the load generator (one worker thread)"
  echo
  if [ -n "$table" ]; then echo "$table"; echo; fi
  if [ -n "$scale_table" ]; then echo "$scale_table"; echo; fi
  echo "node counters at shutdown (main namespace; adapter: messages to/from Redis):"
  for setup in "${setup_list[@]}"; do
    for log in "$RESULTS/$setup".*.server.log; do
      [ -f "$log" ] || continue
      node=$(basename "$log" .server.log); node=${node#"$setup".}
      line=$(grep -m1 '^counters ' "$log" || echo 'counters (none: no clean shutdown)')
      echo "- $setup, node $node: ${line#counters }"
      # Anything else a node wrote beyond its two start-up lines and the counters.
      other=$(grep -v -e '^listening on ' -e '^open http' -e '^counters ' "$log" | head -5 || true)
      if [ -n "$other" ]; then echo "  its log also has:"; sed 's/^/    /' <<<"$other"; fi
    done
  done
} | tee "$RESULTS/summary.md"
echo "results: $RESULTS"
exit "$failed"
