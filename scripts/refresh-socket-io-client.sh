#!/usr/bin/env bash
# Refreshes the vendored socket.io browser client (served at /socket.io/socket.io.js, as socket.io's
# serveClient does) from npm's socket.io-client dist bundle. Usage: scripts/refresh-socket-io-client.sh [VERSION]
# (default: the newest 4.8.x). Needs npm and tar; writes crates/socketio/vendor/socket.io-client/.
set -euo pipefail
version="${1:-4.8}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/crates/socketio/vendor/socket.io-client"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "socket.io-client@$version" >/dev/null && tar xzf socket.io-client-*.tgz)
exact="$(node -p "require('$tmp/package/package.json').version")"
mkdir -p "$dest"
for f in socket.io.js socket.io.min.js socket.io.esm.min.js; do
  cp "$tmp/package/dist/$f" "$dest/$f"
done
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "$exact" > "$dest/VERSION"
echo "socket.io-client $exact vendored in $dest"
