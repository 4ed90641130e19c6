// The Engine.IO v3 / Socket.IO protocol v4 wire format (socket.io-client 2.x, sails.io.js) over raw
// HTTP and WebSocket against examples/test_server, beside v4 on the same path /socket.io/:
// the v3 handshake (`<len>:0{...}`, no maxPayload), the automatic CONNECT to "/" (`40` with no
// sid) and CONNECT / CONNECT_ERROR for other namespaces, the client-driven heartbeat (`2` is
// answered by `3`; a session that never pings is closed after pingInterval + pingTimeout),
// binary over polling (base64 `b4...` with b64=1, else the XHR2 binary payload format, both ways)
// and over WebSocket (a leading type byte 4; base64 `b4...` text frames from b64=1 clients), JSONP polling (`___eio[N]("...");` and form POSTs
// `d=...` escaped as engine.io-client 3 escapes them), the upgrade, a storm of 100,000 pings in
// one POST (against examples/conformance, whose maxPayload of 1 MB takes it; test_server's is
// 100 kB), and a server with allow_eio3 off (test_server --allow-eio3 0) refusing EIO=3.
// Packets are encoded and decoded with engine.io-parser 2.2.1, the codec socket.io-client 2 uses.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  escapeRegExp as escape,
  expectWsRefused,
  httpGet,
  openWs,
  parseError,
  runCleanups,
  startServer,
  toWsUrl,
} from "../support/helpers.mjs";
import {
  decodeBinaryPayloadV3,
  decodeTextPayloadV3,
  encodeBinaryPayloadV3,
  encodeTextPayloadV3,
} from "../support/legacy_helpers.mjs";

const T = { timeout: 60000 };
// Long enough that a test which pings before each GET never races the heartbeat on a busy machine,
// short enough that the timeout tests finish quickly.
const PING_INTERVAL = 1000;
const PING_TIMEOUT = 1000;

let server;
let base; // http://127.0.0.1:PORT/socket.io/
let wsBase; // ws://127.0.0.1:PORT/socket.io/
const cleanups = [];

before(async () => {
  server = await startServer("test_server", ["--ping-interval", `${PING_INTERVAL}`, "--ping-timeout", `${PING_TIMEOUT}`]);
  base = `${server.url}/socket.io/`;
  wsBase = toWsUrl(base);
});

after(async () => {
  await runCleanups(cleanups);
  if (server) await server.stop();
});

// ---------------------------------------------------------------------------------------------
// Raw Engine.IO v3 polling

/** fetch, keeping the body as bytes. */
async function rawRequest(url, { method = "GET", body, headers = {}, timeoutMs = 20000 } = {}) {
  const res = await fetch(url, { method, body, headers, signal: AbortSignal.timeout(timeoutMs) });
  const raw = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, contentType: res.headers.get("content-type") || "", raw, text: raw.toString("utf8") };
}

const JSONP_RE = /^___eio\[(\d+)\]\("((?:[^"\\]|\\.)*)"\);$/s;

/** Unwrap a JSONP response `___eio[N]("...");` into the payload string (checks N). */
function unwrapJsonp(text, index) {
  const m = JSONP_RE.exec(text);
  assert.ok(m, `JSONP response expected, got ${JSON.stringify(text.slice(0, 300))}`);
  assert.equal(m[1], String(index), "JSONP callback index");
  return JSON.parse(`"${m[2]}"`);
}

/** What engine.io-client 3's JSONP transport does to a payload before posting it (doWrite). */
const jsonpEscape = (data) => data.replace(/\\n/g, "\\\n").replace(/\n/g, "\\n");
/** What the Node reference server (engine.io 3, transports/polling-jsonp.js) undoes. */
const jsonpUnescape = (data) => data.replace(/(\\)?\\n/g, (match, slashes) => (slashes ? match : "\n")).replace(/\\\\n/g, "\\n");

/** Decode a polling response according to its form: JSONP, XHR2 binary payload or text payload. */
function decodeResponse(res, jsonp) {
  if (jsonp !== undefined) {
    assert.match(res.contentType, /^text\/javascript/, "JSONP content type");
    return decodeTextPayloadV3(unwrapJsonp(res.text, jsonp));
  }
  if (res.contentType.startsWith("application/octet-stream")) return decodeBinaryPayloadV3(res.raw);
  assert.match(res.contentType, /^text\/plain/, `content type of ${JSON.stringify(res.text.slice(0, 100))}`);
  return decodeTextPayloadV3(res.text);
}

/** GET /socket.io/?EIO=3&transport=polling: the v3 handshake. */
async function handshakeV3(extraQuery = "", { jsonp } = {}) {
  const j = jsonp !== undefined ? `&j=${jsonp}` : "";
  const res = await rawRequest(`${base}?EIO=3&transport=polling${j}${extraQuery}`);
  assert.equal(res.status, 200, `handshake status (body ${JSON.stringify(res.text.slice(0, 300))})`);
  const packets = decodeResponse(res, jsonp);
  assert.equal(packets[0].type, "open", `open packet first, got ${JSON.stringify(packets)}`);
  const handshake = JSON.parse(packets[0].data);
  return { res, handshake, sid: handshake.sid, packets: packets.slice(1) };
}

/** An Engine.IO v3 polling session (optionally JSONP) with the requests a client makes. */
class V3Session {
  constructor(sid, { jsonp, pending = [] } = {}) {
    this.sid = sid;
    this.jsonp = jsonp;
    this.pending = pending; // packets received (e.g. with the handshake) and not taken yet
  }

  url() {
    const j = this.jsonp !== undefined ? `&j=${this.jsonp}` : "";
    return `${base}?EIO=3&transport=polling&sid=${encodeURIComponent(this.sid)}${j}`;
  }

  get(opts) {
    return rawRequest(this.url(), opts);
  }

  /** POST a text payload (form-encoded `d=...` for JSONP) or a Buffer (binary payload). */
  async post(body, { contentType, timeoutMs } = {}) {
    let headers = {};
    if (this.jsonp !== undefined) {
      assert.equal(typeof body, "string");
      body = new URLSearchParams({ d: jsonpEscape(body) }).toString();
      headers = { "Content-Type": "application/x-www-form-urlencoded" };
    } else if (Buffer.isBuffer(body)) {
      headers = { "Content-Type": contentType || "application/octet-stream" };
    } else {
      headers = { "Content-Type": contentType || "text/plain;charset=UTF-8" };
    }
    const res = await rawRequest(this.url(), { method: "POST", body, headers, timeoutMs });
    assert.equal(res.status, 200, `POST status (body ${JSON.stringify(res.text.slice(0, 300))})`);
    return res;
  }

  /** POST Engine.IO messages (Socket.IO packets as text, or Buffers). */
  send(...messages) {
    return this.post(encodeTextPayloadV3(messages.map((data) => ({ type: "message", data }))));
  }

  /**
   * Poll until `count` packets other than pongs have arrived; each GET is preceded by a ping, so
   * it is answered (with the pong at least) and the session's heartbeat is kept. Returns the
   * packets and the responses they came in.
   */
  async collect(count, { timeoutMs = 15000, ping = true } = {}) {
    const packets = this.pending.splice(0).filter((p) => p.type !== "pong");
    const responses = [];
    const deadline = Date.now() + timeoutMs;
    while (packets.length < count) {
      assert.ok(Date.now() < deadline, `timed out polling; got ${JSON.stringify(packets)}`);
      if (ping) await this.post(encodeTextPayloadV3([{ type: "ping" }]));
      const res = await this.get({ timeoutMs: Math.max(1, deadline - Date.now()) });
      assert.equal(res.status, 200, `GET status (body ${JSON.stringify(res.text.slice(0, 300))})`);
      responses.push(res);
      packets.push(...decodeResponse(res, this.jsonp).filter((p) => p.type !== "pong"));
    }
    this.pending.push(...packets.splice(count));
    return { packets, responses };
  }

  /** The next Socket.IO packet (message data) the server sends, as text or Buffer. */
  async next(opts) {
    const { packets } = await this.collect(1, opts);
    assert.equal(packets[0].type, "message", `message expected, got ${JSON.stringify(packets[0])}`);
    return packets[0].data;
  }
}

/** Handshake, then read the server's automatic CONNECT `40` to "/" and the greeting. */
async function connectedSession(extraQuery = "", opts = {}) {
  const hs = await handshakeV3(extraQuery, opts);
  const session = new V3Session(hs.sid, { ...opts, pending: hs.packets });
  assert.equal(await session.next(), "0", "CONNECT to / (`40`, no sid payload) without a CONNECT from the client");
  assert.equal(await session.next(), '2["auth",{}]', "test_server's greeting");
  session.handshake = hs.handshake;
  return session;
}

/** The socket's id on the server, from its rooms (ack id `ackId`). */
async function serverIdOf(session, ackId = 900) {
  await session.send(`2${ackId}["rooms"]`);
  const ack = await session.next();
  assert.ok(ack.startsWith(`3${ackId}[`), `ACK expected, got ${ack}`);
  return JSON.parse(ack.slice(1 + String(ackId).length))[0][0];
}

const BIN_EVENT = (name, ackId = "") => `51-${ackId}["${name}",{"_placeholder":true,"num":0}]`;

// ---------------------------------------------------------------------------------------------
// Raw Engine.IO v3 WebSocket

async function wsV3(query = "") {
  const client = openWs(`${wsBase}?EIO=3&transport=websocket${query}`);
  cleanups.push(() => client.close());
  await client.opened;
  return client;
}

/** Next message other than a pong "3" (the v3 server never pings, so no "2" is expected). */
async function nextWs(client, timeoutMs = 10000) {
  for (;;) {
    const msg = await client.next(timeoutMs);
    if (msg !== "3") return msg;
  }
}

// ---------------------------------------------------------------------------------------------

describe("Engine.IO v3 handshake", () => {
  it("answers a v3 payload with sid, upgrades, pingInterval and pingTimeout (no maxPayload)", T, async () => {
    const { res, handshake } = await handshakeV3();
    assert.match(res.contentType, /^text\/plain/);
    assert.match(res.text, /^\d+:0\{/, `length-prefixed open packet, got ${JSON.stringify(res.text.slice(0, 200))}`);
    assert.deepEqual(Object.keys(handshake).sort(), ["pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.equal(typeof handshake.sid, "string");
    assert.ok(handshake.sid.length > 0);
    assert.deepEqual(handshake.upgrades, ["websocket"]);
    assert.equal(handshake.pingInterval, PING_INTERVAL);
    assert.equal(handshake.pingTimeout, PING_TIMEOUT);
  });

  it("gives every session its own sid and leaves v4 handshakes as they were", T, async () => {
    const a = await handshakeV3();
    const b = await handshakeV3("&b64=1");
    assert.notEqual(a.sid, b.sid);
    const v4 = await httpGet(`${base}?EIO=4&transport=polling`);
    assert.equal(v4.status, 200);
    assert.ok(v4.text.startsWith("0{"), `v4 open packet, got ${JSON.stringify(v4.text)}`);
    assert.ok("maxPayload" in JSON.parse(v4.text.slice(1)));
  });

  it("answers an unknown sid with 400 (code 1)", T, async () => {
    const res = await httpGet(`${base}?EIO=3&transport=polling&sid=nope`);
    assert.equal(res.status, 400);
    assert.deepEqual(parseError(res), { code: 1, message: "Session ID unknown" });
  });

  it("opens a v3 WebSocket session directly: open packet, then `40`", T, async () => {
    const client = await wsV3();
    const open = await client.next();
    assert.ok(typeof open === "string" && open.startsWith("0{"), `open packet, got ${JSON.stringify(open)}`);
    const hs = JSON.parse(open.slice(1));
    assert.deepEqual(Object.keys(hs).sort(), ["pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.deepEqual(hs.upgrades, []);
    assert.equal(await nextWs(client), "40");
    assert.equal(await nextWs(client), '42["auth",{}]');
    client.close();
  });
});

describe("Socket.IO CONNECT for a v3 client", () => {
  it("polling: `40` arrives without a CONNECT; `40/custom,` is answered `40/custom,`", T, async () => {
    const session = await connectedSession();
    await session.send("0/custom,");
    assert.equal(await session.next(), "0/custom,");
    assert.equal(await session.next(), '2/custom,["auth",{}]');
    await session.send('2/custom,["message","in custom"]');
    assert.equal(await session.next(), '2/custom,["message-back","in custom"]');
  });

  it("websocket: CONNECT and CONNECT_ERROR (`44/nsp,<data or message>`) for other namespaces", T, async () => {
    const client = await wsV3();
    assert.ok((await client.next()).startsWith("0{"));
    assert.equal(await nextWs(client), "40");
    assert.equal(await nextWs(client), '42["auth",{}]');
    // the connect middleware's error has data: the data is sent
    client.send("40/private,");
    const denied = await nextWs(client);
    assert.ok(denied.startsWith("44/private,"), `CONNECT_ERROR expected, got ${denied}`);
    assert.deepEqual(JSON.parse(denied.slice("44/private,".length)), { reason: "bad token" });
    // the CONNECT's query is the auth of a v3 client
    client.send("40/private?token=secret,");
    assert.equal(await nextWs(client), "40/private,");
    assert.equal(await nextWs(client), '42/private,["auth",{"token":"secret"}]');
    // unknown and non-matching dynamic namespaces
    client.send("40/nope,");
    assert.equal(await nextWs(client), '44/nope,"Invalid namespace"');
    client.send("40/dyn-x,");
    assert.equal(await nextWs(client), '44/dyn-x,"Invalid namespace"');
    client.send("40/dyn-3,");
    assert.equal(await nextWs(client), "40/dyn-3,");
    assert.equal(await nextWs(client), '42/dyn-3,["nsp","/dyn-3"]');
    // everything still works on "/"
    client.send('42["message","root"]');
    assert.equal(await nextWs(client), '42["message-back","root"]');
    client.close();
  });
});

describe("Engine.IO v3 heartbeat (the client pings)", () => {
  it("polling: a `2` ping is answered by a `3` pong", T, async () => {
    const session = await connectedSession();
    for (let i = 0; i < 3; i++) {
      await session.post(encodeTextPayloadV3([{ type: "ping" }]));
      const res = await session.get();
      assert.equal(res.status, 200);
      assert.deepEqual(decodeTextPayloadV3(res.text), [{ type: "pong" }]);
      assert.equal(res.text, "1:3");
    }
    // a probe ping is answered with its data
    await session.post(encodeTextPayloadV3([{ type: "ping", data: "probe" }]));
    assert.equal((await session.get()).text, "6:3probe");
  });

  it("websocket: a `2` ping is answered by a `3` pong", T, async () => {
    const client = await wsV3();
    assert.ok((await client.next()).startsWith("0{"));
    assert.equal(await client.next(), "40");
    assert.equal(await client.next(), '42["auth",{}]');
    for (let i = 0; i < 3; i++) {
      client.send("2");
      assert.equal(await client.next(), "3");
    }
    client.close();
  });

  it("polling: a session that never pings is closed after pingInterval + pingTimeout", T, async () => {
    const session = await connectedSession();
    const id = await serverIdOf(session);
    // From now on no ping: GET until the server ends the session (close packet, or 400 unknown sid).
    const deadline = Date.now() + 20000;
    let ended = null;
    while (!ended) {
      assert.ok(Date.now() < deadline, "the session is still open 20 s after its last ping");
      const res = await session.get();
      if (res.status === 400) {
        assert.equal(parseError(res).code, 1);
        ended = "400";
      } else {
        assert.equal(res.status, 200);
        const packets = decodeTextPayloadV3(res.text);
        assert.ok(!packets.some((p) => p.type === "ping"), "a v3 server never pings");
        if (packets.some((p) => p.type === "close")) ended = "close";
      }
    }
    await server.waitForLine(new RegExp(`^disconnect / ${escape(id)} ping timeout$`), 10000);
  });

  it("websocket: a session that never pings is closed after pingInterval + pingTimeout", T, async () => {
    const client = await wsV3();
    assert.ok((await client.next()).startsWith("0{"));
    assert.equal(await client.next(), "40");
    client.send('421["rooms"]');
    let msg = await client.next();
    while (!msg.startsWith("431")) msg = await client.next();
    const id = JSON.parse(msg.slice(3))[0][0];
    await client.waitClose(20000);
    assert.ok(!client.queue.includes("2"), "a v3 server never pings");
    await server.waitForLine(new RegExp(`^disconnect / ${escape(id)} ping timeout$`), 10000);
  });
});

describe("binary over Engine.IO v3 polling", () => {
  it("b64=1: a binary event is sent as a base64 `b4...` packet, both ways", T, async () => {
    const session = await connectedSession("&b64=1");
    const data = Buffer.from([0, 1, 2, 253, 254, 255]);
    // the client's attachment as b64 text (`b4AAEC/f7/`), as engine.io-client 3 without XHR2 sends it
    await session.send(BIN_EVENT("message"), data);
    const { packets, responses } = await session.collect(2);
    for (const res of responses) assert.match(res.contentType, /^text\/plain/, "b64=1: text payloads only");
    const raw = responses.map((r) => r.text).join("");
    assert.ok(raw.includes(`:b4${data.toString("base64")}`), `base64 binary packet expected in ${JSON.stringify(raw)}`);
    assert.equal(packets[0].data, BIN_EVENT("message-back"));
    assert.ok(Buffer.isBuffer(packets[1].data), `binary packet, got ${JSON.stringify(packets[1])}`);
    assert.deepEqual([...packets[1].data], [...data]);
  });

  it("without b64: a response holding binary is an application/octet-stream binary payload", T, async () => {
    const session = await connectedSession();
    const data = Buffer.from("binary \u00e9t\u00e9 \u2713");
    await session.send(BIN_EVENT("message"), data);
    const { packets, responses } = await session.collect(2);
    const binaryResponses = responses.filter((r) => r.contentType.startsWith("application/octet-stream"));
    assert.ok(binaryResponses.length >= 1, `an octet-stream response expected, got ${responses.map((r) => r.contentType)}`);
    // the record layout: <0|1><length digits as bytes><0xFF><data>, a binary record's data starts with type byte 4
    const body = binaryResponses[binaryResponses.length - 1].raw;
    assert.ok(body[0] === 0 || body[0] === 1, `record kind byte, got ${body[0]}`);
    assert.ok(body.includes(Buffer.concat([Buffer.from([0xff, 4]), data])), "binary record: 0xFF, type byte 4, the data");
    assert.equal(packets[0].data, BIN_EVENT("message-back"));
    assert.ok(Buffer.isBuffer(packets[1].data));
    assert.ok(packets[1].data.equals(data));
  });

  it("a binary-payload POST (application/octet-stream) with a BINARY_EVENT is echoed, and acked", T, async () => {
    const session = await connectedSession();
    const data = Buffer.alloc(3000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
    // engine.io-client 3 with XHR2 posts this format whenever a payload holds binary
    await session.post(
      encodeBinaryPayloadV3([
        { type: "message", data: BIN_EVENT("message") },
        { type: "message", data },
      ]),
    );
    let { packets } = await session.collect(2);
    assert.equal(packets[0].data, BIN_EVENT("message-back"));
    assert.ok(packets[1].data.equals(data));
    // with an ack id: the ack comes back as a BINARY_ACK with the attachment
    await session.post(
      encodeBinaryPayloadV3([
        { type: "message", data: BIN_EVENT("message-with-ack", 7) },
        { type: "message", data: Buffer.from([42]) },
      ]),
    );
    ({ packets } = await session.collect(2));
    assert.equal(packets[0].data, '61-7[{"_placeholder":true,"num":0}]');
    assert.deepEqual([...packets[1].data], [42]);
    // a text packet in the binary format (a string record) works too
    await session.post(encodeBinaryPayloadV3([{ type: "message", data: '2["message","t\u00e9xt"]' }]));
    assert.equal(await session.next(), '2["message-back","t\u00e9xt"]');
  });

  it("text payload lengths count UTF-16 units (astral characters count 2)", T, async () => {
    const session = await connectedSession();
    const text = "emoji \u{1F600} and \u00e9";
    await session.send(`2["message",${JSON.stringify(text)}]`);
    const { responses } = await session.collect(1);
    const packet = `42["message-back",${JSON.stringify(text)}]`;
    assert.ok(responses.at(-1).text.includes(`${packet.length}:${packet}`), `got ${JSON.stringify(responses.at(-1).text)}`);
  });
});

describe("Engine.IO v3 polling limits", () => {
  it("a POST larger than maxPayload (100 kB in test_server) gets 413 and ends the session", T, async () => {
    const session = await connectedSession();
    const big = encodeTextPayloadV3([{ type: "message", data: `2["message","${"x".repeat(150000)}"]` }]);
    const res = await rawRequest(session.url(), { method: "POST", body: big, headers: { "Content-Type": "text/plain;charset=UTF-8" } });
    assert.equal(res.status, 413, `status (body ${JSON.stringify(res.text.slice(0, 200))})`);
    const after = await session.get();
    assert.equal(after.status, 400, "the session is gone");
    assert.equal(parseError(after).code, 1);
  });
});

describe("binary over Engine.IO v3 WebSocket", () => {
  it("binary frames carry a leading type byte 4, both ways", T, async () => {
    const client = await wsV3();
    assert.ok((await client.next()).startsWith("0{"));
    assert.equal(await nextWs(client), "40");
    assert.equal(await nextWs(client), '42["auth",{}]');
    const data = Buffer.from([4, 0, 255, 10, 13]);
    client.send(`4${BIN_EVENT("message")}`);
    client.send(Buffer.concat([Buffer.from([4]), data]));
    assert.equal(await nextWs(client), `4${BIN_EVENT("message-back")}`);
    const frame = await nextWs(client);
    assert.ok(Buffer.isBuffer(frame), `binary frame expected, got ${JSON.stringify(frame)}`);
    assert.equal(frame[0], 4, "leading Engine.IO message type byte");
    assert.ok(frame.subarray(1).equals(data));
    client.close();
  });
});

describe("base64 binary over an Engine.IO v3 WebSocket (b64=1, as engine.io-client 3 with forceBase64)", () => {
  it("a `b4...` text frame is a binary attachment", T, async () => {
    const client = await wsV3("&b64=1");
    assert.ok((await client.next()).startsWith("0{"));
    assert.equal(await nextWs(client), "40");
    assert.equal(await nextWs(client), '42["auth",{}]');
    const data = Buffer.from([7, 0, 255]);
    client.send(`4${BIN_EVENT("message")}`);
    client.send(`b4${data.toString("base64")}`);
    let echo;
    try {
      echo = await nextWs(client);
    } catch (err) {
      throw new Error(`no echo (${err.message}); close ${JSON.stringify(await client.waitClose(1000).catch(() => null))}`);
    }
    assert.equal(echo, `4${BIN_EVENT("message-back")}`);
    // the attachment back: a `b4...` text frame (as the reference sends to b64 clients) or a binary frame
    const frame = await nextWs(client);
    if (Buffer.isBuffer(frame)) {
      assert.equal(frame[0], 4);
      assert.ok(frame.subarray(1).equals(data));
    } else {
      assert.ok(frame.startsWith("b4"), `a b4 text frame or a binary frame, got ${frame}`);
      assert.ok(Buffer.from(frame.slice(2), "base64").equals(data));
    }
    client.close();
  });
});

describe("Engine.IO v3 upgrade", () => {
  it("probe `2probe`/`3probe`, upgrade `5`, then the session continues on the WebSocket", T, async () => {
    const session = await connectedSession();
    const client = await wsV3(`&sid=${encodeURIComponent(session.sid)}`);
    client.send("2probe");
    assert.equal(await client.next(), "3probe");
    client.send("5");
    client.send('42["message","over ws"]');
    assert.equal(await nextWs(client), '42["message-back","over ws"]');
    client.send("2");
    assert.equal(await client.next(), "3");
    client.close();
  });
});

describe("JSONP polling (j=N)", () => {
  it("the handshake with j=0 answers ___eio[0](\"...\"); as text/javascript", T, async () => {
    const { res, handshake } = await handshakeV3("", { jsonp: 0 });
    assert.match(res.contentType, /^text\/javascript/);
    assert.match(res.text, /^___eio\[0\]\("/);
    assert.ok(res.text.endsWith('");'));
    assert.deepEqual(Object.keys(handshake).sort(), ["pingInterval", "pingTimeout", "sid", "upgrades"]);
    // another index, kept for the session's GETs
    const session = await connectedSession("", { jsonp: 3 });
    await session.send('2["message","j3"]');
    const { responses } = await session.collect(1);
    assert.match(responses.at(-1).text, /^___eio\[3\]\(/);
  });

  it("a form POST d=... carries messages with newlines and backslashes, escaped as engine.io-client 3 does", T, async () => {
    const session = await connectedSession("", { jsonp: 0 });
    const args = ["line1\nline2", "back\\slash", "C:\\new\\name", "tab\t\"quote\"", "\\\\n", "é ✓ \u{1F600}", "ls\u2028ps\u2029"];
    // a JSON text with escape sequences (\n, \\, \\n) and a raw newline as whitespace
    const packet = `2[\n"message",${args.map((a) => JSON.stringify(a)).join(",")}]`;
    const payload = encodeTextPayloadV3([{ type: "message", data: packet }]);
    // the reference server gets the payload back from the escaped form (sanity check of this test)
    assert.equal(jsonpUnescape(jsonpEscape(payload)), payload);
    assert.ok(jsonpEscape(payload).includes("\\\\n"), "the escaping under test is exercised");
    await session.send(packet);
    const { packets, responses } = await session.collect(1);
    const echoed = packets[0].data;
    // U+2028 / U+2029 are escaped in the script (they end a line in pre-ES2019 JavaScript)
    for (const r of responses) assert.ok(!/[\u2028\u2029]/.test(r.text), `raw U+2028/9 in ${JSON.stringify(r.text)}`);
    assert.equal(echoed.slice(0, 1), "2");
    assert.deepEqual(JSON.parse(echoed.slice(1)), ["message-back", ...args]);
    // and an ack through JSONP
    await session.send('21["message-with-ack","a\\nb"]');
    assert.equal(await session.next(), '31["a\\nb"]');
  });

  it("binary over JSONP is base64 (`b4...`)", T, async () => {
    const session = await connectedSession("", { jsonp: 0 });
    const data = Buffer.from([1, 2, 3, 250]);
    await session.send(BIN_EVENT("message"), data);
    const { packets, responses } = await session.collect(2);
    const raw = responses.map((r) => unwrapJsonp(r.text, 0)).join("");
    assert.ok(raw.includes(`:b4${data.toString("base64")}`), `base64 packet expected in ${JSON.stringify(raw)}`);
    assert.equal(packets[0].data, BIN_EVENT("message-back"));
    assert.deepEqual([...packets[1].data], [...data]);
  });
});

describe("a storm of pings (examples/conformance, maxPayload 1 MB)", () => {
  let conf;
  before(async () => {
    conf = await startServer("conformance", ["--ping-interval", "10000", "--ping-timeout", "10000"]);
  });
  after(async () => {
    if (conf) await conf.stop();
  });

  it("100,000 `2` pings in one POST leave the server healthy and the session answering", T, async () => {
    const confBase = `${conf.url}/socket.io/`;
    const hs = await rawRequest(`${confBase}?EIO=3&transport=polling`);
    assert.equal(hs.status, 200);
    const [open, ...rest] = decodeTextPayloadV3(hs.text);
    const { sid } = JSON.parse(open.data);
    const url = `${confBase}?EIO=3&transport=polling&sid=${encodeURIComponent(sid)}`;
    // read the automatic CONNECT before the storm
    const seen = rest.slice();
    for (let i = 0; i < 10 && !seen.some((p) => p.type === "message" && p.data === "0"); i++) {
      seen.push(...decodeTextPayloadV3((await rawRequest(url)).text));
    }
    assert.ok(seen.some((p) => p.type === "message" && p.data === "0"), "`40` before the storm");

    const storm = "1:2".repeat(100000); // 300,000 bytes: under maxPayload
    const posted = rawRequest(url, { method: "POST", body: storm, headers: { "Content-Type": "text/plain;charset=UTF-8" }, timeoutMs: 60000 });
    // another client is served meanwhile
    const other = await rawRequest(`${confBase}?EIO=3&transport=polling`, { timeoutMs: 20000 });
    assert.equal(other.status, 200);
    assert.equal(decodeTextPayloadV3(other.text)[0].type, "open");
    const res = await posted;
    assert.equal(res.status, 200, `storm POST: ${res.status} ${res.text.slice(0, 200)}`);

    // the session still answers: an event is echoed after the pongs (however many the server sent)
    const post = await rawRequest(url, { method: "POST", body: encodeTextPayloadV3([{ type: "message", data: '2["message","after the storm"]' }]) });
    assert.equal(post.status, 200);
    let pongs = 0;
    let echoed = false;
    for (let i = 0; i < 2000 && !echoed; i++) {
      const got = await rawRequest(url, { timeoutMs: 20000 });
      assert.equal(got.status, 200, `GET ${i} after the storm: ${got.status} ${got.text.slice(0, 200)}`);
      for (const p of decodeTextPayloadV3(got.text)) {
        if (p.type === "pong") pongs++;
        else if (p.type === "message" && p.data === '2["message-back","after the storm"]') echoed = true;
        else if (p.type === "message") continue; // e.g. the greeting
        else assert.fail(`unexpected packet after the storm: ${JSON.stringify(p)}`);
      }
    }
    assert.ok(echoed, "the echo after the storm");
    assert.ok(pongs >= 1, "the pings were answered");
    // and the other session is healthy too
    const otherSid = JSON.parse(decodeTextPayloadV3(other.text)[0].data).sid;
    const otherUrl = `${confBase}?EIO=3&transport=polling&sid=${encodeURIComponent(otherSid)}`;
    const ping = await rawRequest(otherUrl, { method: "POST", body: "1:2" });
    assert.equal(ping.status, 200);
    let otherPong = false;
    for (let i = 0; i < 10 && !otherPong; i++) {
      otherPong = decodeTextPayloadV3((await rawRequest(otherUrl)).text).some((p) => p.type === "pong");
    }
    assert.ok(otherPong, "the other session answers its ping");
  });
});

describe("allow_eio3 off (test_server --allow-eio3 0; the server binary's SWITCHYARD_ALLOW_EIO3=false)", () => {
  let strict;
  before(async () => {
    strict = await startServer("test_server", ["--allow-eio3", "0"], { env: { RUST_LOG: "info" } });
  });
  after(async () => {
    if (strict) await strict.stop();
  });

  // The info line says why: the refused version (EIO=3 / Engine.IO v3) or the setting.
  const WHY = /INFO.*(EIO=3|Engine\.IO v3|allow_eio3)/i;

  it("an EIO=3 handshake gets 400 Unsupported protocol version and one info line says why", T, async () => {
    const why = strict.waitForStderr(WHY, 10000);
    const res = await httpGet(`${strict.url}/socket.io/?EIO=3&transport=polling`);
    assert.equal(res.status, 400, `status (body ${JSON.stringify(res.text)})`);
    assert.deepEqual(parseError(res), { code: 5, message: "Unsupported protocol version" });
    await why;
    // v4 still works, and the one refusal was logged once
    const v4 = await httpGet(`${strict.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(v4.status, 200);
    assert.ok(v4.text.startsWith("0{"));
    const lines = strict.stderr().split("\n").filter((l) => WHY.test(l));
    assert.equal(lines.length, 1, `one info line for one refused handshake:\n${strict.stderr().slice(-2000)}`);
  });

  it("an EIO=3 WebSocket is refused as well", T, async () => {
    await expectWsRefused(`${toWsUrl(strict.url)}/socket.io/?EIO=3&transport=websocket`, 10000);
  });
});
