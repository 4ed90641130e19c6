// Prometheus metrics and health routes of the default binary (issue 20): started with
// `--metrics true` on a free loopback port, driven by real socket.io-client 4 clients (websocket
// and polling) and sails.io.js, then scraped; each number a user would watch moves as it should.
// Every wait is for a condition (bounded); the server is stopped in after().
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { closeSocket, connected, httpGet, once, startServer, until } from "../support/helpers.mjs";
import { metricsUrl, scrape, sum, value } from "../support/metrics_helpers.mjs";
import { FLAVORS, closeSailsSockets, makeSailsIo, sailsConnect, vr } from "../support/sails_helpers.mjs";

const require = createRequire(import.meta.url);
const { io, Manager } = require("socket.io-client");
const T = { timeout: 60000 };
const NS = { namespace: "/" };

describe("metrics of the default binary", () => {
  let server;
  let url;
  const sockets = [];
  const sails = [];

  before(async () => {
    server = await startServer("switchyard", [
      "--metrics", "true",
      "--metrics-addr", "127.0.0.1:0",
      "--max-namespaces-per-client", "1",
    ]);
    url = await metricsUrl(server);
  });

  after(async () => {
    closeSailsSockets(sails);
    for (const s of sockets) closeSocket(s);
    await server?.stop();
  });

  const client = (opts) => {
    const socket = io(server.url, { forceNew: true, reconnection: false, ...opts });
    sockets.push(socket);
    return socket;
  };

  /** Scrapes until `check(scraped)` holds; answers that scrape. */
  async function scrapeUntil(check, what) {
    let last;
    await until(async () => check((last = await scrape(url))), what, 20000, 50);
    return last;
  }

  it("is served on loopback in Prometheus' text format, apart from the app's port", T, async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.notEqual(new URL(url).port, String(server.port));
    const first = await scrape(url);
    assert.equal(first.status, 200);
    assert.match(first.contentType, /^text\/plain; version=0\.0\.4/);
    assert.equal(first.types.get("switchyard_engine_sessions_opened_total"), "counter");
    assert.equal(first.types.get("switchyard_sockets"), "gauge");
    assert.equal(first.types.get("switchyard_adapter_request_duration_seconds"), "histogram");
    // Not on the app's listener.
    assert.equal((await httpGet(`${server.url}/metrics`)).status, 404);
  });

  it("counts sessions by transport and protocol, upgrades, sockets, packets and bytes", T, async () => {
    const before = await scrape(url);
    const ws = client({ transports: ["websocket"] });
    const polling = client({ transports: ["polling"] });
    const upgraded = client({});
    await Promise.all([connected(ws), connected(polling), connected(upgraded)]);
    await until(() => upgraded.io.engine.transport.name === "websocket", "the third client's upgrade");
    const opened = (s, transport) => value(s, "switchyard_engine_sessions_opened_total", { transport, protocol: "4" });
    const now = await scrapeUntil(
      (s) =>
        opened(s, "websocket") - opened(before, "websocket") === 1 &&
        opened(s, "polling") - opened(before, "polling") === 2 &&
        value(s, "switchyard_engine_upgrades_total") - value(before, "switchyard_engine_upgrades_total") === 1 &&
        value(s, "switchyard_sockets", NS) === value(before, "switchyard_sockets", NS) + 3,
      "three sessions, one upgrade, three sockets",
    );
    // Open now, by transport now: the upgraded one is a WebSocket session.
    const open = (s, transport) => value(s, "switchyard_engine_sessions", { transport, protocol: "4" });
    assert.equal(open(now, "websocket"), open(before, "websocket") + 2);
    assert.equal(open(now, "polling"), open(before, "polling") + 1);
    assert.equal(sum(now, "switchyard_engine_sessions"), sum(before, "switchyard_engine_sessions") + 3);
    for (const name of [
      "switchyard_engine_packets_received_total",
      "switchyard_engine_packets_sent_total",
      "switchyard_engine_received_bytes_total",
      "switchyard_engine_sent_bytes_total",
    ]) {
      assert.ok(value(now, name) > value(before, name), `${name} moved`);
    }
    // An event from a client is a packet in, with its bytes.
    const bytes = value(now, "switchyard_engine_received_bytes_total");
    ws.emit("typing", { channel: "general", text: "x".repeat(1000) });
    await scrapeUntil((s) => value(s, "switchyard_engine_received_bytes_total") >= bytes + 1000, "the event's bytes");
    // A socket that leaves is one socket fewer, with its reason.
    const reason = { namespace: "/", reason: "client namespace disconnect" };
    polling.disconnect();
    await scrapeUntil(
      (s) =>
        value(s, "switchyard_sockets", NS) === value(before, "switchyard_sockets", NS) + 2 &&
        value(s, "switchyard_disconnects_total", reason) === value(before, "switchyard_disconnects_total", reason) + 1,
      "the polling client's disconnection",
    );
  });

  it("counts virtual requests by status, rooms, broadcasts and their recipients", T, async () => {
    const before = await scrape(url);
    const sio = makeSailsIo(FLAVORS[1], server.url, { autoConnect: false });
    const [a, b] = [await sailsConnect(sio, server.url, {}, sails), await sailsConnect(sio, server.url, {}, sails)];
    for (const [socket, nick] of [[a, "ann"], [b, "bob"]]) {
      assert.equal((await vr(socket, { method: "put", url: "/me", data: { nick } })).statusCode, 200);
      assert.equal((await vr(socket, { method: "post", url: "/channels/general/join" })).statusCode, 200);
    }
    const missing = await vr(a, { method: "get", url: "/no/such/route" });
    assert.equal(missing.statusCode, 404);
    const message = once(b._raw, "message", 15000);
    assert.equal((await vr(a, { method: "post", url: "/channels/general/messages", data: { text: "hi" } })).statusCode, 201);
    await message;
    const status = (s, code) => value(s, "switchyard_virtual_requests_total", { status: code });
    const now = await scrapeUntil(
      (s) => status(s, "200") - status(before, "200") === 4 && status(s, "404") - status(before, "404") === 1,
      "four 200s and a 404",
    );
    assert.equal(status(now, "201") - status(before, "201"), 1);
    assert.ok(value(now, "switchyard_rooms", NS) >= 1, "the channel's room");
    const moved = (name) => value(now, name, NS) - value(before, name, NS);
    // Joins, the message: each a broadcast to the channel's room, reaching its members.
    assert.ok(moved("switchyard_broadcasts_total") >= 2, "broadcasts");
    assert.ok(moved("switchyard_broadcast_recipients_total") >= 2, "recipients");
  });

  it("counts a refusal by the limit that refused it", T, async () => {
    const limit = { limit: "max_namespaces_per_client" };
    const before = await scrape(url);
    const manager = new Manager(server.url, { reconnection: false, transports: ["websocket"] });
    const main = manager.socket("/");
    const second = manager.socket("/second");
    sockets.push(main, second);
    // Listened for at once: the refusal may come before the first socket's connect is seen.
    const refused = once(second, "connect_error", 15000);
    await connected(main);
    const [err] = await refused;
    assert.match(err.message, /Too many namespaces/);
    await scrapeUntil((s) => value(s, "switchyard_refusals_total", limit) === value(before, "switchyard_refusals_total", limit) + 1, "the refusal");
  });

  it("answers /healthz and /readyz on the app's listener and on the metrics listener", T, async () => {
    const metricsBase = new URL(url).origin;
    for (const base of [server.url, metricsBase]) {
      const health = await httpGet(`${base}/healthz`);
      assert.equal(health.status, 200);
      const ready = await httpGet(`${base}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(ready.text, "ready\n");
    }
  });
});
