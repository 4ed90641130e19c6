// examples/record_store: a Sails-style blueprint API for the model `record`, driven by two
// sails.io.js 1.2.1 sockets (over socket.io-client 2 and over socket.io-client 4) and by plain
// HTTP. A lists /records, so it watches the model and is subscribed to every record; B makes the
// changes. A gets the `record` events (created, updated, addedTo, removedFrom, destroyed), B, the
// requester, never gets its own. The routes are documented in examples/record_store.rs.
// An absence is proven by a later event on the same socket, never by waiting.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startServer, until } from "../support/helpers.mjs";
import {
  FLAVORS,
  assertStatus,
  closeSailsSockets,
  eventLog,
  http,
  makeSailsIo,
  sailsConnect,
  vr,
} from "../support/sails_helpers.mjs";

const T = { timeout: 60000 };

const owned = [];

after(() => closeSailsSockets(owned));

for (const flavor of FLAVORS) {
  describe(`record_store with ${flavor.name}`, () => {
    let server;
    let io;
    let a; // the watcher
    let b; // the requester
    let logA;
    let logB;

    before(async () => {
      server = await startServer("record_store");
      io = makeSailsIo(flavor, server.url, { autoConnect: false });
      a = await sailsConnect(io, server.url, { transports: ["websocket"] }, owned);
      b = await sailsConnect(io, server.url, { transports: ["websocket"] }, owned);
      logA = eventLog(a, ["record"]);
      logB = eventLog(b, ["record"]);
    });

    after(async () => {
      await server?.stop();
    });

    const call = (socket, method, url, data) => vr(socket, data === undefined ? { method, url } : { method, url, data });
    /** The payload of the n-th `record` event of a log (1-based), once it came. */
    const nth = async (log, n, what) => (await log.wait(n, what)).args[0];

    it("socket CRUD: A watches, B changes, only A is told", T, async () => {
      const list = await call(a, "get", "/records");
      assertStatus(list, 200, "GET /records");
      assert.ok(Array.isArray(list.body), `an array: ${JSON.stringify(list.body)}`);
      assert.equal(list.body.length, 0, "a new store is empty");

      // created
      const created = await call(b, "post", "/records", { name: "first", n: 1 });
      assertStatus(created, 201, "POST /records");
      const rec1 = created.body;
      assert.ok(Number.isInteger(rec1.id), `an integer id: ${JSON.stringify(rec1)}`);
      assert.equal(rec1.name, "first");
      assert.equal(rec1.n, 1);
      assert.deepEqual(await nth(logA, 1, "created on A"), { verb: "created", data: rec1, id: rec1.id });

      // B subscribes to the record; A's change reaches B, and it is the first thing B got (B,
      // which created it, was not told of the creation); A is not told of its own change
      const got = await call(b, "get", `/records/${rec1.id}`);
      assertStatus(got, 200, "GET /records/:id");
      assert.deepEqual(got.body, rec1);
      const patchedByA = await call(a, "patch", `/records/${rec1.id}`, { n: 2 });
      assertStatus(patchedByA, 200, "PATCH by A");
      assert.deepEqual(patchedByA.body, { ...rec1, n: 2 });
      assert.deepEqual(await nth(logB, 1, "updated on B"), { verb: "updated", data: { n: 2 }, id: rec1.id, previous: rec1 });
      assert.equal(logB.length, 1, `B's events: ${JSON.stringify(logB)}`);

      // updated by B: A is told (and this is A's second event: its own change was not echoed)
      const patchedByB = await call(b, "patch", `/records/${rec1.id}`, { name: "renamed" });
      assertStatus(patchedByB, 200, "PATCH by B");
      const afterB = { ...rec1, n: 2, name: "renamed" };
      assert.deepEqual(patchedByB.body, afterB);
      assert.deepEqual(await nth(logA, 2, "updated on A"), {
        verb: "updated",
        data: { name: "renamed" },
        id: rec1.id,
        previous: patchedByA.body,
      });

      // a second record (A watches the model), then links between them
      const created2 = await call(b, "post", "/records", { name: "second" });
      assertStatus(created2, 201, "POST /records (second)");
      const rec2 = created2.body;
      assert.notEqual(rec2.id, rec1.id);
      assert.deepEqual(await nth(logA, 3, "second created on A"), { verb: "created", data: rec2, id: rec2.id });

      const linked = await call(b, "put", `/records/${rec1.id}/links/${rec2.id}`);
      assertStatus(linked, 200, "PUT links");
      assert.deepEqual(await nth(logA, 4, "addedTo on A"), {
        verb: "addedTo",
        id: rec1.id,
        attribute: "links",
        addedId: rec2.id,
      });
      const unlinked = await call(b, "delete", `/records/${rec1.id}/links/${rec2.id}`);
      assertStatus(unlinked, 200, "DELETE links");
      assert.deepEqual(await nth(logA, 5, "removedFrom on A"), {
        verb: "removedFrom",
        id: rec1.id,
        attribute: "links",
        removedId: rec2.id,
      });

      // destroyed: the answer and the event carry the record as it was
      const current = await call(b, "get", `/records/${rec1.id}`);
      assertStatus(current, 200, "GET before DELETE");
      const destroyed = await call(b, "delete", `/records/${rec1.id}`);
      assertStatus(destroyed, 200, "DELETE /records/:id");
      assert.deepEqual(destroyed.body, current.body);
      assert.deepEqual(await nth(logA, 6, "destroyed on A"), { verb: "destroyed", id: rec1.id, previous: current.body });
      assertStatus(await call(a, "get", `/records/${rec1.id}`), 404, "GET a destroyed record");

      // B was subscribed to rec1 throughout and got none of its own changes: the marker is A's
      // change to rec2, once B is subscribed to it
      const rec2Now = await call(b, "get", `/records/${rec2.id}`);
      assertStatus(rec2Now, 200, "B subscribes to rec2");
      const marker = await call(a, "patch", `/records/${rec2.id}`, { marker: true });
      assertStatus(marker, 200, "PATCH rec2 by A");
      assert.deepEqual(await nth(logB, 2, "the marker on B"), {
        verb: "updated",
        data: { marker: true },
        id: rec2.id,
        previous: rec2Now.body,
      });
      assert.deepEqual(
        logB.map((e) => [e.args[0].verb, e.args[0].id]),
        [
          ["updated", rec1.id],
          ["updated", rec2.id],
        ],
        "B was told of its own changes",
      );
      assert.equal(logA.length, 6, `A was told of its own change: ${JSON.stringify(logA.slice(6))}`);
    });

    it("an unknown id is a 404", T, async () => {
      const unknown = 987654;
      assertStatus(await call(a, "get", `/records/${unknown}`), 404, "GET");
      assertStatus(await call(b, "patch", `/records/${unknown}`, { x: 1 }), 404, "PATCH");
      assertStatus(await call(b, "delete", `/records/${unknown}`), 404, "DELETE");
      const rec = (await call(b, "post", "/records", { name: "linkable" })).body;
      // (a link from an unknown record; whether the other end must exist is not in the contract,
      // and Sails' blueprint does not check it)
      assertStatus(await call(b, "put", `/records/${unknown}/links/${rec.id}`), 404, "PUT a link from an unknown record");
      assertStatus(await call(b, "delete", `/records/${unknown}/links/${rec.id}`), 404, "DELETE a link from an unknown record");
      for (const method of ["GET", "PATCH", "DELETE"]) {
        const res = await http(method, `${server.url}/records/${unknown}`, method === "PATCH" ? { json: { x: 1 } } : {});
        assert.equal(res.status, 404, `${method} over HTTP`);
      }
      // the 404s told nobody anything; the creation reached A
      await until(
        () => logA.some((e) => e.args[0].verb === "created" && e.args[0].id === rec.id),
        `A told of the creation of ${rec.id} (log ${JSON.stringify(logA)})`,
      );
      assert.deepEqual(logA.at(-1).args[0], { verb: "created", data: rec, id: rec.id });
    });

    it("the same CRUD over plain HTTP works and notifies A", T, async () => {
      const base = logA.length;
      const waitA = (k, what) => nth(logA, base + k, what);
      const created = await http("POST", `${server.url}/records`, { json: { name: "over http", n: 10 } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const rec = created.body;
      assert.ok(Number.isInteger(rec.id));
      assert.equal(rec.name, "over http");
      assert.deepEqual(await waitA(1, "created over HTTP"), { verb: "created", data: rec, id: rec.id });

      const list = await http("GET", `${server.url}/records`);
      assert.equal(list.status, 200);
      assert.ok(list.body.some((r) => r.id === rec.id && r.name === "over http"), JSON.stringify(list.body));
      const one = await http("GET", `${server.url}/records/${rec.id}`);
      assert.equal(one.status, 200);
      assert.deepEqual(one.body, rec);

      const patched = await http("PATCH", `${server.url}/records/${rec.id}`, { json: { n: 11 } });
      assert.equal(patched.status, 200);
      assert.deepEqual(patched.body, { ...rec, n: 11 });
      assert.deepEqual(await waitA(2, "updated over HTTP"), { verb: "updated", data: { n: 11 }, id: rec.id, previous: rec });

      const other = (await http("POST", `${server.url}/records`, { json: { name: "other" } })).body;
      assert.deepEqual(await waitA(3, "other created over HTTP"), { verb: "created", data: other, id: other.id });
      const linked = await http("PUT", `${server.url}/records/${rec.id}/links/${other.id}`);
      assert.equal(linked.status, 200);
      assert.deepEqual(await waitA(4, "addedTo over HTTP"), { verb: "addedTo", id: rec.id, attribute: "links", addedId: other.id });
      const unlinked = await http("DELETE", `${server.url}/records/${rec.id}/links/${other.id}`);
      assert.equal(unlinked.status, 200);
      assert.deepEqual(await waitA(5, "removedFrom over HTTP"), {
        verb: "removedFrom",
        id: rec.id,
        attribute: "links",
        removedId: other.id,
      });

      const before = (await http("GET", `${server.url}/records/${rec.id}`)).body;
      const destroyed = await http("DELETE", `${server.url}/records/${rec.id}`);
      assert.equal(destroyed.status, 200);
      assert.deepEqual(destroyed.body, before);
      assert.deepEqual(await waitA(6, "destroyed over HTTP"), { verb: "destroyed", id: rec.id, previous: before });
      assert.equal((await http("GET", `${server.url}/records/${rec.id}`)).status, 404);
    });
  });
}
