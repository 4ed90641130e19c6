// Sails virtual requests from the browser: Debian's headless Chromium (driven by playwright-core)
// against examples/test_server, which serves the repo's static/ folder at / (so /io-socket.js is
// static/io-socket.js) and socket.io-client 4.8's bundle at /socket.io/socket.io.js.
//  - our io.socket layer (static/io-socket.js) over socket.io-client 4: auto-connect after the
//    load tick with the SDK's handshake query, requests queued before the connection,
//    get/post/put/patch/delete/request to /vr/echo (data, io.sails.headers, response headers,
//    the wire shape of each emit), 404 with jwr.error, a second socket from io.sails.connect()
//    joining, receiving and leaving a room, requests in flight answered with statusCode 0 when the
//    socket disconnects or drops (then socket.io-client's own reconnection), autoConnect = false;
//  - the real sails.io.js 1.2.1 dist bundle (socket.io-client 2.0.3, Engine.IO v3): get, post and
//    a room broadcast.
// Every page must end without page errors or console errors. Waits are for conditions, bounded.
// The file is skipped when /usr/bin/chromium is not installed.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { after, before, describe, it, test } from "node:test";
import { REPO_ROOT, httpGet, startServer, chromiumMissing, launchChromium } from "../support/helpers.mjs";

const require = createRequire(import.meta.url);
const skip = chromiumMissing;
const T = { timeout: 90000 };
const OUR_CLIENT = readFileSync(path.join(REPO_ROOT, "static", "io-socket.js"), "utf8");
const SAILS_DIST = readFileSync(require.resolve("sails.io.js/dist/sails.io.js"), "utf8");

// Page-side helpers, inlined in every test page before the page's own script.
const PAGE_HELPERS = `
  window.pageLog = [];
  // resolves once check() is true (polled), rejects after ms
  window.waitFor = (check, what, ms = 20000) => new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    (function poll() {
      let ok = false;
      try { ok = check(); } catch (e) { return reject(e); }
      if (ok) return resolve(ok);
      if (Date.now() > deadline) return reject(new Error("timed out waiting for " + what));
      setTimeout(poll, 10);
    })();
  });
  window.within = (promise, what, ms = 20000) => Promise.race([promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(what + " not within " + ms + " ms")), ms))]);
  // what a request callback got, as plain data
  window.answer = (body, jwr) => ({
    body, statusCode: jwr && jwr.statusCode, headers: jwr && jwr.headers, jwrBody: jwr && jwr.body,
    error: jwr && jwr.error ? { message: String(jwr.error.message), isError: jwr.error instanceof Error, code: jwr.error.code } : null,
    pojo: jwr && typeof jwr.toPOJO === "function" ? jwr.toPOJO() : null,
    str: jwr && typeof jwr.toString === "function" ? String(jwr) : null,
  });
  // socket[fn](...args, cb) as a promise of its answer
  window.call = (socket, fn, ...args) => within(new Promise((resolve) =>
    socket[fn](...args, (body, jwr) => resolve(answer(body, jwr)))), fn + " " + JSON.stringify(args));
  // the handshake the server recorded (test_server's "handshake" event), over the raw socket
  window.handshakeOf = (socket) => within(new Promise((resolve) => socket._raw.emit("handshake", resolve)), "handshake ack");
  // record every \`name\` event of socket in list
  window.recordEvents = (socket, names) => {
    const got = {};
    for (const name of names) {
      got[name] = [];
      socket.on(name, (...a) => {
        while (a.length && a[a.length - 1] === undefined) a.pop();
        got[name].push(a.length > 1 ? a : a[0]);
      });
    }
    return got;
  };
`;

function pageHtml(scripts, inline) {
  return `<!doctype html>
<html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>sails browser test</title>
<script>${PAGE_HELPERS}</script>
${scripts.map((src) => `<script src="${src}"></script>`).join("\n")}
<script>${inline}</script>
</head><body></body></html>`;
}

if (skip) {
  test("Sails virtual requests in headless Chromium", { skip }, () => {});
} else {
  describe("Sails virtual requests in headless Chromium", () => {
    let server;
    let browser;
    const pages = [];

    before(async () => {
      // Long heartbeats: the page's timers may be throttled on a busy machine.
      server = await startServer("test_server", ["--ping-interval", "5000", "--ping-timeout", "5000"]);
      browser = await launchChromium();
    });

    after(async () => {
      for (const p of pages.splice(0)) await p.close().catch(() => {});
      if (browser) await browser.close();
      if (server) await server.stop();
    });

    /**
     * A page of the server's origin: test_server's empty page at `/vr/page`, whose content is then
     * replaced by `html` (setContent, so the document keeps the server's origin and its loopback
     * address space: a document fulfilled by page.route would be "public" for Chromium's Local
     * Network Access checks, which then block its WebSockets to 127.0.0.1). `routes` fulfils
     * further URLs of the origin ({pathname: {body, contentType}}). Records page errors, console
     * errors and the WebSocket frames the page sends.
     */
    async function openPage(html, routes = {}) {
      const page = await browser.newPage();
      pages.push(page);
      const errors = [];
      const sentFrames = [];
      page.on("pageerror", (err) => errors.push(`pageerror: ${err.message}`));
      page.on("console", (msg) => {
        if (msg.type() === "error") errors.push(`console.error: ${msg.text()} (${msg.location().url})`);
      });
      page.on("response", (res) => {
        if (res.status() >= 400) errors.push(`HTTP ${res.status()} for ${res.request().method()} ${res.url()}`);
      });
      page.on("websocket", (ws) => ws.on("framesent", (frame) => sentFrames.push(frame.payload)));
      for (const [p, { body, contentType }] of Object.entries(routes)) {
        await page.route(`${server.url}${p}`, (route) => route.fulfill({ status: 200, contentType, body }));
      }
      const landing = await page.goto(`${server.url}/vr/page`);
      assert.equal(landing.status(), 200, "the empty page is served at /vr/page");
      await page.setContent(html);
      return { page, errors, sentFrames };
    }

    /** Socket.IO EVENT packets (text "42<ack id>[...]") the page sent on its WebSockets, parsed. */
    function sentEvents(sentFrames) {
      const out = [];
      for (const f of sentFrames) {
        const m = typeof f === "string" && /^42(\d*)(\[[\s\S]*)$/.exec(f);
        if (m) out.push({ ackId: m[1], args: JSON.parse(m[2]) });
      }
      return out;
    }

    it("the server serves static/io-socket.js at /io-socket.js and socket.io-client 4's bundle", T, async () => {
      const ours = await httpGet(`${server.url}/io-socket.js`);
      assert.equal(ours.status, 200, `GET /io-socket.js: ${ours.status} ${ours.text.slice(0, 200)}`);
      assert.equal(ours.text, OUR_CLIENT, "/io-socket.js is static/io-socket.js");
      assert.match(ours.headers.get("content-type") || "", /javascript/);
      const bundle = await httpGet(`${server.url}/socket.io/socket.io.js`);
      assert.equal(bundle.status, 200);
      assert.match(bundle.text, /Socket\.IO v4\.8/);
    });

    describe("our io.socket (static/io-socket.js over socket.io-client 4)", () => {
      let page;
      let errors;
      let sentFrames;

      before(async () => {
        // The inline script runs in the load tick: io.socket exists and has not connected yet,
        // settings made now apply, requests made now are queued.
        ({ page, errors, sentFrames } = await openPage(
          pageHtml(
            ["/socket.io/socket.io.js", "/io-socket.js"],
            `
            window.early = {
              connected: io.socket.isConnected(),
              connecting: io.socket.isConnecting(),
              mightBe: io.socket.mightBeAboutToAutoConnect(),
              answers: [],
            };
            io.sails.headers = { "x-global": "g", "x-override": "from io.sails" };
            io.sails.query = "app=demo";
            window.aEvents = recordEvents(io.socket, ["connect", "disconnect"]);
            io.socket.get("/vr/echo", { early: "get" }, (body, jwr) => early.answers.push(answer(body, jwr)));
            io.socket.post("/vr/echo", { early: "post" }, (body, jwr) => early.answers.push(answer(body, jwr)));
            early.queuedAtLoad = (io.socket.requestQueue || []).length;
            `,
          ),
        ));
      });

      it("io.socket connects by itself after the load tick, with the SDK's handshake query", T, async () => {
        const out = await page.evaluate(async () => {
          await waitFor(() => io.socket.isConnected(), "io.socket connected");
          await waitFor(() => aEvents.connect.length === 1, "a connect event");
          return {
            early,
            connected: io.socket.isConnected(),
            connecting: io.socket.isConnecting(),
            mightBe: io.socket.mightBeAboutToAutoConnect(),
            v4: typeof io.socket._raw.timeout === "function" && typeof io.socket._raw.onAnyOutgoing === "function",
            transport: io.socket._raw.io.engine.transport.name,
            handshake: await handshakeOf(io.socket),
            origin: location.origin,
            sdk: io.sails.sdk,
          };
        });
        assert.equal(out.early.connected, false, "not connected in the load tick");
        assert.equal(out.early.mightBe, true, "mightBeAboutToAutoConnect() in the load tick");
        assert.equal(out.early.connecting, false);
        assert.equal(out.early.queuedAtLoad, 2, "requests made before the connection are queued");
        assert.equal(out.connected, true);
        assert.equal(out.connecting, false);
        assert.equal(out.mightBe, false);
        assert.equal(out.v4, true, "socket.io-client 4 (its Socket has timeout() and onAnyOutgoing())");
        assert.equal(out.transport, "websocket", "io.sails.transports defaults to ['websocket'], as sails.io.js");
        const q = out.handshake.query;
        assert.equal(q.__sails_io_sdk_version, "1.2.1");
        assert.equal(q.__sails_io_sdk_platform, "browser");
        assert.equal(q.__sails_io_sdk_language, "javascript");
        assert.equal(q.app, "demo", "io.sails.query set in the load tick is sent");
        assert.equal(q.EIO, "4");
        assert.equal(out.handshake.headers.origin, out.origin);
        assert.deepEqual(out.sdk, {
          version: "1.2.1",
          platform: "browser",
          language: "javascript",
          versionString: "__sails_io_sdk_version=1.2.1&__sails_io_sdk_platform=browser&__sails_io_sdk_language=javascript",
        });
      });

      it("requests made before the connection are sent once connected and answered", T, async () => {
        const answers = await page.evaluate(async () => {
          await waitFor(() => early.answers.length === 2, "the two queued requests answered");
          return early.answers;
        });
        const byMethod = Object.fromEntries(answers.map((a) => [String(a.body && a.body.method).toUpperCase(), a]));
        assert.deepEqual(Object.keys(byMethod).sort(), ["GET", "POST"], JSON.stringify(answers));
        assert.equal(byMethod.GET.statusCode, 200);
        assert.deepEqual(byMethod.GET.body.query, { early: "get" });
        assert.equal(byMethod.POST.statusCode, 200);
        assert.deepEqual(byMethod.POST.body.body, { early: "post" });
        for (const a of answers) {
          assert.equal(a.body.isSocket, true);
          assert.equal(a.body.headers["x-global"], "g", "io.sails.headers set in the load tick reach the server");
        }
      });

      it("get/post/put/patch/delete reach /vr/echo with their data and headers; response headers come back", T, async () => {
        const data = { n: 1, s: "text", yes: true, nested: { k: [1, 2] } };
        const res = await page.evaluate(async (data) => {
          const out = {};
          for (const m of ["get", "post", "put", "patch", "delete"]) {
            out[m] = await call(io.socket, m, "/vr/echo", { ...data, tag: m });
          }
          // data is optional
          out.bare = await call(io.socket, "get", "/vr/echo");
          return { out, origin: location.origin, id: io.socket._raw.id };
        }, data);
        for (const m of ["get", "post", "put", "patch", "delete"]) {
          const a = res.out[m];
          const what = `${m}: ${JSON.stringify(a)}`;
          assert.equal(a.statusCode, 200, what);
          assert.equal(a.error, null, what);
          assert.deepEqual(a.jwrBody, a.body, "the callback's body is jwr.body");
          assert.equal(a.headers["x-echo"], "yes", what);
          assert.deepEqual(a.pojo, { body: a.body, headers: a.headers, statusCode: 200 });
          assert.match(a.str, /^\[ResponseFromSails\]  -- Status: 200/);
          const echo = a.body;
          assert.equal(String(echo.method).toUpperCase(), m.toUpperCase(), what);
          assert.equal(echo.path, "/vr/echo", what);
          assert.equal(echo.isSocket, true, what);
          assert.equal(typeof echo.socketId, "string", what);
          assert.ok(echo.socketId.length > 0, what);
          assert.equal(echo.headers["x-global"], "g", `io.sails.headers reach the server (${what})`);
          assert.equal(echo.headers.origin, res.origin, `the handshake's origin (${what})`);
          if (m === "get" || m === "delete") {
            // keys become query parameters: strings as-is, other values as JSON text
            assert.deepEqual(echo.query, { n: "1", s: "text", yes: "true", nested: '{"k":[1,2]}', tag: m }, what);
            assert.equal(echo.body, null, what);
          } else {
            assert.deepEqual(echo.query, {}, what);
            assert.deepEqual(echo.body, { ...data, tag: m }, what);
          }
        }
        assert.equal(res.out.bare.statusCode, 200);
        assert.deepEqual(res.out.bare.body.query, {});

        // On the wire: the event named after the lowercased method, ONE argument
        // {method, headers, data, url}, and an ack.
        const events = sentEvents(sentFrames);
        for (const m of ["get", "post", "put", "patch", "delete"]) {
          const ev = events.find((e) => e.args[1] && e.args[1].data && e.args[1].data.tag === m);
          assert.ok(ev, `an emit for ${m}: ${JSON.stringify(events.slice(-10))}`);
          assert.match(ev.ackId, /^\d+$/, `${m} is emitted with an ack`);
          assert.equal(ev.args.length, 2, `event name and one argument: ${JSON.stringify(ev.args)}`);
          assert.equal(ev.args[0], m);
          assert.deepEqual(ev.args[1], {
            method: m,
            headers: { "x-global": "g", "x-override": "from io.sails" },
            data: { ...data, tag: m },
            url: "/vr/echo",
          });
        }
      });

      it("request(): method in any case, data or params, its own headers over io.sails.headers", T, async () => {
        const res = await page.evaluate(async () => ({
          put: await call(io.socket, "request", {
            method: "PUT",
            url: "/vr/echo",
            data: { via: "data" },
            headers: { "x-req": "r", "x-override": "from the request" },
          }),
          get: await call(io.socket, "request", { url: "/vr/echo", params: { via: "params" } }),
          both: (() => {
            try {
              io.socket.request({ url: "/vr/echo", data: { a: 1 }, params: { b: 2 } }, () => {});
              return null;
            } catch (e) {
              return e.message;
            }
          })(),
          noUrl: (() => {
            try {
              io.socket.get(undefined, () => {});
              return null;
            } catch (e) {
              return e.message;
            }
          })(),
        }));
        assert.equal(res.put.statusCode, 200, JSON.stringify(res.put));
        assert.equal(String(res.put.body.method).toUpperCase(), "PUT");
        assert.deepEqual(res.put.body.body, { via: "data" });
        assert.equal(res.put.body.headers["x-req"], "r");
        assert.equal(res.put.body.headers["x-override"], "from the request", "the request's header wins");
        assert.equal(res.put.body.headers["x-global"], "g");
        assert.equal(res.get.statusCode, 200, JSON.stringify(res.get));
        assert.equal(String(res.get.body.method).toUpperCase(), "GET", "method defaults to get");
        assert.deepEqual(res.get.body.query, { via: "params" });
        assert.match(res.both, /Cannot specify both `params` and `data`/);
        assert.match(res.noUrl, /Invalid or missing URL/);
        const put = sentEvents(sentFrames).find((e) => e.args[1] && e.args[1].data && e.args[1].data.via === "data");
        assert.equal(put.args[0], "put", "the event is the lowercased method");
        assert.equal(put.args[1].method, "put");
      });

      it("errors and other bodies: 404 on an unknown route and other statuses set jwr.error; text bodies", T, async () => {
        const res = await page.evaluate(async () => ({
          missing: await call(io.socket, "get", "/vr/no-such-route"),
          teapot: await call(io.socket, "get", "/vr/status/418"),
          created: await call(io.socket, "get", "/vr/status/201"),
          text: await call(io.socket, "get", "/vr/text"),
        }));
        assert.equal(res.missing.statusCode, 404, JSON.stringify(res.missing));
        assert.ok(res.missing.error && res.missing.error.isError, "jwr.error is an Error");
        assert.match(res.missing.error.message, /404/);
        assert.equal(res.teapot.statusCode, 418);
        assert.deepEqual(res.teapot.body, { status: 418 });
        assert.ok(res.teapot.error && res.teapot.error.isError);
        assert.match(res.teapot.error.message, /418/);
        assert.equal(res.created.statusCode, 201);
        assert.equal(res.created.error, null, "no error for a 2xx");
        assert.equal(res.text.statusCode, 200);
        assert.equal(res.text.body, "hello");
        assert.equal(res.text.error, null);
      });

      it("headers reach the server's middleware; the first set-cookie of a virtual response is kept for the socket", T, async () => {
        const res = await page.evaluate(async () => {
          const E = io.sails.connect();
          const out = {
            refused: await call(E, "post", "/vr/guarded/echo", { x: 1 }),
            allowed: await call(E, "request", {
              method: "post",
              url: "/vr/guarded/echo",
              data: { x: 2 },
              headers: { "x-csrf-token": "secret" },
            }),
            cookie1: await call(E, "get", "/vr/cookie"),
            cookie2: await call(E, "get", "/vr/cookie"),
          };
          E.disconnect();
          return out;
        });
        assert.equal(res.refused.statusCode, 403, JSON.stringify(res.refused));
        assert.deepEqual(res.refused.body, { error: "invalid csrf token" });
        assert.ok(res.refused.error && res.refused.error.isError);
        assert.equal(res.allowed.statusCode, 200, JSON.stringify(res.allowed));
        assert.deepEqual(res.allowed.body.body, { x: 2 });
        assert.equal(res.allowed.body.headers["x-csrf-token"], "secret");
        assert.equal(res.cookie1.statusCode, 200, JSON.stringify(res.cookie1));
        assert.equal(res.cookie1.body.cookie, null, "the page has no cookie");
        assert.equal(res.cookie1.headers["set-cookie"], undefined, "set-cookie is not in jwr.headers");
        assert.match(String(res.cookie2.body.cookie), /^vrsid=[^;]+$/, JSON.stringify(res.cookie2));
      });

      it("io.sails.connect() gives a second socket (here over polling) that joins, receives and leaves a room", T, async () => {
        const res = await page.evaluate(async () => {
          const A = io.socket;
          const B = (window.B = io.sails.connect(location.origin, { transports: ["polling"] }));
          const bEvents = recordEvents(B, ["news", "marker"]);
          const aEvents = recordEvents(A, ["news", "marker"]);
          // queued until B is connected
          const joined = await call(B, "post", "/vr/rooms/R1/join");
          const out = { joined, bConnected: B.isConnected(), bTransport: B._raw.io.engine.transport.name };
          out.bHandshake = (await handshakeOf(B)).query;
          out.bId = (await call(B, "get", "/vr/echo")).body.socketId;
          out.aId = (await call(A, "get", "/vr/echo")).body.socketId;
          out.markerJoins = [await call(B, "post", "/vr/rooms/M1/join"), await call(A, "post", "/vr/rooms/M1/join")];

          out.sent1 = await call(A, "post", "/vr/rooms/R1/broadcast", { event: "news", data: { n: 1 } });
          await waitFor(() => bEvents.news.length === 1, "B gets the first news");
          out.left = await call(B, "post", "/vr/rooms/R1/leave");
          out.sent2 = await call(A, "post", "/vr/rooms/R1/broadcast", { event: "news", data: { n: 2 } });
          // sent after the second news was: once B has it, B would have had the news too
          out.sent3 = await call(A, "post", "/vr/rooms/M1/broadcast", { event: "marker", data: { n: 3 }, omitSelf: true });
          await waitFor(() => bEvents.marker.length === 1, "B gets the marker");
          out.bEvents = bEvents;
          out.aEvents = aEvents;

          // off() and removeAllListeners(): B's listeners are gone, a new one after them works;
          // the second marker (sent after the first) proves the first one reached B already
          let offCalls = 0;
          const counted = () => offCalls++;
          B.on("marker", counted);
          B.off("marker", counted);
          B.removeAllListeners();
          const late = [];
          B.on("marker2", (d) => late.push(d));
          await call(A, "post", "/vr/rooms/M1/broadcast", { event: "marker", data: { n: 4 }, omitSelf: true });
          await call(A, "post", "/vr/rooms/M1/broadcast", { event: "marker2", data: { n: 5 }, omitSelf: true });
          await waitFor(() => late.length === 1, "B gets marker2");
          out.afterRemoval = { markers: bEvents.marker.length, offCalls, late };
          B.disconnect();
          return out;
        });
        assert.equal(res.bConnected, true);
        assert.equal(res.bTransport, "polling");
        assert.equal(res.bHandshake.__sails_io_sdk_version, "1.2.1");
        assert.equal(res.bHandshake.__sails_io_sdk_platform, "browser");
        assert.equal(res.bHandshake.__sails_io_sdk_language, "javascript");
        assert.equal(res.bHandshake.transport, "polling");
        assert.notEqual(res.aId, res.bId, "two sockets");
        assert.equal(res.joined.statusCode, 200, JSON.stringify(res.joined));
        assert.deepEqual(res.joined.body, { joined: "R1" });
        for (const j of res.markerJoins) assert.deepEqual(j.body, { joined: "M1" });
        for (const s of [res.sent1, res.sent2, res.sent3]) assert.deepEqual(s.body, { sent: true }, JSON.stringify(s));
        assert.deepEqual(res.left.body, { left: "R1" });
        assert.deepEqual(res.bEvents.news, [{ n: 1 }], "no news after leaving");
        assert.deepEqual(res.bEvents.marker, [{ n: 3 }]);
        assert.deepEqual(res.aEvents, { news: [], marker: [] }, "A is in neither room's audience");
        assert.deepEqual(res.afterRemoval, { markers: 1, offCalls: 0, late: [{ n: 5 }] }, "off() and removeAllListeners()");
      });

      it("a request in flight when the socket disconnects is answered at once with statusCode 0; reconnect() works", T, async () => {
        const res = await page.evaluate(async () => {
          const C = io.sails.connect();
          const cEvents = recordEvents(C, ["connect", "disconnect"]);
          await waitFor(() => C.isConnected(), "C connected");
          await call(C, "get", "/vr/echo"); // a round trip first
          const calls = [];
          C.get("/vr/slow?ms=5000", (body, jwr) => calls.push(answer(body, jwr)));
          const pendingBefore = calls.length;
          C.disconnect();
          const out = { pendingBefore, atOnce: calls.slice(), connected: C.isConnected() };
          out.disconnects = cEvents.disconnect.slice();
          // requests made while disconnected are queued and go once reconnect() has connected
          const queued = call(C, "get", "/vr/echo", { after: "reconnect" });
          C.reconnect();
          out.queued = await queued;
          out.connects = cEvents.connect.length;
          out.callsAtEnd = calls.length;
          C.disconnect();
          return out;
        });
        assert.equal(res.pendingBefore, 0);
        assert.equal(res.atOnce.length, 1, "answered within disconnect()");
        const a = res.atOnce[0];
        assert.equal(a.statusCode, 0);
        assert.ok(a.body === null || a.body === undefined, JSON.stringify(a));
        assert.ok(a.error && a.error.isError, "jwr.error is an Error");
        assert.match(a.error.message, /disconnected/);
        assert.equal(res.connected, false);
        assert.deepEqual(res.disconnects, ["io client disconnect"]);
        assert.equal(res.queued.statusCode, 200);
        assert.deepEqual(res.queued.body.query, { after: "reconnect" });
        assert.equal(res.connects, 2);
        assert.equal(res.callsAtEnd, 1, "the callback is called once");
      });

      it("a dropped connection: requests in flight answered with statusCode 0, automatic reconnection, 'reconnect' fires", T, async () => {
        const res = await page.evaluate(async () => {
          const D = io.sails.connect({ reconnectionDelay: 50, reconnectionDelayMax: 200 });
          const dEvents = recordEvents(D, ["connect", "disconnect", "reconnect", "reconnecting"]);
          await waitFor(() => D.isConnected(), "D connected");
          const calls = [];
          D.get("/vr/slow?ms=5000", (body, jwr) => calls.push(answer(body, jwr)));
          // the network goes away under socket.io-client (not a disconnect() of ours)
          D._raw.io.engine.close();
          await waitFor(() => calls.length === 1, "the request in flight answered");
          const out = { dropped: calls[0], disconnects: dEvents.disconnect.slice() };
          const queued = call(D, "post", "/vr/echo", { while: "offline" });
          await waitFor(() => dEvents.reconnect.length === 1, "a reconnect event");
          out.queued = await queued;
          await waitFor(() => D.isConnected(), "D connected again");
          out.after = await call(D, "get", "/vr/echo");
          out.events = dEvents;
          out.callsAtEnd = calls.length;
          D.disconnect();
          return out;
        });
        assert.equal(res.dropped.statusCode, 0);
        assert.ok(res.dropped.error && res.dropped.error.isError);
        assert.match(res.dropped.error.message, /disconnected/);
        assert.equal(res.disconnects.length, 1);
        assert.notEqual(res.disconnects[0], "io client disconnect");
        assert.equal(res.queued.statusCode, 200, JSON.stringify(res.queued));
        assert.deepEqual(res.queued.body.body, { while: "offline" });
        assert.equal(res.after.statusCode, 200);
        assert.equal(res.events.connect.length, 2);
        assert.ok(res.events.reconnecting.length >= 1, "reconnecting (reconnect_attempt) seen");
        assert.equal(res.callsAtEnd, 1);
      });

      it("io.socket is still connected and answering after the other sockets came and went", T, async () => {
        const res = await page.evaluate(async () => ({
          connected: io.socket.isConnected(),
          echo: await call(io.socket, "get", "/vr/echo"),
          connects: aEvents.connect.length,
          disconnects: aEvents.disconnect.length,
        }));
        assert.equal(res.connected, true);
        assert.equal(res.echo.statusCode, 200);
        assert.equal(res.connects, 1);
        assert.equal(res.disconnects, 0);
      });

      it("the page had no page errors and no console errors", T, () => {
        assert.deepEqual(errors, []);
      });
    });

    it("io.sails.autoConnect = false: no io.socket; io.sails.connect() still works", T, async () => {
      const { page, errors } = await openPage(
        pageHtml(
          ["/socket.io/socket.io.js", "/io-socket.js"],
          `io.sails.autoConnect = false; io.sails.environment = "production";`,
        ),
      );
      try {
        const res = await page.evaluate(async () => {
          await waitFor(() => typeof io.socket === "undefined", "io.socket removed after the load tick");
          const s = io.sails.connect();
          const echo = await call(s, "post", "/vr/echo", { manual: true });
          s.disconnect();
          return { echo };
        });
        assert.equal(res.echo.statusCode, 200);
        assert.deepEqual(res.echo.body.body, { manual: true });
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });

    it("the real sails.io.js 1.2.1 dist bundle (socket.io-client 2, Engine.IO v3): get, post and a broadcast", T, async () => {
      const { page, errors } = await openPage(
        pageHtml(
          ["/__test/sails.io.js"],
          `io.sails.headers = { "x-sdk": "sails.io.js" };
           window.early = { answers: [] };
           io.socket.get("/vr/echo", { early: 1 }, (body, jwr) => early.answers.push(answer(body, jwr)));`,
        ),
        { "/__test/sails.io.js": { body: SAILS_DIST, contentType: "application/javascript; charset=utf-8" } },
      );
      try {
        const res = await page.evaluate(async () => {
          await waitFor(() => io.socket.isConnected(), "io.socket connected");
          const out = { handshake: (await handshakeOf(io.socket)).query };
          await waitFor(() => early.answers.length === 1, "the queued request answered");
          out.early = early.answers[0];
          out.get = await call(io.socket, "get", "/vr/echo", { q: "v", n: 2 });
          out.post = await call(io.socket, "post", "/vr/echo", { b: [1, 2] });
          out.missing = await call(io.socket, "get", "/vr/no-such-route");
          const B = io.sails.connect();
          const bEvents = recordEvents(B, ["news"]);
          out.joined = await call(B, "post", "/vr/rooms/R2/join");
          out.sent = await call(io.socket, "post", "/vr/rooms/R2/broadcast", { event: "news", data: { from: "dist" } });
          await waitFor(() => bEvents.news.length === 1, "B gets the news");
          out.news = bEvents.news;
          B.disconnect();
          return out;
        });
        assert.equal(res.handshake.EIO, "3");
        assert.equal(res.handshake.__sails_io_sdk_version, "1.2.1");
        assert.equal(res.handshake.__sails_io_sdk_platform, "browser");
        assert.equal(res.handshake.__sails_io_sdk_language, "javascript");
        assert.equal(res.early.statusCode, 200, JSON.stringify(res.early));
        assert.deepEqual(res.early.body.query, { early: "1" });
        assert.equal(res.get.statusCode, 200, JSON.stringify(res.get));
        assert.equal(String(res.get.body.method).toUpperCase(), "GET");
        assert.deepEqual(res.get.body.query, { q: "v", n: "2" });
        assert.equal(res.get.body.isSocket, true);
        assert.equal(res.get.body.headers["x-sdk"], "sails.io.js");
        assert.equal(res.get.headers["x-echo"], "yes");
        assert.equal(res.post.statusCode, 200, JSON.stringify(res.post));
        assert.equal(String(res.post.body.method).toUpperCase(), "POST");
        assert.deepEqual(res.post.body.body, { b: [1, 2] });
        assert.equal(res.post.body.headers["x-sdk"], "sails.io.js");
        assert.equal(res.missing.statusCode, 404);
        assert.ok(res.missing.error && res.missing.error.isError);
        assert.deepEqual(res.joined.body, { joined: "R2" });
        assert.deepEqual(res.sent.body, { sent: true });
        assert.deepEqual(res.news, [{ from: "dist" }]);
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
      }
    });
  });
}
