// socket.io's admin UI protocol (@socket.io/admin-ui 0.5.1) on the switchyard binary with
// admin_ui on, as the UI speaks it: a plain socket.io-client 4 on /admin.
//  - basic auth: a wrong password gets connect_error "invalid credentials"; the right one gets a
//    `session` id, which logs in again without the password;
//  - on connect: `config` (supportedFeatures), `all_sockets` (the demo's sockets, serialized as
//    Node's serialize(socket, nsp)), `server_stats` (Node's fields) at once and on its period;
//  - the feed: socket_connected, room_joined, event_received / event_sent, socket_updated when a
//    polling client upgrades, socket_disconnected;
//  - the commands: emit, join, leave, _disconnect reach the demo's client;
//  - readonly + production: no commands, no per-socket feed, stats only.
// The UI page itself is served at admin_ui_path (checked here over HTTP; the browser test drives it).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { connected, httpGet, ioClient, startServer } from "../support/helpers.mjs";
import { waitFor } from "../support/cluster_helpers.mjs";
import { metricsUrl, scrape } from "../support/metrics_helpers.mjs";

const require = createRequire(import.meta.url);
const bcrypt = require("bcryptjs");
const T = { timeout: 60000 };
const PASSWORD = "s3cret-pass";

/** A socket.io-client socket that records every event it gets. */
function recorded(url, opts = {}) {
  const socket = ioClient(url, opts);
  socket.seen = [];
  socket.onAny((event, ...args) => socket.seen.push([event, ...args]));
  socket.got = (event) => socket.seen.filter(([e]) => e === event).map(([, ...args]) => args);
  return socket;
}

describe("the admin UI protocol", () => {
  let server;
  const sockets = [];
  const open = (path, opts) => {
    const s = recorded(server.url + path, opts);
    sockets.push(s);
    return s;
  };
  const admin = (auth = { username: "admin", password: PASSWORD }) => open("/admin", { auth });

  before(async () => {
    const hash = bcrypt.hashSync(PASSWORD, 4);
    server = await startServer("switchyard", [
      "--admin-ui", "true",
      "--admin-password-hash", hash,
      "--admin-server-id", "node-one",
      "--host", "127.0.0.1",
    ]);
  });
  after(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it("refuses a wrong password and lets the right one in with a session id", T, async () => {
    const wrong = admin({ username: "admin", password: "nope" });
    const err = await connected(wrong).then(() => null, (e) => e);
    assert.equal(err?.message, "connect_error: invalid credentials");
    const right = await connected(admin());
    await waitFor(() => right.got("session").length === 1, "a session id");
    const [[sessionId]] = right.got("session");
    assert.match(sessionId, /^[0-9a-f]{16}$/);
    const again = await connected(admin({ sessionId }));
    await waitFor(() => again.got("config").length === 1, "config with the session id");
    assert.equal(again.got("session").length, 0, "no new session when logged in with one");
  });

  it("tells the UI its features, every socket and the server's stats", T, async () => {
    const user = await connected(open("/", { query: { who: "ada" } }));
    // Settled on its transport (polling, then the upgrade) before the UI's snapshot is taken.
    await waitFor(() => user.io.engine.transport.name === "websocket", "the user's upgrade");
    const ui = await connected(admin());
    await waitFor(() => ui.got("config").length && ui.got("all_sockets").length && ui.got("server_stats").length, "config, all_sockets, server_stats");
    const [[config]] = ui.got("config");
    assert.deepEqual(config.supportedFeatures, ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"]);
    const [[all]] = ui.got("all_sockets");
    const mine = all.find((s) => s.id === user.id);
    assert.ok(mine, "the demo's socket is listed");
    assert.equal(mine.nsp, "/");
    assert.equal(mine.clientId, user.io.engine.id.slice(0, 12));
    assert.equal(mine.transport, "websocket");
    assert.deepEqual(mine.rooms, [user.id]);
    assert.deepEqual(Object.keys(mine.handshake).sort(), ["address", "headers", "issued", "query", "secure", "time", "url", "xdomain"]);
    assert.equal(mine.handshake.query.who, "ada");
    assert.equal(mine.handshake.address, "127.0.0.1");
    assert.ok(all.some((s) => s.nsp === "/admin" && s.id === ui.id), "the admin's own socket is listed too");
    const [[stats]] = ui.got("server_stats");
    assert.equal(stats.serverId, "node-one");
    for (const key of ["hostname", "pid", "uptime", "clientsCount", "pollingClientsCount", "aggregatedEvents", "namespaces"]) {
      assert.ok(key in stats, `server_stats.${key}`);
    }
    assert.ok(stats.clientsCount >= 2);
    const main = stats.namespaces.find((n) => n.name === "/");
    assert.ok(main.socketsCount >= 1);
    assert.ok(stats.namespaces.some((n) => n.name === "/admin"));
    // Then again on its period (2 s), with the traffic since the last one for the dashboard's
    // charts: the UI's own packets at least.
    await waitFor(() => ui.got("server_stats").length >= 2, "a second server_stats");
    const traffic = (kind) =>
      ui.got("server_stats").flatMap(([s]) => s.aggregatedEvents).filter((e) => e.type === kind);
    for (const kind of ["packetsIn", "packetsOut", "bytesIn", "bytesOut"]) {
      assert.ok(traffic(kind).some((e) => e.count > 0 && e.timestamp % 1000 === 0), `${kind} counted`);
    }
    user.disconnect();
  });

  it("feeds the UI sockets, rooms, events and upgrades as they happen, and runs its commands", T, async () => {
    const ui = await connected(admin());
    await waitFor(() => ui.got("all_sockets").length, "all_sockets");
    const user = await connected(open("/", { transports: ["polling", "websocket"] }));
    await waitFor(() => ui.got("socket_connected").some(([s]) => s.id === user.id), "socket_connected");
    const [[shown, date]] = ui.got("socket_connected").filter(([s]) => s.id === user.id);
    assert.equal(shown.nsp, "/");
    assert.equal(shown.transport, "polling");
    assert.ok(!Number.isNaN(Date.parse(date)), date);
    await waitFor(() => ui.got("room_joined").some(([nsp, room, id]) => nsp === "/" && room === user.id && id === user.id), "room_joined (own room)");
    // The polling client upgrades: the UI hears it.
    await waitFor(() => ui.got("socket_updated").some(([u]) => u.id === user.id && u.transport === "websocket"), "socket_updated websocket");
    user.emit("hello", { n: 1 });
    await waitFor(() => ui.got("event_received").some(([nsp, id, args]) => nsp === "/" && id === user.id && args[0] === "hello" && args[1].n === 1), "event_received");
    // Commands: emit to everyone in "/", join a room, emit to it, leave it, disconnect the socket.
    ui.emit("emit", "/", "", "announce", "to all");
    await waitFor(() => user.got("announce").some(([m]) => m === "to all"), "the UI's emit");
    await waitFor(() => ui.got("event_sent").some(([, id, args]) => id === user.id && args[0] === "announce"), "event_sent");
    ui.emit("join", "/", "vip", user.id);
    await waitFor(() => ui.got("room_joined").some(([, room, id]) => room === "vip" && id === user.id), "room_joined vip");
    ui.emit("emit", "/", "vip", "vip-only", 1);
    await waitFor(() => user.got("vip-only").length === 1, "emit to the room");
    ui.emit("leave", "/", "vip", user.id);
    await waitFor(() => ui.got("room_left").some(([, room, id]) => room === "vip" && id === user.id), "room_left vip");
    const userId = user.id;
    const reason = new Promise((resolve) => user.once("disconnect", resolve));
    ui.emit("_disconnect", "/", false, user.id);
    assert.equal(await reason, "io server disconnect");
    // socket.io-client forgets its id once disconnected.
    await waitFor(() => ui.got("socket_disconnected").some(([nsp, id, why]) => nsp === "/" && id === userId && why === "server namespace disconnect"), "socket_disconnected");
  });

  it("serves the UI's page and files at admin_ui_path", T, async () => {
    const page = await httpGet(`${server.url}/admin-ui/`);
    assert.equal(page.status, 200);
    assert.match(page.text, /Socket\.IO Admin UI/);
    const script = page.text.match(/src="(js\/app\.[0-9a-f]+\.js)"/)[1];
    const js = await httpGet(`${server.url}/admin-ui/${script}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type"), /javascript/);
  });
});

describe("the admin UI protocol, read-only in production mode without auth", () => {
  let server;
  const sockets = [];
  before(async () => {
    server = await startServer("switchyard", [
      "--admin-ui", "true", "--admin-auth", "false", "--admin-readonly", "true",
      "--admin-mode", "production", "--admin-namespace", "/ops", "--host", "127.0.0.1",
      "--metrics", "true", "--metrics-addr", "127.0.0.1:0",
    ]);
  });
  after(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it("only tells stats, and ignores commands", T, async () => {
    const ui = recorded(`${server.url}/ops`);
    sockets.push(ui);
    await connected(ui);
    await waitFor(() => ui.got("config").length && ui.got("server_stats").length, "config and server_stats");
    assert.deepEqual(ui.got("config")[0][0].supportedFeatures, ["AGGREGATED_EVENTS"]);
    const user = recorded(server.url);
    sockets.push(user);
    await connected(user);
    ui.emit("_disconnect", "/", false, user.id);
    user.emit("hello");
    // A round trip on the user's socket after the command: had it run, the socket would be gone.
    await waitFor(() => ui.got("server_stats").length >= 2, "a second server_stats");
    assert.ok(user.connected, "a read-only UI cannot disconnect anyone");
    for (const event of ["all_sockets", "socket_connected", "event_received", "room_joined"]) {
      assert.equal(ui.got(event).length, 0, `no ${event} in production mode`);
    }
  });

  it("shows what the admin UI dropped or forgot in the metrics", T, async () => {
    const scraped = await scrape(await metricsUrl(server));
    assert.equal(scraped.types.get("switchyard_admin_dropped_total"), "counter");
    assert.equal(scraped.types.get("switchyard_admin_sessions_evicted_total"), "counter");
    const admin = scraped.samples.filter((s) => s.name.startsWith("switchyard_admin_"));
    assert.deepEqual(
      admin.map((s) => [s.name, s.labels.what, s.value]),
      [
        ["switchyard_admin_dropped_total", "outbox", 0],
        ["switchyard_admin_dropped_total", "events", 0],
        ["switchyard_admin_sessions_evicted_total", undefined, 0],
      ],
    );
  });
});

describe("the admin UI protocol on examples/test_server (--admin 1)", () => {
  let server;
  const sockets = [];
  const open = (path) => {
    const s = recorded(server.url + path);
    sockets.push(s);
    return s;
  };
  before(async () => {
    server = await startServer("test_server", ["--admin", "1"]);
  });
  after(async () => {
    for (const s of sockets) s.disconnect();
    await server?.stop();
  });

  it("hears socket.data changes and dynamic namespaces", T, async () => {
    const ui = await connected(open("/admin"));
    await waitFor(() => ui.got("all_sockets").length, "all_sockets");
    const user = await connected(open("/"));
    user.emit("set-data", { nick: "ada" });
    await waitFor(() => ui.got("socket_updated").some(([u]) => u.id === user.id && u.data?.nick === "ada"), "socket_updated with the data");
    // A namespace created when its first client comes is watched too.
    const dyn = await connected(open("/dyn-7"));
    await waitFor(() => ui.got("socket_connected").some(([s]) => s.id === dyn.id && s.nsp === "/dyn-7"), "socket_connected in /dyn-7");
    await waitFor(() => ui.got("server_stats").some(([s]) => s.namespaces.some((n) => n.name === "/dyn-7" && n.socketsCount === 1)), "server_stats lists /dyn-7");
  });

  it("misses none of a burst of connections", T, async () => {
    const ui = await connected(open("/admin"));
    await waitFor(() => ui.got("all_sockets").length, "all_sockets");
    const burst = Array.from({ length: 60 }, () => open("/"));
    await Promise.all(burst.map((s) => connected(s)));
    const ids = new Set(burst.map((s) => s.id));
    await waitFor(() => ui.got("socket_connected").filter(([s]) => ids.has(s.id)).length === ids.size, "socket_connected for each");
  });
});
