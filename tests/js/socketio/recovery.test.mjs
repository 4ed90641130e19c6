// Connection state recovery with socket.io-client 4 (its `_pid` / `_lastOffset` handling) against
// examples/test_server --recovery 1: a transport that blinks comes back as the same socket, with
// its rooms and data and every broadcast it missed, once and in order; otherwise a fresh socket.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ioV2 } from "../support/legacy_helpers.mjs";
import {
  closeSocket,
  connected,
  escapeRegExp as escape,
  eioWs,
  ioClient,
  runCleanups,
  startServer,
  toWsUrl,
  until,
} from "../support/helpers.mjs";

const T = { timeout: 60000 };
const cleanups = [];

after(() => runCleanups(cleanups));

async function server(args = []) {
  const srv = await startServer("test_server", ["--recovery", "1", ...args]);
  cleanups.push(() => srv.stop());
  return srv;
}

/** A socket.io-client 4 socket that records every "room-msg" it gets (its arguments). */
async function client(srv, nsp = "/", opts = {}) {
  const socket = ioClient(srv.url + nsp, opts);
  cleanups.push(() => closeSocket(socket));
  socket.got = [];
  socket.on("room-msg", (...args) => socket.got.push(args));
  await connected(socket);
  return socket;
}

const ack = (socket, event, ...args) => socket.timeout(10000).emitWithAck(event, ...args);

/** Broadcasts `data` from `from` to `rooms` on its namespace (the sender included). */
const emitTo = (from, rooms, data, extra = {}) => ack(from, "io-emit", { rooms, data, ...extra });

/** Waits until `socket` has `n` "room-msg" events. */
const received = (socket, n) => until(() => socket.got.length >= n, () => `${n} room-msg, got ${JSON.stringify(socket.got)}`);

/**
 * Cuts `socket`'s transport (the client then sees "transport close") and waits until the server
 * has the socket gone, so that what follows is missed for sure.
 */
async function cut(srv, socket) {
  const { id, nsp } = socket;
  socket.io.engine.close();
  await srv.waitForLine(new RegExp(`^disconnect ${escape(nsp)} ${escape(id)} `), 10000);
}

/** Reconnects a cut socket and waits for its "connect". */
async function reconnect(socket) {
  const back = connected(socket);
  socket.connect();
  await back;
}

/** The next Engine.IO message of a raw connection that is not a ping. */
async function nextMessage(eio) {
  for (;;) {
    const msg = await eio.next();
    if (msg !== "2") return msg;
  }
}

/** The data of each "room-msg", without the offset that recovery adds as last argument. */
const payloads = (socket) => socket.got.map((args) => args[0]);

for (const transports of [["websocket"], ["polling"]]) {
  describe(`recovery over ${transports[0]}`, () => {
    let srv;
    before(async () => {
      srv = await server();
    });

    it("comes back with the same id, rooms and data, and every missed broadcast once, in order", T, async () => {
      const a = await client(srv, "/", { transports });
      const producer = await client(srv);
      assert.deepEqual(await ack(a, "join", ["news"]), [a.id, "news"].sort());
      a.emit("set-data", { nick: "ann" });
      await emitTo(producer, ["news"], "before");
      await received(a, 1);
      // The offset is the last argument, a string.
      assert.equal(a.got[0].length, 2);
      assert.equal(typeof a.got[0][1], "string");
      const id = a.id;

      await cut(srv, a);
      for (const data of ["m1", "m2", "m3"]) await emitTo(producer, ["news"], data);
      await emitTo(producer, ["elsewhere"], "not for a");
      await reconnect(a);
      assert.equal(a.recovered, true);
      assert.equal(a.id, id);
      await srv.waitForLine(new RegExp(`^recovered / ${escape(id)}$`));
      await emitTo(producer, ["news"], "live");
      await received(a, 5);
      assert.deepEqual(payloads(a), ["before", "m1", "m2", "m3", "live"]);
      assert.deepEqual(await ack(a, "rooms"), [id, "news"].sort());
      assert.deepEqual(await ack(a, "get-data"), { nick: "ann" });
    });

    it("replays binary with its attachments, and never a volatile packet", T, async () => {
      const a = await client(srv, "/", { transports });
      const producer = await client(srv);
      await emitTo(producer, [], "first");
      await received(a, 1);
      await cut(srv, a);
      await emitTo(producer, [], Buffer.from([1, 2, 3]));
      await emitTo(producer, [], "gone", { volatile: true });
      await emitTo(producer, [], "kept");
      await reconnect(a);
      assert.equal(a.recovered, true);
      await received(a, 3);
      const [first, bin, kept] = payloads(a);
      assert.equal(first, "first");
      assert.deepEqual([...Buffer.from(bin)], [1, 2, 3]);
      assert.equal(kept, "kept");
      // A live broadcast after the replay: nothing else arrived in between.
      await emitTo(producer, [], "live");
      await received(a, 4);
      assert.deepEqual(payloads(a).slice(2), ["kept", "live"]);
    });
  });
}

describe("recovery refused", () => {
  it("starts afresh once the window has passed", T, async () => {
    const srv = await server(["--recovery-max-ms", "200"]);
    const a = await client(srv);
    const producer = await client(srv);
    await emitTo(producer, [], "seen");
    await received(a, 1);
    const id = a.id;
    await cut(srv, a);
    // The client stays away until the server has let its session expire: each broadcast (to a
    // room nobody is in) makes the server forget what is past the window, and counts it.
    await until(async () => {
      await emitTo(producer, ["nobody"], "tick");
      return (await ack(producer, "counters", {})).recovery.expired === 1;
    }, "the session to expire on the server");
    await reconnect(a);
    assert.equal(a.recovered, false);
    assert.notEqual(a.id, id);
    const counters = await ack(producer, "counters", {});
    assert.equal(counters.recovery.expired, 1);
    assert.equal(counters.recovery.recovered, 0);
  });

  it("starts afresh when packets after its offset are no longer kept (never a replay with a hole)", T, async () => {
    const srv = await server(["--recovery-max-packets", "5"]);
    const a = await client(srv);
    const producer = await client(srv);
    await emitTo(producer, [], "seen");
    await received(a, 1);
    const id = a.id;
    await cut(srv, a);
    for (let i = 0; i < 7; i++) await emitTo(producer, [], `m${i}`);
    await reconnect(a);
    assert.equal(a.recovered, false);
    assert.notEqual(a.id, id);
    assert.deepEqual(payloads(a), ["seen"]);
    const counters = await ack(producer, "counters", {});
    assert.equal(counters.recovery.offset_not_kept, 1);
  });

  it("starts afresh after a server namespace disconnect or a client disconnect", T, async () => {
    const srv = await server();
    const a = await client(srv);
    const producer = await client(srv);
    await emitTo(producer, [], "seen");
    await received(a, 1);
    const id = a.id;
    a.disconnect();
    await srv.waitForLine(new RegExp(`^disconnect / ${escape(id)} client namespace disconnect$`));
    await reconnect(a);
    assert.equal(a.recovered, false);
    assert.notEqual(a.id, id);
  });
});

describe("recovery and the connect middleware", () => {
  for (const skip of ["1", "0"]) {
    it(`${skip === "1" ? "skips" : "runs"} it with recovery_skip_middlewares = ${skip}`, T, async () => {
      const srv = await server(["--recovery-skip-middlewares", skip]);
      const a = await client(srv, "/private", { auth: { token: "secret" } });
      const producer = await client(srv, "/private", { auth: { token: "secret" } });
      await emitTo(producer, [], "seen");
      await received(a, 1);
      const id = a.id;
      await cut(srv, a);
      a.auth = { token: "wrong" };
      if (skip === "1") {
        await reconnect(a);
        assert.equal(a.recovered, true);
        assert.equal(a.id, id);
      } else {
        const refused = new Promise((resolve) => a.once("connect_error", resolve));
        a.connect();
        const err = await refused;
        assert.equal(err.message, "unauthorized");
      }
    });
  }
});

describe("recovery at its boundaries", () => {
  it("a broadcast made while the recovering socket is held in the middleware reaches it once, in order", T, async () => {
    const srv = await server(["--recovery-skip-middlewares", "0"]);
    const a = await client(srv, "/gated");
    const producer = await client(srv, "/gated");
    await ack(a, "join", ["r"]);
    await emitTo(producer, ["r"], "seen");
    await received(a, 1);
    await cut(srv, a);
    await emitTo(producer, ["r"], "missed");
    // The session is claimed, then the CONNECT waits in the middleware: a broadcast now comes
    // after the claim and before the socket is back in its rooms.
    a.auth = { hold: true };
    const back = connected(a);
    a.connect();
    await srv.waitForLine(/^held \/gated$/);
    await emitTo(producer, ["r"], "while held");
    await ack(producer, "open-gate", {});
    await back;
    assert.equal(a.recovered, true);
    await emitTo(producer, ["r"], "live");
    await received(a, 4);
    assert.deepEqual(payloads(a), ["seen", "missed", "while held", "live"]);
  });

  it("a client back before the server saw its old connection go recovers it (the old one is closed first)", T, async () => {
    const srv = await server();
    // Raw Engine.IO: the first connection stays open, as a dead network would leave it.
    const first = await eioWs(`${toWsUrl(srv.url)}/socket.io/`, { autoPong: true });
    cleanups.push(() => first.close());
    first.send("40");
    const answer = await nextMessage(first);
    const { sid, pid } = JSON.parse(answer.slice(2));
    assert.equal(typeof pid, "string");
    const producer = await client(srv);
    // The "auth" event test_server emits on connect, then the broadcast.
    assert.match(await nextMessage(first), /^42\["auth"/);
    await emitTo(producer, [], "seen");
    let msg = await nextMessage(first);
    const [, , offset] = JSON.parse(msg.slice(2));
    await emitTo(producer, [], "missed");
    const second = await eioWs(`${toWsUrl(srv.url)}/socket.io/`, { autoPong: true });
    cleanups.push(() => second.close());
    second.send(`40${JSON.stringify({ pid, offset })}`);
    msg = await nextMessage(second);
    assert.deepEqual(JSON.parse(msg.slice(2)), { sid, pid });
    msg = await nextMessage(second);
    assert.deepEqual(JSON.parse(msg.slice(2)).slice(0, 2), ["room-msg", "missed"]);
    await srv.waitForLine(new RegExp(`^disconnect / ${escape(sid)} transport close$`));
  });

  it("an Engine.IO v3 client (socket.io-client 2) gets no pid and no offset", T, async () => {
    const srv = await server();
    const old = ioV2(srv.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    cleanups.push(() => closeSocket(old));
    const got = [];
    old.on("room-msg", (...args) => got.push(args));
    await new Promise((resolve) => old.once("connect", resolve));
    const producer = await client(srv);
    await emitTo(producer, [], "plain");
    await until(() => got.length === 1, "room-msg on the v2 client");
    assert.deepEqual(got[0], ["plain"]);
  });
});
