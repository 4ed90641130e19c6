# Sourced by run.sh and memory.sh: where cargo puts things, and the bench server built with a given
# allocator (the root package's features, see src/allocator.rs). Needs ROOT and BENCH set.

# Cargo's output folders: CARGO_TARGET_DIR when set (one for every package), else each package's own.
TARGET_ROOT="${CARGO_TARGET_DIR:-$ROOT/target}"
TARGET_BENCH="${CARGO_TARGET_DIR:-$BENCH/target}"
TARGET_SOCKETIOXIDE="${CARGO_TARGET_DIR:-$BENCH/peers/socketioxide/target}"
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
