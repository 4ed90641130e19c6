// The jitter run of the connection state recovery tests: clients in a room, each cut every 1.5 to
// 4 s (reconnecting on their own), while a producer sends numbered broadcasts to the room; then
// what each client got: delivered, duplicated, out of order, and how its reconnects went.
import assert from "node:assert/strict";
import { closeSocket, connected, ioClient, until } from "./helpers.mjs";

export const ROOM = "jitter";

/**
 * One client of `url` (socket.io-client options `opts`, reconnecting): joins the room when it is
 * a new socket, records each broadcast's index. `defer` takes its cleanup.
 */
export async function jitterClient(url, opts, defer) {
  const socket = ioClient(url, { reconnection: true, ...opts });
  defer(() => closeSocket(socket));
  const state = { socket, seen: [], fresh: 0, recovered: 0, cuts: 0 };
  socket.on("burst", ([i]) => state.seen.push(i));
  socket.on("connect", () => {
    if (socket.recovered) {
      state.recovered++;
    } else {
      state.fresh++;
      socket.emit("join", [ROOM]);
    }
  });
  await connected(socket);
  await until(() => socket.timeout(10000).emitWithAck("rooms").then((rooms) => rooms.includes(ROOM)), "the room joined");
  return state;
}

/** Cuts each connected client's transport every 1.5 to 4 s; returns the function that stops it. */
function cutEvery(clients) {
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

/** Delivered, duplicated and out-of-order counts over every client, and their reconnects. */
function figures(clients, broadcasts) {
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
    expected: clients.length * broadcasts,
    delivered,
    duplicates,
    outOfOrder,
    cuts: sum("cuts"),
    recovered: sum("recovered"),
    fresh: sum("fresh") - clients.length,
  };
}

/**
 * `producer` (a connected socket of test_server) sends `broadcasts` to the room, 5 ms apart,
 * while `clients` are cut; then waits until every client is back and has the last one (up to
 * `settleMs`; when `mustSettle` is false, going on after it), and returns the figures.
 */
export async function jitterRun(clients, producer, { broadcasts = 2000, settleMs = 30000, mustSettle = true } = {}) {
  const stop = cutEvery(clients);
  try {
    const spec = { rooms: [ROOM], count: broadcasts, pause_ms: 5, size: 10 };
    const sent = await producer.timeout(90000).emitWithAck("burst", spec);
    assert.equal(sent, broadcasts);
  } finally {
    stop();
  }
  await until(
    () => clients.every((c) => c.socket.connected && c.seen.at(-1) === broadcasts - 1),
    () => `every client back with the last broadcast: ${JSON.stringify(figures(clients, broadcasts))}`,
    settleMs,
  ).catch((e) => {
    if (mustSettle) throw e;
  });
  return figures(clients, broadcasts);
}

/** What a run with recovery must show: every client cut, every reconnect recovered, all once, in order. */
export function assertExact(r, clients) {
  assert.ok(r.cuts >= clients, `the clients were cut (${r.cuts} cuts)`);
  assert.equal(r.fresh, 0, "every reconnect recovered");
  assert.equal(r.duplicates, 0);
  assert.equal(r.outOfOrder, 0);
  assert.equal(r.delivered, r.expected);
}
