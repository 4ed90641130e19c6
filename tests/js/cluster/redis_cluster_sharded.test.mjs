// The sharded adapter (`--redis-variant sharded`, Node's createShardedAdapter) on a throwaway Redis
// Cluster (three masters with one replica each, support/redis_cluster.mjs; one cluster for the
// file): two Switchyard nodes, then a Switchyard node and a real Node socket.io 4.8 node on
// @socket.io/redis-adapter's sharded adapter over node-redis' createCluster (node_peer.mjs), each
// operation both ways; connection state recovery across two nodes (static mode). Last, the master
// serving the namespace's channel is killed while one Switchyard node broadcasts to two others:
// while it has no master, a request to the other nodes (the server count) fails at once; once its
// replica has taken over, the nodes' subscriptions are on the new master, delivery resumes, and
// the outage is counted (what the sending node could not publish is kept and sent
// once it is back, or dropped and counted; a receiving node counts a reconnection, which tells
// recovery of the gap). A Node node is left out there: node-redis 4's cluster client keeps
// reconnecting its sharded subscriber to the dead master and never moves it to the new one.
import assert from "node:assert/strict";
import { it, test } from "node:test";
import { pairOperationTests, recoveryTest } from "../support/cluster_ops.mjs";
import { call, describeOnRedis, roomMsgs, waitFor } from "../support/cluster_helpers.mjs";
import { redisMissing } from "../support/redis_helpers.mjs";
import { startRedisCluster } from "../support/redis_cluster.mjs";

const T = { timeout: 120000 };

/** The node's adapter counters, asked through one of its clients. */
const counters = async (socket) => (await call(socket, "counters")).adapter;

if (redisMissing) {
  test("sharded adapter on a Redis Cluster", { skip: redisMissing }, () => {});
} else {
  describeOnRedis(
    "sharded adapter on a Redis Cluster",
    "sharded",
    ({ cluster, redis }) => {
      pairOperationTests(cluster, async (scope, kinds) => {
        const nodes = [];
        for (const [i, kind] of kinds.entries()) {
          const n = await scope.node(kind);
          n.name = `${kind}#${i + 1}`;
          nodes.push(n);
        }
        await scope.ready(2);
        return nodes;
      });

      recoveryTest(
        "static mode: a client cut on one Switchyard node comes back on another as itself, with what it missed",
        cluster,
        async (scope) => {
          const args = ["--redis-subscription-mode", "static", "--recovery", "1"];
          const nodes = [await scope.node("switchyard", args), await scope.node("switchyard", args)];
          await scope.ready(2);
          return nodes;
        },
      );

      it(
        "the master of the namespace's channel killed: requests fail at once, the replica takes over, subscriptions move, delivery resumes, the outage is counted",
        T,
        cluster(async (scope, t) => {
          const A = await scope.node("switchyard");
          const B = await scope.node("switchyard");
          const C = await scope.node("switchyard");
          await scope.ready(3);
          const sender = await scope.client(A, { label: "sender on A" });
          const onB = await scope.client(B, { label: "receiver on B" });
          const onC = await scope.client(C, { label: "receiver on C" });
          const before = await counters(onB);

          // Broadcasts one after the other until told to stop, through the failover.
          let sent = 0;
          let stop = false;
          const sending = (async () => {
            for (; !stop; sent++) await call(sender, "io-emit", { data: sent });
          })();
          // Ended by the test (or its failure, when the cleanup closes the sender).
          scope.defer(() => sending.catch(() => {}));
          scope.defer(() => (stop = true));
          await waitFor(() => roomMsgs(onB).length >= 20 && roomMsgs(onC).length >= 20, "20 broadcasts before the failover");
          const killedAt = sent;
          // Meanwhile a request to the other nodes fails at once rather than wait for Redis.
          let count;
          const whileDown = () =>
            waitFor(
              async () => (count = await call(onB, "server-count"))?.error !== undefined,
              () => `B's server count to fail while the master is down (says ${JSON.stringify(count)})`,
            );
          const { killed, promoted } = await redis().failover("socket.io#/#", { whileDown });
          // Every node subscribes again, on the new master: Redis counts the three adapters there.
          await scope.ready(3);
          await waitFor(async () => (await counters(onB)).reconnects > before.reconnects, "B to count its link back");
          const resumedAt = sent;
          await waitFor(() => roomMsgs(onB).includes(resumedAt + 20) && roomMsgs(onC).includes(resumedAt + 20), "delivery to resume on B and C");
          stop = true;
          await sending;
          await call(sender, "io-emit", { data: "end" });
          await waitFor(() => roomMsgs(onB).includes("end") && roomMsgs(onC).includes("end"), "B and C to receive the end marker");

          const { adapter: a } = await call(sender, "counters");
          const b = await counters(onB);
          for (const [label, s] of [
            ["B", onB],
            ["C", onC],
          ]) {
            const got = roomMsgs(s).filter((m) => m !== "end");
            const missing = [...Array(sent).keys()].filter((i) => !got.includes(i));
            t.diagnostic(`${label}: ${sent} sent, ${missing.length} missing (${JSON.stringify(missing.slice(0, 20))})`);
            // Each at most once, in order; what is missing went while the cluster failed over.
            assert.deepEqual(got, [...got].sort((x, y) => x - y), `${label} in order`);
            assert.equal(new Set(got).size, got.length, `${label}: no duplicates`);
            assert.ok(missing.every((i) => i >= killedAt - 5 && i <= resumedAt), `${label}: lost only during the failover: ${JSON.stringify(missing)}`);
          }
          t.diagnostic(`:${killed} killed, :${promoted} took over after ${killedAt} sent, back after ${resumedAt}`);
          t.diagnostic(`A: ${JSON.stringify(a)}; B: ${JSON.stringify(b)}`);
          assert.ok(a.reconnects >= 1 && a.errors >= 1, `A counted the outage: ${JSON.stringify(a)}`);
          assert.ok(b.reconnects > before.reconnects && b.errors > before.errors, `B counted the outage: ${JSON.stringify(b)}`);
        }),
      );
    },
    { start: startRedisCluster },
  );
}
