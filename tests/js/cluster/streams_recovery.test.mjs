// Connection state recovery across nodes on the Redis streams adapter: a client reaches the
// nodes through a proxy that sends each new connection where the test says (a load balancer
// without stickiness, WebSocket only), so that it comes back on another node than the one it
// left. Sessions are kept in Redis as @socket.io/redis-streams-adapter keeps them, and every node
// delivers every broadcast in the stream's order with the entry id as offset, so the client
// recovers on a Switchyard node or a Node node alike (socket.io 4.8 + the streams adapter), with
// every missed broadcast once, in order. Last, the jitter run with clients moving between two
// Switchyard nodes on every reconnect.
import assert from "node:assert/strict";
import { it, test } from "node:test";
import { closeSocket, connected, escapeRegExp as escape, ioClient, until } from "../support/helpers.mjs";
import { call, describeOnRedis, waitFor } from "../support/cluster_helpers.mjs";
import { startProxy } from "../support/proxy.mjs";
import { redisMissing } from "../support/redis_helpers.mjs";

const T = { timeout: 120000 };
let streams = 0;
const freshStream = () => `sio-recovery-${process.pid}-${++streams}`;

/** Nodes of `kinds` with recovery on one fresh stream, once each counts them all. */
async function startCluster(scope, kinds) {
  const stream = freshStream();
  const nodes = [];
  for (const kind of kinds) nodes.push(await scope.node(kind, ["--redis-stream-name", stream, "--recovery", "1"]));
  for (const n of nodes) {
    const counter = await scope.client(n, { label: "counter" });
    let seen;
    await waitFor(
      async () => (seen = await call(counter, "server-count")) === nodes.length,
      () => `every node counted (says ${JSON.stringify(seen)})`,
    );
    closeSocket(counter);
  }
  return nodes;
}

/** A proxy in front of `nodes`, sending new connections to `proxy.to`. */
async function proxyTo(scope, nodes) {
  const state = { to: nodes[0] };
  const proxy = await startProxy(() => state.to.port);
  scope.defer(() => proxy.close());
  return Object.assign(proxy, { state });
}

/** A WebSocket client through `proxy` that records each "room-msg" (its arguments). */
async function movingClient(scope, proxy) {
  const socket = ioClient(proxy.url, { transports: ["websocket"] });
  scope.defer(() => closeSocket(socket));
  socket.msgs = [];
  socket.on("room-msg", (...args) => socket.msgs.push(args));
  await connected(socket);
  return socket;
}

/** Cuts `socket`'s connection and waits until `node` has it gone, if `node` prints it. */
async function cut(socket, node) {
  const { id } = socket;
  socket.io.engine.close();
  if (node.kind === "switchyard") await node.waitForLine(new RegExp(`^disconnect / ${escape(id)} `), 10000);
  else await until(() => !socket.connected, "the client to see its connection go");
}

async function reconnect(socket) {
  const back = connected(socket);
  socket.connect();
  await back;
}

const payloads = (socket) => socket.msgs.map((args) => args[0]);

if (redisMissing) {
  test("recovery over the streams adapter", { skip: redisMissing }, () => {});
} else {
  describeOnRedis("recovery over the streams adapter", "streams", ({ cluster }) => {
    for (const kinds of [
      ["switchyard", "switchyard"],
      ["node", "switchyard"],
      ["switchyard", "node"],
    ]) {
      it(
        `a client cut on a ${kinds[0]} node comes back on a ${kinds[1]} node as itself, with what it missed`,
        T,
        cluster(async (scope) => {
          const [from, to] = await startCluster(scope, kinds);
          const proxy = await proxyTo(scope, [from, to]);
          const a = await movingClient(scope, proxy);
          const producer = await scope.client(to, { label: "producer" });
          await call(a, "join", ["news"]);
          a.emit("set-data", { nick: "ann" });
          await call(producer, "io-emit", { rooms: ["news"], data: "before" });
          await until(() => a.msgs.length === 1, "the first broadcast");
          // The offset is the stream entry's id, on either kind of node.
          assert.match(a.msgs[0].at(-1), /^\d+-\d+$/);
          const id = a.id;

          proxy.state.to = to;
          await cut(a, from);
          for (const data of ["m1", "m2", "m3"]) await call(producer, "io-emit", { rooms: ["news"], data });
          await call(producer, "io-emit", { rooms: ["elsewhere"], data: "not for a" });
          await reconnect(a);
          assert.equal(a.recovered, true, "recovered");
          assert.equal(a.id, id);
          await call(producer, "io-emit", { rooms: ["news"], data: "live" });
          await until(() => a.msgs.length >= 5, () => `5 broadcasts, got ${JSON.stringify(payloads(a))}`);
          assert.deepEqual(payloads(a), ["before", "m1", "m2", "m3", "live"]);
          assert.deepEqual((await call(a, "rooms")).sort(), [id, "news"].sort());
          assert.deepEqual(await call(a, "get-data"), { nick: "ann" });
        }),
      );
    }

    it(
      "under jitter, clients that come back on the other node each time get every broadcast once, in order",
      T,
      cluster(async (scope) => {
        const nodes = await startCluster(scope, ["switchyard", "switchyard"]);
        let next = 0;
        const proxy = await startProxy(() => nodes[next++ % 2].port);
        scope.defer(() => proxy.close());
        const CLIENTS = 50;
        const BROADCASTS = 2000;
        const clients = [];
        for (let n = 0; n < CLIENTS; n++) {
          const socket = ioClient(proxy.url, {
            transports: ["websocket"],
            reconnection: true,
            reconnectionDelay: 50,
            reconnectionDelayMax: 200,
          });
          scope.defer(() => closeSocket(socket));
          const state = { socket, seen: [], fresh: 0, recovered: 0, cuts: 0 };
          socket.on("burst", ([i]) => state.seen.push(i));
          socket.on("connect", () => {
            if (socket.recovered) state.recovered++;
            else {
              state.fresh++;
              socket.emit("join", ["jitter"]);
            }
          });
          await connected(socket);
          await until(async () => (await call(socket, "rooms")).includes("jitter"), "the room joined");
          clients.push(state);
        }
        const producer = await scope.client(nodes[1], { label: "producer" });
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
        try {
          const sent = await producer
            .timeout(90000)
            .emitWithAck("burst", { rooms: ["jitter"], count: BROADCASTS, pause_ms: 5, size: 10 });
          assert.equal(sent, BROADCASTS);
        } finally {
          running = false;
          timers.forEach(clearTimeout);
        }
        const figures = () => {
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
            expected: CLIENTS * BROADCASTS,
            delivered,
            duplicates,
            outOfOrder,
            cuts: sum("cuts"),
            recovered: sum("recovered"),
            fresh: sum("fresh") - CLIENTS,
          };
        };
        await until(
          () => clients.every((c) => c.socket.connected && c.seen.at(-1) === BROADCASTS - 1),
          () => `every client back with the last broadcast: ${JSON.stringify(figures())}`,
          30000,
        );
        const r = figures();
        console.log(`streams, clients moving between nodes: ${JSON.stringify(r)}`);
        assert.ok(r.cuts >= CLIENTS, `the clients were cut (${r.cuts} cuts)`);
        assert.equal(r.fresh, 0, "every reconnect recovered");
        assert.equal(r.duplicates, 0);
        assert.equal(r.outOfOrder, 0);
        assert.equal(r.delivered, r.expected);
      }),
    );
  });
}
