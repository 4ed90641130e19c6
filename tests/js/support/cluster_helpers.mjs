// Shared by cluster/redis_adapter.test.mjs and cluster/mixed.test.mjs: clients that record what they receive,
// op calls through acks, polling waits with generous bounds, and a per-test scope that stops every
// node and client it made, in reverse order, even when the test fails.
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { closeSocket, connected, ioClient, runCleanups, until } from "./helpers.mjs";
import { startNodePeer } from "./node_peer.mjs";
import { startNode, startRedis, variantArgs, waitForAdapters } from "./redis_helpers.mjs";

export const ACK_MS = 15000;
export const WAIT_MS = 20000;

/**
 * Which implementation the "Switchyard" nodes of cluster/redis_adapter.test.mjs are: "switchyard" (test_server,
 * the default) or "node" (node_peer.mjs), the latter only to check the tests and fixtures
 * themselves against the reference implementation (E2E_CLUSTER_IMPL=node).
 */
export const IMPL = process.env.E2E_CLUSTER_IMPL === "node" ? "node" : "switchyard";

/**
 * The adapter variants the cluster files run their tests with: both by default; E2E_REDIS_VARIANTS
 * (e.g. "classic") narrows them.
 */
export const VARIANTS = (process.env.E2E_REDIS_VARIANTS || "classic,sharded").split(",").map((v) => v.trim()).filter(Boolean);
for (const v of VARIANTS) if (v !== "classic" && v !== "sharded") throw new Error(`E2E_REDIS_VARIANTS: unknown variant ${v}`);

/** Start one node of `kind` ("switchyard" or "node") on `redis` (args include the variant's flags). */
export function startKind(kind, redis, args = []) {
  return kind === "node" ? startNodePeer(redis, args) : startNode(redis, args);
}

/** Emit with an ack and resolve with the answer. */
export function call(socket, event, ...args) {
  return socket.timeout(ACK_MS).emitWithAck(event, ...args);
}

/** helpers' `until` with the cluster files' bound and a 20 ms poll (most checks ask a node or Redis). */
export const waitFor = (check, what, timeoutMs = WAIT_MS, everyMs = 20) => until(check, what, timeoutMs, everyMs);

export const sorted = (list) => [...list].sort();
export const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A fetched socket with its rooms sorted, for comparisons that do not depend on room order. */
export const normFetched = (list) => (Array.isArray(list) ? list.map((s) => ({ ...s, rooms: sorted(s.rooms ?? []) })).sort(byId) : list);

/** Sorted `{id, data, rooms}` entries as `fetch` answers them, from [socket, data, rooms besides its own id]. */
export const fetched = (entries) => normFetched(entries.map(([s, data, rooms]) => ({ id: s.id, data, rooms: [s.id, ...rooms] })));

/** The socket's rooms, as it reports them (sorted). */
export const roomsOf = async (socket) => sorted(await call(socket, "rooms"));

/**
 * A per-test scope: `node(kind, args)` starts a node on `redis`, `client(node, {label, ...opts})`
 * connects a socket.io client that records every event (`s.got(name)` lists the argument arrays
 * of `name`), `ready(n)` waits until Redis counts n adapters on "/", `defer(fn)` registers a
 * cleanup and `close()` runs every cleanup (withCluster does, failing or not).
 */
export function clusterScope(redis, { variant = "classic" } = {}) {
  const cleanups = [];
  const defer = (f) => cleanups.push(f);
  const scope = {
    redis,
    variant,
    defer,
    /** Run every cleanup, last registered first; errors are ignored (best effort). */
    close: () => runCleanups(cleanups),
    async node(kind = IMPL, args = []) {
      const n = await startKind(kind, redis, [...variantArgs(variant), ...args]);
      n.kind = kind;
      // helpers.mjs' servers have no signal(): send by PID (ignored once it has exited)
      n.signal ??= (sig) => {
        try {
          process.kill(n.proc.pid, sig);
        } catch {
          // already gone
        }
      };
      defer(async () => {
        n.signal("SIGCONT"); // in case a test froze it
        await n.stop();
      });
      return n;
    },
    async nodes(count, kind = IMPL, args = []) {
      const list = [];
      for (let i = 0; i < count; i++) list.push(await scope.node(kind, args));
      await scope.ready(count);
      return list;
    },
    /**
     * Sharded adapter only (dynamic mode): wait until `count` nodes follow the channel of `room`.
     * A node subscribes to a room's channel when its first socket joins, without holding the
     * join up (Node does the same), so a broadcast to the room from another node right after a
     * join could be published before anyone listens. Classic: nothing to wait for.
     */
    async following(room, count, { prefix = "socket.io" } = {}) {
      if (variant !== "sharded") return;
      const channel = `${prefix}#/#${room}#`;
      let seen = -1;
      await waitFor(
        async () => {
          seen = Number((await redis.command(["PUBSUB", "SHARDNUMSUB", channel]))[1]);
          return seen === count;
        },
        () => `${count} nodes to follow ${channel} (SHARDNUMSUB: ${seen})`,
      );
    },
    /** Wait until Redis counts exactly `count` adapters of this variant (and key prefix). */
    ready: (count, opts = {}) => waitForAdapters(redis, count, { variant, ...opts }),
    async client(node, { label, ...opts } = {}) {
      const socket = ioClient(node.url, opts);
      defer(() => closeSocket(socket));
      socket.label = label ?? "?";
      socket.events = [];
      socket.onAny((name, ...args) => socket.events.push([name, ...args]));
      socket.got = (name) => socket.events.filter((e) => e[0] === name).map((e) => e.slice(1));
      socket.disconnectReasons = [];
      socket.on("disconnect", (reason) => socket.disconnectReasons.push(reason));
      await connected(socket).catch((err) => {
        throw new Error(`client ${socket.label} on ${node.url}: ${err.message}`);
      });
      return socket;
    },
  };
  return scope;
}

/**
 * Runs `fn(scope, t)` on a fresh scope of `redis` (a value or a function returning it) and
 * `variant`, then cleans up (`t`: the test's context).
 */
export function withCluster(redisOf, fn, { variant = "classic" } = {}) {
  return async (t) => {
    const scope = clusterScope(typeof redisOf === "function" ? redisOf() : redisOf, { variant });
    try {
      await fn(scope, t);
    } finally {
      await scope.close();
    }
  };
}

/**
 * A describe with a redis-server of its own (started before its tests, stopped after; `start`
 * makes it, e.g. redis_cluster.mjs' startRedisCluster for a Redis Cluster). `body` declares the
 * tests; it gets `cluster(fn)`, which runs `fn` in a cluster scope of `variant` on that server
 * (withCluster), and `redis()`, the server.
 */
export function describeOnRedis(title, variant, body, { start = startRedis } = {}) {
  describe(title, () => {
    let redis;
    before(async () => {
      redis = await start();
    });
    after(async () => {
      await redis?.stop();
    });
    body({ cluster: (fn) => withCluster(() => redis, fn, { variant }), redis: () => redis });
  });
}

/** JSON with object keys sorted, to compare payloads whatever key order a server wrote. */
export function canonical(value) {
  return JSON.stringify(value, (_, v) =>
    v && typeof v === "object" && !Array.isArray(v) && !Buffer.isBuffer(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v,
  );
}

/** The `room-msg` payloads `socket` received, in order (first argument of each). */
let streams = 0;

/**
 * Nodes of `kinds` on one stream no other test uses (`--redis-stream-name`, which pub/sub nodes
 * ignore), each with the arguments `args(kind)` and named `kind#i`, returned once each counts them
 * all (asked through a client of each, closed afterwards). Streams nodes count each other by
 * heartbeats, so nodes of earlier tests, on other streams, are never counted.
 */
export async function startOnFreshStream(scope, kinds, args = () => []) {
  const stream = `sio-e2e-${process.pid}-${++streams}`;
  const nodes = [];
  for (const [i, kind] of kinds.entries()) {
    const n = await scope.node(kind, ["--redis-stream-name", stream, ...args(kind)]);
    n.name = `${kind}#${i + 1}`;
    nodes.push(n);
  }
  for (const n of nodes) {
    const counter = await scope.client(n, { label: `counter on ${n.name}` });
    let seen;
    await waitFor(
      async () => (seen = await call(counter, "server-count")) === nodes.length,
      () => `${n.name} to count ${nodes.length} nodes (says ${JSON.stringify(seen)})`,
    );
    closeSocket(counter);
  }
  return { stream, nodes };
}

export const roomMsgs = (socket) => socket.got("room-msg").map((args) => args[0]);

/** Clear what each socket recorded. */
export function resetEvents(sockets) {
  for (const s of sockets) s.events.length = 0;
}

/**
 * Wait until every socket of `all` has received the `room-msg` `marker` (sent after the messages
 * under test, on the same path), then check what each one received before it, as a multiset:
 * `expected` maps a socket to the payloads it must have received before the marker, each once.
 * (Order between two broadcasts is not checked: Node's sharded adapter itself delivers a `local`
 * broadcast before an earlier published one.)
 */
export async function expectSequences(all, expected, marker) {
  const key = canonical;
  for (const s of all) {
    await waitFor(
      () => roomMsgs(s).some((m) => key(m) === key(marker)),
      () => `socket ${s.label} to receive marker ${key(marker)} (got ${key(roomMsgs(s))})`,
    );
  }
  for (const s of all) {
    const got = roomMsgs(s);
    assert.equal(key(got[got.length - 1]), key(marker), `${s.label}: the marker comes last: ${key(got)}`);
    assert.deepEqual(
      got.slice(0, -1).map(key).sort(),
      (expected.get(s) ?? []).map(key).sort(),
      `room-msg payloads received by ${s.label} before ${key(marker)}`,
    );
  }
}
