// The official socket.io-client v4 against examples/test_server: transports, binary, acks,
// auth and middlewares, namespaces, handshake details, rooms and socket.data.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Manager } from "socket.io-client";
import {
  bytes,
  checkNestedBinaryEcho,
  closeSocket,
  connected,
  escapeRegExp as escape,
  eventCount,
  ioClient,
  notReceived,
  recordEvents,
  startServer,
} from "../support/helpers.mjs";

const T = { timeout: 30000 };

let server;
const sockets = [];

before(async () => {
  server = await startServer("test_server");
});

after(async () => {
  for (const s of sockets.splice(0)) closeSocket(s);
  if (server) await server.stop();
});

/** A socket that records every event it receives (recordEvents), closed after the file. */
function record(socket) {
  sockets.push(socket);
  return recordEvents(socket);
}

function client(nsp = "/", opts = {}) {
  return record(ioClient(server.url + nsp, opts));
}

/** Wait for connect_error and return the Error. */
function connectError(socket, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no connect_error in time")), timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      reject(new Error("connected although a connect_error was expected"));
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}

/** Resolves once the client has answered `n` more server pings; rejects after 10 s. */
const heartbeats = (socket, n) => eventCount(socket.io.engine, "ping", n);

describe("transports", () => {
  for (const transports of [["polling"], ["websocket"]]) {
    it(`connects and echoes with transports ${JSON.stringify(transports)} only`, T, async () => {
      const socket = await connected(client("/", { transports }));
      assert.equal(socket.io.engine.transport.name, transports[0]);
      assert.equal(typeof socket.id, "string");
      await server.waitForLine(new RegExp(`^connect / ${escape(socket.id)}$`));
      socket.emit("message", "hello", 1, { a: [true, null] });
      assert.deepEqual(await socket.event("message-back"), ["hello", 1, { a: [true, null] }]);
      // survives several heartbeats (pingInterval 300 ms, pingTimeout 200 ms)
      await heartbeats(socket, 3);
      assert.ok(socket.connected);
      assert.equal(socket.io.engine.transport.name, transports[0]);
      socket.emit("message", "still here");
      assert.deepEqual(await socket.event("message-back"), ["still here"]);
      socket.disconnect();
    });
  }

  it("upgrades from polling to websocket by default", T, async () => {
    const socket = client("/");
    const upgraded = new Promise((resolve) => socket.io.on("open", () => socket.io.engine.once("upgrade", resolve)));
    await connected(socket);
    await upgraded;
    assert.equal(socket.io.engine.transport.name, "websocket");
    socket.emit("message", "after upgrade");
    assert.deepEqual(await socket.event("message-back"), ["after upgrade"]);
    await heartbeats(socket, 2);
    assert.ok(socket.connected, "still connected after heartbeats on the upgraded transport");
    socket.disconnect();
  });

  it("delivers events sent during the upgrade in order", T, async () => {
    const socket = client("/");
    await connected(socket);
    for (let i = 0; i < 20; i++) socket.emit("message", i);
    for (let i = 0; i < 20; i++) assert.deepEqual(await socket.event("message-back"), [i]);
    socket.disconnect();
  });
});

describe("binary", () => {
  for (const transports of [["polling"], ["websocket"]]) {
    it(`round-trips Buffers and nested binary (${transports[0]})`, T, async () => {
      const socket = await connected(client("/", { transports }));
      await checkNestedBinaryEcho(socket);
      socket.disconnect();
    });

    it(`acks with binary arguments (${transports[0]})`, T, async () => {
      const socket = await connected(client("/", { transports }));
      const res = await socket.timeout(5000).emitWithAck("message-with-ack", { bin: Buffer.from("héllo") });
      assert.equal(Buffer.from(bytes(res.bin)).toString(), "héllo");
      socket.disconnect();
    });
  }

  it("round-trips a large binary payload", T, async () => {
    const socket = await connected(client("/", { transports: ["websocket"] }));
    const big = Buffer.alloc(50000, 7);
    socket.emit("message", big);
    const [back] = await socket.event("message-back");
    assert.equal(bytes(back).length, 50000);
    assert.ok(Buffer.from(bytes(back)).equals(big));
    socket.disconnect();
  });
});

describe("acknowledgements", () => {
  it("client ack with a callback", T, async () => {
    const socket = await connected(client("/"));
    const args = await new Promise((resolve) => socket.emit("message-with-ack", 1, "2", { 3: [true] }, (...a) => resolve(a)));
    assert.deepEqual(args, [1, "2", { 3: [true] }]);
    socket.disconnect();
  });

  it("client timeout(ms).emitWithAck resolves with the ack", T, async () => {
    const socket = await connected(client("/"));
    assert.deepEqual(await socket.timeout(5000).emitWithAck("message-with-ack", { a: 1 }), { a: 1 });
    assert.equal(await socket.emitWithAck("message-with-ack", "plain"), "plain");
    socket.disconnect();
  });

  it("client timeout(ms).emitWithAck rejects when the server never acks", T, async () => {
    const socket = await connected(client("/"));
    await assert.rejects(socket.timeout(300).emitWithAck("message", "no ack here"), /timed out/);
    assert.ok(socket.connected);
    socket.disconnect();
  });

  it("server emit with ack: the client answers", T, async () => {
    const socket = await connected(client("/"));
    socket.on("question", (...args) => {
      const cb = args.pop();
      assert.equal(typeof cb, "function");
      cb("yes", 42, { deep: [1] });
    });
    socket.emit("ask", 3000);
    assert.deepEqual(await socket.event("answer"), ["yes", 42, { deep: [1] }]);
    assert.ok(!socket.hasSeen("answer-timeout"));
    socket.disconnect();
  });

  it("server emit with ack and timeout: the client never answers", T, async () => {
    const socket = await connected(client("/"));
    socket.on("question", () => {
      // deliberately never call the ack
    });
    socket.emit("ask", 300);
    await socket.event("answer-timeout", 5000); // its arguments are not specified
    await notReceived(socket, "answer", 300);
    socket.disconnect();
  });

  it("acks in a custom namespace", T, async () => {
    const socket = await connected(client("/custom"));
    assert.deepEqual(await socket.timeout(5000).emitWithAck("message-with-ack", [1, 2]), [1, 2]);
    socket.disconnect();
  });
});

describe("auth and middlewares", () => {
  it("passes the auth payload to the server", T, async () => {
    const socket = client("/", { auth: { token: "abc", n: 1 } });
    await connected(socket);
    assert.deepEqual(await socket.event("auth"), [{ token: "abc", n: 1 }]);
    socket.disconnect();
  });

  it("sends an empty auth object by default", T, async () => {
    const socket = client("/custom");
    await connected(socket);
    assert.deepEqual(await socket.event("auth"), [{}]);
    socket.disconnect();
  });

  it("connect middleware rejects a wrong token with message and data", T, async () => {
    const socket = client("/private", { auth: { token: "wrong" } });
    const err = await connectError(socket);
    assert.equal(err.message, "unauthorized");
    assert.deepEqual(err.data, { reason: "bad token" });
    assert.equal(socket.connected, false);
    socket.disconnect();
  });

  it("connect middleware rejects a missing token", T, async () => {
    const socket = client("/private");
    const err = await connectError(socket);
    assert.equal(err.message, "unauthorized");
    assert.deepEqual(err.data, { reason: "bad token" });
    socket.disconnect();
  });

  it("connect middleware accepts the right token", T, async () => {
    const socket = await connected(client("/private", { auth: { token: "secret" } }));
    await server.waitForLine(new RegExp(`^connect /private ${escape(socket.id)}$`));
    socket.emit("message", "private hello");
    assert.deepEqual(await socket.event("message-back"), ["private hello"]);
    socket.disconnect();
  });

  it("per-packet middleware rejects an event", T, async () => {
    const socket = await connected(client("/"));
    socket.emit("forbidden", 1, 2);
    assert.deepEqual(await socket.event("middleware-error"), ["forbidden event"]);
    await server.waitForLine(new RegExp(`^error / ${escape(socket.id)} forbidden event$`));
    // the socket stays usable
    socket.emit("message", "after error");
    assert.deepEqual(await socket.event("message-back"), ["after error"]);
    assert.ok(socket.connected);
    socket.disconnect();
  });

  it("per-packet middleware modifies an event before the handler", T, async () => {
    const socket = await connected(client("/"));
    socket.emit("double", 21);
    assert.deepEqual(await socket.event("double-back"), [42]);
    socket.emit("double", -2.5);
    assert.deepEqual(await socket.event("double-back"), [-5]);
    socket.disconnect();
  });
});

describe("namespaces", () => {
  it("rejects an unknown namespace", T, async () => {
    const socket = client("/does-not-exist");
    const err = await connectError(socket);
    assert.equal(err.message, "Invalid namespace");
    socket.disconnect();
  });

  it("accepts a dynamic namespace matching ^/dyn-\\d+$", T, async () => {
    const socket = client("/dyn-42");
    await connected(socket);
    assert.deepEqual(await socket.event("nsp"), ["/dyn-42"]);
    await server.waitForLine(new RegExp(`^connect /dyn-42 ${escape(socket.id)}$`));
    socket.emit("message", "dyn");
    assert.deepEqual(await socket.event("message-back"), ["dyn"]);
    socket.disconnect();
  });

  it("keeps dynamic namespaces apart", T, async () => {
    const a = client("/dyn-1");
    const b = client("/dyn-2");
    await Promise.all([connected(a), connected(b)]);
    assert.deepEqual(await a.event("nsp"), ["/dyn-1"]);
    assert.deepEqual(await b.event("nsp"), ["/dyn-2"]);
    a.disconnect();
    b.disconnect();
  });

  it("rejects a namespace that does not match the dynamic pattern", T, async () => {
    for (const nsp of ["/dyn-x", "/dyn-", "/dyn-12a"]) {
      const socket = client(nsp);
      const err = await connectError(socket);
      assert.equal(err.message, "Invalid namespace", nsp);
      socket.disconnect();
    }
  });

  it("multiplexes two namespaces over one connection", T, async () => {
    const manager = new Manager(server.url, { reconnection: false, transports: ["websocket"] });
    const main = record(manager.socket("/"));
    const custom = record(manager.socket("/custom"));
    await Promise.all([connected(main), connected(custom)]);
    assert.equal(main.io, custom.io);
    assert.equal(main.io.engine.id, custom.io.engine.id);
    assert.notEqual(main.id, custom.id);
    await server.waitForLine(new RegExp(`^connect / ${escape(main.id)}$`));
    await server.waitForLine(new RegExp(`^connect /custom ${escape(custom.id)}$`));
    main.emit("message", "to main");
    custom.emit("message", "to custom");
    assert.deepEqual(await main.event("message-back"), ["to main"]);
    assert.deepEqual(await custom.event("message-back"), ["to custom"]);
    // leaving one namespace leaves the other connected
    const customId = custom.id;
    custom.disconnect();
    await server.waitForLine(new RegExp(`^disconnect /custom ${escape(customId)} client namespace disconnect$`));
    main.emit("message", "main still works");
    assert.deepEqual(await main.event("message-back"), ["main still works"]);
    assert.ok(main.connected);
    main.disconnect();
  });
});

describe("socket details", () => {
  it("exposes the handshake details", T, async () => {
    const before = Date.now();
    const socket = client("/", {
      query: { foo: "bar", n: 1 },
      auth: { a: 1 },
      extraHeaders: { "X-Custom-Header": "hello" },
    });
    await connected(socket);
    const hs = await socket.timeout(5000).emitWithAck("handshake");
    assert.deepEqual(
      Object.keys(hs).sort(),
      ["address", "auth", "headers", "issued", "query", "secure", "time", "url", "xdomain"],
    );
    assert.equal(hs.query.foo, "bar");
    assert.equal(hs.query.n, "1");
    assert.equal(hs.query.EIO, "4");
    assert.equal(hs.query.transport, "polling");
    for (const [k, v] of Object.entries(hs.query)) assert.equal(typeof v, "string", `query.${k}`);
    assert.equal(hs.headers["x-custom-header"], "hello");
    assert.equal(hs.headers.host, `127.0.0.1:${server.port}`);
    for (const k of Object.keys(hs.headers)) assert.equal(k, k.toLowerCase(), "header names are lowercased");
    assert.deepEqual(hs.auth, { a: 1 });
    assert.equal(typeof hs.address, "string");
    assert.match(hs.address, /127\.0\.0\.1/);
    assert.equal(typeof hs.url, "string");
    assert.match(hs.url, /^\/socket\.io\/\?/);
    assert.match(hs.url, /foo=bar/);
    assert.equal(hs.secure, false);
    assert.equal(hs.xdomain, false);
    assert.equal(typeof hs.issued, "number");
    assert.ok(hs.issued >= before - 60000 && hs.issued <= Date.now() + 60000, `issued ${hs.issued}`);
    assert.equal(typeof hs.time, "string");
    assert.ok(!Number.isNaN(Date.parse(hs.time)), `time ${hs.time} must be a date string`);
    socket.disconnect();
  });

  it("reports xdomain when the client sends an Origin header", T, async () => {
    const socket = client("/", { transports: ["websocket"], extraHeaders: { Origin: "http://example.com" } });
    await connected(socket);
    const hs = await socket.timeout(5000).emitWithAck("handshake");
    assert.equal(hs.xdomain, true);
    assert.equal(hs.headers.origin, "http://example.com");
    assert.equal(hs.query.transport, "websocket");
    socket.disconnect();
  });

  it("lists the socket's rooms, including its own id", T, async () => {
    const socket = await connected(client("/"));
    const rooms = await socket.timeout(5000).emitWithAck("rooms");
    assert.ok(Array.isArray(rooms));
    assert.ok(rooms.includes(socket.id), `${JSON.stringify(rooms)} must contain ${socket.id}`);
    assert.equal(rooms.length, 1);
    socket.disconnect();
  });

  it("keeps socket.data between events", T, async () => {
    const socket = await connected(client("/"));
    const value = { user: "ann", tags: ["a", "b"], n: 3.5, ok: true, none: null };
    socket.emit("set-data", value);
    assert.deepEqual(await socket.timeout(5000).emitWithAck("get-data"), value);
    socket.emit("set-data", "replaced");
    assert.equal(await socket.timeout(5000).emitWithAck("get-data"), "replaced");
    socket.disconnect();
  });

  it("keeps socket.data per socket", T, async () => {
    const a = await connected(client("/"));
    const b = await connected(client("/"));
    a.emit("set-data", "for a");
    b.emit("set-data", "for b");
    assert.equal(await a.timeout(5000).emitWithAck("get-data"), "for a");
    assert.equal(await b.timeout(5000).emitWithAck("get-data"), "for b");
    a.disconnect();
    b.disconnect();
  });
});

describe("handler per worker", () => {
  it("connect, events, acks and disconnect reach the worker's own handler actor", T, async () => {
    // Enough clients that both server workers get some, over both transports.
    const clients = Array.from({ length: 8 }, (_, i) =>
      client("/per-worker", { transports: [i % 2 ? "polling" : "websocket"], auth: { n: i } }),
    );
    await Promise.all(clients.map((c) => connected(c)));
    for (const [i, c] of clients.entries()) {
      assert.deepEqual(await c.event("auth"), [{ n: i }]);
      await server.waitForLine(new RegExp(`^connect /per-worker ${escape(c.id)}$`));
    }
    await Promise.all(
      clients.map(async (c, i) => {
        c.emit("message", i, "x");
        assert.deepEqual(await c.event("message-back"), [i, "x"]);
        assert.deepEqual(await c.timeout(5000).emitWithAck("message-with-ack", { i }), { i });
      }),
    );
    for (const c of clients) {
      const id = c.id;
      c.disconnect();
      await server.waitForLine(new RegExp(`^disconnect /per-worker ${escape(id)} client namespace disconnect$`));
    }
  });

  it("handler_per_worker_all: the worker's actor also gets disconnecting and middleware errors", T, async () => {
    const clients = Array.from({ length: 4 }, (_, i) =>
      client("/per-worker-all", { transports: [i % 2 ? "polling" : "websocket"] }),
    );
    await Promise.all(clients.map((c) => connected(c)));
    for (const c of clients) {
      c.emit("forbidden", 1);
      assert.deepEqual(await c.event("middleware-error"), ["forbidden event"]);
      const id = c.id;
      c.disconnect();
      await server.waitForLine(
        new RegExp(`^disconnecting /per-worker-all ${escape(id)} client namespace disconnect rooms=1$`),
      );
      await server.waitForLine(new RegExp(`^disconnect /per-worker-all ${escape(id)} client namespace disconnect$`));
    }
  });
});
