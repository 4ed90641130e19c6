# Sourced by run.sh, memory.sh, soak.sh and cluster.sh: where cargo puts things, the bench server
# built with a given allocator (the root package's features, see src/allocator.rs), and the shell
# helpers the four share (file descriptor limit, free ports, waiting for a process to be ready,
# stopping the processes a script started). Needs ROOT and BENCH set; free_port needs LOADGEN.

# Cargo's output folders: CARGO_TARGET_DIR when set (one for every package), else each package's own.
TARGET_ROOT="${CARGO_TARGET_DIR:-$ROOT/target}"
TARGET_BENCH="${CARGO_TARGET_DIR:-$BENCH/target}"
TARGET_SOCKETIOXIDE="${CARGO_TARGET_DIR:-$BENCH/peers/socketioxide/target}"
TARGET_RAWWS="${CARGO_TARGET_DIR:-$BENCH/peers/rawws/target}"
ALLOCATORS="jemalloc mimalloc system"

# The cargo feature flags that choose allocator $1 (jemalloc is the default).
allocator_features() {
  case "$1" in
    jemalloc) echo "" ;;
    mimalloc) echo "--no-default-features --features mimalloc" ;;
    system) echo "--no-default-features" ;;
    *) echo "unknown allocator $1 ($ALLOCATORS)" >&2; return 2 ;;
  esac
}

# build_bench_server ALLOC: builds the release bench server with allocator ALLOC and keeps a copy
# as bench_server.ALLOC beside it (cargo writes every build to the same path).
build_bench_server() {
  local features
  features=$(allocator_features "$1") || return 2
  # shellcheck disable=SC2086 # the flags are words
  cargo build --release --example bench_server $features </dev/null
  cp "$TARGET_ROOT/release/examples/bench_server" "$TARGET_ROOT/release/examples/bench_server.$1"
}

# raise_fd_limit: the soft limit on open files up to the hard one (every session is one or two on
# each side), and says what it is.
raise_fd_limit() {
  local hard
  hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ]; then ulimit -n 1048576 2>/dev/null || true; else ulimit -n "$hard"; fi
  echo "ulimit -n: $(ulimit -n) (hard $(ulimit -Hn))"
}

# free_port VAR: sets VAR to a free loopback port not handed out by this script yet (`loadgen
# free-port` lets the kernel pick one, which may come back again while an earlier pick is not
# listening yet). Sets VAR rather than printing: `$(free_port)` would run in a subshell, whose
# record of the ports handed out is lost.
used_ports=" "
free_port() {
  local picked
  for _ in $(seq 20); do
    picked=$("$LOADGEN" free-port)
    case "$used_ports" in *" $picked "*) continue ;; esac
    used_ports="$used_ports$picked "
    printf -v "$1" '%s' "$picked"
    return 0
  done
  echo "no free port" >&2
  return 1
}

# wait_for PID LOG PATTERN: up to 30 s for PATTERN in LOG while PID lives; else prints LOG and fails.
wait_for() {
  local pid=$1 log=$2 pattern=$3
  for _ in $(seq 300); do
    if grep -q "$pattern" "$log" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "pid $pid did not get ready ($pattern); its log $log:" >&2
  cat "$log" >&2
  return 1
}

# The PIDs the script started (it adds each with `started+=("$!")`), and those `stop` has stopped
# and reaped since: term_started leaves those alone, as the system may have given their PID to
# another process by then.
started=()
stopped=" "

# stop PID: SIGTERM, then SIGKILL after 5 s if it is still there; reaps it.
stop() {
  local pid=$1
  stopped="$stopped$pid "
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# term_started: SIGTERM to every started PID not stopped yet, without waiting (for the EXIT trap).
term_started() {
  local pid
  for pid in "${started[@]}"; do
    case "$stopped" in *" $pid "*) continue ;; esac
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
}
