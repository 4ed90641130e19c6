// Connection state recovery under jitter: 50 socket.io-client 4 clients in a room, each cut every
// 1.5 to 4 s (reconnecting on their own), while 2,000 broadcasts go out to the room. With recovery
// every client gets every broadcast once and in order; without it the same run loses packets, so
// the check can fail. Prints the figures of each run.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { closeSocket, connected, ioClient, runCleanups, startServer, until } from "../support/helpers.mjs";

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

async function run(recovery) {
  const srv = await startServer("test_server", ["--recovery", recovery ? "1" : "0"]);
  cleanups.push(() => srv.stop());
  const clients = [];
  for (let n = 0; n < CLIENTS; n++) clients.push(await jitterClient(srv, n));
  const producer = ioClient(srv.url);
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
