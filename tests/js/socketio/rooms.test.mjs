// Rooms and broadcasting against examples/test_server, as users see them: join/leave, targeted
// and namespace-wide broadcasts (rooms, except, private messages), broadcasts with acks, bulk
// operations (fetch / sockets-join / sockets-leave / disconnect-sockets), no leak of sockets or
// rooms after many connect/disconnect cycles, volatile drops for a client that is not reading, and
// a slow consumer being cut off while the others keep receiving.
//
// Every test starts its own server (fresh rooms and counters) and cleans up what it opened.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  closeSocket,
  connected,
  disconnected,
  eioHandshake,
  escapeRegExp as escapeRe,
  httpGet,
  httpPost,
  ioClient,
  openWs,
  pollUrl,
  runCleanups,
  sleep,
  splitPayload,
  startServer,
  toWsUrl,
  until,
} from "../support/helpers.mjs";

const T = { timeout: 60000 };
const ACK_MS = 15000;
// How long to wait to be sure that no (extra) copy of a message is still on its way.
const QUIET_MS = 500;

/**
 * Runs `fn({srv, client, defer})` against a fresh test_server; everything registered with
 * `defer` (and every client made with `client`) is cleaned up, then the server is stopped.
 */
function withServer(fn, args = []) {
  return async () => {
    const srv = await startServer("test_server", args);
    const cleanups = [];
    const defer = (f) => cleanups.push(f);
    const client = (opts = {}) => connectClient(srv, defer, opts);
    try {
      await fn({ srv, client, defer });
    } finally {
      await runCleanups(cleanups);
      await srv.stop();
    }
  };
}

/** A connected socket.io-client socket on "/" that records every `room-msg` it receives. */
async function connectClient(srv, defer, opts = {}) {
  const socket = ioClient(srv.url, opts);
  defer(() => closeSocket(socket));
  socket.roomMsgs = [];
  socket.on("room-msg", (...args) => socket.roomMsgs.push(args));
  socket.disconnectReasons = [];
  socket.on("disconnect", (reason) => socket.disconnectReasons.push(reason));
  await connected(socket);
  return socket;
}

/** Emit with an ack and resolve with the (single) answer argument. */
function call(socket, event, ...args) {
  return socket.timeout(ACK_MS).emitWithAck(event, ...args);
}

const sorted = (list) => [...list].sort();

/** Each expected socket got exactly one `room-msg` with `data`; every other socket got none. */
async function expectDelivery(all, receivers, data) {
  for (const s of receivers) {
    await until(
      () => s.roomMsgs.length >= 1,
      () => `socket ${s.id} to receive room-msg ${JSON.stringify(data)}`,
      10000,
      20,
    );
  }
  await sleep(QUIET_MS);
  for (const s of all) {
    const expected = receivers.includes(s) ? [[data]] : [];
    assert.deepEqual(
      s.roomMsgs,
      expected,
      `room-msg copies received by socket ${s.id} (${s.label ?? "?"}) for ${JSON.stringify(data)}`,
    );
  }
}

function resetMsgs(all) {
  for (const s of all) s.roomMsgs.length = 0;
}

function label(sockets) {
  for (const [name, s] of Object.entries(sockets)) s.label = name;
  return Object.values(sockets);
}

// ---------------------------------------------------------------------------------------------

describe("rooms and broadcasting", () => {
  it(
    "1. join/leave are reflected in the socket's rooms and in room-summary",
    T,
    withServer(async ({ client }) => {
      const a = await client();
      const b = await client();

      assert.deepEqual(await call(a, "rooms"), [a.id]);
      assert.deepEqual(await call(a, "join", "r1"), sorted([a.id, "r1"]));
      assert.deepEqual(await call(a, "join", ["r2", "r3"]), sorted([a.id, "r1", "r2", "r3"]));
      // joining twice changes nothing
      assert.deepEqual(await call(a, "join", "r1"), sorted([a.id, "r1", "r2", "r3"]));
      assert.deepEqual(await call(b, "join", ["r2"]), sorted([b.id, "r2"]));

      assert.deepEqual(await call(a, "rooms"), sorted([a.id, "r1", "r2", "r3"]));
      assert.deepEqual(await call(b, "rooms"), sorted([b.id, "r2"]));

      const summary1 = await call(b, "room-summary");
      assert.deepEqual(summary1, {
        rooms: sortedSummary([
          ["r1", 1],
          ["r2", 2],
          ["r3", 1],
        ]),
        sockets: 2,
      });

      assert.deepEqual(await call(a, "leave", "r2"), sorted([a.id, "r1", "r3"]));
      // leaving a room the socket is not in changes nothing
      assert.deepEqual(await call(a, "leave", "nope"), sorted([a.id, "r1", "r3"]));
      assert.deepEqual(await call(a, "leave", ["r1", "r3"]), [a.id]);
      assert.deepEqual(await call(a, "rooms"), [a.id]);
      assert.deepEqual(await call(b, "rooms"), sorted([b.id, "r2"]));

      // rooms left empty are gone from the summary
      const summary2 = await call(a, "room-summary");
      assert.deepEqual(summary2, {
        rooms: sortedSummary([
          ["r2", 1],
        ]),
        sockets: 2,
      });

      // a socket that disconnects leaves all its rooms
      const bGone = disconnected(b);
      b.disconnect();
      await bGone;
      let summary3;
      const deadline = Date.now() + 5000;
      for (;;) {
        summary3 = await call(a, "room-summary");
        if (summary3.sockets === 1 || Date.now() > deadline) break;
        await sleep(50);
      }
      // a socket's own-id room is not listed as a room: `sockets` counts them
      assert.deepEqual(summary3, { rooms: [], sockets: 1 });
    }),
  );

  it(
    "2. to() several rooms: one copy for a socket in two of them, none for the others",
    T,
    withServer(async ({ client }) => {
      const sender = await client();
      const both = await client();
      const onlyR1 = await client();
      const onlyR3 = await client();
      const none = await client();
      const all = label({ sender, both, onlyR1, onlyR3, none });

      await call(sender, "join", "r1"); // the sender is left out even when in a target room
      await call(both, "join", ["r1", "r2"]);
      await call(onlyR1, "join", "r1");
      await call(onlyR3, "join", "r3");

      const count = await call(sender, "to", { rooms: ["r1", "r2"], data: "hello r1+r2" });
      assert.equal(count, 2, "targeted sockets: both and onlyR1");
      await expectDelivery(all, [both, onlyR1], "hello r1+r2");

      resetMsgs(all);
      const count2 = await call(sender, "to", { rooms: ["r2", "r3"], data: { n: 2 } });
      assert.equal(count2, 2, "targeted sockets: both and onlyR3");
      await expectDelivery(all, [both, onlyR3], { n: 2 });

      resetMsgs(all);
      const count3 = await call(sender, "to", { rooms: ["empty-room"], data: "nobody" });
      assert.equal(count3, 0);
      await expectDelivery(all, [], "nobody");
    }),
  );

  it(
    "3. except rooms are left out; broadcast leaves out only the sender; io-emit includes it",
    T,
    withServer(async ({ client }) => {
      const sender = await client();
      const r1 = await client();
      const r1x = await client();
      const x = await client();
      const all = label({ sender, r1, r1x, x });

      await call(r1, "join", "r1");
      await call(r1x, "join", ["r1", "x"]);
      await call(x, "join", "x");

      // to r1 except x
      assert.equal(await call(sender, "to", { rooms: ["r1"], except: ["x"], data: "r1 not x" }), 1);
      await expectDelivery(all, [r1], "r1 not x");

      // broadcast to everybody but the sender
      resetMsgs(all);
      assert.equal(await call(sender, "to", { data: "broadcast" }), 3);
      await expectDelivery(all, [r1, r1x, x], "broadcast");

      // broadcast except x
      resetMsgs(all);
      assert.equal(await call(sender, "to", { except: "x", data: "broadcast not x" }), 1);
      await expectDelivery(all, [r1], "broadcast not x");

      // except the sender's own room changes nothing for it (it is out anyway)
      resetMsgs(all);
      assert.equal(await call(r1x, "to", { except: ["r1"], data: "from r1x" }), 2);
      await expectDelivery(all, [sender, x], "from r1x");

      // namespace-wide: the sender is included
      resetMsgs(all);
      assert.equal(await call(sender, "io-emit", { data: "everyone" }), 4);
      await expectDelivery(all, [sender, r1, r1x, x], "everyone");

      // namespace-wide, narrowed: rooms + except, the sender included when selected
      resetMsgs(all);
      await call(sender, "join", "r1");
      assert.equal(await call(sender, "io-emit", { rooms: ["r1"], except: ["x"], data: "io r1 not x" }), 2);
      await expectDelivery(all, [sender, r1], "io r1 not x");

      resetMsgs(all);
      assert.equal(await call(sender, "io-emit", { except: ["r1"], data: "io not r1" }), 1);
      await expectDelivery(all, [x], "io not r1");
    }),
  );

  it(
    "4. a private message (to the socket's id) reaches only that socket",
    T,
    withServer(async ({ client }) => {
      const sender = await client();
      const target = await client();
      const other1 = await client();
      const other2 = await client();
      const all = label({ sender, target, other1, other2 });
      await call(other1, "join", "r1");

      assert.equal(await call(sender, "to", { rooms: [target.id], data: "psst" }), 1);
      await expectDelivery(all, [target], "psst");

      // the answer goes back the same way
      resetMsgs(all);
      assert.equal(await call(target, "to", { rooms: sender.id, data: "got it" }), 1);
      await expectDelivery(all, [sender], "got it");

      // to one's own id through socket.to(): the sender is always left out
      resetMsgs(all);
      assert.equal(await call(sender, "to", { rooms: [sender.id], data: "self" }), 0);
      await expectDelivery(all, [], "self");

      // an id that is not connected (any more) reaches nobody
      const goneId = other2.id;
      const gone = disconnected(other2);
      other2.disconnect();
      await gone;
      // wait (bounded) until the registry has let the socket go: fetching its id finds nobody
      const deadline = Date.now() + 10000;
      while ((await call(sender, "fetch", { rooms: [goneId] })).length > 0) {
        assert.ok(Date.now() < deadline, `${goneId} still in the registry`);
        await sleep(20);
      }
      resetMsgs(all);
      assert.equal(await call(sender, "to", { rooms: [goneId], data: "ghost" }), 0);
      await expectDelivery(all, [], "ghost");
    }),
  );

  it(
    "5. broadcast with ack: timeout error with expected/missing, all answers, no timeout",
    T,
    withServer(async ({ client }) => {
      const sender = await client();
      const b = await client();
      const c = await client();
      const silent = await client();

      const polls = { sender: [], b: [], c: [], silent: [] };
      b.on("poll", (q, cb) => {
        polls.b.push(q);
        cb("yes-b");
      });
      c.on("poll", (q, cb) => {
        polls.c.push(q);
        cb("yes-c");
      });
      // `silent` sees the question but never answers
      silent.on("poll", (q) => {
        polls.silent.push(q);
      });
      sender.on("poll", (q) => polls.sender.push(q)); // must never happen: the sender is left out

      const t0 = await call(sender, "broadcast-ack", { timeout: 1000 });
      assert.equal(typeof t0.error, "string", `expected an error, got ${JSON.stringify(t0)}`);
      assert.equal(t0.expected, 3, JSON.stringify(t0));
      assert.equal(t0.missing, 1, JSON.stringify(t0));
      assert.deepEqual(polls, { sender: [], b: ["vote?"], c: ["vote?"], silent: ["vote?"] });

      // now everybody answers
      silent.removeAllListeners("poll");
      silent.on("poll", (q, cb) => {
        polls.silent.push(q);
        cb("yes-silent");
      });
      const ok = await call(sender, "broadcast-ack", { timeout: 5000 });
      assert.ok(Array.isArray(ok.ok), `expected {ok: [...]}, got ${JSON.stringify(ok)}`);
      assert.deepEqual(
        sorted(ok.ok.map((args) => JSON.stringify(args))),
        sorted([["yes-b"], ["yes-c"], ["yes-silent"]].map((a) => JSON.stringify(a))),
      );

      // narrowed by rooms: only the room's members are asked
      await call(b, "join", "voters");
      await call(c, "join", "voters");
      const narrowed = await call(sender, "broadcast-ack", { rooms: ["voters"], except: [c.id], timeout: 5000 });
      assert.deepEqual(narrowed, { ok: [["yes-b"]] });

      // no timeout: refused with the error message
      assert.deepEqual(polls.sender, [], "the sender is never polled");
      const before = { b: polls.b.length, c: polls.c.length, silent: polls.silent.length };
      const noTimeout = await call(sender, "broadcast-ack", {});
      assert.deepEqual(noTimeout, { error: "an ack on a broadcast needs a timeout: call .timeout(d) first" });
      await sleep(QUIET_MS);
      assert.deepEqual(
        { b: polls.b.length, c: polls.c.length, silent: polls.silent.length },
        before,
        "nothing is sent for a broadcast with ack but no timeout",
      );
    }),
  );

  it(
    "6. fetch with data, sockets-join / sockets-leave, disconnect-sockets",
    T,
    withServer(async ({ client }) => {
      const caller = await client();
      const b = await client();
      const c = await client();
      const d = await client();

      b.emit("set-data", { name: "b", n: 1 });
      c.emit("set-data", { name: "c", tags: ["x", "y"] });
      assert.deepEqual(await call(b, "get-data"), { name: "b", n: 1 });
      assert.deepEqual(await call(c, "get-data"), { name: "c", tags: ["x", "y"] });
      await call(b, "join", "team");
      await call(c, "join", "team");
      await call(d, "join", "other");

      // fetch by room: the members with their data and rooms, sorted by id
      const expectedTeam = [
        { id: b.id, data: { name: "b", n: 1 }, rooms: sorted([b.id, "team"]) },
        { id: c.id, data: { name: "c", tags: ["x", "y"] }, rooms: sorted([c.id, "team"]) },
      ].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      assert.deepEqual(await call(caller, "fetch", { rooms: ["team"] }), expectedTeam);
      assert.deepEqual(await call(caller, "fetch", { rooms: ["team"], except: [c.id] }), [
        { id: b.id, data: { name: "b", n: 1 }, rooms: sorted([b.id, "team"]) },
      ]);
      // everybody: sockets without data have socket.io's initial data, {}
      const everyone = await call(caller, "fetch", {});
      assert.deepEqual(
        everyone.map((s) => s.id),
        sorted([caller.id, b.id, c.id, d.id]),
      );
      for (const s of everyone) {
        if (s.id === caller.id || s.id === d.id) assert.deepEqual(s.data, {}, JSON.stringify(s));
      }

      // sockets-join: the team joins "vip" (the caller is not in the team: its rooms do not change)
      assert.deepEqual(await call(caller, "sockets-join", { rooms: ["team"], join: ["vip", "vip2"] }), [caller.id]);
      assert.deepEqual(await call(b, "rooms"), sorted([b.id, "team", "vip", "vip2"]));
      assert.deepEqual(await call(c, "rooms"), sorted([c.id, "team", "vip", "vip2"]));
      assert.deepEqual(await call(d, "rooms"), sorted([d.id, "other"]));

      // sockets-join on the caller's own id changes the caller's rooms
      assert.deepEqual(
        await call(caller, "sockets-join", { rooms: [caller.id], join: ["vip"] }),
        sorted([caller.id, "vip"]),
      );

      // sockets-leave: the vips except c leave "team" and "vip2"
      assert.deepEqual(
        await call(caller, "sockets-leave", { rooms: ["vip"], except: [c.id], leave: ["team", "vip2"] }),
        [caller.id, "vip"].sort(),
      );
      assert.deepEqual(await call(b, "rooms"), sorted([b.id, "vip"]));
      assert.deepEqual(await call(c, "rooms"), sorted([c.id, "team", "vip", "vip2"]));
      assert.deepEqual(await call(d, "rooms"), sorted([d.id, "other"]));

      // disconnect-sockets: the team (c only now) and d are disconnected; caller and b stay
      const cReason = disconnected(c);
      const dReason = disconnected(d);
      assert.equal(await call(caller, "disconnect-sockets", { rooms: ["team", "other"] }), true);
      assert.equal(await cReason, "io server disconnect");
      assert.equal(await dReason, "io server disconnect");
      await sleep(QUIET_MS);
      assert.ok(caller.connected, "the caller stays connected");
      assert.ok(b.connected, "b stays connected");
      assert.deepEqual(caller.disconnectReasons, []);
      assert.deepEqual(b.disconnectReasons, []);
      assert.deepEqual(await call(b, "rooms"), sorted([b.id, "vip"]));

      // disconnect-sockets with except: everybody but the caller's room
      const bReason = disconnected(b);
      assert.equal(await call(caller, "disconnect-sockets", { except: [caller.id] }), true);
      // disconnect_sockets resolves once the sockets have left their rooms: no waiting needed
      assert.deepEqual(await call(caller, "room-summary"), { rooms: [["vip", 1]], sockets: 1 });
      assert.equal(await bReason, "io server disconnect");
      await sleep(QUIET_MS);
      assert.ok(caller.connected);
      assert.deepEqual(caller.disconnectReasons, []);
      const summary = await call(caller, "room-summary");
      assert.deepEqual(summary, {
        rooms: [["vip", 1]],
        sockets: 1,
      });
    }),
  );

  it(
    "7. no leak: 1,000 connect/join/disconnect cycles leave no socket and no room behind",
    { timeout: 240000 },
    withServer(async ({ srv, client }) => {
      const CYCLES = 1000;
      const LOOP_BUDGET_MS = 120000;
      const started = Date.now();
      let done = 0;
      while (done < CYCLES && Date.now() - started < LOOP_BUDGET_MS) {
        const s = ioClient(srv.url, { transports: ["websocket"] });
        try {
          await connected(s);
          const rooms = await call(s, "join", "leak");
          assert.deepEqual(rooms, sorted([s.id, "leak"]), `cycle ${done}`);
        } finally {
          closeSocket(s);
        }
        done++;
      }
      if (done < CYCLES) {
        console.log(`# leak loop stopped after ${done} cycles (${LOOP_BUDGET_MS} ms budget)`);
      }
      assert.ok(done > 0, "at least one cycle ran");

      const checker = await client({ transports: ["websocket"] });
      const want = { rooms: [], sockets: 1 };
      let summary;
      const deadline = Date.now() + 5000;
      for (;;) {
        summary = await call(checker, "room-summary");
        if (JSON.stringify(summary) === JSON.stringify(want) || Date.now() > deadline) break;
        await sleep(100);
      }
      assert.deepEqual(
        summary.rooms.length > 20 ? { ...summary, rooms: `${summary.rooms.length} rooms` } : summary,
        want,
        `after ${done} cycles`,
      );
    }),
  );

  it(
    "8. volatile packets are dropped (and counted) for a polling client that is not reading",
    T,
    withServer(async ({ srv, client, defer }) => {
      const emitter = await client({ transports: ["websocket"] });

      // a raw polling session that connects to "/" and then stops polling
      const base = `${srv.url}/socket.io/`;
      const { sid } = await eioHandshake(base);
      const url = pollUrl(base, sid);
      let posting = Promise.resolve();
      const post = (body) => {
        // one POST at a time per session
        const p = posting.then(() => httpPost(url, body));
        posting = p.catch(() => {});
        return p;
      };
      defer(() => post("1"));
      assert.equal((await post("40")).status, 200);

      let socketId = null;
      for (let i = 0; i < 20 && socketId === null; i++) {
        const res = await httpGet(url);
        assert.equal(res.status, 200, `poll: ${res.text}`);
        for (const p of splitPayload(res.text)) {
          if (p === "2") await post("3");
          else if (p.startsWith("40{")) socketId = JSON.parse(p.slice(2)).sid;
          else if (p.startsWith("44")) assert.fail(`connect refused: ${p}`);
        }
      }
      assert.ok(socketId, "got the Socket.IO CONNECT answer");
      await srv.waitForLine(new RegExp(`^connect / ${escapeRe(socketId)}$`));

      // From now on no GET is pending. Keep the heartbeat alive with pongs only (sequential
      // POSTs, no GET), so the session stays open without reading anything.
      let keepAlive = true;
      const keeper = (async () => {
        while (keepAlive) {
          const res = await post("3");
          if (res.status !== 200) throw new Error(`pong POST failed: ${res.status} ${res.text}`);
          await sleep(100);
        }
      })();
      keeper.catch(() => {});

      const before = await call(emitter, "counters");
      assert.equal(await call(emitter, "burst", { count: 20, size: 10, volatile: true }), 20);
      // The burst is acked once the registry has handed every packet to the sessions'
      // mailboxes; the poller's session counts its drops as it works through them.
      let after = await call(emitter, "counters");
      for (let i = 0; i < 50 && after.engine.volatile_dropped - before.engine.volatile_dropped < 20; i++) {
        await sleep(100);
        after = await call(emitter, "counters");
      }
      keepAlive = false;
      await keeper;

      assert.ok(
        after.engine.volatile_dropped - before.engine.volatile_dropped >= 20,
        `engine.volatile_dropped must grow by >= 20: before ${JSON.stringify(before)} after ${JSON.stringify(after)}`,
      );

      // the session is alive, and what it reads now holds no burst packet
      const got = [];
      const res = await httpGet(url);
      assert.equal(res.status, 200, `poll after the burst: ${res.status} ${res.text}`);
      for (const p of splitPayload(res.text)) {
        if (p === "2") await post("3");
        got.push(p);
      }
      assert.ok(!got.includes("1"), `the session must still be open, got ${JSON.stringify(got)}`);
      const bursts = got.filter((p) => p.startsWith("42") && p.includes('"burst"'));
      assert.deepEqual(bursts, [], `volatile burst packets must have been dropped, got ${JSON.stringify(got)}`);

      // a non-volatile packet is kept for it and read by the next GET
      assert.equal(await call(emitter, "to", { rooms: [socketId], data: "kept" }), 1);
      const later = [];
      for (let i = 0; i < 20 && !later.some((p) => p.startsWith("42")); i++) {
        const r = await httpGet(url);
        assert.equal(r.status, 200, `poll: ${r.text}`);
        for (const p of splitPayload(r.text)) {
          if (p === "2") await post("3");
          else later.push(p);
        }
      }
      assert.deepEqual(later, ['42["room-msg","kept"]']);
    }),
  );

  it(
    "9. a slow consumer is cut off while the other clients keep receiving",
    { timeout: 120000 },
    withServer(async ({ srv, client, defer }) => {
      // ~50 MB: more than the loopback socket buffers of a paused reader can
      // absorb (up to ~36 MB here), so the excess really waits in the server.
      const COUNT = 1000;
      const SIZE = 50000;
      const normal = await client({ transports: ["websocket"] });
      const received = [];
      normal.on("burst", (...args) => {
        const v = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
        received.push(v);
      });

      // the slow client: a raw WebSocket that connects to "/", answers pings for a while, then
      // stops reading
      const slow = openWs(`${toWsUrl(srv.url)}/socket.io/?EIO=4&transport=websocket`);
      defer(() => slow.close());
      await slow.opened;
      const open = await slow.next(10000);
      assert.ok(typeof open === "string" && open.startsWith("0{"), `open packet, got ${JSON.stringify(open)}`);
      slow.send("40");
      let slowId = null;
      for (let i = 0; i < 10 && slowId === null; i++) {
        const msg = await slow.nextData(10000); // answers pings
        if (typeof msg === "string" && msg.startsWith("40{")) slowId = JSON.parse(msg.slice(2)).sid;
      }
      assert.ok(slowId, "slow client got its CONNECT answer");
      await srv.waitForLine(new RegExp(`^connect / ${escapeRe(slowId)}$`));
      // answer one ping, then stop reading right after the pong: with this server's slow
      // heartbeat (2 s interval, 20 s timeout) the bound, not a ping timeout, must cut it off
      for (;;) {
        const msg = await slow.next(10000);
        if (msg === "2") {
          slow.send("3");
          break;
        }
      }
      slow.ws._socket.pause();

      const before = await call(normal, "counters");
      // paced (2 ms between emits, ~25 MB/s) so that a client that does read keeps up
      const acked = normal.timeout(90000).emitWithAck("burst", { count: COUNT, size: SIZE, pause_ms: 2 });
      acked.catch(() => {}); // awaited below; do not let an early failure leave it unhandled

      // the slow client is disconnected by the server (its socket closes, or the server says so)
      const disconnectRe = new RegExp(`^disconnect / ${escapeRe(slowId)} `);
      const outcome = await Promise.race([
        srv.waitForLine(disconnectRe, 30000).then((line) => ({ line })),
        slow.closed.then((info) => ({ closed: info })),
      ]).catch((err) => ({ err }));

      // the normal client (a target of the namespace-wide burst too) gets every burst, once, in
      // order, and stays connected
      assert.equal(await acked, COUNT);
      await until(
        () => received.length >= COUNT,
        () => `all ${COUNT} bursts on the normal client (got ${received.length})`,
        60000,
        20,
      );
      await sleep(QUIET_MS);
      assert.equal(received.length, COUNT, "exactly one copy of each burst");
      const xs = "x".repeat(SIZE);
      for (let i = 0; i < COUNT; i++) {
        assert.deepEqual(received[i], [i, xs], `burst #${i} in order`);
      }
      assert.ok(normal.connected, "the normal client stays connected");
      assert.deepEqual(normal.disconnectReasons, []);

      const after = await call(normal, "counters");
      const counters = `counters before ${JSON.stringify(before)} after ${JSON.stringify(after)}`;
      if (outcome.err) {
        assert.fail(`the slow client was not disconnected: ${outcome.err.message.split("\n")[0]}; ${counters}`);
      }
      if (outcome.line !== undefined) {
        assert.equal(
          outcome.line,
          `disconnect / ${slowId} transport error`,
          `the slow client must be cut off for going over its outgoing bound (transport error); ${counters}`,
        );
      }
      assert.ok(
        after.engine.overflow_closed - before.engine.overflow_closed >= 1 ||
          after.slow_consumers - before.slow_consumers >= 1,
        `overflow_closed or slow_consumers must grow; ${counters}`,
      );

      // the server forgot the slow socket
      const summary = await call(normal, "room-summary");
      assert.deepEqual(summary, { rooms: [], sockets: 1 });
    }, ["--ping-interval", "2000", "--ping-timeout", "20000"]),
  );

  it(
    "10. volatile packets for a WebSocket client that is not reading are dropped and counted; it stays connected",
    { timeout: 120000 },
    withServer(async ({ srv, client, defer }) => {
      const emitter = await client({ transports: ["websocket"] });
      const slow = openWs(`${toWsUrl(srv.url)}/socket.io/?EIO=4&transport=websocket`, { autoPong: true });
      defer(() => slow.close());
      await slow.opened;
      assert.ok(String(await slow.next(10000)).startsWith("0{"), "open packet");
      slow.send("40");
      const connect = String(await slow.next(10000));
      assert.ok(connect.startsWith("40{"), `CONNECT answer, got ${connect}`);
      const slowId = JSON.parse(connect.slice(2)).sid;
      await srv.waitForLine(new RegExp(`^connect / ${escapeRe(slowId)}$`));
      slow.ws._socket.pause();

      // 80 MB of volatile packets for the slow client alone: more than the loopback buffers of a
      // paused reader absorb, so the rest meets a full sink (and far more than the 1 MiB bound
      // that would cut off a client for packets that must arrive).
      const before = await call(emitter, "counters");
      const COUNT = 4000;
      const sent = await emitter
        .timeout(60000)
        .emitWithAck("burst", { count: COUNT, size: 20000, volatile: true, rooms: [slowId] });
      assert.equal(sent, COUNT);
      let after = await call(emitter, "counters");
      for (let i = 0; i < 50 && after.engine.volatile_dropped === before.engine.volatile_dropped; i++) {
        await sleep(100);
        after = await call(emitter, "counters");
      }
      const counters = `before ${JSON.stringify(before)} after ${JSON.stringify(after)}`;
      assert.ok(after.engine.volatile_dropped > before.engine.volatile_dropped, `volatile drops counted; ${counters}`);
      assert.equal(after.engine.overflow_closed, before.engine.overflow_closed, `nobody cut off; ${counters}`);

      // Reading again, the client gets what was not dropped, then a packet that must arrive.
      assert.equal(await call(emitter, "to", { rooms: [slowId], data: "kept" }), 1);
      slow.ws._socket.resume();
      let bursts = 0;
      for (;;) {
        const msg = String(await slow.next(20000));
        if (msg.startsWith('42["burst"')) bursts++;
        else if (msg === '42["room-msg","kept"]') break;
      }
      assert.ok(bursts > 0 && bursts < COUNT, `some bursts arrived and some were dropped: ${bursts} of ${COUNT}`);
      assert.ok(
        !srv.lines.some((l) => l.startsWith(`disconnect / ${slowId}`)),
        "the slow client was not disconnected",
      );
    }, ["--ping-interval", "2000", "--ping-timeout", "20000"]),
  );
});

/** room-summary's order: by room name (byte order), as the server sorts it. */
function sortedSummary(list) {
  return [...list].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}
