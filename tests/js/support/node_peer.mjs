// A real Node socket.io 4.8 node on @socket.io/redis-adapter 8.3 (classic `createAdapter` or
// `createShardedAdapter`, node-redis v4 clients) or on @socket.io/redis-streams-adapter 0.2
// (`--redis-variant streams`, one node-redis v4 client): the foreign member of the mixed-cluster tests.
// It answers the subset of examples/test_server's ops that those tests use, with the same shapes:
//   join, leave, rooms, set-data, get-data, to, io-emit, fetch ({id, data, rooms}; with
//   `handshake: true` also each socket's handshake), sockets-join,
//   sockets-leave, disconnect-sockets, broadcast-ack, sse, server-count, remote-emit
// and, like test_server, hands every server-side event E(args...) it receives to its own sockets
// in room "sse-watchers" as `sse-received` [E, ...args], answering an ack with "node-<port>".
//
// As a script: node support/node_peer.mjs (--redis-url redis://127.0.0.1:P | --redis-cluster URL,URL,...) [--port 0]
//   [--redis-key-prefix socket.io] [--redis-request-timeout-ms 5000]
//   [--redis-variant classic|sharded|streams] [--redis-subscription-mode dynamic|static|dynamic-private]
//   [--redis-stream-name socket.io] [--redis-stream-max-len 10000] [--redis-stream-read-count 100]
//   [--recovery 1] (connection state recovery)
// (the flags of test_server; sharded is `createShardedAdapter`, streams the streams adapter's `createAdapter`)
// prints "listening on 127.0.0.1:PORT" once listening (tests then wait until Redis counts its
// adapter, see redis_helpers.waitForAdapters). As a module:
// startNodePeer(redis, args) spawns it and waits for that line.
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { spawnProcess } from "./helpers.mjs";
import { redisArgs } from "./redis_helpers.mjs";

const SCRIPT = fileURLToPath(import.meta.url);

/** Spawn this script as a node of `redis`'s cluster; resolves with {port, url, pid, stop, ...}. */
export async function startNodePeer(redis, args = []) {
  const proc = await spawnProcess(process.execPath, [SCRIPT, "--port", "0", ...redisArgs(redis), ...args], {
    ready: /^listening on 127\.0\.0\.1:\d+$/,
    cwd: path.dirname(SCRIPT),
    name: "node peer",
  });
  const line = proc.lines.find((l) => /^listening on /.test(l));
  const port = Number(line.split(":").pop());
  return { ...proc, port, url: `http://127.0.0.1:${port}` };
}

function flag(argv, name, fallback) {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

const list = (v) => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

/** rooms / except / volatile / compress / local from a spec, as test_server's operator(). */
function operator(base, spec = {}) {
  let op = base;
  for (const r of list(spec?.rooms)) op = op.to(r);
  for (const r of list(spec?.except)) op = op.except(r);
  if (spec?.volatile === true) op = op.volatile;
  if (spec?.compress === false) op = op.compress(false);
  if (spec?.local === true) op = op.local;
  return op;
}

const sortedRooms = (socket) => [...socket.rooms].sort();

async function main() {
  const argv = process.argv.slice(2);
  const redisUrl = flag(argv, "--redis-url");
  // A Redis Cluster's seeds: node-redis' createCluster, as Node's adapters take it.
  const seeds = flag(argv, "--redis-cluster", "").split(",").filter(Boolean);
  if (!redisUrl && seeds.length === 0) {
    console.error("node_peer: --redis-url or --redis-cluster is required");
    process.exit(2);
  }
  const wantPort = Number(flag(argv, "--port", "0"));
  const key = flag(argv, "--redis-key-prefix", "socket.io");
  const requestsTimeout = Number(flag(argv, "--redis-request-timeout-ms", "5000"));
  const variant = flag(argv, "--redis-variant", "classic");
  const subscriptionMode = flag(argv, "--redis-subscription-mode", "dynamic");

  const { Server } = await import("socket.io");
  const { createAdapter, createShardedAdapter } = await import("@socket.io/redis-adapter");
  const { createClient, createCluster } = await import("redis");

  // The adapter publishes without awaiting: while Redis is down those promises reject with nobody
  // to catch them, which would end the process (Node's default). Log them and keep serving.
  process.on("unhandledRejection", (err) => console.error(`unhandled rejection: ${err?.message ?? err}`));

  const pub = seeds.length ? createCluster({ rootNodes: seeds.map((url) => ({ url })) }) : createClient({ url: redisUrl });
  // the streams adapter needs one client (its XREAD takes an isolated connection of its own)
  const sub = variant === "streams" ? null : pub.duplicate();
  const clients = [pub, sub].filter(Boolean);
  for (const c of clients) c.on("error", (err) => console.error(`redis client error: ${err.message}`));
  await Promise.all(clients.map((c) => c.connect()));

  const httpServer = createServer();
  // sharded and streams: no request timeout option (the adapter waits 5 s, as in Node)
  let adapter;
  if (variant === "streams") {
    const streams = await import("@socket.io/redis-streams-adapter");
    adapter = streams.createAdapter(pub, {
      streamName: flag(argv, "--redis-stream-name", "socket.io"),
      maxLen: Number(flag(argv, "--redis-stream-max-len", "10000")),
      readCount: Number(flag(argv, "--redis-stream-read-count", "100")),
    });
  } else if (variant === "sharded") {
    adapter = createShardedAdapter(pub, sub, { channelPrefix: key, subscriptionMode });
  } else {
    adapter = createAdapter(pub, sub, { key, requestsTimeout });
  }
  // `--recovery 1`: socket.io's connection state recovery, with its defaults.
  const recovery = flag(argv, "--recovery", "0") === "1";
  const io = new Server(httpServer, {
    adapter,
    ...(recovery ? { connectionStateRecovery: { maxDisconnectionDuration: 120000, skipMiddlewares: true } } : {}),
  });
  const nsp = io.of("/");
  let port = 0;

  // Every server-side event from another node: shown to the local watchers, acked "node-<port>".
  nsp._onServerSideEmit = (args) => {
    const [event, ...rest] = args;
    const ack = typeof rest[rest.length - 1] === "function" ? rest.pop() : null;
    nsp.to("sse-watchers").local.emit("sse-received", event, ...rest);
    if (ack) ack(`node-${port}`);
  };

  io.on("connection", (socket) => {
    socket.onAny(async (name, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      const spec = args[0];
      let reply;
      try {
        reply = await op(socket, name, spec);
      } catch (err) {
        reply = { error: err.message };
      }
      if (reply === NO_REPLY) return;
      if (ack) ack(reply);
    });
  });

  const NO_REPLY = Symbol("no reply");

  async function op(socket, name, spec) {
    switch (name) {
      case "join":
        await socket.join(list(spec));
        return sortedRooms(socket);
      case "leave":
        for (const r of list(spec)) await socket.leave(r);
        return sortedRooms(socket);
      case "rooms":
        return sortedRooms(socket);
      case "set-data":
        socket.data = spec;
        return NO_REPLY;
      case "get-data":
        return socket.data;
      case "to":
        operator(socket.broadcast, spec).emit("room-msg", spec?.data);
        return null;
      case "io-emit":
        operator(nsp, spec).emit("room-msg", spec?.data);
        return null;
      case "fetch": {
        const sockets = await operator(nsp, spec).fetchSockets();
        return sockets
          .map((s) => ({ id: s.id, data: s.data, rooms: [...s.rooms].sort(), ...(spec?.handshake ? { handshake: s.handshake } : {}) }))
          .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      }
      case "sockets-join":
        operator(nsp, spec).socketsJoin(list(spec?.join));
        return sortedRooms(socket);
      case "sockets-leave":
        operator(nsp, spec).socketsLeave(list(spec?.leave));
        return sortedRooms(socket);
      case "disconnect-sockets":
        operator(nsp, spec).disconnectSockets(spec?.close === true);
        return true;
      case "broadcast-ack": {
        let target = operator(socket.broadcast, spec);
        if (typeof spec?.timeout === "number") target = target.timeout(spec.timeout);
        // Node hands each client's first ack argument; test_server answers with the args arrays.
        return await new Promise((resolve) => {
          target.emit("poll", "vote?", (err, responses) => {
            const answers = (responses || []).map((r) => [r]);
            resolve(err ? { error: err.message, responses: answers } : { ok: answers });
          });
        });
      }
      case "sse":
        if (!spec?.ack) {
          nsp.serverSideEmit(spec.event, spec.data);
          return true;
        }
        return await new Promise((resolve) => {
          nsp.serverSideEmit(spec.event, spec.data, (err, responses) => {
            resolve(err ? { error: err.message, responses: responses || [] } : { ok: responses });
          });
        });
      case "server-count":
        return await nsp.adapter.serverCount();
      case "remote-emit": {
        const sockets = await nsp.in(spec.id).fetchSockets();
        for (const s of sockets) s.emit(spec.event, spec.data);
        return sockets.length;
      }
      default:
        return NO_REPLY;
    }
  }

  await new Promise((resolve) => httpServer.listen(wantPort, "127.0.0.1", resolve));
  port = httpServer.address().port;
  console.log(`listening on 127.0.0.1:${port}`);

  const shutdown = () => {
    io.close();
    Promise.allSettled(clients.map((c) => c.quit())).finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

if (process.argv[1] && path.resolve(process.argv[1]) === SCRIPT) {
  main().catch((err) => {
    console.error(`node_peer: ${err.stack || err}`);
    process.exit(1);
  });
}
