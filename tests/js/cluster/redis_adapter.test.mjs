// Several test_server nodes sharing rooms and broadcasts through one throwaway redis-server (the
// Redis adapter, classic @socket.io/redis-adapter 8.x wire protocol): broadcasts with rooms /
// except / local across nodes, binary arguments, fetchSockets with data and rooms, socketsJoin /
// socketsLeave / disconnectSockets, serverSideEmit with and without acks, broadcasts with acks
// collecting client answers from every node, partial answers when a node stops answering, the
// server count, emitting through a fetched remote socket, Redis killed and restarted mid-test, and
// a polling request reaching the wrong node.
//
// Negative checks ("X did not get it") wait for a later marker sent on the same path, never for
// time to pass. Every node, client and redis-server started here is stopped by PID in finally.
// Each runs with the classic and the sharded adapter (E2E_REDIS_VARIANTS narrows them).
// E2E_CLUSTER_IMPL=node runs the same tests against node_peer.mjs (Node socket.io 4.8 + the
// reference adapter), to check the tests themselves; Switchyard-only details are skipped then.
import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { bytes, eioHandshake, freePort, httpGet, httpPost, pollUrl, serverBinary, spawnProcess } from "../support/helpers.mjs";
import {
  IMPL,
  VARIANTS,
  call,
  describeOnRedis,
  expectSequences,
  fetched,
  normFetched,
  resetEvents,
  roomMsgs,
  roomsOf,
  sorted,
  waitFor,
  withCluster,
} from "../support/cluster_helpers.mjs";
import { redisMissing, startRedis, variantArgs } from "../support/redis_helpers.mjs";

const T = { timeout: 120000 };
const SWITCHYARD = IMPL === "switchyard";

if (redisMissing) {
  // reported as one skipped test, with the reason (never under CI=true: .ci/run installs it)
  test("cluster over Redis", { skip: redisMissing }, () => {});
} else {
  for (const variant of VARIANTS) {
    describeOnRedis(`cluster over Redis, ${variant} adapter (${IMPL} nodes)`, variant, ({ cluster }) => {

      it(
        "1. a broadcast emitted on B reaches A's clients in the room; except, local, private and non-members respected",
        T,
        cluster(async ({ nodes, client, following }) => {
          const [A, B] = await nodes(2);
          const a1 = await client(A, { label: "a1 (A, R)" });
          const a2 = await client(A, { label: "a2 (A, R+X)" });
          const a3 = await client(A, { label: "a3 (A, none)" });
          const b1 = await client(B, { label: "b1 (B, R)" });
          const b2 = await client(B, { label: "b2 (B, none)" });
          const all = [a1, a2, a3, b1, b2];
          await call(a1, "join", ["R"]);
          await call(a2, "join", ["R", "X"]);
          await call(b1, "join", ["R"]);
          await following("R", 2);

          // to a room, from the other node
          await call(b2, "io-emit", { rooms: ["R"], data: "m1" });
          await call(b2, "io-emit", { data: "marker-1" });
          await expectSequences(all, new Map([[a1, ["m1"]], [a2, ["m1"]], [b1, ["m1"]]]), "marker-1");

          // except a room
          resetEvents(all);
          await call(b2, "io-emit", { rooms: ["R"], except: ["X"], data: "m2" });
          await call(b2, "io-emit", { data: "marker-2" });
          await expectSequences(all, new Map([[a1, ["m2"]], [b1, ["m2"]]]), "marker-2");

          // local: only B's own members
          resetEvents(all);
          await call(b2, "io-emit", { rooms: ["R"], local: true, data: "m3" });
          await call(b2, "io-emit", { data: "marker-3" });
          await expectSequences(all, new Map([[b1, ["m3"]]]), "marker-3");

          // from a socket: the sender is left out, the other node's members get it
          resetEvents(all);
          await call(b1, "to", { rooms: ["R"], data: "m4" });
          await call(b2, "io-emit", { data: "marker-4" });
          await expectSequences(all, new Map([[a1, ["m4"]], [a2, ["m4"]]]), "marker-4");

          // to one socket of the other node by its id
          resetEvents(all);
          await call(b2, "io-emit", { rooms: [a1.id], data: "m5" });
          await call(b2, "io-emit", { data: "marker-5" });
          await expectSequences(all, new Map([[a1, ["m5"]]]), "marker-5");

          // the other way, A to B, except a socket id
          resetEvents(all);
          await call(a3, "io-emit", { rooms: ["R"], except: [a2.id], data: "m6" });
          await call(a3, "io-emit", { data: "marker-6" });
          await expectSequences(all, new Map([[a1, ["m6"]], [b1, ["m6"]]]), "marker-6");

          // several rooms at once: each member once
          resetEvents(all);
          await call(b2, "io-emit", { rooms: ["R", "X", b2.id], data: "m7" });
          await call(b2, "io-emit", { data: "marker-7" });
          await expectSequences(all, new Map([[a1, ["m7"]], [a2, ["m7"]], [b1, ["m7"]], [b2, ["m7"]]]), "marker-7");

          if (SWITCHYARD) {
            const fields = ["published", "received", "errors", "reconnects", "dropped"];
            const cA = (await call(a1, "counters")).adapter;
            const cB = (await call(b1, "counters")).adapter;
            for (const [name, c] of [["A", cA], ["B", cB]]) {
              assert.ok(c && typeof c === "object", `counters.adapter on ${name}: ${JSON.stringify(c)}`);
              for (const f of fields) assert.equal(typeof c[f], "number", `counters.adapter.${f} on ${name}: ${JSON.stringify(c)}`);
            }
            assert.ok(cB.published >= 6, `B published its broadcasts: ${JSON.stringify(cB)}`);
            assert.ok(cA.received >= 6, `A received B's broadcasts: ${JSON.stringify(cA)}`);
            assert.ok(cA.published >= 2, `A published its broadcasts: ${JSON.stringify(cA)}`);
            assert.equal(cA.errors, 0, `no adapter error on A: ${JSON.stringify(cA)}`);
            assert.equal(cB.errors, 0, `no adapter error on B: ${JSON.stringify(cB)}`);
          }
        }),
      );

      it(
        "2. three nodes: one room spanning all three, a broadcast from each node reaches every member once",
        T,
        cluster(async ({ nodes, client, following }) => {
          const [A, B, C] = await nodes(3);
          const rA = await client(A, { label: "rA" });
          const rB = await client(B, { label: "rB" });
          const rC = await client(C, { label: "rC" });
          const out = await client(C, { label: "outsider (C)" });
          const members = [rA, rB, rC];
          for (const s of members) await call(s, "join", "R");
          await following("R", 3);

          for (const s of members) {
            await call(s, "io-emit", { rooms: ["R"], data: `from-${s.label}` });
            await call(s, "io-emit", { data: `marker-${s.label}` });
          }
          const markers = members.map((s) => `marker-${s.label}`);
          for (const s of [...members, out]) {
            await waitFor(
              () => markers.every((m) => roomMsgs(s).includes(m)),
              () => `${s.label} to receive the three markers (got ${JSON.stringify(roomMsgs(s))})`,
            );
          }
          for (const s of members) {
            const got = roomMsgs(s);
            assert.deepEqual(sorted(got.filter((m) => m.startsWith("from-"))), sorted(members.map((m) => `from-${m.label}`)), s.label);
            // each sender's message comes before its marker
            for (const m of members) assert.ok(got.indexOf(`from-${m.label}`) < got.indexOf(`marker-${m.label}`), `${s.label}: ${got}`);
          }
          assert.deepEqual(sorted(roomMsgs(out)), sorted(markers), "the outsider gets the markers only");
        }),
      );

      it(
        "3. binary arguments across nodes (top-level, nested, empty) from the namespace and from a socket",
        T,
        cluster(async ({ nodes, client, following }) => {
          const [A, B] = await nodes(2);
          const a1 = await client(A, { label: "a1" });
          const b1 = await client(B, { label: "b1" });
          const b2 = await client(B, { label: "b2 (local member)" });
          await call(a1, "join", "R");
          await call(b2, "join", "R");
          await following("R", 2);

          await call(b1, "io-emit", {
            rooms: ["R"],
            data: { bin: Buffer.from([1, 2, 3]), nested: [Buffer.alloc(0), "text", { deep: Buffer.from([255, 0]) }], n: 1.5 },
          });
          await call(b1, "to", { rooms: ["R"], data: Buffer.from([0, 128, 255]) });
          for (const s of [a1, b2]) {
            await waitFor(() => roomMsgs(s).length >= 2, () => `${s.label} to receive two binary room-msgs (got ${roomMsgs(s).length})`);
            const [first, second] = roomMsgs(s);
            assert.deepEqual(bytes(first.bin), [1, 2, 3], `${s.label}: bin`);
            assert.deepEqual(bytes(first.nested[0]), [], `${s.label}: empty binary`);
            assert.equal(first.nested[1], "text");
            assert.deepEqual(bytes(first.nested[2].deep), [255, 0], `${s.label}: nested binary`);
            assert.equal(first.n, 1.5);
            assert.deepEqual(bytes(second), [0, 128, 255], `${s.label}: top-level binary from a socket`);
          }
        }),
      );

      it(
        "4. fetchSockets from either node sees every node's sockets with their data and rooms; except and local narrow it",
        T,
        cluster(async ({ nodes, client }) => {
          const [A, B] = await nodes(2);
          const a1 = await client(A, { label: "a1" });
          const a2 = await client(A, { label: "a2" });
          const b1 = await client(B, { label: "b1" });
          const b2 = await client(B, { label: "b2 (caller)" });
          const data = new Map([
            [a1, { user: "a1", n: 1, tags: ["x", "é✓"], nested: { ok: true, none: null } }],
            [a2, { user: "a2" }],
            [b1, { user: "b1", n: 2.5 }],
            [b2, "just a string"],
          ]);
          for (const [s, d] of data) {
            s.emit("set-data", d);
            assert.deepEqual(await call(s, "get-data"), d, `data set on ${s.label}`);
          }
          await call(a1, "join", ["team"]);
          await call(a2, "join", ["team", "other"]);
          await call(b1, "join", ["team"]);

          const team = fetched([
            [a1, data.get(a1), ["team"]],
            [a2, data.get(a2), ["team", "other"]],
            [b1, data.get(b1), ["team"]],
          ]);
          assert.deepEqual(normFetched(await call(b2, "fetch", { rooms: ["team"] })), team, "fetch team from B");
          assert.deepEqual(normFetched(await call(a1, "fetch", { rooms: ["team"] })), team, "fetch team from A");
          assert.deepEqual(
            normFetched(await call(b2, "fetch", {})),
            fetched([
              [a1, data.get(a1), ["team"]],
              [a2, data.get(a2), ["team", "other"]],
              [b1, data.get(b1), ["team"]],
              [b2, data.get(b2), []],
            ]),
            "fetch everyone from B",
          );
          assert.deepEqual(
            normFetched(await call(b2, "fetch", { rooms: ["team"], except: ["other"] })),
            fetched([
              [a1, data.get(a1), ["team"]],
              [b1, data.get(b1), ["team"]],
            ]),
            "fetch team except other",
          );
          assert.deepEqual(
            normFetched(await call(b2, "fetch", { rooms: ["team"], local: true })),
            fetched([[b1, data.get(b1), ["team"]]]),
            "fetch team, local to B",
          );
          assert.deepEqual(normFetched(await call(b2, "fetch", { rooms: [a2.id] })), fetched([[a2, data.get(a2), ["team", "other"]]]));
          assert.deepEqual(await call(b2, "fetch", { rooms: ["nobody-here"] }), [], "an empty room");
          if (SWITCHYARD) {
            // B's five cross-node fetches, each answered in full: timed in the adapter's histogram.
            const c = (await call(b2, "counters")).adapter;
            const timed = c.request_round_trips.buckets.reduce((a, b) => a + b, 0);
            assert.equal(timed, 5, JSON.stringify(c));
            assert.equal(c.request_timeouts, 0, JSON.stringify(c));
          }
        }),
      );

      it(
        "5. socketsJoin / socketsLeave / disconnectSockets from B apply to A's sockets; local ones do not",
        T,
        cluster(async ({ nodes, client, following }) => {
          const [A, B] = await nodes(2);
          const a1 = await client(A, { label: "a1 (team)" });
          const a2 = await client(A, { label: "a2 (kick)" });
          const b1 = await client(B, { label: "b1 (team)" });
          const b2 = await client(B, { label: "b2 (caller)" });
          await call(a1, "join", "team");
          await call(a2, "join", "kick");
          await call(b1, "join", "team");

          await call(b2, "sockets-join", { rooms: ["team"], join: ["vip", "vip2"] });
          for (const s of [a1, b1]) {
            await waitFor(
              async () => (await roomsOf(s)).includes("vip2"),
              () => `${s.label} to be in vip and vip2 after sockets-join from B`,
            );
            assert.deepEqual(await roomsOf(s), sorted([s.id, "team", "vip", "vip2"]), s.label);
          }
          assert.deepEqual(await roomsOf(a2), sorted([a2.id, "kick"]), "a2 is not in team");

          // the joined room works for broadcasts from B
          await following("vip", 2);
          await call(b2, "io-emit", { rooms: ["vip"], data: "to-vip" });
          await waitFor(() => roomMsgs(a1).includes("to-vip"), "a1 to receive a broadcast to vip");

          // local sockets-join: only B's sockets; a later cluster-wide one is the marker
          await call(b2, "sockets-join", { rooms: ["team"], join: ["loc"], local: true });
          await call(b2, "sockets-join", { rooms: ["team"], join: ["after-loc"] });
          await waitFor(async () => (await roomsOf(a1)).includes("after-loc"), "a1 to join after-loc");
          assert.ok(!(await roomsOf(a1)).includes("loc"), "a local sockets-join on B leaves A's sockets alone");
          await waitFor(async () => (await roomsOf(b1)).includes("after-loc"), "b1 to join after-loc");
          assert.ok((await roomsOf(b1)).includes("loc"), "a local sockets-join on B applies to B's sockets");

          await call(b2, "sockets-leave", { rooms: ["vip"], leave: ["vip"] });
          for (const s of [a1, b1]) {
            await waitFor(async () => !(await roomsOf(s)).includes("vip"), () => `${s.label} to leave vip`);
            assert.deepEqual(await roomsOf(s), sorted([s.id, "team", "vip2", "after-loc", ...(s === b1 ? ["loc"] : [])]), s.label);
          }

          await call(b2, "disconnect-sockets", { rooms: ["kick"] });
          await waitFor(() => a2.disconnectReasons.length > 0, "a2 to be disconnected by disconnect-sockets from B");
          assert.deepEqual(a2.disconnectReasons, ["io server disconnect"]);
          // the others stay connected and answer
          for (const s of [a1, b1, b2]) {
            assert.ok(s.connected, `${s.label} still connected`);
            assert.ok((await roomsOf(s)).includes(s.id));
          }
          assert.deepEqual(normFetched(await call(b2, "fetch", { rooms: ["kick"] })), [], "nobody left in kick");
        }),
      );

      it(
        "6. serverSideEmit reaches every other node once (not the sender's); with acks, one answer per other node",
        T,
        cluster(async ({ nodes, client }) => {
          const [A, B, C] = await nodes(3);
          const wA = await client(A, { label: "wA" });
          const wB = await client(B, { label: "wB" });
          const wC = await client(C, { label: "wC" });
          const watchers = [wA, wB, wC];
          for (const w of watchers) await call(w, "join", "sse-watchers");
          const sse = (w) => w.got("sse-received");

          assert.equal(await call(wA, "sse", { event: "hello", data: { x: 1, s: "é" } }), true);
          for (const w of [wB, wC]) {
            await waitFor(() => sse(w).length >= 1, () => `${w.label} to see the server-side event from A`);
          }
          // A's own event never comes back to A: a later event from B is A's marker
          assert.equal(await call(wB, "sse", { event: "marker", data: "from-B" }), true);
          await waitFor(() => sse(wA).length >= 1, "wA to see the marker from B");
          await waitFor(() => sse(wC).length >= 2, "wC to see the marker from B");
          assert.deepEqual(sse(wA), [["marker", "from-B"]], "A gets B's event, not its own");
          assert.deepEqual(sse(wB), [["hello", { x: 1, s: "é" }]], "B gets A's event once, not its own");
          assert.deepEqual(sse(wC), [["hello", { x: 1, s: "é" }], ["marker", "from-B"]], "C gets each once");

          // with acks: every other node answers "node-<port>"
          resetEvents(watchers);
          const fromA = await call(wA, "sse", { event: "ask", data: 2, ack: true, timeout: 5000 });
          assert.deepEqual({ ...fromA, ok: sorted(fromA.ok ?? []) }, { ok: sorted([`node-${B.port}`, `node-${C.port}`]) }, JSON.stringify(fromA));
          const fromC = await call(wC, "sse", { event: "ask", data: 3, ack: true, timeout: 5000 });
          assert.deepEqual({ ...fromC, ok: sorted(fromC.ok ?? []) }, { ok: sorted([`node-${A.port}`, `node-${B.port}`]) }, JSON.stringify(fromC));
          await waitFor(() => sse(wA).length >= 1, "wA to see the ask from C");
          await waitFor(() => sse(wB).length >= 2, "wB to see both asks");
          await waitFor(() => sse(wC).length >= 1, "wC to see the ask from A");
          assert.deepEqual(sse(wA), [["ask", 3]]);
          assert.deepEqual(sse(wB), [["ask", 2], ["ask", 3]]);
          assert.deepEqual(sse(wC), [["ask", 2]]);
        }),
      );

      it(
        "7. broadcast with ack across three nodes collects every client's answer; a silent client gives a timeout",
        T,
        cluster(async ({ nodes, client }) => {
          const [A, B, C] = await nodes(3);
          const sender = await client(A, { label: "sender (A)" });
          const a1 = await client(A, { label: "a1" });
          const b1 = await client(B, { label: "b1" });
          const c1 = await client(C, { label: "c1" });
          for (const s of [a1, b1, c1]) s.on("poll", (q, cb) => cb(`yes-${s.label}`));

          const all = await call(sender, "broadcast-ack", { timeout: 5000 });
          assert.ok(Array.isArray(all.ok), JSON.stringify(all));
          assert.deepEqual(sorted(all.ok.map((a) => JSON.stringify(a))), sorted([["yes-a1"], ["yes-b1"], ["yes-c1"]].map((a) => JSON.stringify(a))));

          await call(b1, "join", "voters");
          await call(c1, "join", "voters");
          const voters = await call(sender, "broadcast-ack", { rooms: ["voters"], timeout: 5000 });
          assert.ok(Array.isArray(voters.ok), JSON.stringify(voters));
          assert.deepEqual(sorted(voters.ok.map((a) => JSON.stringify(a))), sorted([["yes-b1"], ["yes-c1"]].map((a) => JSON.stringify(a))));

          const narrowed = await call(sender, "broadcast-ack", { rooms: ["voters"], except: [c1.id], timeout: 5000 });
          assert.deepEqual(narrowed, { ok: [["yes-b1"]] });

          // a client on C that hears the question and never answers
          const silent = await client(C, { label: "silent (C)" });
          const partial = await call(sender, "broadcast-ack", { timeout: 1500 });
          assert.equal(typeof partial.error, "string", JSON.stringify(partial));
          if (SWITCHYARD) {
            assert.equal(partial.expected, 4, JSON.stringify(partial));
            assert.equal(partial.missing, 1, JSON.stringify(partial));
          }
          await waitFor(() => silent.got("poll").length >= 1, "the silent client to have been asked");
          assert.equal(sender.got("poll").length, 0, "the sender is never asked");
          assert.equal(a1.got("poll").length, 2, "a1 asked once per broadcast that selected it");
          if (SWITCHYARD) {
            // The three answered in full are timed in A's round-trip histogram; the partial one is
            // not (a client's silence is no timeout of the adapter's).
            const c = (await call(sender, "counters")).adapter;
            const timed = c.request_round_trips.buckets.reduce((a, b) => a + b, 0);
            assert.equal(timed, 3, JSON.stringify(c));
            assert.equal(c.request_timeouts, 0, JSON.stringify(c));
          }
        }),
      );

      it(
        "8. a node that stops answering: serverSideEmit with ack gives the other answers and an error; once it is killed the count drops",
        T,
        cluster(async ({ nodes, client }) => {
          const [A, B, C] = await nodes(3, undefined, ["--redis-request-timeout-ms", "1500"]);
          const wA = await client(A, { label: "wA" });
          assert.equal(await call(wA, "server-count"), 3);

          // frozen (SIGSTOP by PID): still subscribed, so counted, but it cannot answer
          C.signal("SIGSTOP");
          const partial = await call(wA, "sse", { event: "ask", data: 1, ack: true, timeout: 1500 });
          assert.equal(typeof partial.error, "string", `expected an error: ${JSON.stringify(partial)}`);
          assert.deepEqual(partial.responses, [`node-${B.port}`], JSON.stringify(partial));
          // the other cluster requests give up after their timeout too
          const fetchFrozen = await call(wA, "fetch", {});
          assert.equal(typeof fetchFrozen?.error, "string", `fetch with a frozen node: ${JSON.stringify(fetchFrozen)}`);
          const askFrozen = await call(wA, "broadcast-ack", { timeout: 1500 });
          assert.equal(typeof askFrozen?.error, "string", `broadcast-ack with a frozen node: ${JSON.stringify(askFrozen)}`);

          // killed (SIGKILL by PID): Redis drops its subscriptions, the cluster is A and B
          C.signal("SIGKILL");
          await C.exited;
          await waitFor(async () => (await call(wA, "server-count")) === 2, "server-count 2 after C was killed");
          const full = await call(wA, "sse", { event: "ask", data: 2, ack: true, timeout: 1500 });
          assert.deepEqual(full, { ok: [`node-${B.port}`] });
        }),
      );

      it(
        "9. server-count is the number of nodes on every node, following nodes that come and go",
        T,
        cluster(async ({ nodes, node, client, ready }) => {
          const [A, B] = await nodes(2);
          const a = await client(A, { label: "a" });
          const b = await client(B, { label: "b" });
          assert.equal(await call(a, "server-count"), 2);
          assert.equal(await call(b, "server-count"), 2);
          const C = await node();
          await ready(3);
          const c = await client(C, { label: "c" });
          for (const s of [a, b, c]) assert.equal(await call(s, "server-count"), 3, s.label);
          await C.stop();
          await ready(2);
          for (const s of [a, b]) assert.equal(await call(s, "server-count"), 2, s.label);
        }),
      );

      it(
        "10. remote-emit: a socket of A fetched from B and emitted to through the fetched handle",
        T,
        cluster(async ({ nodes, client }) => {
          const [A, B] = await nodes(2);
          const a1 = await client(A, { label: "a1" });
          const a2 = await client(A, { label: "a2" });
          const b1 = await client(B, { label: "b1" });
          assert.equal(await call(b1, "remote-emit", { id: a1.id, event: "direct", data: { hello: "a1" } }), 1);
          await waitFor(() => a1.got("direct").length >= 1, "a1 to receive the event emitted through its remote handle");
          assert.deepEqual(a1.got("direct"), [[{ hello: "a1" }]]);
          // the same from a socket of the same node, and nothing for an unknown id
          assert.equal(await call(a2, "remote-emit", { id: a1.id, event: "direct", data: "local" }), 1);
          await waitFor(() => a1.got("direct").length >= 2, "a1 to receive the second direct event");
          assert.equal(await call(b1, "remote-emit", { id: "no-such-socket-id-00", event: "direct", data: "x" }), 0);
          // b1's marker through the same path shows that nothing else went to a2 or b1
          assert.equal(await call(b1, "remote-emit", { id: a2.id, event: "direct", data: "marker" }), 1);
          await waitFor(() => a2.got("direct").length >= 1, "a2 to receive its marker");
          assert.deepEqual(a2.got("direct"), [["marker"]]);
          assert.deepEqual(a1.got("direct"), [[{ hello: "a1" }], ["local"]]);
          assert.deepEqual(b1.got("direct"), []);
        }),
      );

      it(
        "10b. sails.sockets over virtual requests: a join on A, a broadcast from B reaches it",
        T,
        cluster(async ({ nodes, client, following }) => {
          const [A, B] = await nodes(2);
          const a1 = await client(A, { label: "a1" });
          const a2 = await client(A, { label: "a2" });
          const b1 = await client(B, { label: "b1" });
          const jwr = (socket, method, url, data) => call(socket, method, { url, data });
          assert.equal((await jwr(a1, "post", "/vr/rooms/S/join")).statusCode, 200);
          await following("S", 1);
          const sent = await jwr(b1, "post", "/vr/rooms/S/broadcast", { event: "news", data: { from: "B" } });
          assert.equal(sent.statusCode, 200, JSON.stringify(sent));
          await waitFor(() => a1.got("news").length >= 1, "a1 (A) to get the broadcast sails.sockets sent on B");
          assert.deepEqual(a1.got("news"), [[{ from: "B" }]]);
          // a2 is not in S: a later marker shows it got nothing.
          await call(b1, "io-emit", { data: "marker" });
          await waitFor(() => a2.got("room-msg").length >= 1, "a2 to get the marker");
          assert.deepEqual(a2.got("news"), []);
        }),
      );

      it(
        "11. nodes with another key prefix are another cluster (server-count, fetch)",
        T,
        cluster(async ({ node, client, ready, following }) => {
          const A = await node();
          const B = await node(undefined, ["--redis-key-prefix", "yard"]);
          const C = await node(undefined, ["--redis-key-prefix", "yard"]);
          await ready(1);
          await ready(2, { prefix: "yard" });
          const a = await client(A, { label: "a" });
          const b = await client(B, { label: "b" });
          const c = await client(C, { label: "c" });
          assert.equal(await call(a, "server-count"), 1);
          assert.equal(await call(b, "server-count"), 2);
          assert.deepEqual((await call(a, "fetch", {})).map((s) => s.id), [a.id]);
          assert.deepEqual(
            (await call(b, "fetch", {})).map((s) => s.id),
            sorted([b.id, c.id]),
          );
          await call(c, "join", "R");
          await following("R", 1, { prefix: "yard" });
          await call(b, "io-emit", { rooms: ["R"], data: "yard-only" });
          await waitFor(() => roomMsgs(c).includes("yard-only"), "c to receive a broadcast within its prefix");
        }),
      );

      it(
        "12. a polling request with node A's session id sent to node B gets 400 Session ID unknown",
        T,
        cluster(async ({ nodes }) => {
          const [A, B] = await nodes(2);
          const base = (n) => `${n.url}/socket.io/`;
          const { sid } = await eioHandshake(base(A));
          for (const res of [await httpGet(pollUrl(base(B), sid)), await httpPost(pollUrl(base(B), sid), "40")]) {
            assert.equal(res.status, 400, res.text);
            assert.deepEqual(JSON.parse(res.text), { code: 1, message: "Session ID unknown" });
          }
          // the session is still fine on its own node
          const ok = await httpPost(pollUrl(base(A), sid), "40");
          assert.equal(ok.status, 200, ok.text);
          await httpPost(pollUrl(base(A), sid), "1"); // close it
        }),
      );
    });

    describe(`cluster over Redis, ${variant} adapter, Redis lost and back (${IMPL} nodes)`, () => {
      it(
        "13. Redis unreachable at start: the node exits with status 1 naming the URL, never listening",
        { ...T, skip: SWITCHYARD ? false : "Switchyard's start-up" },
        async () => {
          const port = await freePort();
          const url = `redis://127.0.0.1:${port}`;
          const proc = await spawnProcess(serverBinary("test_server"), ["--port", "0", "--adapter", "redis", "--redis-url", url, ...variantArgs(variant)], {
            name: "test_server",
          });
          try {
            const { code } = await Promise.race([
              proc.exited,
              new Promise((_, reject) => setTimeout(() => reject(new Error(`still running after 20 s\n${proc.output()}`)), 20000)),
            ]);
            assert.equal(code, 1, proc.output());
            assert.ok(proc.output().includes(url), `the error names ${url}: ${proc.output()}`);
            assert.ok(!proc.lines.some((l) => l.startsWith("listening on")), proc.output());
          } finally {
            await proc.stop();
          }
        },
      );


      it(
        "14. Redis killed: local delivery keeps working; restarted on the same port: cross-node delivery resumes",
        {
          ...T,
          // the reference itself: its sharded adapter delivers locally only once Redis took the publish
          skip: !SWITCHYARD && variant === "sharded" ? "Node's sharded adapter waits for Redis before local delivery" : false,
        },
        async () => {
          const redis = await startRedis();
          try {
            await withCluster(
              redis,
              async ({ nodes, client, ready, following }) => {
                const [A, B] = await nodes(2);
                const a1 = await client(A, { label: "a1 (A, R)" });
                const a2 = await client(A, { label: "a2 (A)" });
                const b1 = await client(B, { label: "b1 (B)" });
                const b2 = await client(B, { label: "b2 (B, R)" });
                await call(a1, "join", "R");
                await call(b2, "join", "R");
                await following("R", 2);

                await call(b1, "io-emit", { rooms: ["R"], data: "before" });
                await waitFor(() => roomMsgs(a1).includes("before"), "a1 to receive 'before' from B");

                await redis.kill();
                // local delivery on both nodes while Redis is gone (the ops must still answer)
                await call(a2, "io-emit", { rooms: ["R"], data: "down-A" });
                await waitFor(() => roomMsgs(a1).includes("down-A"), "a1 to receive a local broadcast while Redis is down");
                await call(b1, "io-emit", { rooms: ["R"], data: "down-B" });
                await waitFor(() => roomMsgs(b2).includes("down-B"), "b2 to receive a local broadcast while Redis is down");
                if (SWITCHYARD) {
                  // a cluster request while Redis is down answers (an error, or at least the local
                  // sockets); Node's adapter would wait for Redis instead (node-redis' offline queue)
                  const duringOutage = await call(a2, "fetch", { rooms: ["R"] });
                  if (Array.isArray(duringOutage)) {
                    assert.ok(duringOutage.some((s) => s.id === a1.id), `local sockets in a fetch during the outage: ${JSON.stringify(duringOutage)}`);
                  } else {
                    assert.equal(typeof duringOutage?.error, "string", `fetch during the outage: ${JSON.stringify(duringOutage)}`);
                  }
                }

                await redis.restart();
                await ready(2, { timeoutMs: 30000 });
                // cross-node delivery resumes both ways (retried until it gets through, 20 s at most)
                let i = 0;
                await waitFor(
                  async () => {
                    if (roomMsgs(a1).some((m) => String(m).startsWith("resume-B-"))) return true;
                    await call(b1, "io-emit", { rooms: ["R"], data: `resume-B-${i++}` });
                    return false;
                  },
                  "a broadcast from B to reach A after Redis came back",
                  20000,
                  250,
                );
                let j = 0;
                await waitFor(
                  async () => {
                    if (roomMsgs(b2).some((m) => String(m).startsWith("resume-A-"))) return true;
                    await call(a2, "io-emit", { rooms: ["R"], data: `resume-A-${j++}` });
                    return false;
                  },
                  "a broadcast from A to reach B after Redis came back",
                  20000,
                  250,
                );
                // and once back, one broadcast is delivered once
                await call(b1, "io-emit", { rooms: ["R"], data: "after" });
                await call(b1, "io-emit", { rooms: ["R"], data: "after-marker" });
                await waitFor(() => roomMsgs(a1).includes("after-marker"), "a1 to receive 'after-marker'");
                assert.equal(roomMsgs(a1).filter((m) => m === "after").length, 1, JSON.stringify(roomMsgs(a1)));
                assert.equal(await call(a2, "server-count"), 2);
                assert.deepEqual(
                  normFetched(await call(b1, "fetch", { rooms: ["R"] })).map((s) => s.id),
                  sorted([a1.id, b2.id]),
                  "fetch across nodes works again",
                );

                if (SWITCHYARD) {
                  for (const [name, s] of [["A", a2], ["B", b1]]) {
                    const c = (await call(s, "counters")).adapter;
                    assert.ok(c.reconnects >= 1, `counters.adapter.reconnects on ${name}: ${JSON.stringify(c)}`);
                  }
                }
              },
              { variant },
            )();
          } finally {
            await redis.stop();
          }
        },
      );
    });
  }
}
