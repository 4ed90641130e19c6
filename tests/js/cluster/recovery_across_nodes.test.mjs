// Connection state recovery across nodes, on the Redis streams adapter and on pub/sub (classic,
// and sharded in static mode): a client reaches the nodes through a proxy that sends each new
// connection where the test says (a load balancer without stickiness, WebSocket only), so that it
// comes back on another node than the one it left. Sessions are kept in Redis as
// @socket.io/redis-streams-adapter keeps them, and every node delivers every broadcast in the
// cluster's one order (the stream's; on pub/sub, the order one Redis ran the publishes in) under
// the same offset, so the client gets every missed broadcast once, in order. On streams it
// recovers on a Switchyard node or a Node node alike (socket.io 4.8 + the streams adapter); on
// pub/sub a Node node (@socket.io/redis-adapter, no recovery) shares the cluster and its
// broadcasts are replayed too. A client back before its old node saw its connection go (a dead
// network) has the old node close that socket and hand its session over. Last, the jitter run
// with clients moving between two Switchyard nodes on every reconnect.
import assert from "node:assert/strict";
import { it, test } from "node:test";
import { closeSocket, connected, escapeRegExp as escape, ioClient, until } from "../support/helpers.mjs";
import { call, describeOnRedis, startOnFreshStream, waitFor } from "../support/cluster_helpers.mjs";
import { assertExact, jitterClient, jitterRun } from "../support/jitter.mjs";
import { startProxy } from "../support/proxy.mjs";
import { redisMissing } from "../support/redis_helpers.mjs";

const T = { timeout: 120000 };
/**
 * Nodes of `kinds` (with `args`) on a stream of their own, once each counts them all: Switchyard
 * nodes with recovery; Node nodes too on streams, not on pub/sub, where socket.io's adapters have
 * none (Node's sharded adapter with recovery on appends an empty offset to every broadcast).
 */
async function startCluster(scope, kinds, args = []) {
  const recovery = (kind) => (kind === "switchyard" || scope.variant === "streams" ? ["--recovery", "1"] : []);
  return (await startOnFreshStream(scope, kinds, (kind) => [...recovery(kind), ...args])).nodes;
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

const VARIANTS = [
  // [title, variant, extra node args, kinds: [from, to, producer's]]
  ["streams adapter", "streams", [], [["switchyard", "switchyard"], ["node", "switchyard"], ["switchyard", "node"]]],
  ["pub/sub, classic", "classic", [], [["switchyard", "switchyard"], ["switchyard", "switchyard", "node"]]],
  [
    "pub/sub, sharded static",
    "sharded",
    ["--redis-subscription-mode", "static"],
    [["switchyard", "switchyard"], ["switchyard", "switchyard", "node"]],
  ],
];

if (redisMissing) {
  test("recovery across nodes", { skip: redisMissing }, () => {});
} else {
  for (const [title, variant, args, pairs] of VARIANTS) {
    describeOnRedis(`recovery across nodes: ${title}`, variant, ({ cluster }) => {
      for (const kinds of pairs) {
        const by = kinds[2] ? `, with a ${kinds[2]} node broadcasting too` : "";
        it(
          `a client cut on a ${kinds[0]} node comes back on a ${kinds[1]} node as itself, with what it missed${by}`,
          T,
          cluster(async (scope) => {
            const [from, to, other] = await startCluster(scope, kinds, args);
            const proxy = await proxyTo(scope, [from, to]);
            const a = await movingClient(scope, proxy);
            const producer = await scope.client(to, { label: "producer" });
            const elsewhere = other && (await scope.client(other, { label: "another producer" }));
            // The other node's own client in the room: what ordering nodes send reads the same there.
            const watcher = other && (await scope.client(other, { label: "watcher" }));
            if (watcher) await call(watcher, "join", ["news"]);
            await call(a, "join", ["news"]);
            a.emit("set-data", { nick: "ann" });
            await call(producer, "io-emit", { rooms: ["news"], data: "before" });
            await until(() => a.msgs.length === 1, "the first broadcast");
            // The offset is the last argument: on streams the entry's id, on either kind of node.
            assert.match(a.msgs[0].at(-1), variant === "streams" ? /^\d+-\d+$/ : /./);
            const id = a.id;

            proxy.state.to = to;
            await cut(a, from);
            for (const data of ["m1", "m2", "m3"]) {
              await call(elsewhere ?? producer, "io-emit", { rooms: ["news"], data });
            }
            await call(producer, "io-emit", { rooms: ["elsewhere"], data: "not for a" });
            await reconnect(a);
            assert.equal(a.recovered, true, "recovered");
            assert.equal(a.id, id);
            await call(producer, "io-emit", { rooms: ["news"], data: "live" });
            await until(() => a.msgs.length >= 5, () => `5 broadcasts, got ${JSON.stringify(payloads(a))}`);
            assert.deepEqual(payloads(a), ["before", "m1", "m2", "m3", "live"]);
            assert.deepEqual((await call(a, "rooms")).sort(), [id, "news"].sort());
            assert.deepEqual(await call(a, "get-data"), { nick: "ann" });
            if (watcher) {
              const got = () => watcher.got("room-msg");
              await until(() => got().length >= 5, () => `5 on the ${other.kind} node: ${JSON.stringify(got())}`);
              // Exactly the data: Node nodes neither add an offset nor see ours.
              assert.deepEqual(got(), [["before"], ["m1"], ["m2"], ["m3"], ["live"]]);
            }
          }),
        );
      }

      it(
        "a client back on another node before the old one saw its connection go has its session handed over",
        T,
        cluster(async (scope) => {
          // Heartbeats far apart: only the hand-over can end the old socket within the test.
          const slow = ["--ping-interval", "25000", "--ping-timeout", "20000"];
          const [from, to] = await startCluster(scope, ["switchyard", "switchyard"], [...args, ...slow]);
          const proxy = await proxyTo(scope, [from, to]);
          const a = await movingClient(scope, proxy);
          const producer = await scope.client(to, { label: "producer" });
          await call(a, "join", ["news"]);
          await call(producer, "io-emit", { rooms: ["news"], data: "before" });
          await until(() => a.msgs.length === 1, "the first broadcast");
          const id = a.id;
          // A dead network: the old node hears nothing, not even the close.
          proxy.freeze();
          proxy.state.to = to;
          a.io.engine.close();
          await call(producer, "io-emit", { rooms: ["news"], data: "missed" });
          await reconnect(a);
          assert.equal(a.recovered, true, "recovered");
          assert.equal(a.id, id);
          // The old node closed the socket it had when asked for it.
          await from.waitForLine(new RegExp(`^disconnect / ${escape(id)} transport close$`), 10000);
          await call(producer, "io-emit", { rooms: ["news"], data: "live" });
          await until(() => a.msgs.length >= 3, () => `3 broadcasts, got ${JSON.stringify(payloads(a))}`);
          assert.deepEqual(payloads(a), ["before", "missed", "live"]);
        }),
      );

      it(
        "under jitter, clients that come back on the other node each time get every broadcast once, in order",
        T,
        cluster(async (scope) => {
          // socket.io's heartbeat, not test_server's quick one, which under a loaded machine drops
          // the producer (it does not reconnect); the cuts are the clients' own closes.
          const heartbeat = ["--ping-interval", "25000", "--ping-timeout", "20000"];
          const nodes = await startCluster(scope, ["switchyard", "switchyard"], [...args, ...heartbeat]);
          let next = 0;
          const proxy = await startProxy(() => nodes[next++ % 2].port);
          scope.defer(() => proxy.close());
          const CLIENTS = 50;
          const clients = [];
          for (let n = 0; n < CLIENTS; n++) {
            // Quick reconnects: a client back before its old node saw the connection go has
            // that node close it and hand the session over.
            const opts = { transports: ["websocket"], reconnectionDelay: 50, reconnectionDelayMax: 200 };
            clients.push(await jitterClient(proxy.url, opts, scope.defer));
          }
          const producer = await scope.client(nodes[1], { label: "producer" });
          const r = await jitterRun(clients, producer);
          console.log(`${title}, clients moving between nodes: ${JSON.stringify(r)}`);
          for (const n of nodes) {
            const probe = await scope.client(n, { label: "probe" });
            const { recovery } = await call(probe, "counters", {});
            console.log(`  node ${n.port}, recovery counters: ${JSON.stringify(recovery)}`);
          }
          assertExact(r, CLIENTS);
        }),
      );
    });
  }
}
