// Two test_server nodes on one redis-server that each test starts, killed (SIGKILL by PID) and
// started again on the same port: the Redis link comes back as a whole, publishing connection
// included, with nobody publishing in between (the first broadcast after Redis is back gets
// through); broadcasts made while Redis is down wait on their node and go out once it is back,
// before the ones made after; and after a long outage the link is back within the backoff's cap
// (500 ms, node-redis' own) of Redis answering.
//
// Every wait polls a condition (a node's adapter counters, through test_server's "counters" op,
// or what a client received) within a generous bound; the timings measured are reported as test
// diagnostics. Every node, client and redis-server started here is stopped by PID in finally.
// Each test runs with the classic and the sharded adapter (E2E_REDIS_VARIANTS narrows them).
import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { IMPL, VARIANTS, call, roomMsgs, waitFor, withCluster } from "../support/cluster_helpers.mjs";
import { redisMissing, startRedis } from "../support/redis_helpers.mjs";

const T = { timeout: 120000 };
// A node frozen (SIGSTOP) for a while must not lose its clients to Engine.IO's heartbeat
// (test_server's default is 300 + 200 ms).
const PATIENT = ["--ping-interval", "20000", "--ping-timeout", "20000"];

/** The node's adapter counters, asked through one of its clients. */
const counters = async (socket) => (await call(socket, "counters")).adapter;

/** Runs `fn(scope, redis)` on a cluster of `variant` over a redis-server of its own. */
function onOwnRedis(variant, fn) {
  return async (t) => {
    const redis = await startRedis();
    try {
      await withCluster(redis, (scope) => fn(scope, redis, t), { variant })();
    } finally {
      await redis.stop();
    }
  };
}

const skip =
  redisMissing || (IMPL === "node" ? "Switchyard only: the tests read test_server's adapter counters" : false);

if (skip) {
  test("Redis restarted under a cluster", { skip }, () => {});
} else {
  for (const variant of VARIANTS) {
    describe(`Redis restarted under a cluster, ${variant} adapter`, () => {
      it(
        "1. the publishing node stays idle through the outage: its first broadcast after Redis is back reaches the other node",
        T,
        onOwnRedis(variant, async ({ nodes, client, ready }, redis, t) => {
          const [A, B] = await nodes(2);
          const a1 = await client(A, { label: "a1 (A)" });
          const b1 = await client(B, { label: "b1 (B)" });
          const beforeA = await counters(a1);
          const beforeB = await counters(b1);

          await redis.kill();
          await redis.restart();
          const back = performance.now();
          // Each node's link is up again (its reconnection is counted once both connections are
          // made and every subscription is made again); nobody has published meanwhile.
          let linkA = null;
          await waitFor(
            async () => {
              const [cA, cB] = [await counters(a1), await counters(b1)];
              if (linkA === null && cA.reconnects > beforeA.reconnects) linkA = performance.now();
              return linkA !== null && cB.reconnects > beforeB.reconnects;
            },
            () => "both nodes to count a reconnection",
          );
          await ready(2);

          // One broadcast, once: it must get through.
          const sent = performance.now();
          await call(a1, "io-emit", { data: "first" });
          await waitFor(() => roomMsgs(b1).includes("first"), () => `b1 to receive 'first' (got ${JSON.stringify(roomMsgs(b1))})`);
          const delivered = performance.now();
          assert.deepEqual(roomMsgs(b1), ["first"]);
          const after = await counters(a1);
          assert.equal(after.dropped, beforeA.dropped, `nothing dropped on A: ${JSON.stringify(after)}`);
          assert.equal(after.published, beforeA.published + 1, `A published once: ${JSON.stringify(after)}`);
          t.diagnostic(
            `A's link up ${Math.round(linkA - back)} ms after Redis answered PING again; ` +
              `the first broadcast reached b1 ${Math.round(delivered - sent)} ms after it was made`,
          );
        }),
      );

      it(
        "2. broadcasts made while Redis is down reach the other node once it is back, before the ones made after",
        T,
        onOwnRedis(variant, async ({ nodes, client }, redis, t) => {
          const [A, B] = await nodes(2, IMPL, PATIENT);
          const a1 = await client(A, { label: "a1 (A)" });
          const b1 = await client(B, { label: "b1 (B)" });
          const beforeA = await counters(a1);
          const beforeB = await counters(b1);

          await redis.kill();
          // A knows its link is down (the loss is counted as an error once its publisher queues).
          await waitFor(async () => (await counters(a1)).errors > beforeA.errors, "A to count the loss of its link");
          const down = ["down-1", "down-2", "down-3"];
          for (const data of down) await call(a1, "io-emit", { data });
          // local delivery did not wait for Redis
          assert.deepEqual(roomMsgs(a1), down);

          // Redis keeps no message: B must listen again before A sends what waited. Left alone,
          // both reconnect within a few ms of each other, either first; A is frozen until B is back.
          A.signal("SIGSTOP");
          try {
            await redis.restart();
            await waitFor(async () => (await counters(b1)).reconnects > beforeB.reconnects, "B to count a reconnection");
          } finally {
            A.signal("SIGCONT");
          }
          const resumed = performance.now();
          // Made at once, whether A's link is up yet or not: they come after the waiting ones.
          const later = ["after-1", "after-2"];
          for (const data of later) await call(a1, "io-emit", { data });

          await waitFor(
            () => roomMsgs(b1).includes("after-2"),
            () => `b1 to receive 'after-2' (got ${JSON.stringify(roomMsgs(b1))})`,
          );
          const delivered = performance.now();
          assert.deepEqual(roomMsgs(b1), [...down, ...later], "b1 gets every broadcast once, in order");
          assert.deepEqual(roomMsgs(a1), [...down, ...later], "a1 gets each of its node's broadcasts once");
          const after = await counters(a1);
          assert.equal(after.dropped, beforeA.dropped, `nothing dropped on A: ${JSON.stringify(after)}`);
          assert.ok(after.reconnects > beforeA.reconnects, `A counted its reconnection: ${JSON.stringify(after)}`);
          t.diagnostic(`A resumed: the waiting broadcasts and the later ones reached b1 within ${Math.round(delivered - resumed)} ms`);
        }),
      );

      it(
        "3. a long outage: the link is back within the backoff's cap (500 ms) of Redis answering again",
        T,
        onOwnRedis(variant, async ({ nodes, client }, redis, t) => {
          const [A, B] = await nodes(2);
          const a1 = await client(A, { label: "a1 (A)" });
          const b1 = await client(B, { label: "b1 (B)" });
          const before = await counters(a1);
          const beforeB = await counters(b1);

          await redis.kill();
          // Down until A has failed a dozen attempts (each counted as an error): past the 10th the
          // backoff is at its cap, 500 ms between attempts (about 3 s in all).
          await waitFor(async () => (await counters(a1)).errors >= before.errors + 12, "A to fail a dozen reconnection attempts");
          await redis.restart();
          const back = performance.now();
          await waitFor(async () => (await counters(a1)).reconnects > before.reconnects, "A to count a reconnection", 20000, 10);
          const up = performance.now() - back;
          t.diagnostic(`after a ~3 s outage, A's link up ${Math.round(up)} ms after Redis answered PING again`);
          // 500 ms at most between attempts, and a margin for a slow machine (a 2 s cap would
          // often miss it).
          assert.ok(up < 1500, `A's link back ${Math.round(up)} ms after Redis`);

          // Pub/sub keeps nothing: B must be subscribed again (its link counted back up, after
          // its subscriptions were made) before A's broadcast can reach b1.
          await waitFor(async () => (await counters(b1)).reconnects > beforeB.reconnects, "B to count a reconnection", 20000, 10);
          await call(a1, "io-emit", { data: "after a long outage" });
          await waitFor(() => roomMsgs(b1).includes("after a long outage"), "b1 to receive the first broadcast after the outage");
        }),
      );
    });
  }
}
