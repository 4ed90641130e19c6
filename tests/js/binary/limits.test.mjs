// Per-address limits, trusted proxies and the WebSocket Origin check, on the default binary with
// its config flags: each refusal is the spec's HTTP 403 {"code":4,...}, is counted, and is logged
// at most once a second. Every wait is bounded; each server is stopped in after().
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, describe, it } from "node:test";
import { WebSocket } from "ws";
import { httpGet, httpPost, parseError, pollUrl, startServer, until } from "../support/helpers.mjs";

const T = { timeout: 30000 };
const servers = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function server(args) {
  const s = await startServer("switchyard", args, { env: { RUST_LOG: "warn" } });
  servers.push(s);
  return { ...s, base: `${s.url}/socket.io/` };
}

const handshake = (base, headers = {}) => httpGet(`${base}?EIO=4&transport=polling`, { headers });
const sidOf = (res) => JSON.parse(res.text.slice(1)).sid;

/** Status of a WebSocket handshake with these headers: 101 when it opens. */
function wsStatus(base, headers) {
  const url = `${base.replace(/^http/, "ws")}?EIO=4&transport=websocket`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    const timer = setTimeout(() => reject(new Error("no answer to the WebSocket handshake")), 10000);
    ws.once("open", () => {
      clearTimeout(timer);
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_, res) => {
      clearTimeout(timer);
      resolve(res.statusCode);
    });
    ws.once("error", () => {});
  });
}

describe("per-address limits", () => {
  it("refuses a connection over max_connections_per_ip, and takes one again once a session ends", T, async () => {
    const s = await server(["--max-connections-per-ip", "3", "--handshakes-per-second-per-ip", "0"]);
    const open = [];
    for (let i = 0; i < 3; i++) {
      const res = await handshake(s.base);
      assert.equal(res.status, 200, res.text);
      open.push(sidOf(res));
    }
    const refused = await handshake(s.base);
    assert.equal(refused.status, 403);
    assert.deepEqual(parseError(refused), { code: 4, message: "too many connections from this address" });
    // The client closes one session (Engine.IO close packet): a new one is admitted.
    await httpPost(pollUrl(s.base, open[0]), "1");
    await until(async () => (await handshake(s.base)).status === 200, "a handshake after a session ended");
  });

  it("rate-limits handshakes per address with a burst", T, async () => {
    const s = await server([
      "--max-connections-per-ip", "0",
      "--handshakes-per-second-per-ip", "1",
      "--handshake-burst-per-ip", "3",
    ]);
    const started = Date.now();
    const all = await Promise.all(Array.from({ length: 10 }, () => handshake(s.base)));
    const seconds = Math.ceil((Date.now() - started) / 1000);
    const ok = all.filter((r) => r.status === 200).length;
    const refused = all.filter((r) => r.status === 403);
    assert.ok(ok >= 3 && ok <= 3 + seconds, `${ok} admitted in about ${seconds} s`);
    assert.equal(ok + refused.length, 10);
    for (const r of refused) {
      assert.deepEqual(parseError(r), { code: 4, message: "too many handshakes from this address; slow down" });
    }
    // A burst of refusals is one log line a second, not one per refusal.
    const lines = s.stderr().split("\n").filter((l) => l.includes("handshake from 127.0.0.1 refused"));
    assert.ok(lines.length >= 1 && lines.length <= seconds + 1, lines.join("\n"));
  });
});

describe("trusted proxies", () => {
  it("counts the forwarded address only when the peer is a trusted proxy", T, async () => {
    const trusting = await server(["--max-connections-per-ip", "1", "--trusted-proxies", "127.0.0.1"]);
    const from = (ip) => ({ "x-forwarded-for": `${ip}, 127.0.0.1` });
    assert.equal((await handshake(trusting.base, from("198.51.100.1"))).status, 200);
    assert.equal((await handshake(trusting.base, from("198.51.100.1"))).status, 403);
    assert.equal((await handshake(trusting.base, from("198.51.100.2"))).status, 200);

    // Not trusted: the header is the client's own claim, and ignored.
    const plain = await server(["--max-connections-per-ip", "1"]);
    assert.equal((await handshake(plain.base, from("198.51.100.1"))).status, 200);
    assert.equal((await handshake(plain.base, from("198.51.100.2"))).status, 403);
  });

  it("with check_sid_address, a session's requests must come from its address", T, async () => {
    const s = await server(["--trusted-proxies", "127.0.0.0/8", "--check-sid-address", "true"]);
    const a = { "x-forwarded-for": "198.51.100.7" };
    const sid = sidOf(await handshake(s.base, a));
    const stolen = await httpGet(pollUrl(s.base, sid), { headers: { "x-forwarded-for": "203.0.113.9" } });
    assert.equal(stolen.status, 400);
    assert.deepEqual(parseError(stolen), { code: 1, message: "Session ID unknown" });
    // Its own address is answered (a CONNECT-less session gets its first ping or a noop in time).
    await httpPost(pollUrl(s.base, sid), "1", { headers: a });
  });
});

describe("origins", () => {
  it("checks a WebSocket's Origin against cors_origins", T, async () => {
    const s = await server(["--cors-origins", "http://good.example"]);
    assert.equal(await wsStatus(s.base, { origin: "http://evil.example" }), 403);
    assert.equal(await wsStatus(s.base, { origin: "http://good.example" }), 101);
    assert.equal(await wsStatus(s.base, {}), 101, "no Origin: not a browser page");
    const allowed = await handshake(s.base, { origin: "http://good.example" });
    assert.equal(allowed.headers.get("access-control-allow-origin"), "http://good.example");
    assert.equal(allowed.headers.get("access-control-allow-credentials"), "true");
    const other = await handshake(s.base, { origin: "http://evil.example" });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
  });

  it("any origin is * and never with credentials", T, async () => {
    const s = await server(["--cors-origins", "*"]);
    const res = await handshake(s.base, { origin: "http://anywhere.example" });
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.equal(res.headers.get("access-control-allow-credentials"), null);
    assert.equal(await wsStatus(s.base, { origin: "http://anywhere.example" }), 101);
  });
});

describe("per-client and per-socket bounds", () => {
  const { io } = createRequire(import.meta.url)("socket.io-client");
  const connect = (url, nsp) =>
    new Promise((resolve, reject) => {
      const socket = io(`${url}${nsp}`, { transports: ["websocket"], forceNew: false, reconnection: false });
      socket.once("connect", () => resolve(socket));
      socket.once("connect_error", (err) => {
        socket.close();
        reject(err);
      });
    });
  const ack = (socket, event, ...args) => socket.timeout(10000).emitWithAck(event, ...args);

  it("refuses namespaces past max_namespaces_per_client with a CONNECT_ERROR, rooms past max_rooms, acks past max_acks", T, async () => {
    const s = await startServer("test_server", ["--max-namespaces", "2", "--max-rooms", "3", "--max-acks", "2"]);
    servers.push(s);
    const main = await connect(s.url, "/");
    const custom = await connect(s.url, "/custom");
    await assert.rejects(connect(s.url, "/dyn-7"), { message: "Too many namespaces on one connection (at most 2)" });
    assert.ok(main.connected && custom.connected, "the connection and its two namespaces are intact");

    // Rooms: three besides the socket's own, the fourth refused.
    const rooms = await ack(main, "join", ["a", "b", "c", "d"]);
    assert.equal(rooms.length, 4, JSON.stringify(rooms));
    assert.ok(rooms.includes(main.id));

    // Acks: a client that never answers `question` holds two; the third emit is refused at once.
    const refused = new Promise((resolve) => main.on("answer-timeout", (why) => why.includes("too many") && resolve(why)));
    for (let i = 0; i < 3; i++) main.emit("ask", 20000);
    assert.equal(await refused, "too many acks awaited from this socket; nothing was sent");

    // JSON nested past the bound: the connection closes with "parse error"; at the bound it is fine.
    const deep = await startServer("test_server", ["--max-json-depth", "4"]);
    servers.push(deep);
    const nested = await connect(deep.url, "/");
    assert.deepEqual(await ack(nested, "message-with-ack", [[[1]]]), [[[1]]], "depth 4 with the event array");
    const id = nested.id;
    const reason = new Promise((resolve) => nested.once("disconnect", resolve));
    nested.emit("message", [[[[[1]]]]]);
    // The server closes the connection: the client sees the transport close, the server says why.
    assert.equal(await reason, "transport close");
    await deep.waitForLine(new RegExp(`^disconnect / ${id} parse error`), 20000);
    const other = await connect(deep.url, "/");
    assert.equal((await ack(other, "counters")).clients.parse_errors, 1);
    other.close();

    const counters = await ack(main, "counters");
    assert.equal(counters.rooms_refused, 1);
    assert.equal(counters.acks_refused, 1);
    assert.equal(counters.clients.namespaces_refused, 1);
    main.close();
  });
});
