// The Redis streams adapter (`--redis-variant streams`, wire-compatible with Node's
// @socket.io/redis-streams-adapter 0.2) on throwaway redis-servers: two Switchyard nodes, then a
// Switchyard node and a real Node socket.io 4.8 node on the streams adapter (node_peer.mjs), each
// cluster operation both ways: broadcasts (rooms, except, a socket id, binary), fetchSockets,
// socketsJoin / socketsLeave / disconnectSockets, serverSideEmit with and without acks, broadcasts
// with acks, the server count (heartbeats) and emitting through a fetched remote socket; what a
// Switchyard node appends is what a Node node appends. Last, Redis is killed and restarted
// (append-only file on, so the stream survives) while one node broadcasts to the other: each
// broadcast arrives once, in order; and more broadcasts than the node's queue holds while Redis
// is away: the overflow is dropped and counted, the rest arrives in order.
//
// Each test has a stream of its own (`--redis-stream-name`), so nodes of earlier tests, which
// others count until their heartbeats are 10 s old, are never counted.
import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { closeSocket } from "../support/helpers.mjs";
import {
  call,
  clusterScope,
  describeOnRedis,
  roomMsgs,
  startOnFreshStream,
  waitFor,
} from "../support/cluster_helpers.mjs";
import { operationTests } from "../support/cluster_ops.mjs";
import { redisMissing, startRedis } from "../support/redis_helpers.mjs";

const T = { timeout: 120000 };
const PAIRS = [
  ["switchyard", "switchyard"],
  ["switchyard", "node"],
];

/** Nodes of `kinds` on a stream of their own (see `startOnFreshStream`). */
const startCluster = (scope, kinds, args = []) => startOnFreshStream(scope, kinds, () => args);

if (redisMissing) {
  test("streams adapter over Redis", { skip: redisMissing }, () => {});
} else {
  describeOnRedis("streams adapter", "streams", ({ cluster }) => {
    for (const pair of PAIRS) {
      /** Starts the pair (S = pair[0], N = pair[1]) on a fresh stream, runs fn. */
      const duo = (fn) =>
        cluster(async (scope) => {
          const {
            stream,
            nodes: [S, N],
          } = await startCluster(scope, pair);
          await fn({ ...scope, S, N, stream });
        });

      for (const [fromIdx, toIdx] of [
        [0, 1],
        [1, 0],
      ]) {
        const dir = `${pair[fromIdx]}#${fromIdx + 1} -> ${pair[toIdx]}#${toIdx + 1}`;
        const directed = (fn) => duo(async (c) => fn({ ...c, from: [c.S, c.N][fromIdx], to: [c.S, c.N][toIdx] }));

        operationTests(dir, directed);
      }
    }

    it(
      "a Switchyard node appends the entries a Node node appends (fields, order, encodings)",
      T,
      cluster(async (scope) => {
        const {
          stream,
          nodes: [S, N],
        } = await startCluster(scope, ["switchyard", "node"]);
        const shape = async (node, label) => {
          const c = await scope.client(node, { label });
          await call(c, "io-emit", { rooms: ["room1"], except: ["room2"], data: { a: 1.5 } });
          await call(c, "io-emit", { data: { bin: Buffer.from([1, 2, 3]) } });
          closeSocket(c);
        };
        await shape(S, "on S");
        await shape(N, "on N");
        // The entries of each node, without their uid: the same fields, in the same order.
        let entries = [];
        await waitFor(async () => {
          entries = (await scope.redis.command(["XRANGE", stream, "-", "+"])).map(([, f]) => f);
          return entries.filter((f) => f[5] === "3").length === 4;
        }, "four broadcasts in the stream");
        const broadcasts = entries.filter((f) => f[5] === "3");
        const withoutUid = (f) => f.slice(2);
        assert.deepEqual(withoutUid(broadcasts[0]), withoutUid(broadcasts[2]), JSON.stringify(broadcasts));
        assert.deepEqual(withoutUid(broadcasts[1]), withoutUid(broadcasts[3]), JSON.stringify(broadcasts));
        assert.deepEqual(broadcasts[0].slice(0, 1).concat(broadcasts[0].slice(2, 6)), ["uid", "nsp", "/", "type", "3"]);
        assert.ok(!broadcasts[1][7].startsWith("{"), `binary data is base64 msgpack: ${broadcasts[1][7]}`);
        // Both announced themselves with an initial heartbeat (type 1, no data).
        const initial = entries.filter((f) => f[5] === "1");
        assert.ok(initial.length >= 2 && initial.every((f) => f.length === 6), JSON.stringify(initial));
      }),
    );
  });

  describe("streams adapter: Redis killed and restarted mid-broadcast", () => {
    for (const receiverKind of ["switchyard", "node"]) {
      it(`0 broadcasts lost, order kept (switchyard -> ${receiverKind})`, T, async (t) => {
        const redis = await startRedis({ appendonly: true });
        const scope = clusterScope(redis, { variant: "streams" });
        try {
          const {
            nodes: [A, B],
          } = await startCluster(scope, ["switchyard", receiverKind]);
          const sender = await scope.client(A, { label: "sender" });
          const receiver = await scope.client(B, { label: "receiver" });
          await call(receiver, "join", "R");
          // 100 broadcasts with Redis up, 100 while it is away, the rest once it is back.
          const total = 400;
          let sent = 0;
          let killedAt = null;
          let resume;
          const restarted = new Promise((r) => (resume = r));
          const sending = (async () => {
            for (; sent < total; sent++) {
              if (killedAt !== null && sent === killedAt + 100) await restarted;
              await call(sender, "io-emit", { rooms: ["R"], data: sent });
            }
          })();
          const got = () => roomMsgs(receiver);
          await waitFor(() => got().length >= 100, "100 broadcasts before Redis goes");
          await redis.kill();
          killedAt = sent;
          const atKill = sent;
          await waitFor(() => sent >= atKill + 100, "100 more broadcasts sent while Redis is away");
          await redis.restart();
          resume();
          await sending;
          await call(sender, "io-emit", { rooms: ["R"], data: "end" });
          await waitFor(
            () => got().includes("end"),
            () => `the end marker after ${total} broadcasts (got ${got().length}, killed after ${atKill} sent)`,
            60000,
          );
          t.diagnostic(`Redis killed after ${atKill} sent, restarted after ${atKill + 100}`);
          // Each once, in order: appends whose answer was lost with Redis are not made twice.
          assert.deepEqual(got(), [...Array(total).keys(), "end"]);
          const { adapter } = await call(sender, "counters");
          assert.equal(adapter.dropped, 0, JSON.stringify(adapter));
          assert.ok(adapter.reconnects >= 1, `the sender saw Redis go and come back: ${JSON.stringify(adapter)}`);
        } finally {
          await scope.close();
          await redis.stop();
        }
      });
    }

    it("while Redis is away, what waits is bounded: the overflow is dropped and counted, the rest arrives in order", T, async (t) => {
      const redis = await startRedis();
      const scope = clusterScope(redis, { variant: "streams" });
      try {
        // A stream long enough for the whole burst: the sender appends it faster than the
        // receiver's node reads, and `MAXLEN` trimming unread entries is not what is tested here.
        const {
          nodes: [A, B],
        } = await startCluster(scope, ["switchyard", "switchyard"], ["--redis-stream-max-len", "100000"]);
        const sender = await scope.client(A, { label: "sender" });
        const receiver = await scope.client(B, { label: "receiver" });
        await call(receiver, "join", "R");
        await redis.kill();
        // More than the queue holds (16,384, plus one pipeline taken out to retry).
        const total = 20000;
        assert.equal(await call(sender, "burst", { rooms: ["R"], count: total, size: 1 }), total);
        const { adapter } = await call(sender, "counters");
        t.diagnostic(`while Redis is away: ${JSON.stringify(adapter)}`);
        assert.ok(adapter.dropped >= total - 16384 - 256, JSON.stringify(adapter));
        await redis.restart();
        const delivered = total - adapter.dropped;
        const got = () => receiver.got("burst").map(([[i]]) => i);
        await waitFor(() => got().length >= delivered, () => `${delivered} bursts (got ${got().length})`, 60000);
        await call(sender, "io-emit", { rooms: ["R"], data: "end" });
        await waitFor(() => roomMsgs(receiver).includes("end"), "the end marker");
        // The oldest waited; the newest were dropped.
        assert.deepEqual(got(), [...Array(delivered).keys()]);
      } finally {
        await scope.close();
        await redis.stop();
      }
    });
  });
}
