// Every cluster operation between two nodes, one direction per call, as tests: broadcasts (rooms,
// except, local, a socket id, from a socket, binary), fetchSockets, socketsJoin / socketsLeave /
// disconnectSockets, serverSideEmit with and without acks, broadcasts with acks, the server count
// and emitting through a fetched remote socket. Used by the Redis Cluster files for the sharded
// and the streams adapter, with Switchyard and Node nodes (test_server / node_peer.mjs ops), each
// pair both ways (pairOperationTests), and by the streams adapter file; and
// connection state recovery across two nodes, through a proxy that sends the client's new
// connection to the other node.
import assert from "node:assert/strict";
import { it } from "node:test";
import { bytes, closeSocket, connected, escapeRegExp, ioClient, until } from "./helpers.mjs";
import { startProxy } from "./proxy.mjs";
import { call, expectSequences, fetched, normFetched, resetEvents, roomMsgs, roomsOf, sorted, waitFor } from "./cluster_helpers.mjs";

const T = { timeout: 120000 };
const jsonSorted = (list) => sorted(list.map((x) => JSON.stringify(x)));

/** The pairs of nodes the operation tests run between: two Switchyard nodes, Switchyard and Node. */
const PAIRS = [
  ["switchyard", "switchyard"],
  ["switchyard", "node"],
];

/**
 * Declares the operation tests between the two nodes of each pair of `PAIRS`, both ways (one way
 * between two of a kind), each test in a fresh scope of `cluster`. `start(scope, kinds)` starts
 * the nodes of `kinds` (two), named `kind#1` / `kind#2`, and resolves to them in that order once
 * they count each other.
 */
export function pairOperationTests(cluster, start) {
  for (const pair of PAIRS) {
    const directions = pair[0] === pair[1] ? [[0, 1]] : [[0, 1], [1, 0]];
    for (const [fromIdx, toIdx] of directions) {
      const dir = `${pair[fromIdx]}#${fromIdx + 1} -> ${pair[toIdx]}#${toIdx + 1}`;
      const directed = (fn) =>
        cluster(async (scope) => {
          const nodes = await start(scope, pair);
          await fn({ ...scope, from: nodes[fromIdx], to: nodes[toIdx] });
        });
      operationTests(dir, directed);
    }
  }
}

/**
 * Declares the operation tests from `from` to `to`. `directed(fn)` runs fn({from, to, client,
 * following}) in a fresh scope with the two nodes started; `dir` names the direction.
 */
export function operationTests(dir, directed) {
  it(
    `broadcasts ${dir}: rooms, except, local, a socket id, from a socket, binary`,
    T,
    directed(async ({ from, to, client, following }) => {
      const sender = await client(from, { label: `sender on ${from.name}` });
      const fromMember = await client(from, { label: `member on ${from.name}` });
      const r1 = await client(to, { label: `r1 on ${to.name}` });
      const r2 = await client(to, { label: `r2 (also X) on ${to.name}` });
      const out = await client(to, { label: `outsider on ${to.name}` });
      const all = [sender, fromMember, r1, r2, out];
      await call(r1, "join", "R");
      await call(r2, "join", ["R", "X"]);
      await call(fromMember, "join", "R");
      await following("R", 2);

      await call(sender, "io-emit", { rooms: ["R"], except: ["X"], data: "m1" });
      await call(sender, "io-emit", { rooms: ["R"], local: true, data: "m2-local" });
      await call(fromMember, "to", { rooms: ["R"], data: "m3-from-socket" });
      await call(sender, "io-emit", { rooms: [r2.id], data: "m4-private" });
      await call(sender, "io-emit", { data: "marker" });
      await expectSequences(
        all,
        new Map([
          [r1, ["m1", "m3-from-socket"]],
          [r2, ["m3-from-socket", "m4-private"]],
          [fromMember, ["m1", "m2-local"]],
        ]),
        "marker",
      );

      resetEvents(all);
      await call(sender, "io-emit", { rooms: ["R"], data: { bin: Buffer.from([1, 2, 3]), nested: [{ deep: Buffer.from([255]) }], text: "é" } });
      for (const s of [r1, r2]) {
        await waitFor(() => roomMsgs(s).length >= 1, () => `${s.label} to receive the binary room-msg (${dir})`);
        const [got] = roomMsgs(s);
        assert.deepEqual(bytes(got.bin), [1, 2, 3], `${dir}: ${s.label}`);
        assert.deepEqual(bytes(got.nested[0].deep), [255], `${dir}: ${s.label}`);
        assert.equal(got.text, "é");
      }
    }),
  );

  it(
    `fetchSockets, socketsJoin, socketsLeave and disconnectSockets ${dir}`,
    T,
    directed(async ({ from, to, client }) => {
      const asker = await client(from, { label: `asker on ${from.name}` });
      const t1 = await client(to, { label: `t1 on ${to.name}` });
      const t2 = await client(to, { label: `t2 on ${to.name}` });
      const data = { user: "t1", n: 1.5, list: [1, "two", null] };
      t1.emit("set-data", data);
      assert.deepEqual(await call(t1, "get-data"), data);
      await call(t1, "join", ["team", "other"]);
      await call(t2, "join", "team");

      assert.deepEqual(
        normFetched(await call(asker, "fetch", { rooms: ["team"], except: [t2.id] })),
        fetched([[t1, data, ["team", "other"]]]),
      );

      await call(asker, "sockets-join", { rooms: ["team"], join: ["joined"] });
      for (const s of [t1, t2]) {
        await waitFor(async () => (await roomsOf(s)).includes("joined"), () => `${s.label} to join "joined" (${dir})`);
      }
      await call(asker, "sockets-leave", { rooms: ["other"], leave: ["joined", "team"] });
      await waitFor(async () => !(await roomsOf(t1)).includes("joined"), () => `t1 to leave "joined" (${dir})`);
      assert.deepEqual(await roomsOf(t1), sorted([t1.id, "other"]));
      assert.deepEqual(await roomsOf(t2), sorted([t2.id, "team", "joined"]));

      await call(asker, "disconnect-sockets", { rooms: [t2.id] });
      await waitFor(() => t2.disconnectReasons.length > 0, () => `t2 to be disconnected (${dir})`);
      assert.deepEqual(t2.disconnectReasons, ["io server disconnect"]);
      assert.ok(t1.connected && asker.connected, "the others stay connected");
    }),
  );

  it(
    `serverSideEmit, broadcast with ack, server count and remote emit ${dir}`,
    T,
    directed(async ({ from, to, client }) => {
      const sender = await client(from, { label: `sender on ${from.name}` });
      const watcher = await client(to, { label: `watcher on ${to.name}` });
      const voter = await client(to, { label: `voter on ${to.name}` });
      await call(watcher, "join", "sse-watchers");
      voter.on("poll", (q, cb) => cb(`yes-${voter.label}`));
      watcher.on("poll", (q, cb) => cb("yes-watcher"));

      assert.equal(await call(sender, "sse", { event: "hello", data: { a: [1, "x"], b: null } }), true);
      await waitFor(() => watcher.got("sse-received").length >= 1, () => `${to.name} to get the server-side event`);
      assert.deepEqual(watcher.got("sse-received"), [["hello", { a: [1, "x"], b: null }]]);
      assert.deepEqual(await call(sender, "sse", { event: "ask", data: 1, ack: true, timeout: 5000 }), { ok: [`node-${to.port}`] });

      const votes = await call(sender, "broadcast-ack", { timeout: 5000 });
      assert.deepEqual(jsonSorted(votes.ok ?? []), jsonSorted([[`yes-${voter.label}`], ["yes-watcher"]]), JSON.stringify(votes));
      const one = await call(sender, "broadcast-ack", { rooms: [voter.id], timeout: 5000 });
      assert.deepEqual(one, { ok: [[`yes-${voter.label}`]] });

      assert.equal(await call(sender, "server-count"), 2);
      assert.equal(await call(sender, "remote-emit", { id: voter.id, event: "direct", data: { to: "voter" } }), 1);
      await waitFor(() => voter.got("direct").length >= 1, "the direct event");
      assert.deepEqual(voter.got("direct"), [[{ to: "voter" }]]);
    }),
  );
}

/**
 * Declares a test: a WebSocket client cut on `from` comes back (through a proxy) on `to` as
 * itself, with its rooms and data, and gets the broadcasts it missed once, in order.
 * `nodes(scope)` starts [from, to] with recovery on.
 */
export function recoveryTest(title, cluster, nodes) {
  it(
    title,
    T,
    cluster(async (scope) => {
      const [from, to] = await nodes(scope);
      const state = { to: from };
      const proxy = await startProxy(() => state.to.port);
      scope.defer(() => proxy.close());
      const a = ioClient(proxy.url, { transports: ["websocket"] });
      scope.defer(() => closeSocket(a));
      const msgs = [];
      a.on("room-msg", (data) => msgs.push(data));
      await connected(a);
      const producer = await scope.client(to, { label: "producer" });
      await call(a, "join", ["news"]);
      a.emit("set-data", { nick: "ann" });
      await call(producer, "io-emit", { rooms: ["news"], data: "before" });
      await until(() => msgs.length === 1, "the first broadcast");
      const id = a.id;

      state.to = to;
      a.io.engine.close();
      if (from.kind === "switchyard") await from.waitForLine(new RegExp(`^disconnect / ${escapeRegExp(id)} `), 10000);
      else await until(() => !a.connected, "the client to see its connection go");
      for (const data of ["m1", "m2", "m3"]) await call(producer, "io-emit", { rooms: ["news"], data });
      const back = connected(a);
      a.connect();
      await back;
      assert.equal(a.recovered, true, "recovered");
      assert.equal(a.id, id);
      await call(producer, "io-emit", { rooms: ["news"], data: "live" });
      await until(() => msgs.length >= 5, () => `5 broadcasts, got ${JSON.stringify(msgs)}`);
      assert.deepEqual(msgs, ["before", "m1", "m2", "m3", "live"]);
      assert.deepEqual((await call(a, "rooms")).sort(), [id, "news"].sort());
      assert.deepEqual(await call(a, "get-data"), { nick: "ann" });
    }),
  );
}
