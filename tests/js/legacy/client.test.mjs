// socket.io-client 2.5 (Engine.IO v3, Socket.IO protocol v4) in Node against examples/test_server,
// beside v4 clients on the same path /socket.io/. For each of the transports ["polling"],
// ["websocket"] and the default (polling, then the upgrade to websocket): connect, events and
// acks both ways, binary both ways (nested, and in acks), namespaces (/custom, dynamic /dyn-N,
// two namespaces over one connection), the /private connect middleware (the v3 CONNECT's query
// is the auth), an unknown namespace, and every disconnect reason a client can provoke, read from
// the server's "disconnect <nsp> <id> <reason>" line. Binary with forceBase64 (`b4...` packets, on
// the WebSocket too). Then a room shared by a v2 and a v4 client,
// and the order guarantee (port of socketio/order.test.mjs) for the v2 client over websocket and polling.
//
// The v2 client's socket.id is derived from the engine id and is not the server's socket id
// (random, as socket.io 4 with allowEIO3): the server id is asked for (its "rooms").
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  bytes,
  checkNestedBinaryEcho,
  checkOrderRounds,
  closeSocket,
  connected,
  disconnected,
  escapeRegExp as escape,
  eventCount,
  ioClient,
  recordEvents,
  startServer,
  until,
} from "../support/helpers.mjs";
import {
  ackV2,
  connectedV2,
  errorEventV2,
  ioV2,
  serverIdV2,
  stopHeartbeatV3,
  upgradedV2,
} from "../support/legacy_helpers.mjs";

const T = { timeout: 60000 };

let server;
const sockets = [];

before(async () => {
  // test_server's defaults: pingInterval 300 ms, pingTimeout 200 ms.
  server = await startServer("test_server");
});

after(async () => {
  for (const s of sockets.splice(0)) closeSocket(s);
  if (server) await server.stop();
});

const MODES = [
  { name: "polling", opts: { transports: ["polling"] }, transport: "polling" },
  { name: "websocket", opts: { transports: ["websocket"] }, transport: "websocket" },
  { name: "default (polling, upgraded to websocket)", opts: {}, transport: "websocket", upgrade: true },
];

/** A new socket.io-client 2 socket (own connection) that records its events. */
function clientV2(srv, nsp, opts = {}) {
  const socket = recordEvents(ioV2(srv.url + nsp, { forceNew: true, reconnection: false, timeout: 15000, ...opts }));
  sockets.push(socket);
  return socket;
}

/** Connect a v2 socket in `mode`; in the upgrade mode also wait for the upgrade to websocket. */
async function connectV2(srv, nsp, mode, opts = {}) {
  const socket = clientV2(srv, nsp, { ...mode.opts, ...opts });
  const upgraded = mode.upgrade ? upgradedV2(socket) : null;
  upgraded?.catch(() => {}); // awaited below, once connected
  await connectedV2(socket);
  if (upgraded) await upgraded;
  assert.equal(socket.io.engine.transport.name, mode.transport);
  return socket;
}

/**
 * "/" and "/custom" over one socket.io-client 2 Manager in `mode`, both connected (and, in the
 * upgrade mode, upgraded to websocket).
 */
async function connectMultiplexedV2(srv, mode) {
  const manager = new ioV2.Manager(srv.url, { reconnection: false, timeout: 15000, ...mode.opts });
  const upgraded = mode.upgrade ? upgradedV2({ io: manager }) : null;
  upgraded?.catch(() => {}); // awaited below, once connected
  const main = recordEvents(manager.socket("/"));
  const custom = recordEvents(manager.socket("/custom"));
  sockets.push(main, custom);
  await Promise.all([connectedV2(main), connectedV2(custom)]);
  if (upgraded) await upgraded;
  return { manager, main, custom };
}

/** Wait for the server's "disconnect <nsp> <id> <reason>" line (the only one for that socket). */
async function expectServerDisconnect(srv, nsp, id, reason, timeoutMs = 15000) {
  const line = `disconnect ${nsp} ${id} ${reason}`;
  const any = await srv.waitForLine(new RegExp(`^disconnect ${escape(nsp)} ${escape(id)} `), timeoutMs);
  assert.equal(any, line, "the server's disconnect reason");
  const all = srv.lines.filter((l) => l.startsWith(`disconnect ${nsp} ${id} `));
  assert.deepEqual(all, [line], "exactly one disconnect line per socket");
}

for (const mode of MODES) {
  describe(`socket.io-client 2 over ${mode.name}`, () => {
    it("connects, is auto-connected to / (greeting with empty auth), echoes, keeps its heartbeat", T, async () => {
      const socket = await connectV2(server, "/", mode);
      assert.equal(socket.io.engine.transport.name, mode.transport);
      // The server greets with the handshake's auth: {} for a v3 client auto-connected to "/".
      assert.deepEqual(await socket.event("auth"), [{}]);
      const id = await serverIdV2(socket);
      await server.waitForLine(new RegExp(`^connect / ${escape(id)}$`));
      socket.emit("message", "hello", 1, { a: [true, null] });
      assert.deepEqual(await socket.event("message-back"), ["hello", 1, { a: [true, null] }]);
      // Engine.IO v3: the client pings every pingInterval and the server answers each with a pong.
      await eventCount(socket.io.engine, "pong", 3);
      assert.ok(socket.connected);
      assert.equal(socket.io.engine.transport.name, mode.transport);
      socket.emit("message", "still here");
      assert.deepEqual(await socket.event("message-back"), ["still here"]);
      const hs = (await ackV2(socket, "handshake"))[0];
      assert.equal(hs.query.EIO, "3");
      assert.equal(hs.query.transport, mode.upgrade ? "polling" : mode.transport);
      socket.disconnect();
    });

    it("client ack callback gets the server's ack", T, async () => {
      const socket = await connectV2(server, "/", mode);
      assert.deepEqual(await ackV2(socket, "message-with-ack", [1, "2", { 3: [true] }]), [1, "2", { 3: [true] }]);
      assert.deepEqual(await ackV2(socket, "message-with-ack", []), []);
      socket.disconnect();
    });

    it("server emit with ack: the client's answer reaches the server", T, async () => {
      const socket = await connectV2(server, "/", mode);
      socket.on("question", (...args) => {
        const cb = args.pop();
        assert.equal(typeof cb, "function");
        assert.deepEqual(args, ["ready?"]);
        cb("yes", 42, { deep: [1] });
      });
      socket.emit("ask", 5000);
      assert.deepEqual(await socket.event("answer"), ["yes", 42, { deep: [1] }]);
      assert.ok(!socket.hasSeen("answer-timeout"));
      socket.disconnect();
    });

    it("round-trips Buffers and nested binary", T, async () => {
      const socket = await connectV2(server, "/", mode);
      await checkNestedBinaryEcho(socket);
      // a larger one, all byte values
      const big = Buffer.alloc(20000);
      for (let i = 0; i < big.length; i++) big[i] = i % 256;
      socket.emit("message", big);
      const [back] = await socket.event("message-back");
      assert.ok(Buffer.from(bytes(back)).equals(big));
      socket.disconnect();
    });

    it("acks with binary arguments, both ways", T, async () => {
      const socket = await connectV2(server, "/", mode);
      const [res] = await ackV2(socket, "message-with-ack", [{ bin: Buffer.from("héllo") }]);
      assert.equal(Buffer.from(bytes(res.bin)).toString(), "héllo");
      // the client's ack to the server carries binary (BINARY_ACK); the server forwards the answer
      socket.on("question", (_q, cb) => cb({ file: Buffer.from([9, 8, 7]) }, "after"));
      socket.emit("ask", 5000);
      const [answer, after] = await socket.event("answer");
      assert.deepEqual(bytes(answer.file), [9, 8, 7]);
      assert.equal(after, "after");
      socket.disconnect();
    });

    it("connects to /custom and to a dynamic namespace /dyn-N, each with its own handlers", T, async () => {
      const custom = await connectV2(server, "/custom", mode);
      assert.deepEqual(await custom.event("auth"), [{}]);
      const customId = await serverIdV2(custom);
      await server.waitForLine(new RegExp(`^connect /custom ${escape(customId)}$`));
      assert.deepEqual(await ackV2(custom, "message-with-ack", [[1, 2]]), [[1, 2]]);

      const dyn = await connectV2(server, "/dyn-7", mode);
      assert.deepEqual(await dyn.event("nsp"), ["/dyn-7"]);
      const dynId = await serverIdV2(dyn);
      await server.waitForLine(new RegExp(`^connect /dyn-7 ${escape(dynId)}$`));
      dyn.emit("message", "dyn");
      assert.deepEqual(await dyn.event("message-back"), ["dyn"]);
      custom.disconnect();
      dyn.disconnect();
    });

    it("multiplexes / and /custom over one connection", T, async () => {
      const { manager, main, custom } = await connectMultiplexedV2(server, mode);
      assert.equal(main.io, custom.io);
      assert.equal(manager.engine.transport.name, mode.transport);
      const mainId = await serverIdV2(main);
      const customId = await serverIdV2(custom);
      assert.notEqual(mainId, customId);
      await server.waitForLine(new RegExp(`^connect / ${escape(mainId)}$`));
      await server.waitForLine(new RegExp(`^connect /custom ${escape(customId)}$`));
      main.emit("message", "to main");
      custom.emit("message", "to custom");
      assert.deepEqual(await main.event("message-back"), ["to main"]);
      assert.deepEqual(await custom.event("message-back"), ["to custom"]);
      // leaving one namespace leaves the other connected
      custom.disconnect();
      await expectServerDisconnect(server, "/custom", customId, "client namespace disconnect");
      main.emit("message", "main still works");
      assert.deepEqual(await main.event("message-back"), ["main still works"]);
      assert.ok(main.connected);
      main.disconnect();
      await expectServerDisconnect(server, "/", mainId, "client namespace disconnect");
    });

    it("/private connect middleware: a wrong or missing token gets the error's data", T, async () => {
      const wrong = clientV2(server, "/private", { ...mode.opts, query: { token: "wrong" } });
      // protocol v4 CONNECT_ERROR: the middleware error's data when it has data
      assert.deepEqual(await errorEventV2(wrong), { reason: "bad token" });
      assert.equal(wrong.connected, false);
      wrong.disconnect();

      const missing = clientV2(server, "/private", mode.opts);
      assert.deepEqual(await errorEventV2(missing), { reason: "bad token" });
      assert.equal(missing.connected, false);
      missing.disconnect();
    });

    it("/private connect middleware: the CONNECT's query ?token=secret is the auth", T, async () => {
      const socket = await connectV2(server, "/private", mode, { query: { token: "secret" } });
      assert.deepEqual(await socket.event("auth"), [{ token: "secret" }]);
      const id = await serverIdV2(socket);
      await server.waitForLine(new RegExp(`^connect /private ${escape(id)}$`));
      socket.emit("message", "private hello");
      assert.deepEqual(await socket.event("message-back"), ["private hello"]);
      socket.disconnect();
    });

    it("an unknown namespace gets the error 'Invalid namespace'", T, async () => {
      for (const nsp of ["/does-not-exist", "/dyn-x"]) {
        const socket = clientV2(server, nsp, mode.opts);
        assert.equal(await errorEventV2(socket), "Invalid namespace", nsp);
        assert.equal(socket.connected, false);
        socket.disconnect();
      }
    });

    it("socket.disconnect() -> client namespace disconnect", T, async () => {
      const socket = await connectV2(server, "/", mode);
      const id = await serverIdV2(socket);
      const reason = disconnected(socket, 15000);
      socket.disconnect();
      assert.equal(await reason, "io client disconnect");
      await expectServerDisconnect(server, "/", id, "client namespace disconnect");
    });

    it("closing the engine -> transport close", T, async () => {
      const socket = await connectV2(server, "/", mode);
      const id = await serverIdV2(socket);
      const reason = disconnected(socket, 15000);
      socket.io.engine.close();
      await reason;
      await expectServerDisconnect(server, "/", id, "transport close");
    });

    it("a client that stops pinging -> ping timeout (the server closes the session)", T, async () => {
      const socket = await connectV2(server, "/", mode);
      const id = await serverIdV2(socket);
      const reason = disconnected(socket, 20000);
      stopHeartbeatV3(socket.io.engine);
      // pingInterval + pingTimeout is 500 ms; the bound is generous
      await expectServerDisconnect(server, "/", id, "ping timeout", 20000);
      await reason; // the client sees the session end (transport close or error)
    });

    it("a malformed Socket.IO packet -> parse error", T, async () => {
      const socket = await connectV2(server, "/", mode);
      const id = await serverIdV2(socket);
      const reason = disconnected(socket, 15000);
      socket.io.engine.write("4garbage");
      await expectServerDisconnect(server, "/", id, "parse error");
      await reason;
    });

    it("server disconnect-me -> io server disconnect / server namespace disconnect", T, async () => {
      const socket = await connectV2(server, "/", mode);
      const id = await serverIdV2(socket);
      const reason = disconnected(socket, 15000);
      socket.emit("disconnect-me");
      assert.equal(await reason, "io server disconnect");
      assert.equal(socket.connected, false);
      await expectServerDisconnect(server, "/", id, "server namespace disconnect");
    });

    it("server close-me closes the whole connection: every namespace on it ends", T, async () => {
      const { manager, main, custom } = await connectMultiplexedV2(server, mode);
      const mainId = await serverIdV2(main);
      const customId = await serverIdV2(custom);
      const mainReason = disconnected(main, 15000);
      const customReason = disconnected(custom, 15000);
      const engineClosed = new Promise((resolve) => manager.engine.once("close", resolve));
      main.emit("close-me");
      assert.equal(await mainReason, "io server disconnect");
      // the other namespace goes down with the connection (socket.io-client 2 reports how it saw it)
      await customReason;
      await engineClosed;
      await expectServerDisconnect(server, "/", mainId, "server namespace disconnect");
      await expectServerDisconnect(server, "/custom", customId, "server namespace disconnect");
    });
  });
}

describe("socket.io-client 2 with forceBase64", () => {
  // engine.io-client 3's forceBase64 option: binary goes as base64 `b4...` packets (b64=1 in the
  // handshake), over polling and over the WebSocket, where they are text frames.
  for (const transports of [["websocket"], ["polling"]]) {
    it(`round-trips binary and acks with binary (${transports[0]})`, T, async () => {
      const socket = clientV2(server, "/", { transports, forceBase64: true });
      await connectedV2(socket);
      const id = await serverIdV2(socket);
      socket.emit("message", Buffer.from([1, 2, 3]), { nested: Buffer.from([255]) });
      const echoed = await Promise.race([
        socket.event("message-back"),
        disconnected(socket, 15000).then((why) => {
          const line = server.lines.find((l) => l.startsWith(`disconnect / ${id} `));
          throw new Error(`disconnected (${why}) instead of echoing; server: ${line}`);
        }),
      ]);
      assert.deepEqual(bytes(echoed[0]), [1, 2, 3]);
      assert.deepEqual(bytes(echoed[1].nested), [255]);
      const [res] = await ackV2(socket, "message-with-ack", [{ bin: Buffer.from("b64") }]);
      assert.equal(Buffer.from(bytes(res.bin)).toString(), "b64");
      socket.disconnect();
    });
  }
});

describe("v2 and v4 clients together", () => {
  it("a v2 and a v4 client in one room both get the same broadcasts", T, async () => {
    const v2 = await connectV2(server, "/", MODES[1]);
    const v2Polling = await connectV2(server, "/", MODES[0]);
    const v4 = await io4(["websocket"]);
    const v4Room = await v4.timeout(10000).emitWithAck("join", "mixed");
    assert.ok(v4Room.includes("mixed"));
    const [v2Room] = await ackV2(v2, "join", ["mixed"]);
    assert.ok(v2Room.includes("mixed"));
    const [v2pRoom] = await ackV2(v2Polling, "join", ["mixed"]);
    assert.ok(v2pRoom.includes("mixed"));

    const got = { v2: [], v2p: [], v4: [] };
    v2.on("room-msg", (m) => got.v2.push(m));
    v2Polling.on("room-msg", (m) => got.v2p.push(m));
    v4.on("room-msg", (m) => got.v4.push(m));

    // from the namespace (sender included), asked by a v2 client
    await ackV2(v2, "io-emit", [{ rooms: ["mixed"], data: { from: "v2", n: 1 } }]);
    // from a socket (sender left out), asked by the v4 client
    await v4.timeout(10000).emitWithAck("to", { rooms: ["mixed"], data: { from: "v4", n: 2 } });
    await until(() => got.v2.length >= 2 && got.v2p.length >= 2 && got.v4.length >= 1, `broadcasts (got ${JSON.stringify(got)})`);
    assert.deepEqual(got.v2, [{ from: "v2", n: 1 }, { from: "v4", n: 2 }]);
    assert.deepEqual(got.v2p, [{ from: "v2", n: 1 }, { from: "v4", n: 2 }]);
    assert.deepEqual(got.v4, [{ from: "v2", n: 1 }]);
    v2.disconnect();
    v2Polling.disconnect();
    v4.disconnect();
  });

  /** A connected socket.io-client 4 socket. */
  function io4(transports) {
    const socket = ioClient(server.url, { transports });
    sockets.push(socket);
    return connected(socket, 15000);
  }
});

describe("order for v2 clients (port of socketio/order.test.mjs)", () => {
  let orderServer;
  before(async () => {
    // long heartbeats: the bursts below must not race the 500 ms default
    orderServer = await startServer("test_server", ["--ping-interval", "5000", "--ping-timeout", "5000"]);
  });
  after(async () => {
    if (orderServer) await orderServer.stop();
  });

  for (const transport of ["websocket", "polling"]) {
    const mode = MODES.find((m) => m.name === transport);
    it(`emit, ack, flagged emits, a room operator and emits from a task arrive as written (${transport})`, T, async () => {
      const socket = await connectV2(orderServer, "/", mode);
      await checkOrderRounds(socket, transport);
      socket.disconnect();
    });

    it(`a burst of 2,000 client emits is echoed back in order (${transport})`, T, async () => {
      const socket = await connectV2(orderServer, "/", mode);
      const got = [];
      socket.on("message-back", (i) => got.push(i));
      for (let i = 0; i < 2000; i++) socket.emit("message", i);
      await until(() => got.length >= 2000, `2000 echoes (got ${got.length})`, 40000);
      assert.deepEqual(
        got,
        Array.from({ length: 2000 }, (_, i) => i),
      );
      socket.disconnect();
    });
  }
});
