// The msgpack parser (issue 20): socket.io-client 4 with npm socket.io-msgpack-parser 3.0.2 against
// examples/test_server --parser msgpack (events, acks and broadcasts with nested objects and
// binary both ways, namespaces, connect_error, disconnects, malformed and oversized frames closing
// only their own connection, JSON and Engine.IO v3 clients refused clearly), and the default
// binary with SWITCHYARD_PARSER=msgpack serving a msgpack client (a Sails virtual request
// answered through an ack).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import {
  bytes,
  checkNestedBinaryEcho,
  closeSocket,
  connected,
  eioWs,
  escapeRegExp as escape,
  httpGet,
  ioClient,
  once,
  recordEvents,
  startServer,
  toWsUrl,
  until,
} from "../support/helpers.mjs";

const require = createRequire(import.meta.url);
const parser = require("socket.io-msgpack-parser");
const T = { timeout: 30000 };

/** A msgpack socket.io-client 4 socket recording its events, closed after the file. */
const sockets = [];
function client(base, nsp = "/", opts = {}) {
  const socket = recordEvents(ioClient(base + nsp, { parser, ...opts }));
  sockets.push(socket);
  return socket;
}

const call = (socket, event, ...args) => socket.timeout(10000).emitWithAck(event, ...args);

/** The socket.io-msgpack-parser encoding of `packet`, as the client would send it. */
const encode = (packet) => Buffer.from(new parser.Encoder().encode(packet)[0]);

after(() => {
  for (const s of sockets.splice(0)) closeSocket(s);
});

describe("test_server --parser msgpack", () => {
  let server;
  const c = (nsp, opts) => client(server.url, nsp, opts);

  before(async () => {
    server = await startServer("test_server", ["--parser", "msgpack"]);
  });

  after(async () => {
    await server?.stop();
  });

  for (const transports of [["websocket"], ["polling"]]) {
    it(`connects, echoes nested objects and binary both ways (${transports[0]})`, T, async () => {
      const socket = await connected(c("/", { transports }));
      await server.waitForLine(new RegExp(`^connect / ${escape(socket.id)}$`));
      socket.emit("message", "hello", 1, -2.5, { a: [true, null, { deep: ["x"] }] });
      assert.deepEqual(await socket.event("message-back"), ["hello", 1, -2.5, { a: [true, null, { deep: ["x"] }] }]);
      // Buffers, nested and empty, and a Uint8Array (notepack's ext 0): back as binary.
      await checkNestedBinaryEcho(socket);
      socket.emit("message", Uint8Array.from([9, 8, 7]), { list: [new Uint8Array([1])] });
      const [typed, holder] = await socket.event("message-back");
      assert.deepEqual(bytes(typed), [9, 8, 7]);
      assert.deepEqual(bytes(holder.list[0]), [1]);
      socket.disconnect();
    });
  }

  it("acks both ways, with binary arguments", T, async () => {
    const socket = await connected(c());
    const res = await call(socket, "message-with-ack", { bin: Buffer.from("héllo"), n: [1, { m: 2 }] });
    assert.equal(Buffer.from(bytes(res.bin)).toString(), "héllo");
    assert.deepEqual(res.n, [1, { m: 2 }]);
    // The server asks, the client answers through its ack.
    socket.on("question", (...args) => args.pop()("yes", 42, { deep: [Buffer.from([3])] }));
    socket.emit("ask", 3000);
    const [yes, n, obj] = await socket.event("answer");
    assert.deepEqual([yes, n], ["yes", 42]);
    assert.deepEqual(bytes(obj.deep[0]), [3]);
    socket.disconnect();
  });

  it("broadcasts to rooms, binary included, once to each member", T, async () => {
    const [sender, inRoom, alsoInRoom, outside] = await Promise.all([c(), c(), c(), c()].map((s) => connected(s)));
    await call(inRoom, "join", "m1");
    await call(alsoInRoom, "join", ["m1", "m2"]);
    const count = await call(sender, "to", { rooms: ["m1"], data: { text: "hi", blob: Buffer.from([1, 2]) } });
    assert.equal(count, 2);
    for (const s of [inRoom, alsoInRoom]) {
      const [data] = await s.event("room-msg");
      assert.equal(data.text, "hi");
      assert.deepEqual(bytes(data.blob), [1, 2]);
    }
    // The namespace-wide emit reaches everyone, the sender included.
    await call(sender, "io-emit", { data: "all" });
    for (const s of [sender, inRoom, alsoInRoom, outside]) assert.deepEqual(await s.event("room-msg"), ["all"]);
    assert.ok(!outside.hasSeen("room-msg") && !sender.hasSeen("room-msg"));
    for (const s of [sender, inRoom, alsoInRoom, outside]) s.disconnect();
  });

  it("multiplexes namespaces, dynamic ones included, over one connection", T, async () => {
    const main = await connected(c("/"));
    const more = (nsp) => {
      const socket = recordEvents(main.io.socket(nsp));
      sockets.push(socket);
      return connected(socket);
    };
    const custom = await more("/custom");
    const dyn = await more("/dyn-7");
    assert.equal(main.io.engine.id, custom.io.engine.id);
    assert.deepEqual(await call(custom, "message-with-ack", [1, 2]), [1, 2]);
    dyn.emit("message", "dyn");
    assert.deepEqual(await dyn.event("message-back"), ["dyn"]);
    main.emit("message", "main");
    assert.deepEqual(await main.event("message-back"), ["main"]);
    for (const s of [dyn, custom, main]) s.disconnect();
  });

  it("passes auth and answers a connect middleware's refusal with connect_error", T, async () => {
    const refused = c("/private", { auth: { token: "wrong" } });
    const [err] = await once(refused, "connect_error", 10000);
    assert.equal(err.message, "unauthorized");
    assert.deepEqual(err.data, { reason: "bad token" });
    const admitted = await connected(c("/private", { auth: { token: "secret" } }));
    admitted.emit("message", "private hello");
    assert.deepEqual(await admitted.event("message-back"), ["private hello"]);
    admitted.disconnect();
  });

  it("disconnects: by the client, and by the server", T, async () => {
    const a = await connected(c());
    const gone = server.waitForLine(new RegExp(`^disconnect / ${escape(a.id)} client namespace disconnect$`));
    a.disconnect();
    await gone;
    const b = await connected(c());
    const reason = once(b, "disconnect", 10000);
    b.emit("disconnect-me");
    assert.equal((await reason)[0], "io server disconnect");
  });

  it("a malformed, a text or an oversized frame closes only its own connection", T, async () => {
    const bystander = await connected(c());
    const wsBase = `${toWsUrl(server.url)}/socket.io/`;
    const frames = [
      Buffer.from([0xc1]), // not msgpack
      encode({ type: 2, nsp: "/", data: ["connect"] }), // a reserved event name
      encode({ type: 9, nsp: "/" }), // no such packet type
      encode({ type: 2, nsp: "/", data: ["x", ...Array.from({ length: 11 }, () => Buffer.from([1]))] }), // > 10 binaries
      "40", // a JSON CONNECT: text, where packets are binary
    ];
    for (const frame of frames) {
      const raw = await eioWs(wsBase, { autoPong: true });
      raw.send(encode({ type: 0, nsp: "/" }));
      const ok = await raw.nextData();
      assert.ok(Buffer.isBuffer(ok), `a binary CONNECT answer, got ${JSON.stringify(ok)}`);
      // Engine.IO message: binary frames carry the packet as is; text ones need the "4" prefix.
      raw.send(typeof frame === "string" ? `4${frame}` : frame);
      await raw.waitClose(10000);
    }
    // Deeper than --max-json-depth's default (128) nesting.
    const deep = await eioWs(wsBase, { autoPong: true });
    let nested = ["end"];
    for (let i = 0; i < 200; i++) nested = [nested];
    deep.send(encode({ type: 0, nsp: "/" }));
    await deep.nextData();
    deep.send(encode({ type: 2, nsp: "/", data: ["x", nested] }));
    await deep.waitClose(10000);
    // Over max_payload (100 000 bytes here), through the real client.
    const big = await connected(c("/", { transports: ["websocket"] }));
    const closed = once(big, "disconnect", 10000);
    big.emit("message", Buffer.alloc(150000, 1));
    await closed;
    const counters = await call(bystander, "counters");
    assert.ok(counters.clients.parse_errors >= 6, JSON.stringify(counters.clients));
    assert.ok(bystander.connected);
    bystander.emit("message", "still here", Buffer.from([5]));
    const [text, bin] = await bystander.event("message-back");
    assert.equal(text, "still here");
    assert.deepEqual(bytes(bin), [5]);
    bystander.disconnect();
  });

  it("refuses a JSON client at its first packet, and Engine.IO v3 clients at the handshake", T, async () => {
    const json = ioClient(server.url, { transports: ["websocket"] });
    sockets.push(json);
    await once(json.io, "close", 10000);
    assert.ok(!json.connected);
    const v3 = await httpGet(`${server.url}/socket.io/?EIO=3&transport=polling`);
    assert.equal(v3.status, 400);
    assert.match(v3.text, /Unsupported protocol version/);
  });
});

describe("test_server --parser msgpack --recovery 1", () => {
  let server;
  before(async () => {
    server = await startServer("test_server", ["--parser", "msgpack", "--recovery", "1"]);
  });
  after(async () => {
    await server?.stop();
  });
  const c = (srv) => client(srv.url);

  it("replays the broadcasts a blinking client missed, binary included, with their offsets", T, async () => {
    const a = await connected(c(server));
    const producer = await connected(c(server));
    await call(a, "join", "news");
    await call(producer, "io-emit", { rooms: ["news"], data: "before" });
    const [before, offset] = await a.event("room-msg");
    assert.equal(before, "before");
    assert.equal(typeof offset, "string");
    const id = a.id;
    a.io.engine.close();
    await server.waitForLine(new RegExp(`^disconnect / ${escape(id)} `), 10000);
    await call(producer, "io-emit", { rooms: ["news"], data: { blob: Buffer.from([7, 7]) } });
    await call(producer, "io-emit", { rooms: ["news"], data: "m2" });
    const back = connected(a);
    a.connect();
    await back;
    assert.equal(a.recovered, true);
    assert.equal(a.id, id);
    const [missed] = await a.event("room-msg");
    assert.deepEqual(bytes(missed.blob), [7, 7]);
    assert.equal((await a.event("room-msg"))[0], "m2");
  });
});

describe("the binary with parser = msgpack", () => {
  for (const [how, args, env] of [
    ["SWITCHYARD_PARSER=msgpack", [], { SWITCHYARD_PARSER: "msgpack" }],
    ["--parser msgpack", ["--parser", "msgpack"], {}],
  ]) {
    it(`serves a msgpack client (${how}): a Sails virtual request answered through an ack`, T, async () => {
      const server = await startServer("switchyard", args, { env });
      try {
        const socket = await connected(
          client(server.url, "/", {
            query: { __sails_io_sdk_version: "1.2.1", __sails_io_sdk_platform: "node", __sails_io_sdk_language: "javascript" },
          }),
        );
        const res = await call(socket, "get", { method: "get", url: "/channels", headers: {} });
        assert.equal(res.statusCode, 200, JSON.stringify(res));
        socket.disconnect();
        // A JSON client gets nowhere.
        const json = ioClient(server.url, { transports: ["websocket"] });
        sockets.push(json);
        await once(json.io, "close", 10000);
        await until(() => !json.connected, "the JSON client stays disconnected", 1000);
      } finally {
        await server.stop();
      }
    });
  }
});
