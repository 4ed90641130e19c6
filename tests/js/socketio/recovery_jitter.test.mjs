// Connection state recovery under jitter: 50 socket.io-client 4 clients in a room, each cut every
// 1.5 to 4 s (reconnecting on their own), while 2,000 broadcasts go out to the room. With recovery
// every client gets every broadcast once and in order; without it the same run loses packets, so
// the check can fail. On the local adapter, and on Redis pub/sub (classic, and sharded in static
// mode) with the broadcasts sent from another node. Prints the figures of each run.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { closeSocket, connected, ioClient, runCleanups, startServer, until } from "../support/helpers.mjs";
import { redisMissing, startNode, startRedis, waitForAdapters } from "../support/redis_helpers.mjs";

const CLIENTS = 50;
const BROADCASTS = 2000;
const T = { timeout: 120000 };
const cleanups = [];

after(() => runCleanups(cleanups));

/** One client: joins the room when it is a new socket, records each broadcast's index. */
async function jitterClient(srv, n) {
  const socket = ioClient(srv.url, {
    // Every fifth on polling: recovery is the same on both.
    transports: n % 5 === 0 ? ["polling"] : ["websocket"],
    reconnection: true,
    reconnectionDelay: 50,
    reconnectionDelayMax: 200,
  });
  cleanups.push(() => closeSocket(socket));
  const state = { socket, seen: [], fresh: 0, recovered: 0, cuts: 0 };
  socket.on("burst", ([i]) => state.seen.push(i));
  socket.on("connect", () => {
    if (socket.recovered) {
      state.recovered++;
    } else {
      state.fresh++;
      socket.emit("join", ["jitter"]);
    }
  });
  await connected(socket);
  await until(() => socket.emitWithAck("rooms").then((rooms) => rooms.includes("jitter")), "the room joined");
  return state;
}

/** Cuts each connected client's transport every 1.5 to 4 s until `stop()`. */
function jitter(clients) {
  let running = true;
  const timers = new Set();
  const schedule = (state) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!running) return;
      if (state.socket.connected) {
        state.cuts++;
        state.socket.io.engine.close();
      }
      schedule(state);
    }, 1500 + Math.random() * 2500);
    timers.add(timer);
  };
  clients.forEach(schedule);
  return () => {
    running = false;
    timers.forEach(clearTimeout);
  };
}

/** Delivered, duplicated and out-of-order counts over every client. */
function figures(clients) {
  let delivered = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  for (const { seen } of clients) {
    const distinct = new Set(seen);
    delivered += distinct.size;
    duplicates += seen.length - distinct.size;
    for (let k = 1; k < seen.length; k++) if (seen[k] <= seen[k - 1]) outOfOrder++;
  }
  const sum = (key) => clients.reduce((n, c) => n + c[key], 0);
  return {
    expected: clients.length * BROADCASTS,
    delivered,
    duplicates,
    outOfOrder,
    cuts: sum("cuts"),
    recovered: sum("recovered"),
    fresh: sum("fresh") - clients.length,
  };
}

/** A run's servers: one alone, or two nodes on Redis (clients on one, the producer on the other). */
async function local(recovery) {
  const srv = await startServer("test_server", ["--recovery", recovery ? "1" : "0"]);
  cleanups.push(() => srv.stop());
  return { clients: srv, producer: srv };
}

function onRedis(redis, variantArgs) {
  return async (recovery) => {
    const args = ["--recovery", recovery ? "1" : "0", ...variantArgs];
    const nodes = [];
    for (let i = 0; i < 2; i++) {
      const node = await startNode(redis, args);
      cleanups.push(() => node.stop());
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
  for (let n = 0; n < CLIENTS; n++) clients.push(await jitterClient(servers.clients, n));
  const producer = ioClient(servers.producer.url);
  cleanups.push(() => closeSocket(producer));
  await connected(producer);
  const stop = jitter(clients);
  try {
    const sent = await producer
      .timeout(90000)
      .emitWithAck("burst", { rooms: ["jitter"], count: BROADCASTS, pause_ms: 5, size: 10 });
    assert.equal(sent, BROADCASTS);
  } finally {
    stop();
  }
  // Once every client is back: the last broadcast is where it ends.
  await until(
    () => clients.every((c) => c.socket.connected && c.seen.at(-1) === BROADCASTS - 1),
    () => `every client back with the last broadcast: ${JSON.stringify(figures(clients))}`,
    recovery ? 30000 : 10000,
  ).catch((e) => {
    if (recovery) throw e;
  });
  const result = figures(clients);
  console.log(`recovery ${recovery ? "on" : "off"}: ${JSON.stringify(result)}`);
  return result;
}

describe("recovery under jitter (local adapter)", () => {
  it("with recovery: every broadcast once and in order for every client", T, async () => {
    const r = await run(true);
    assert.ok(r.cuts >= CLIENTS, `the clients were cut (${r.cuts} cuts)`);
    assert.equal(r.fresh, 0, "every reconnect recovered");
    assert.equal(r.duplicates, 0);
    assert.equal(r.outOfOrder, 0);
    assert.equal(r.delivered, r.expected);
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
      const r = await run(true, onRedis(redis, variantArgs));
      assert.ok(r.cuts >= CLIENTS, `the clients were cut (${r.cuts} cuts)`);
      assert.equal(r.fresh, 0, "every reconnect recovered");
      assert.equal(r.duplicates, 0);
      assert.equal(r.outOfOrder, 0);
      assert.equal(r.delivered, r.expected);
    });
  }
});
