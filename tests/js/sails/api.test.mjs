// Sails' own answers where they differ from plain actix-web, against examples/test_server run with
// Sails' SDK check on (--vr-min-sdk-version 0.11.0) and examples/record_store (the library's
// defaults):
// - a JWR carries only the headers the route set (Sails' res.json / res.send set no content-type
//   over a socket; sails/lib/router/res.js);
// - a request no route matched answers Sails' {body: "Not Found", headers: {}, statusCode: 404};
// - a socket whose handshake names no sails.io.js SDK (taken as 0.9.0) or one older than 0.11.0
//   has its requests refused with sails-hook-sockets' parse error, its other events untouched
//   (sails-hook-sockets/lib/receive-incoming-sails-io-msg.js, lib/parse-sdk-metadata.js);
// - sails.sockets.join/leave by the request, the id or the socket; broadcast to one room or
//   several, with Sails' default event name "message" (sails-hook-sockets/lib/sails.sockets/).
// sails.io.js 1.2.1 over socket.io-client 2 and 4 for the requests; raw socket.io-client 4 for
// the refusals. Every wait is for an ack, an event or a condition (bounds of 15-20 s).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { closeSocket, httpRequest, once, startServer, until } from "../support/helpers.mjs";
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
} from "../support/sails_helpers.mjs";

const require = createRequire(import.meta.url);
const ioV4 = require("socket.io-client");

const T = { timeout: 60000 };

/** The query sails.io.js 1.2.1 adds to its handshake (in Node). */
const SDK_QUERY = {
  __sails_io_sdk_version: "1.2.1",
  __sails_io_sdk_platform: "node",
  __sails_io_sdk_language: "javascript",
};

/** sails-hook-sockets' parse error, but for its `details`. */
const PARSE_ERROR = {
  code: "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ",
  name: "Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):",
  status: 400,
  message: "Failed to parse incoming socket.io request.",
};

/** sails-hook-sockets' `details` for an SDK older than 0.11.0 (`version` as the socket sent it). */
const sdkDetails = (version) =>
  `This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (${version}). ` +
  "Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 for more information-- " +
  "then please continue upgrading all the way to the installed version of Sails.";

let checked; // test_server --vr-min-sdk-version 0.11.0
let unchecked; // test_server with its default: the check off
let store; // record_store: VirtualRequestConfig::default()
const owned = []; // SailsSockets to close
const raws = []; // raw socket.io-client 4 sockets to close

before(async () => {
  [checked, unchecked, store] = await Promise.all([
    startServer("test_server", ["--vr-min-sdk-version", "0.11.0"]),
    startServer("test_server"),
    startServer("record_store"),
  ]);
});

after(async () => {
  closeSailsSockets(owned);
  for (const s of raws.splice(0)) closeSocket(s);
  await Promise.all([checked?.stop(), unchecked?.stop(), store?.stop()]);
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

/** A 400 JWR carrying the parse error with `details`. */
function assertRefused(jwr, details, what) {
  assert.ok(jwr && typeof jwr === "object", `${what}: a JWR expected, got ${JSON.stringify(jwr)}`);
  assert.deepEqual(jwr, { body: { ...PARSE_ERROR, details }, headers: {}, statusCode: 400 }, what);
}

/** The JWR as the client got it: {body, headers, statusCode}. */
const pojo = (jwr) => ({ body: jwr.body, headers: jwr.headers, statusCode: jwr.statusCode });

for (const flavor of FLAVORS) {
  describe(`${flavor.name}: JWR headers and Not Found (SDK check on)`, () => {
    let main;

    before(async () => {
      const io = makeSailsIo(flavor, checked.url);
      owned.push(io.socket);
      main = await connectedSails(io.socket);
    });

    it("a route that set no header answers headers {}: .json(), a &str responder", T, async () => {
      const json = await vr(main, { url: "/vr/status/201" });
      assert.deepEqual(pojo(json), { body: { status: 201 }, headers: {}, statusCode: 201 });
      const text = await vr(main, { url: "/vr/text" });
      assert.deepEqual(pojo(text), { body: "hello", headers: {}, statusCode: 200 });
      // an app's own 404 with a body keeps it (and carries no header either)
      const own404 = await vr(main, { url: "/vr/status/404" });
      assert.deepEqual(pojo(own404), { body: { status: 404 }, headers: {}, statusCode: 404 });
    });

    it("headers the route set come back, and only they: x-echo, a content-type of its own", T, async () => {
      const echo = await vr(main, { method: "post", url: "/vr/echo", data: { a: 1 } });
      assertStatus(echo, 200, "POST /vr/echo");
      assert.deepEqual(echo.headers, { "x-echo": "yes" });
      assert.deepEqual(echo.body.body, { a: 1 }, "the JSON body is still parsed");
      const page = await vr(main, { url: "/vr/page" });
      assertStatus(page, 200, "/vr/page");
      assert.deepEqual(page.headers, { "content-type": "text/html; charset=utf-8" });
      assert.match(page.body, /^<!doctype html>/);
      const head = await vr(main, { method: "head", url: "/vr/echo" });
      assert.deepEqual(pojo(head), { body: undefined, headers: { "x-echo": "yes" }, statusCode: 200 });
    });

    it("an unknown route answers Sails' 404: body \"Not Found\", headers {}", T, async () => {
      for (const method of ["get", "post", "put", "patch", "delete"]) {
        const jwr = await vr(main, { method, url: "/vr/no/such/route", data: { a: 1 } });
        assert.deepEqual(pojo(jwr), { body: "Not Found", headers: {}, statusCode: 404 }, method);
        assert.ok(jwr.error, `${method}: sails.io.js marks the 404 as an error`);
      }
      const head = await vr(main, { method: "head", url: "/vr/no/such/route" });
      assert.deepEqual(pojo(head), { body: undefined, headers: {}, statusCode: 404 }, "HEAD has no body");
    });
  });
}

describe("the same routes over plain HTTP are untouched", () => {
  it("content-type as actix-web writes it, and actix-web's empty 404", T, async () => {
    const text = await http("GET", `${checked.url}/vr/text`);
    assert.equal(text.status, 200);
    assert.match(text.headers.get("content-type") || "", /^text\/plain/);
    const json = await http("GET", `${checked.url}/vr/status/201`);
    assert.equal(json.headers.get("content-type"), "application/json");
    const missing = await httpRequest("GET", `${checked.url}/vr/no/such/route`);
    assert.equal(missing.status, 404);
    assert.equal(missing.text, "");
  });
});

describe("the sails.io.js SDK version (raw socket.io-client 4)", () => {
  it("no SDK in the handshake: each request refused with Sails' error (as 0.9.0), the socket and its other events unaffected", T, async () => {
    const socket = await rawSocket(checked.url);
    assertRefused(await ask(socket, "get", { url: "/vr/echo" }), sdkDetails("0.9.0"), "get");
    assertRefused(await ask(socket, "post", { url: "/vr/echo", data: { a: 1 } }), sdkDetails("0.9.0"), "post");
    assertRefused(await ask(socket, "request", { method: "put", url: "/vr/echo" }), sdkDetails("0.9.0"), "request");
    // Sails checks the url before the SDK
    const noUrl = await ask(socket, "get", {});
    assert.equal(noUrl.statusCode, 400);
    assert.equal(noUrl.body.details, "No url provided in request.");
    // without an ack: the sails:parseError event
    const errors = [];
    socket.on("sails:parseError", (err) => errors.push(err));
    socket.emit("get", { url: "/vr/echo" });
    await until(() => errors.length >= 1, "sails:parseError for an unversioned socket's request");
    assert.deepEqual(errors[0], { ...PARSE_ERROR, details: sdkDetails("0.9.0") });
    // a plain socket.io client is otherwise served as ever
    assert.ok(socket.connected, "still connected");
    assert.deepEqual(await socket.timeout(15000).emitWithAck("message-with-ack", "hi", 2), "hi");
    assert.deepEqual(await socket.timeout(15000).emitWithAck("rooms"), [socket.id]);
    const [back] = await Promise.all([once(socket, "message-back", 15000), socket.emit("message", "plain")]);
    assert.deepEqual(back, ["plain"]);
  });

  it("below 0.11.0 or not a version: refused; 0.11.0 and later served (a prerelease rounded off)", T, async () => {
    const refused = ["0.10.5", "0.9.0", "latest", "1.2"];
    for (const version of refused) {
      const socket = await rawSocket(checked.url, { query: { ...SDK_QUERY, __sails_io_sdk_version: version } });
      assertRefused(await ask(socket, "get", { url: "/vr/echo" }), sdkDetails(version), `version ${version}`);
    }
    for (const version of ["0.11.0", "1.2.1", "0.11.0-rc.1", "2.0.0"]) {
      const socket = await rawSocket(checked.url, { query: { ...SDK_QUERY, __sails_io_sdk_version: version } });
      const jwr = await ask(socket, "get", { url: "/vr/echo" });
      assert.equal(jwr.statusCode, 200, `version ${version}: ${JSON.stringify(jwr)}`);
      assert.equal(jwr.body.socketId, socket.id);
    }
  });

  it("the version may come as a handshake header, as Sails reads it (headers before the query)", T, async () => {
    const header = await rawSocket(checked.url, { extraHeaders: { __sails_io_sdk_version: "1.0.0" } });
    assert.equal((await ask(header, "get", { url: "/vr/text" })).statusCode, 200);
    const both = await rawSocket(checked.url, {
      extraHeaders: { __sails_io_sdk_version: "0.10.0" },
      query: SDK_QUERY,
    });
    assertRefused(await ask(both, "get", { url: "/vr/text" }), sdkDetails("0.10.0"), "the header wins");
  });

  it("the library's default (record_store) checks; test_server turns the check off explicitly", T, async () => {
    const bare = await rawSocket(store.url);
    assertRefused(await ask(bare, "get", { url: "/records" }), sdkDetails("0.9.0"), "record_store, no SDK");
    const sdk = await rawSocket(store.url, { query: SDK_QUERY });
    const list = await ask(sdk, "get", { url: "/records" });
    assert.equal(list.statusCode, 200, JSON.stringify(list));
    assert.ok(Array.isArray(list.body));
    const off = await rawSocket(unchecked.url);
    assert.equal((await ask(off, "get", { url: "/vr/text" })).statusCode, 200);
  });
});

for (const flavor of FLAVORS) {
  describe(`${flavor.name}: sails.sockets`, () => {
    let io;
    let main;
    let mainId;

    before(async () => {
      io = makeSailsIo(flavor, checked.url);
      owned.push(io.socket);
      main = await connectedSails(io.socket);
      mainId = await flavor.serverId(main);
    });

    const post = async (socket, url, data) => {
      const jwr = await vr(socket, { method: "post", url, data });
      assertStatus(jwr, 200, `POST ${url}`);
      return jwr.body;
    };

    it("join and leave by the request, by the socket's id and by the socket; broadcast's default event is message", T, async () => {
      const other = await sailsConnect(io, checked.url, { transports: ["websocket"] }, owned);
      const log = eventLog(main, ["message", "api-marker"]);
      const markers = `api-markers-${mainId}`;
      await post(main, `/vr/rooms/${markers}/join`);
      let seen = 0;
      for (const by of ["req", "id", "socket"]) {
        const room = `api-${by}-${mainId}`;
        assert.deepEqual(await post(main, `/vr/rooms/${room}/join?by=${by}`), { joined: room });
        // no event: Sails' DEFAULT_EVENT_NAME
        await post(other, `/vr/rooms/${room}/broadcast`, { data: { by } });
        assert.deepEqual(await log.wait(++seen, `message for ${by}`), { name: "message", args: [{ by }] });
        assert.deepEqual(await post(main, `/vr/rooms/${room}/leave?by=${by}`), { left: room });
        await post(other, `/vr/rooms/${room}/broadcast`, { data: { by, after: "leave" } });
        await post(other, `/vr/rooms/${markers}/broadcast`, { event: "api-marker", data: by });
        assert.deepEqual(await log.wait(++seen, `marker after leaving by ${by}`), { name: "api-marker", args: [by] });
      }
      assert.deepEqual(
        log.map((e) => e.args[0]),
        [{ by: "req" }, "req", { by: "id" }, "id", { by: "socket" }, "socket"],
        "a broadcast reached main after it left",
      );
    });

    it("broadcast to several rooms: one copy each, the event named or not, the requester left out", T, async () => {
      const other = await sailsConnect(io, checked.url, { transports: ["websocket"] }, owned);
      const names = ["message", "api-multi", "api-marker"];
      const logMain = eventLog(main, names);
      const logOther = eventLog(other, names);
      const [a, b, c] = ["a", "b", "c"].map((r) => `api-multi-${r}-${mainId}`);
      for (const r of [a, b]) await post(main, `/vr/rooms/${r}/join`);
      await post(other, `/vr/rooms/${b}/join`);
      // main is in a and b: one copy; other is in b
      await post(other, `/vr/rooms/${a}/broadcast`, { event: "api-multi", data: { n: 1 }, also: [b, c] });
      assert.deepEqual(await logMain.wait(1, "multi on main"), { name: "api-multi", args: [{ n: 1 }] });
      assert.deepEqual(await logOther.wait(1, "multi on the other"), { name: "api-multi", args: [{ n: 1 }] });
      // without an event name, and leaving the requester out
      await post(other, `/vr/rooms/${b}/broadcast`, { data: { n: 2 }, also: [c], omitSelf: true });
      assert.deepEqual(await logMain.wait(2, "message on main"), { name: "message", args: [{ n: 2 }] });
      // markers: each socket's next event is the marker, so nothing else came before it
      await post(main, `/vr/rooms/${b}/broadcast`, { event: "api-marker", data: "end" });
      assert.deepEqual(await logMain.wait(3, "marker on main"), { name: "api-marker", args: ["end"] });
      assert.deepEqual(await logOther.wait(2, "marker on the other"), { name: "api-marker", args: ["end"] });
      assert.equal(logMain.length, 3, `main: ${JSON.stringify(logMain)}`);
      assert.equal(logOther.length, 2, `the other: ${JSON.stringify(logOther)}`);
    });
  });
}
