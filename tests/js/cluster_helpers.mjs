// Shared by cluster.test.mjs and cluster_mixed.test.mjs: clients that record what they receive,
// op calls through acks, polling waits with generous bounds, and a per-test scope that stops every
// node and client it made, in reverse order, even when the test fails.
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { closeSocket, sleep } from "./helpers.mjs";
import { startNodePeer } from "./node_peer.mjs";
import { startNode, waitForSubscribers } from "./redis_helpers.mjs";

export const ACK_MS = 15000;
export const WAIT_MS = 20000;

/**
 * Which implementation the "Switchyard" nodes of cluster.test.mjs are: "switchyard" (test_server,
 * the default) or "node" (node_peer.mjs), the latter only to check the tests and fixtures
 * themselves against the reference implementation (E2E_CLUSTER_IMPL=node).
 */
export const IMPL = process.env.E2E_CLUSTER_IMPL === "node" ? "node" : "switchyard";

/** Start one node of `kind` ("switchyard" or "node") on `redis`. */
export function startKind(kind, redis, args = []) {
  return kind === "node" ? startNodePeer(redis, args) : startNode(redis, args);
}

/** Emit with an ack and resolve with the answer. */
export function call(socket, event, ...args) {
  return socket.timeout(ACK_MS).emitWithAck(event, ...args);
}

/** Resolves once `check()` (sync or async) is truthy, polling; rejects after timeoutMs with `what()`. */
export async function waitFor(check, what, timeoutMs = WAIT_MS, everyMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "function" ? what() : what}`);
    await sleep(everyMs);
  }
}

export const sorted = (list) => [...list].sort();
export const byId = (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A fetched socket with its rooms sorted, for comparisons that do not depend on room order. */
export const normFetched = (list) => (Array.isArray(list) ? list.map((s) => ({ ...s, rooms: sorted(s.rooms ?? []) })).sort(byId) : list);

/** Binary as a plain array of bytes, whatever the client decoded it to. */
export function bytes(x) {
  assert.ok(Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x), `binary expected, got ${JSON.stringify(x)}`);
  return [...(x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength))];
}

/**
 * A per-test scope: `node(kind, args)` starts a node on `redis`, `client(node, {label, ...opts})`
 * connects a socket.io client that records every event (`s.got(name)` lists the argument arrays
 * of `name`), `ready(n)` waits until Redis counts n adapters on "/", `defer(fn)` registers a
 * cleanup and `close()` runs every cleanup (withCluster does, failing or not).
 */
export function clusterScope(redis) {
  const cleanups = [];
  const defer = (f) => cleanups.push(f);
  const scope = {
    redis,
    defer,
    /** Run every cleanup, last registered first; errors are ignored (best effort). */
    async close() {
      for (const c of cleanups.splice(0).reverse()) {
        try {
          await c();
        } catch {
          // best effort
        }
      }
    },
    async node(kind = IMPL, args = []) {
      const n = await startKind(kind, redis, args);
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
    ready: (count) => waitForSubscribers(redis, count),
    async client(node, { label, ...opts } = {}) {
      const socket = io(node.url, { forceNew: true, reconnection: false, timeout: 10000, ...opts });
      defer(() => closeSocket(socket));
      socket.label = label ?? "?";
      socket.events = [];
      socket.onAny((name, ...args) => socket.events.push([name, ...args]));
      socket.got = (name) => socket.events.filter((e) => e[0] === name).map((e) => e.slice(1));
      socket.disconnectReasons = [];
      socket.on("disconnect", (reason) => socket.disconnectReasons.push(reason));
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`client ${socket.label} not connected to ${node.url} in time`)), 10000);
        socket.once("connect", () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once("connect_error", (err) => {
          clearTimeout(timer);
          reject(new Error(`client ${socket.label}: connect_error ${err.message}`));
        });
      });
      return socket;
    },
  };
  return scope;
}

/** Runs `fn(scope)` on a fresh scope of `redis` (a value or a function returning it) and cleans up. */
export function withCluster(redisOf, fn) {
  return async () => {
    const scope = clusterScope(typeof redisOf === "function" ? redisOf() : redisOf);
    try {
      await fn(scope);
    } finally {
      await scope.close();
    }
  };
}

/** The `room-msg` payloads `socket` received, in order (first argument of each). */
export const roomMsgs = (socket) => socket.got("room-msg").map((args) => args[0]);

/** Clear what each socket recorded. */
export function resetEvents(sockets) {
  for (const s of sockets) s.events.length = 0;
}

/**
 * Wait until every socket of `all` has received the `room-msg` `marker` (sent after the messages
 * under test, on the same path), then check each one's room-msg sequence since the last reset.
 * `expected` maps a socket to the payloads it must have received before the marker.
 */
export async function expectSequences(all, expected, marker) {
  for (const s of all) {
    await waitFor(
      () => roomMsgs(s).some((m) => JSON.stringify(m) === JSON.stringify(marker)),
      () => `socket ${s.label} to receive marker ${JSON.stringify(marker)} (got ${JSON.stringify(roomMsgs(s))})`,
    );
  }
  for (const s of all) {
    assert.deepEqual(roomMsgs(s), [...(expected.get(s) ?? []), marker], `room-msg sequence received by ${s.label}`);
  }
}
