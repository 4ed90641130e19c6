// The streams adapter (`--redis-variant streams`, Node's @socket.io/redis-streams-adapter) on a
// throwaway Redis Cluster (three masters with one replica each, support/redis_cluster.mjs; one
// cluster for the file): two Switchyard nodes, then a Switchyard node and a real Node socket.io
// 4.8 node on the streams adapter over node-redis' createCluster (node_peer.mjs), each operation
// both ways; connection state recovery across nodes (sessions and the stream on the cluster), from
// a Switchyard node and from a Node node. Last, the master serving the stream is killed while one
// Switchyard node broadcasts to another: once its replica has taken over, the nodes read and
// append on the new master, and every broadcast arrives once, in order. A Node node is left out
// there: node-redis 4's cluster client keeps its blocking reader on the dead master, and the Node
// node reads nothing more.
//
// Each test has a stream of its own (`--redis-stream-name`, each on some slot of the cluster), so
// nodes of earlier tests, which others count until their heartbeats are 10 s old, are not counted.
import assert from "node:assert/strict";
import { it, test } from "node:test";
import { pairOperationTests, recoveryTest } from "../support/cluster_ops.mjs";
import { call, describeOnRedis, roomMsgs, startOnFreshStream, waitFor } from "../support/cluster_helpers.mjs";
import { redisMissing } from "../support/redis_helpers.mjs";
import { startRedisCluster } from "../support/redis_cluster.mjs";

const T = { timeout: 120000 };

/** Nodes of `kinds` on a stream of their own (see `startOnFreshStream`). */
const startNodes = (scope, kinds, args = []) => startOnFreshStream(scope, kinds, () => args);

if (redisMissing) {
  test("streams adapter on a Redis Cluster", { skip: redisMissing }, () => {});
} else {
  describeOnRedis(
    "streams adapter on a Redis Cluster",
    "streams",
    ({ cluster, redis }) => {
      pairOperationTests(cluster, async (scope, kinds) => (await startNodes(scope, kinds)).nodes);

      for (const from of ["switchyard", "node"]) {
        recoveryTest(
          `recovery: a client cut on a ${from} node comes back on a Switchyard node as itself, with what it missed`,
          cluster,
          async (scope) => (await startNodes(scope, [from, "switchyard"], ["--recovery", "1"])).nodes,
        );
      }

      {
        it(
          "the master of the stream killed mid-broadcast: the replica takes over, 0 broadcasts lost, order kept",
          T,
          cluster(async (scope, t) => {
            const {
              stream,
              nodes: [A, B],
            } = await startNodes(scope, ["switchyard", "switchyard"]);
            const sender = await scope.client(A, { label: "sender" });
            const receiver = await scope.client(B, { label: "receiver" });
            await call(receiver, "join", "R");
            // 100 broadcasts before the failover, the rest during and after it.
            const total = 600;
            let sent = 0;
            const sending = (async () => {
              for (; sent < total; sent++) await call(sender, "io-emit", { rooms: ["R"], data: sent });
            })();
            scope.defer(() => sending.catch(() => {}));
            const got = () => roomMsgs(receiver);
            await waitFor(() => got().length >= 100, "100 broadcasts before the failover");
            const killedAt = sent;
            const { killed, promoted } = await redis().failover(stream);
            await sending;
            await call(sender, "io-emit", { rooms: ["R"], data: "end" });
            await waitFor(
              () => got().includes("end"),
              () => `the end marker after ${total} broadcasts (got ${got().length}, failover after ${killedAt} sent)`,
              60000,
            );
            t.diagnostic(`:${killed} killed after ${killedAt} sent, :${promoted} took over`);
            assert.deepEqual(got(), [...Array(total).keys(), "end"]);
            const { adapter } = await call(sender, "counters");
            t.diagnostic(`sender: ${JSON.stringify(adapter)}`);
            assert.equal(adapter.dropped, 0, JSON.stringify(adapter));
          }),
        );
      }
    },
    { start: startRedisCluster },
  );
}
