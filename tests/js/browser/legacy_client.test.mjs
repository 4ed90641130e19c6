// socket.io-client 2.5's browser bundle (dist/socket.io.js) in Debian's headless Chromium, driven by
// playwright-core, against examples/test_server: a page of the server's own origin connects with
// transports ['polling'] (XHR2: binary payloads, application/octet-stream, both ways) and with
// forceJSONP (script tags for GETs, hidden-form POSTs `d=...`, binary as base64), and on each does
// a binary round trip, a client ack (with binary) and answers a server ack; and with the default
// transports, the upgrade to a WebSocket carrying binary frames.
// The file is skipped when /usr/bin/chromium is not installed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it, test } from "node:test";
import { startServer, chromiumMissing, launchChromium } from "../support/helpers.mjs";
import { v2PackagePath } from "../support/legacy_helpers.mjs";

const skip = chromiumMissing;
const T = { timeout: 90000 };

if (skip) {
  // reported as one skipped test, with the reason
  test("socket.io-client 2 in headless Chromium", { skip }, () => {});
} else {
  describe("socket.io-client 2 in headless Chromium", () => {
    let server;
    let browser;
    const bundle = readFileSync(v2PackagePath("dist/socket.io.js"), "utf8");

    before(async () => {
      // Long heartbeats: the page's timers may be throttled on a busy machine.
      server = await startServer("test_server", ["--ping-interval", "5000", "--ping-timeout", "5000"]);
      browser = await launchChromium();
    });

    after(async () => {
      if (browser) await browser.close();
      if (server) await server.stop();
    });

    /** A page of the server's origin with the socket.io-client 2 bundle loaded; records /socket.io/ responses. */
    async function openPage() {
      const page = await browser.newPage();
      const responses = [];
      page.on("response", (res) => {
        if (res.url().includes("/socket.io/?EIO=3")) {
          const req = res.request();
          responses.push({
            url: res.url(),
            method: req.method(),
            requestType: req.headers()["content-type"] || "",
            body: req.method() === "POST" ? req.postData() || "" : "",
            status: res.status(),
            type: res.headers()["content-type"] || "",
          });
        }
      });
      const errors = [];
      page.on("pageerror", (err) => errors.push(err.message));
      // Any URL the server answers with a body gives a document of its origin (a 400 JSON error here).
      await page.goto(`${server.url}/socket.io/`);
      await page.addScriptTag({ content: bundle });
      assert.equal(await page.evaluate(() => typeof io), "function", "the bundle defines io");
      return { page, responses, errors };
    }

    /** In the page: connect with `opts`, round-trip binary, ack both ways, disconnect; report what happened. */
    function exercise(page, opts) {
      return page.evaluate(async (opts) => {
        const within = (promise, what, ms = 15000) =>
          Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))]);
        const toBytes = async (x) => {
          if (x instanceof Blob) x = await x.arrayBuffer();
          if (x instanceof ArrayBuffer) return Array.from(new Uint8Array(x));
          if (ArrayBuffer.isView(x)) return Array.from(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
          throw new Error(`not binary: ${JSON.stringify(x)}`);
        };
        const socket = io(location.origin, { forceNew: true, reconnection: false, timeout: 15000, ...opts });
        try {
          const greeting = new Promise((resolve) => socket.once("auth", resolve));
          await within(
            new Promise((resolve, reject) => {
              socket.once("connect", resolve);
              socket.once("error", (e) => reject(new Error(`error: ${JSON.stringify(e)}`)));
              socket.once("connect_error", (e) => reject(new Error(`connect_error: ${e && e.message}`)));
            }),
            "not connected",
          );
          const out = { auth: await within(greeting, "no greeting") };
          const transport = socket.io.engine.transport;
          out.transport = transport.name;
          out.supportsBinary = transport.supportsBinary;

          // binary round trip, nested
          const echoed = new Promise((resolve) => socket.once("message-back", (...args) => resolve(args)));
          socket.emit("message", new Uint8Array([1, 2, 3, 255]).buffer, { nested: [new Uint8Array([0, 128]).buffer, "text"] });
          const [first, second] = await within(echoed, "no message-back");
          out.echo = [await toBytes(first), await toBytes(second.nested[0]), second.nested[1]];

          // client ack with binary
          const acked = await within(
            new Promise((resolve) => socket.emit("message-with-ack", { bin: new Uint8Array([9, 8, 7]).buffer }, "plain", (...a) => resolve(a))),
            "no ack",
          );
          out.ack = [await toBytes(acked[0].bin), acked[1]];

          // the server's ack: the client answers, with binary
          socket.on("question", (q, cb) => cb(q, new Uint8Array([42]).buffer));
          const answer = new Promise((resolve) => socket.once("answer", (...args) => resolve(args)));
          socket.emit("ask", 10000);
          const [q, bin] = await within(answer, "no answer");
          out.answer = [q, await toBytes(bin)];

          // what the server saw of the handshake
          out.query = await within(new Promise((resolve) => socket.emit("handshake", (hs) => resolve(hs.query))), "no handshake ack");
          out.still = socket.io.engine.transport.name;
          return out;
        } finally {
          socket.close();
        }
      }, opts);
    }

    const expected = (out, transport = "polling") => {
      assert.deepEqual(out.auth, {});
      assert.deepEqual(out.echo, [[1, 2, 3, 255], [0, 128], "text"]);
      assert.deepEqual(out.ack, [[9, 8, 7], "plain"]);
      assert.deepEqual(out.answer, ["ready?", [42]]);
      assert.equal(out.query.EIO, "3");
      assert.equal(out.query.transport, "polling");
      assert.equal(out.still, transport);
    };

    it("transports ['polling']: XHR2 with binary payloads (application/octet-stream) both ways", T, async () => {
      const { page, responses, errors } = await openPage();
      try {
        const out = await exercise(page, { transports: ["polling"] });
        expected(out);
        assert.equal(out.transport, "polling");
        assert.equal(out.supportsBinary, true, "XHR2 in Chromium: binary payloads");
        assert.equal(out.query.b64, undefined, "no b64 for an XHR2 client");
        assert.equal(out.query.j, undefined);
        const binary = responses.filter((r) => r.method === "GET" && r.type.startsWith("application/octet-stream"));
        assert.ok(binary.length >= 1, `a binary payload GET expected: ${JSON.stringify(responses)}`);
        const binaryPosts = responses.filter((r) => r.method === "POST" && r.requestType.startsWith("application/octet-stream"));
        assert.ok(binaryPosts.length >= 1, `a binary payload POST expected: ${JSON.stringify(responses)}`);
        for (const r of responses) assert.equal(r.status, 200, JSON.stringify(r));
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });

    it("default transports: polling, upgraded to a WebSocket that carries the binary frames", T, async () => {
      const { page, responses, errors } = await openPage();
      try {
        const exercised = await page.evaluate(async () => {
          const within = (promise, what, ms = 15000) =>
            Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))]);
          const socket = io(location.origin, { forceNew: true, reconnection: false, timeout: 15000 });
          try {
            // wait for the upgrade, so that the events below go over the WebSocket
            await within(
              new Promise((resolve, reject) => {
                socket.io.engine.once("upgrade", resolve);
                socket.io.engine.once("upgradeError", (e) => reject(new Error(`upgrade error: ${e && e.message}`)));
              }),
              "no upgrade",
            );
            const echoed = new Promise((resolve) => socket.once("message-back", (...args) => resolve(args)));
            socket.emit("message", new Uint8Array([5, 6, 7]).buffer, "ws");
            const [bin, text] = await within(echoed, "no message-back");
            const acked = await within(
              new Promise((resolve) => socket.emit("message-with-ack", new Uint8Array([8]).buffer, (a) => resolve(a))),
              "no ack",
            );
            const transport = socket.io.engine.transport.name;
            return { bin: Array.from(new Uint8Array(bin)), text, acked: Array.from(new Uint8Array(acked)), transport };
          } finally {
            socket.close();
          }
        });
        assert.deepEqual(exercised, { bin: [5, 6, 7], text: "ws", acked: [8], transport: "websocket" });
        for (const r of responses) assert.equal(r.status, 200, JSON.stringify(r));
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });

    it("forceJSONP: script-tag GETs and form POSTs, binary as base64", T, async () => {
      const { page, responses, errors } = await openPage();
      try {
        const out = await exercise(page, { transports: ["polling"], forceJSONP: true });
        expected(out);
        assert.equal(out.transport, "polling");
        assert.equal(out.supportsBinary, false, "JSONP carries binary as base64");
        assert.match(String(out.query.j), /^\d+$/, "the j=N of a JSONP client");
        assert.equal(out.query.b64, "1");
        const gets = responses.filter((r) => r.method === "GET");
        const posts = responses.filter((r) => r.method === "POST");
        assert.ok(gets.length >= 2 && posts.length >= 1, `JSONP GETs and POSTs expected: ${JSON.stringify(responses)}`);
        for (const r of gets) assert.match(r.type, /^text\/javascript/, JSON.stringify(r));
        for (const r of posts) {
          assert.match(r.requestType, /^application\/x-www-form-urlencoded/, JSON.stringify(r));
          assert.match(r.body, /^d=/, JSON.stringify(r));
        }
        for (const r of responses) assert.equal(r.status, 200, JSON.stringify(r));
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });
  });
}
