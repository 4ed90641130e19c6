// Sails virtual requests against examples/test_server: sails.io.js 1.2.1 in Node, over its own
// socket.io-client 2 (Engine.IO v3) and over socket.io-client 4, turning io.socket.get/post/...
// into requests through the server's actix-web App, answered with a JWR {body, headers, statusCode};
// raw socket.io-client 4 emits for the malformed requests; plain HTTP to the same routes.
// The routes are those of examples/test_server/routes.rs (/vr/*). Nothing here sleeps and hopes: every
// wait is for an ack, an event or a condition (helpers' until), with bounds of 15-20 s.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { closeSocket, once, startServer, until } from "../support/helpers.mjs";
import { ackV2 } from "../support/legacy_helpers.mjs";
import {
  FLAVORS,
  assertStatus,
  closeSailsSockets,
  connectedSails,
  eventLog,
  http,
  makeSailsIo,
  sailsConnect,
  vr,
  vrShort,
} from "../support/sails_helpers.mjs";

const require = createRequire(import.meta.url);
const ioV4 = require("socket.io-client");

const T = { timeout: 60000 };

/** The limited server's --vr-max-body (the request body, i.e. the JSON of `data`, in bytes). */
const MAX_BODY = 4000;

/** The Sails error body of a request the server could not parse (besides `details`). */
const PARSE_ERROR = {
  code: "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ",
  name: "Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):",
  status: 400,
  message: "Failed to parse incoming socket.io request.",
};

let server; // test_server with the defaults
let limited; // test_server --vr-max-in-flight 2 --vr-max-body 1000
const owned = []; // SailsSockets to close
const raws = []; // raw socket.io-client 4 sockets to close

before(async () => {
  server = await startServer("test_server");
  limited = await startServer("test_server", ["--vr-max-in-flight", "2", "--vr-max-body", String(MAX_BODY)]);
});

after(async () => {
  closeSailsSockets(owned);
  for (const s of raws.splice(0)) closeSocket(s);
  await Promise.all([server?.stop(), limited?.stop()]);
});

/** A connected raw socket.io-client 4 socket (websocket) to `url`. */
async function rawSocket(url, opts = {}) {
  const socket = ioV4(url, { forceNew: true, reconnection: false, transports: ["websocket"], ...opts });
  raws.push(socket);
  if (!socket.connected) await once(socket, "connect", 15000);
  return socket;
}

/** Emit `event` with one argument and wait for the ack's first argument. */
const ask = (socket, event, arg) => socket.timeout(15000).emitWithAck(event, arg);

function assertParseError(jwr, what) {
  assert.ok(jwr && typeof jwr === "object", `${what}: a JWR expected, got ${JSON.stringify(jwr)}`);
  assert.equal(jwr.statusCode, 400, `${what}: ${JSON.stringify(jwr)}`);
  assert.deepEqual(jwr.headers, {}, `${what}: headers`);
  assertParseErrorBody(jwr.body, what);
}

function assertParseErrorBody(err, what) {
  assert.ok(err && typeof err === "object", `${what}: an error body expected, got ${JSON.stringify(err)}`);
  const { details, ...rest } = err;
  assert.deepEqual(rest, PARSE_ERROR, `${what}: error body ${JSON.stringify(err)}`);
  assert.equal(typeof details, "string", `${what}: details ${JSON.stringify(details)}`);
  assert.ok(details.length > 0, `${what}: empty details`);
}

/** The echo route's answer, checked for what every echo has. */
function assertEcho(jwr, { method, isSocket = true, socketId }, what = method) {
  assertStatus(jwr, 200, what);
  assert.equal(jwr.headers["x-echo"], "yes", `${what}: response headers ${JSON.stringify(jwr.headers)}`);
  assert.equal(jwr.headers["content-type"], undefined, `${what}: content-type (the route set none)`);
  const body = jwr.body;
  assert.ok(body && typeof body === "object", `${what}: a JSON body expected, got ${JSON.stringify(body)}`);
  assert.equal(body.method, method, `${what}: method`);
  assert.equal(body.path, "/vr/echo", `${what}: path`);
  assert.equal(body.isSocket, isSocket, `${what}: isSocket`);
  if (socketId !== undefined) assert.equal(body.socketId, socketId, `${what}: socketId`);
  assert.ok(!("set-cookie" in jwr.headers), `${what}: set-cookie in the JWR headers`);
  return body;
}

for (const flavor of FLAVORS) {
  describe(`${flavor.name}: virtual requests`, () => {
    let io;
    let main; // io.socket: auto-connected, websocket only (the SDK's default)
    let mainId; // its id on the server

    before(async () => {
      io = makeSailsIo(flavor, server.url, { headers: { "x-global": "global", "x-both": "global" } });
      owned.push(io.socket);
      main = await connectedSails(io.socket);
      mainId = await flavor.serverId(main);
    });

    it("GET /vr/echo: data becomes the query, io.sails.headers and the request's headers arrive, x-echo comes back", T, async () => {
      assert.equal(main._raw.io.engine.transport.name, "websocket");
      const jwr = await vr(main, {
        method: "get",
        url: "/vr/echo?fromUrl=1",
        data: { s: "text", n: 2, b: true, o: { k: [1] } },
        headers: { "x-per": "per", "x-both": "request" },
      });
      const body = assertEcho(jwr, { method: "GET", socketId: mainId });
      assert.deepEqual(body.query, { fromUrl: "1", s: "text", n: "2", b: "true", o: '{"k":[1]}' });
      assert.equal(body.body, null);
      assert.equal(body.headers["x-global"], "global", "io.sails.headers");
      assert.equal(body.headers["x-per"], "per", "the request's own header");
      assert.equal(body.headers["x-both"], "request", "the request's header wins over io.sails.headers");
      assert.equal(typeof mainId, "string");
    });

    it("the shorthands: get, post, put, patch and delete", T, async () => {
      {
        const { body, jwr } = await vrShort(main, "get", "/vr/echo", { q: "1" });
        assert.equal(body, jwr.body, "the callback's first argument is the JWR's body");
        const echo = assertEcho(jwr, { method: "GET", socketId: mainId });
        assert.deepEqual(echo.query, { q: "1" });
        assert.equal(echo.headers["x-global"], "global");
      }
      const payload = { a: 1, s: "x", nested: { list: [1, "two", null], t: true } };
      for (const method of ["post", "put", "patch"]) {
        const { jwr } = await vrShort(main, method, "/vr/echo", payload);
        const echo = assertEcho(jwr, { method: method.toUpperCase(), socketId: mainId });
        assert.deepEqual(echo.body, payload, `${method}: JSON body`);
        assert.deepEqual(echo.query, {}, `${method}: query`);
        assert.match(echo.headers["content-type"] || "", /^application\/json/, `${method}: request content-type`);
        assert.equal(echo.headers["x-global"], "global");
      }
      {
        const { jwr } = await vrShort(main, "delete", "/vr/echo", { id: 7, tag: "t" });
        const echo = assertEcho(jwr, { method: "DELETE", socketId: mainId });
        assert.deepEqual(echo.query, { id: "7", tag: "t" });
        assert.equal(echo.body, null);
      }
    });

    it("HEAD answers without a body, OPTIONS with a JSON body works", T, async () => {
      const head = await vr(main, { method: "head", url: "/vr/echo" });
      assertStatus(head, 200, "HEAD");
      assert.equal(head.headers["x-echo"], "yes", `HEAD headers ${JSON.stringify(head.headers)}`);
      assert.equal(head.body, undefined, `HEAD body ${JSON.stringify(head.body)}`);

      const options = await vr(main, { method: "options", url: "/vr/echo", data: { o: 1 } });
      const echo = assertEcho(options, { method: "OPTIONS", socketId: mainId });
      assert.deepEqual(echo.body, { o: 1 });
    });

    it("a text body, a status passed through, an unknown route", T, async () => {
      const text = await vr(main, { url: "/vr/text" });
      assertStatus(text, 200, "/vr/text");
      assert.equal(text.body, "hello");
      assert.equal(text.headers["content-type"], undefined, "content-type (the route set none)");

      const teapot = await vr(main, { url: "/vr/status/418" });
      assertStatus(teapot, 418, "/vr/status/418");
      assert.deepEqual(teapot.body, { status: 418 });
      assert.ok(teapot.error instanceof Error, "sails.io.js marks a 4xx JWR as an error");

      const created = await vr(main, { url: "/vr/status/201" });
      assertStatus(created, 201, "/vr/status/201");
      assert.deepEqual(created.body, { status: 201 });
      assert.equal(created.error, undefined);

      const missing = await vr(main, { url: "/vr/no-such-route" });
      assertStatus(missing, 404, "unknown route");
      const missingPost = await vr(main, { method: "post", url: "/vr/no/such/route", data: { a: 1 } });
      assertStatus(missingPost, 404, "unknown route (POST)");
    });

    it("a panic in the handler answers 500 and the same socket answers the next request", T, async () => {
      const panic = await vr(main, { url: "/vr/panic" });
      assertStatus(panic, 500, "/vr/panic");
      assert.ok(main.isConnected(), "still connected after the panic");
      const next = await vr(main, { url: "/vr/text" });
      assertStatus(next, 200, "after the panic");
      assert.equal(next.body, "hello");
      assert.equal(await flavor.serverId(main), mainId, "the same socket");
      // and again, so one panic did not use up something
      assertStatus(await vr(main, { url: "/vr/panic" }), 500, "second panic");
      assertEcho(await vr(main, { url: "/vr/echo" }), { method: "GET", socketId: mainId }, "echo after two panics");
    });

    it("io.sails.connect() over polling, with headers of its own", T, async () => {
      const socket = await sailsConnect(io, server.url, { transports: ["polling"], headers: { "x-sock": "own" } }, owned);
      assert.equal(socket._raw.io.engine.transport.name, "polling");
      const id = await flavor.serverId(socket);
      assert.notEqual(id, mainId);
      const jwr = await vr(socket, { method: "post", url: "/vr/echo", data: { over: "polling" } });
      const echo = assertEcho(jwr, { method: "POST", socketId: id });
      assert.deepEqual(echo.body, { over: "polling" });
      assert.equal(echo.headers["x-sock"], "own", "the socket's own headers option");
      assert.equal(echo.headers["x-global"], undefined, "io.sails.headers replaced by the socket's option");
      const text = await vr(socket, { url: "/vr/text" });
      assert.equal(text.body, "hello");
    });

    it("cookies: the first set-cookie becomes the socket's cookie; set-cookie never in the JWR", T, async () => {
      // over HTTP the route does set a cookie
      const viaHttp = await http("GET", `${server.url}/vr/cookie`);
      assert.equal(viaHttp.status, 200);
      assert.match(viaHttp.headers.get("set-cookie") || "", /^vrsid=[^;\s]+/);
      assert.deepEqual(viaHttp.body, { cookie: null });

      const socket = await sailsConnect(io, server.url, { transports: ["websocket"] }, owned);
      const first = await vr(socket, { url: "/vr/cookie" });
      assertStatus(first, 200, "first /vr/cookie");
      assert.deepEqual(first.body, { cookie: null }, "no cookie in the handshake");
      assert.ok(!("set-cookie" in first.headers), `set-cookie in the JWR: ${JSON.stringify(first.headers)}`);

      const second = await vr(socket, { url: "/vr/cookie" });
      assertStatus(second, 200, "second /vr/cookie");
      assert.match(second.body.cookie || "", /^vrsid=[^;\s]+/, `second sees the first's cookie: ${JSON.stringify(second.body)}`);
      assert.ok(!("set-cookie" in second.headers), `set-cookie in the JWR: ${JSON.stringify(second.headers)}`);
      const kept = second.body.cookie.match(/^vrsid=[^;\s]+/)[0];

      // the third does not replace it: the socket has a cookie now
      const third = await vr(socket, { url: "/vr/cookie" });
      assert.equal(third.body.cookie.match(/^vrsid=[^;\s]+/)?.[0], kept, "the cookie stays the first one");
      const echo = assertEcho(await vr(socket, { url: "/vr/echo" }), { method: "GET" });
      assert.equal(echo.headers.cookie.match(/^vrsid=[^;\s]+/)?.[0], kept, "every request carries it");

      // another socket has its own (none yet)
      const fresh = await vr(main, { url: "/vr/echo" });
      assert.ok(!(fresh.body.headers.cookie || "").includes(kept), "cookie leaked to another socket");
    });

    it("the handshake's cookie and origin reach every request; a request's own origin is ignored", T, async () => {
      const socket = await sailsConnect(
        io,
        server.url,
        {
          transports: ["websocket"],
          initialConnectionHeaders: { cookie: "hs=1", origin: "http://handshake.example" },
        },
        owned,
      );
      const jwr = await vr(socket, { url: "/vr/echo", headers: { origin: "http://evil.example", "x-a": "b" } });
      const echo = assertEcho(jwr, { method: "GET" });
      assert.equal(echo.headers.origin, "http://handshake.example");
      assert.equal(echo.headers.cookie, "hs=1");
      assert.equal(echo.headers["x-a"], "b");
      // the handshake had a cookie: /vr/cookie's set-cookie does not replace it
      assert.deepEqual((await vr(socket, { url: "/vr/cookie" })).body, { cookie: "hs=1" });
      assert.deepEqual((await vr(socket, { url: "/vr/cookie" })).body, { cookie: "hs=1" });

      // io.socket's handshake had no origin: a request's own one is dropped all the same
      const [hs] = await ackV2(main._raw, "handshake");
      const plain = await vr(main, { url: "/vr/echo", headers: { origin: "http://evil.example" } });
      assert.equal(plain.body.headers.origin, hs.headers.origin, `handshake origin ${JSON.stringify(hs.headers.origin)}`);
      assert.notEqual(plain.body.headers.origin, "http://evil.example");
    });

    it("/vr/guarded/echo wants x-csrf-token: secret", T, async () => {
      const refused = await vr(main, { url: "/vr/guarded/echo" });
      assertStatus(refused, 403, "without the token");
      assert.deepEqual(refused.body, { error: "invalid csrf token" });
      const wrong = await vr(main, { method: "post", url: "/vr/guarded/echo", data: { a: 1 }, headers: { "x-csrf-token": "nope" } });
      assertStatus(wrong, 403, "with a wrong token");
      assert.deepEqual(wrong.body, { error: "invalid csrf token" });
      const passed = await vr(main, { method: "post", url: "/vr/guarded/echo", data: { a: 1 }, headers: { "x-csrf-token": "secret" } });
      assertStatus(passed, 200, "with the token");
      assert.equal(passed.headers["x-echo"], "yes");
      assert.equal(passed.body.method, "POST");
      assert.equal(passed.body.path, "/vr/guarded/echo");
      assert.deepEqual(passed.body.body, { a: 1 });
      assert.equal(passed.body.isSocket, true);
      assert.equal(passed.body.socketId, mainId);
    });

    it("rooms: join, broadcast (with omitSelf), leave", T, async () => {
      const other = await sailsConnect(io, server.url, { transports: ["websocket"] }, owned);
      const names = ["vr-news", "vr-marker"];
      const logMain = eventLog(main, names);
      const logOther = eventLog(other, names);
      const room = `room-${mainId}`; // main's own: another flavor's suite uses other rooms
      const markers = `markers-${mainId}`;
      const broadcast = async (socket, r, payload) => {
        const jwr = await vr(socket, { method: "post", url: `/vr/rooms/${r}/broadcast`, data: payload });
        assertStatus(jwr, 200, `broadcast to ${r}`);
        assert.deepEqual(jwr.body, { sent: true });
      };

      for (const r of [room, markers]) {
        const joined = await vr(other, { method: "post", url: `/vr/rooms/${r}/join` });
        assertStatus(joined, 200, `join ${r}`);
        assert.deepEqual(joined.body, { joined: r });
      }
      await broadcast(main, room, { event: "vr-news", data: { n: 1 } });
      assert.deepEqual(await logOther.wait(1, "news 1"), { name: "vr-news", args: [{ n: 1 }] });

      // main joins too; with omitSelf its own broadcast reaches the other but not main
      assert.deepEqual((await vr(main, { method: "post", url: `/vr/rooms/${room}/join` })).body, { joined: room });
      await broadcast(main, room, { event: "vr-news", data: { n: 2 }, omitSelf: true });
      assert.deepEqual(await logOther.wait(2, "news 2"), { name: "vr-news", args: [{ n: 2 }] });
      // a later broadcast without omitSelf is the marker: main gets it, and nothing before it
      await broadcast(main, room, { event: "vr-marker", data: { m: 1 } });
      await logMain.wait(1, "marker 1 on main");
      assert.deepEqual([...logMain], [{ name: "vr-marker", args: [{ m: 1 }] }], "omitSelf: the requester got its broadcast");
      assert.deepEqual(await logOther.wait(3, "marker 1 on the other"), { name: "vr-marker", args: [{ m: 1 }] });

      // after leaving, the other no longer gets the room's broadcasts
      const left = await vr(other, { method: "post", url: `/vr/rooms/${room}/leave` });
      assertStatus(left, 200, "leave");
      assert.deepEqual(left.body, { left: room });
      await broadcast(main, room, { event: "vr-news", data: { n: 3 } });
      assert.deepEqual(await logMain.wait(2, "news 3 on main"), { name: "vr-news", args: [{ n: 3 }] });
      await broadcast(main, markers, { event: "vr-marker", data: { m: 2 } });
      await logOther.wait(4, "marker 2 on the other");
      assert.deepEqual(
        logOther.map((e) => e.args[0]),
        [{ n: 1 }, { n: 2 }, { m: 1 }, { m: 2 }],
        "the other got a broadcast after leaving",
      );
    });

    it("the default limit of in-flight requests (16): three concurrent slow ones all answered", T, async () => {
      const answers = await Promise.all([0, 1, 2].map(() => vr(main, { url: "/vr/slow?ms=300" })));
      for (const a of answers) {
        assertStatus(a, 200, "/vr/slow");
        assert.deepEqual(a.body, { slept: 300 });
      }
    });

    it("--vr-max-in-flight 2: a third concurrent request is answered 429 at once, the others 200", T, async () => {
      const socket = await sailsConnect(io, limited.url, { transports: ["websocket"] }, owned);
      const counters = () => new Promise((resolve) => socket._raw.emit("counters", {}, resolve));
      const refusedBefore = (await counters()).requests_refused;
      const answered = [];
      const pending = [0, 1, 2].map((i) =>
        vr(socket, { url: "/vr/slow?ms=3000" }, 20000).then((jwr) => {
          answered.push({ i, jwr });
          return jwr;
        }),
      );
      await until(() => answered.length >= 1, "the first answer", 20000);
      // /vr/slow sleeps 3 s: the first answer is the refusal, given while the other two sleep
      assert.equal(answered[0].jwr.statusCode, 429, `first answer: ${JSON.stringify(answered[0].jwr)}`);
      assert.equal(answered.length, 1, "the 429 came with the others");
      const all = await Promise.all(pending);
      assert.deepEqual(all.map((j) => j.statusCode).sort(), [200, 200, 429]);
      for (const j of all.filter((j) => j.statusCode === 200)) assert.deepEqual(j.body, { slept: 3000 });
      // the refusal is counted
      assert.equal((await counters()).requests_refused, refusedBefore + 1);
      // the slots are free again
      const next = await vr(socket, { url: "/vr/text" });
      assertStatus(next, 200, "after the slow ones");
      assert.equal(next.body, "hello");
    });

    it("--vr-max-body: a data whose JSON is over the limit is answered 413, one under it passes", T, async () => {
      const socket = await sailsConnect(io, limited.url, { transports: ["websocket"] }, owned);
      // (the limit holds for the response too: the echo of a body just under it would be over)
      const small = { s: "x".repeat(MAX_BODY / 4) };
      const ok = await vr(socket, { method: "post", url: "/vr/echo", data: small });
      assertStatus(ok, 200, "under the limit");
      assert.deepEqual(ok.body.body, small);
      const big = { s: "x".repeat(MAX_BODY + 100) };
      for (const method of ["post", "put", "patch"]) {
        const refused = await vr(socket, { method, url: "/vr/echo", data: big });
        assertStatus(refused, 413, `${method} over the limit`);
      }
      assert.ok(socket.isConnected(), "still connected after the 413s");
      // Not in the contract, documented on VirtualRequestConfig::max_body: a response over the
      // limit is answered 500 (here the echo of a request body just under the limit).
      const echoTooBig = await vr(socket, { method: "post", url: "/vr/echo", data: { s: "x".repeat(MAX_BODY - 100) } });
      assertStatus(echoTooBig, 500, "a response over the limit");
      const after413 = await vr(socket, { method: "post", url: "/vr/echo", data: { a: 1 } });
      assertStatus(after413, 200, "after the 413s");
      assert.deepEqual(after413.body.body, { a: 1 });
    });
  });
}

describe("malformed virtual requests (raw socket.io-client 4)", () => {
  it("answer a 400 JWR with the Sails parse error, and the socket stays usable", T, async () => {
    const socket = await rawSocket(server.url);
    const cases = [
      ["get", "not an object"],
      ["get", null],
      ["get", 42],
      ["get", {}],
      ["get", { url: "" }],
      ["post", { url: 42, data: { a: 1 } }],
      ["delete", { url: { path: "/vr/echo" } }],
      ["request", { method: "frobnicate", url: "/vr/echo" }],
      ["request", { method: 42, url: "/vr/echo" }],
    ];
    for (const [event, arg] of cases) {
      const what = `${event} ${JSON.stringify(arg)}`;
      assertParseError(await ask(socket, event, arg), what);
      assert.ok(socket.connected, `${what}: disconnected`);
    }
    const good = await ask(socket, "get", { url: "/vr/text" });
    assert.deepEqual({ statusCode: good.statusCode, body: good.body }, { statusCode: 200, body: "hello" });
  });

  it("without an ack the parse error comes as event sails:parseError", T, async () => {
    const socket = await rawSocket(server.url);
    const errors = [];
    socket.on("sails:parseError", (err) => errors.push(err));
    socket.emit("get", {});
    await until(() => errors.length >= 1, "sails:parseError for {}");
    assertParseErrorBody(errors[0], "get {} without an ack");
    socket.emit("post", "not an object");
    await until(() => errors.length >= 2, "sails:parseError for a string");
    assertParseErrorBody(errors[1], "post a string without an ack");
    // and then a good request: answered, and no further parse error came
    const echo = await ask(socket, "get", { url: "/vr/echo" });
    assertEcho(echo, { method: "GET", socketId: socket.id });
    assert.equal(errors.length, 2);
    assert.ok(socket.connected);
  });

  it("the raw request shape: params as an alias of data, the generic request event, no data at all", T, async () => {
    const socket = await rawSocket(server.url);
    const viaParams = await ask(socket, "post", { url: "/vr/echo", params: { p: 1 } });
    assert.deepEqual(assertEcho(viaParams, { method: "POST", socketId: socket.id }).body, { p: 1 });
    const viaRequest = await ask(socket, "request", { method: "put", url: "/vr/echo", data: { r: 2 }, headers: { "x-r": "1" } });
    const echo = assertEcho(viaRequest, { method: "PUT", socketId: socket.id });
    assert.deepEqual(echo.body, { r: 2 });
    assert.equal(echo.headers["x-r"], "1");
    const upper = await ask(socket, "request", { method: "GET", url: "/vr/echo", data: { u: "x" } });
    assert.deepEqual(assertEcho(upper, { method: "GET", socketId: socket.id }).query, { u: "x" });
    const bare = await ask(socket, "get", { url: "/vr/echo" });
    const bareEcho = assertEcho(bare, { method: "GET", socketId: socket.id });
    assert.deepEqual(bareEcho.query, {});
    assert.equal(bareEcho.body, null);
    // the ordinary events of the test handler still work beside the virtual requests
    const rooms = await socket.timeout(15000).emitWithAck("rooms");
    assert.deepEqual(rooms, [socket.id]);
  });
});

describe("the same routes over plain HTTP", () => {
  it("/vr/echo gives the socket's body, with isSocket false and socketId null", T, async () => {
    const socket = await rawSocket(server.url);
    const url = "/vr/echo?a=1&b=x";
    const res = await http("POST", `${server.url}${url}`, { json: { j: [1, 2] }, headers: { "x-h": "v" } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-echo"), "yes");
    assert.equal(res.body.isSocket, false);
    assert.equal(res.body.socketId, null);
    assert.equal(res.body.headers["x-h"], "v");
    const jwr = await ask(socket, "post", { url, data: { j: [1, 2] }, headers: { "x-h": "v" } });
    const echo = assertEcho(jwr, { method: "POST", socketId: socket.id });
    for (const k of ["method", "path", "query", "body"]) assert.deepEqual(res.body[k], echo[k], k);
    assert.deepEqual(echo.query, { a: "1", b: "x" });
    assert.equal(echo.headers["x-h"], "v");

    const get = await http("GET", `${server.url}/vr/echo?q=2`);
    assert.deepEqual(
      { ...get.body, headers: undefined },
      { method: "GET", path: "/vr/echo", query: { q: "2" }, body: null, headers: undefined, isSocket: false, socketId: null },
    );
    const head = await http("HEAD", `${server.url}/vr/echo`);
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("x-echo"), "yes");
    assert.equal(head.text, "");
  });

  it("text, status, 404, guarded, and the socket-only room routes", T, async () => {
    const text = await http("GET", `${server.url}/vr/text`);
    assert.equal(text.status, 200);
    assert.equal(text.text, "hello");
    const teapot = await http("GET", `${server.url}/vr/status/418`);
    assert.equal(teapot.status, 418);
    assert.deepEqual(teapot.body, { status: 418 });
    assert.equal((await http("GET", `${server.url}/vr/no-such-route`)).status, 404);

    const refused = await http("GET", `${server.url}/vr/guarded/echo`);
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, { error: "invalid csrf token" });
    const wrong = await http("GET", `${server.url}/vr/guarded/echo`, { headers: { "x-csrf-token": "nope" } });
    assert.equal(wrong.status, 403);
    const passed = await http("POST", `${server.url}/vr/guarded/echo`, { json: { g: 1 }, headers: { "x-csrf-token": "secret" } });
    assert.equal(passed.status, 200);
    assert.equal(passed.body.path, "/vr/guarded/echo");
    assert.deepEqual(passed.body.body, { g: 1 });
    assert.equal(passed.body.isSocket, false);
    assert.equal(passed.body.socketId, null);

    // the socket side of the guard, raw
    const socket = await rawSocket(server.url);
    const sRefused = await ask(socket, "get", { url: "/vr/guarded/echo" });
    assert.equal(sRefused.statusCode, 403);
    assert.deepEqual(sRefused.body, { error: "invalid csrf token" });
    const sPassed = await ask(socket, "get", { url: "/vr/guarded/echo", headers: { "x-csrf-token": "secret" } });
    assert.equal(sPassed.statusCode, 200);
    assert.equal(sPassed.body.socketId, socket.id);

    for (const action of ["join", "leave"]) {
      const res = await http("POST", `${server.url}/vr/rooms/R/${action}`);
      assert.equal(res.status, 400, `HTTP ${action}`);
      assert.deepEqual(res.body, { error: "socket requests only" });
    }
  });

  it("a broadcast requested over HTTP reaches the sockets in the room", T, async () => {
    const socket = await rawSocket(server.url);
    const got = [];
    socket.on("http-news", (data) => got.push(data));
    const room = `http-${socket.id}`;
    const joined = await ask(socket, "post", { url: `/vr/rooms/${room}/join` });
    assert.deepEqual(joined.body, { joined: room });
    const res = await http("POST", `${server.url}/vr/rooms/${room}/broadcast`, {
      json: { event: "http-news", data: { h: 1 }, omitSelf: true },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { sent: true });
    await until(() => got.length >= 1, "the HTTP-triggered broadcast");
    assert.deepEqual(got, [{ h: 1 }]);
  });
});
