#!/usr/bin/env bash
# Strict rounds of socket.io's two official protocol test suites (engine.io-protocol's and
# socket.io-protocol's `test-suite/`, mocha, no retries) against `examples/conformance` (debug
# build), and, with --peer, against the reference Node server on the same machine in alternation
# (bench/peers/node/conformance.js: socket.io 4.8 and its engine.io), so that both meet the same
# load. Prints each round's failures and how many rounds passed all 56 tests.
#
#   bash bench/suites.sh --suites DIR              # DIR holds engine.io-protocol/ and
#                                                  # socket.io-protocol/ checkouts; 10 rounds
#   bash bench/suites.sh --rounds 30 --peer        # both servers, 30 rounds each
#   bash bench/suites.sh --only socket.io          # one suite (engine.io or socket.io)
#
# Without --suites, the two repositories are cloned from GitHub into bench/results/suites/ (once).
# The suites' own `npm install` is run in each test-suite folder when it has no node_modules.
# The suites hard-code port 3000: it must be free. Only the PIDs this script starts are signalled.
# A test that fails only under load says so by failing for the peer too: run with --peer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
BENCH="$ROOT/bench"
RESULTS="$BENCH/results/suites"
# shellcheck source=allocators.sh
. "$BENCH/allocators.sh"

suites=""
rounds=10
peer=0
only="engine.io socket.io"
while [ $# -gt 0 ]; do
  case "$1" in
    --suites) suites="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --peer) peer=1; shift ;;
    --only) only="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$RESULTS"
if [ -z "$suites" ]; then
  suites="$RESULTS"
  for repo in engine.io-protocol socket.io-protocol; do
    [ -d "$suites/$repo" ] || git clone --depth 1 "https://github.com/socketio/$repo" "$suites/$repo"
  done
fi
for name in $only; do
  dir="$suites/$name-protocol/test-suite"
  [ -f "$dir/test-suite.js" ] || { echo "no $dir/test-suite.js" >&2; exit 2; }
  [ -d "$dir/node_modules" ] || (cd "$dir" && npm install --no-audit --no-fund)
done
if ss -ltn | grep -q '127.0.0.1:3000 \|\*:3000 \|:::3000 \|0.0.0.0:3000 '; then
  echo "port 3000 is in use; the suites need it" >&2
  exit 2
fi

cargo build --example conformance
servers="switchyard"
if [ "$peer" -eq 1 ]; then
  (cd "$BENCH/peers/node" && { [ -d node_modules ] || npm ci --no-audit --no-fund; })
  servers="switchyard node"
fi
trap term_started EXIT

# start_server WHO: starts it on port 3000 and waits until it listens.
start_server() {
  local log="$RESULTS/$1.server.log"
  case "$1" in
    switchyard) "$TARGET_ROOT/debug/examples/conformance" --port 3000 >"$log" 2>&1 & ;;
    node) node "$BENCH/peers/node/conformance.js" >"$log" 2>&1 & ;;
  esac
  server=$!
  started+=("$server")
  wait_for "$server" "$log" "listening on"
}

declare -A green
for who in $servers; do green[$who]=0; done
for round in $(seq "$rounds"); do
  for who in $servers; do
    start_server "$who"
    failed=""
    for name in $only; do
      log="$RESULTS/$who.$name.$round.log"
      if ! (cd "$suites/$name-protocol/test-suite" && timeout 300 npx mocha test-suite.js >"$log" 2>&1); then
        # mocha lists each failure as "  1) <suite>", its sub-suites, then "<test title>:".
        titles=$(awk '/^  [0-9]+\) /{f=1; next} f && /:$/{sub(/^ +/, ""); sub(/:$/, ""); print; f=0}' "$log" \
          | sort -u | paste -sd ';' || true)
        failed="$failed [$name: ${titles:-see $log}]"
      fi
    done
    stop "$server"
    if [ -z "$failed" ]; then
      green[$who]=$((green[$who] + 1))
    else
      echo "round $round, $who:$failed"
    fi
  done
done
for who in $servers; do
  echo "$who: ${green[$who]} of $rounds rounds passed every test ($only; load average now $(cut -d' ' -f1-3 /proc/loadavg))"
done
