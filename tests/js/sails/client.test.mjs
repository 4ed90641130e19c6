// sails.io.js 1.2.1 over socket.io-client 2.5 (Engine.IO v3) in Node against examples/test_server:
// the SDK's auto-connecting `io.socket` (its default transports: websocket only) and sockets made
// with `io.sails.connect()` over polling. The server must see the SDK's handshake query
// (__sails_io_sdk_version / _platform / _language, beside EIO=3), and the SDK socket must get the
// server's pushes (the connect greeting "auth", emits from "ask" with an ack, room broadcasts).
// Here events go through the raw socket.io socket (`socket._raw.emit`) and `socket.on`; Sails
// virtual requests (io.socket.get/post...) are tested in sails/virtual_requests.test.mjs.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { disconnected, escapeRegExp as escape, startServer, until } from "../support/helpers.mjs";
import { ackV2, connectedV2, ioV2, serverIdV2 } from "../support/legacy_helpers.mjs";
import { closeSailsSockets } from "../support/sails_helpers.mjs";

const require = createRequire(import.meta.url);
const sailsIOClient = require("sails.io.js");

const T = { timeout: 30000 };
const SDK_QUERY = {
  __sails_io_sdk_version: "1.2.1",
  __sails_io_sdk_platform: "node",
  __sails_io_sdk_language: "javascript",
};

let server;
let io; // socket.io-client 2 augmented by sails.io.js (io.sails, io.socket)
const greetings = []; // "auth" events the auto-connected io.socket got
let autoConnected; // resolves once io.socket is connected
const sailsSockets = [];

before(async () => {
  server = await startServer("test_server");
  // sails.io.js augments the io it is given once per process; its io.socket connects on the next
  // tick, so everything it needs is set (and listened to) in this one.
  io = sailsIOClient(ioV2);
  io.sails.url = server.url;
  io.sails.environment = "production"; // no SDK logs
  io.sails.reconnection = false;
  autoConnected = new Promise((resolve) => io.socket.on("connect", resolve));
  io.socket.on("auth", (auth) => greetings.push(auth));
  sailsSockets.push(io.socket);
});

after(async () => {
  closeSailsSockets(sailsSockets);
  if (server) await server.stop();
});

function withTimeout(promise, what, ms = 15000) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The next `event` on a SailsSocket (its `on` forwards to the raw socket). */
function nextEvent(socket, event, ms = 10000) {
  return withTimeout(
    new Promise((resolve) => {
      const handler = (...args) => {
        socket.off(event, handler);
        resolve(args);
      };
      socket.on(event, handler);
    }),
    `no "${event}" event`,
    ms,
  );
}

/** A SailsSocket made with io.sails.connect(), connected, with its greetings recorded. */
async function sailsConnect(opts) {
  const socket = io.sails.connect(server.url, { multiplex: false, ...opts });
  sailsSockets.push(socket);
  socket.greetings = [];
  socket.on("auth", (auth) => socket.greetings.push(auth));
  await connectedV2(socket._raw);
  return socket;
}

describe("sails.io.js io.socket (auto-connect, websocket only)", () => {
  it("connects over websocket with the SDK's query in the handshake and gets the greeting", T, async () => {
    await withTimeout(autoConnected, "io.socket not connected");
    assert.ok(io.socket.isConnected());
    assert.equal(io.socket._raw.io.engine.transport.name, "websocket");
    await until(() => greetings.length >= 1, "the greeting");
    assert.deepEqual(greetings, [{}]);
    const [hs] = await ackV2(io.socket._raw, "handshake");
    for (const [k, v] of Object.entries(SDK_QUERY)) assert.equal(hs.query[k], v, `query.${k}`);
    assert.equal(hs.query.EIO, "3");
    assert.equal(hs.query.transport, "websocket");
    const id = await serverIdV2(io.socket._raw);
    await server.waitForLine(new RegExp(`^connect / ${escape(id)}$`));
  });

  it("raw events, acks and server pushes with an ack", T, async () => {
    await withTimeout(autoConnected, "io.socket not connected");
    const echoed = nextEvent(io.socket, "message-back");
    io.socket._raw.emit("message", "hello sails", { n: 1 });
    assert.deepEqual(await echoed, ["hello sails", { n: 1 }]);
    assert.deepEqual(await ackV2(io.socket._raw, "message-with-ack", ["acked"]), ["acked"]);

    const onQuestion = (q, cb) => cb(`sails says yes to ${q}`);
    io.socket.on("question", onQuestion);
    const answer = nextEvent(io.socket, "answer");
    io.socket._raw.emit("ask", 5000);
    assert.deepEqual(await answer, ["sails says yes to ready?"]);
    io.socket.off("question", onQuestion);
  });

  it("receives a room broadcast sent by a socket.io-client 2 socket", T, async () => {
    await withTimeout(autoConnected, "io.socket not connected");
    const [rooms] = await ackV2(io.socket._raw, "join", ["sails-room"]);
    assert.ok(rooms.includes("sails-room"));
    const other = ioV2(server.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    try {
      await connectedV2(other);
      const pushed = nextEvent(io.socket, "room-msg");
      await ackV2(other, "to", [{ rooms: ["sails-room"], data: { hi: "sails" } }]);
      assert.deepEqual(await pushed, [{ hi: "sails" }]);
    } finally {
      other.disconnect();
    }
  });
});

describe("sails.io.js io.sails.connect()", () => {
  it("connects over polling (io.sails transports ['polling']) with the SDK's query", T, async () => {
    const socket = await sailsConnect({ transports: ["polling"] });
    assert.equal(socket._raw.io.engine.transport.name, "polling");
    await until(() => socket.greetings.length >= 1, "the greeting");
    assert.deepEqual(socket.greetings, [{}]);
    const [hs] = await ackV2(socket._raw, "handshake");
    for (const [k, v] of Object.entries(SDK_QUERY)) assert.equal(hs.query[k], v, `query.${k}`);
    assert.equal(hs.query.EIO, "3");
    assert.equal(hs.query.transport, "polling");
    const echoed = nextEvent(socket, "message-back");
    socket._raw.emit("message", Buffer.from([1, 2, 3]), "polling");
    const [bin, text] = await echoed;
    assert.deepEqual([...bin], [1, 2, 3]);
    assert.equal(text, "polling");
    // a server push with an ack over polling
    socket.on("question", (_q, cb) => cb("polled yes"));
    const answer = nextEvent(socket, "answer");
    socket._raw.emit("ask", 5000);
    assert.deepEqual(await answer, ["polled yes"]);
    const id = await serverIdV2(socket._raw);
    const gone = disconnected(socket._raw, 15000);
    socket.disconnect();
    await gone;
    await server.waitForLine(new RegExp(`^disconnect / ${escape(id)} client namespace disconnect$`), 15000);
  });

  it("mixes a query of its own with the SDK's", T, async () => {
    const socket = await sailsConnect({ query: "foo=bar&n=1", transports: ["websocket"] });
    const [hs] = await ackV2(socket._raw, "handshake");
    assert.equal(hs.query.foo, "bar");
    assert.equal(hs.query.n, "1");
    for (const [k, v] of Object.entries(SDK_QUERY)) assert.equal(hs.query[k], v, `query.${k}`);
    socket.disconnect();
  });
});
