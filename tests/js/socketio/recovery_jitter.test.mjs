// Connection state recovery under jitter (support/jitter.mjs): 50 socket.io-client 4 clients in a
// room, each cut every 1.5 to 4 s and reconnecting to the node it left, while 2,000 broadcasts go
// out to the room. With recovery every client gets every broadcast once and in order; without it
// the same run loses packets, so the check can fail. On the local adapter, and on Redis pub/sub
// (classic, and sharded in static mode) with the broadcasts sent from another node. Prints the
// figures of each run.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { closeSocket, connected, ioClient, runCleanups, startServer } from "../support/helpers.mjs";
import { assertExact, jitterClient, jitterRun } from "../support/jitter.mjs";
import { redisMissing, startNode, startRedis, waitForAdapters } from "../support/redis_helpers.mjs";

const CLIENTS = 50;
const T = { timeout: 120000 };
// socket.io's heartbeat, not test_server's quick one: under a loaded machine a quick one drops
// the producer, which does not reconnect (the cuts are the clients' own closes, seen at once).
const HEARTBEAT = ["--ping-interval", "25000", "--ping-timeout", "20000"];
const cleanups = [];
const defer = (f) => cleanups.push(f);

after(() => runCleanups(cleanups));

/** A run's servers: one alone, or two nodes on Redis (clients on one, the producer on the other). */
async function local(recovery) {
  const srv = await startServer("test_server", ["--recovery", recovery ? "1" : "0", ...HEARTBEAT]);
  defer(() => srv.stop());
  return { clients: srv, producer: srv };
}

function onRedis(redis, variantArgs) {
  return async (recovery) => {
    const args = ["--recovery", recovery ? "1" : "0", ...HEARTBEAT, ...variantArgs];
    const nodes = [];
    for (let i = 0; i < 2; i++) {
      const node = await startNode(redis, args);
      defer(() => node.stop());
      nodes.push(node);
    }
    const variant = variantArgs.includes("sharded") ? "sharded" : "classic";
    await waitForAdapters(redis, 2, { variant });
    return { clients: nodes[0], producer: nodes[1] };
  };
}

async function run(recovery, start = local) {
  const servers = await start(recovery);
  const clients = [];
  for (let n = 0; n < CLIENTS; n++) {
    // Every fifth on polling: recovery is the same on both. Quick reconnects: on one node a
    // client back before its old connection was seen to go has that one closed first.
    const transports = n % 5 === 0 ? ["polling"] : ["websocket"];
    const opts = { transports, reconnectionDelay: 50, reconnectionDelayMax: 200 };
    clients.push(await jitterClient(servers.clients.url, opts, defer));
  }
  const producer = ioClient(servers.producer.url);
  defer(() => closeSocket(producer));
  await connected(producer);
  const result = await jitterRun(clients, producer, { settleMs: recovery ? 30000 : 10000, mustSettle: recovery });
  console.log(`recovery ${recovery ? "on" : "off"}: ${JSON.stringify(result)}`);
  return result;
}

describe("recovery under jitter (local adapter)", () => {
  it("with recovery: every broadcast once and in order for every client", T, async () => {
    assertExact(await run(true), CLIENTS);
  });

  it("without recovery the same run loses broadcasts", T, async () => {
    const r = await run(false);
    assert.ok(r.cuts >= CLIENTS, `the clients were cut (${r.cuts} cuts)`);
    assert.ok(r.delivered < r.expected, `some broadcasts lost: ${JSON.stringify(r)}`);
  });
});

describe("recovery under jitter (Redis pub/sub, broadcasts from the other node)", { skip: redisMissing }, () => {
  let redis;
  after(() => redis?.stop());
  for (const [name, variantArgs] of [
    ["classic", []],
    ["sharded, static", ["--redis-variant", "sharded", "--redis-subscription-mode", "static"]],
  ]) {
    it(`${name}: every broadcast once and in order for every client`, T, async () => {
      redis ??= await startRedis();
      assertExact(await run(true, onRedis(redis, variantArgs)), CLIENTS);
    });
  }
});
