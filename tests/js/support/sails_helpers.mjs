// Helpers for the Sails virtual-request tests: sails.io.js 1.2.1 in Node over socket.io-client 2
// (its own, Engine.IO v3) or socket.io-client 4, a promise around its request(), an ordered log
// of the events a socket receives, and closing everything a test made.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { closeSocket, httpRequest, onAnyEvent, until } from "./helpers.mjs";
import { connectedV2, ioV2, serverIdV2 } from "./legacy_helpers.mjs";

const require = createRequire(import.meta.url);
const sailsIOClient = require("sails.io.js");
const ioV4 = require("socket.io-client");

/** The SailsSocket options sails.io.js keeps as accessor properties (its SOCKET_OPTIONS). */
const SAILS_SOCKET_OPTIONS = [
  "useCORSRouteToGetCookie",
  "url",
  "multiplex",
  "transports",
  "query",
  "path",
  "headers",
  "initialConnectionHeaders",
  "reconnection",
  "reconnectionAttempts",
  "reconnectionDelay",
  "reconnectionDelayMax",
  "rejectUnauthorized",
  "randomizationFactor",
  "timeout",
];

/**
 * socket.io-client 4 as sails.io.js needs it. sails.io.js calls `io(url, sailsSocket)`, passing
 * the SailsSocket itself as the options; its options are non-enumerable accessors, which
 * engine.io-client 6 loses when it copies its options with Object.assign (the engine then asks
 * /engine.io/ without the SDK's query). This hands socket.io-client 4 a plain copy instead.
 */
function ioV4ForSails(url, sailsSocket) {
  const opts = { ...sailsSocket };
  for (const k of SAILS_SOCKET_OPTIONS) if (sailsSocket[k] !== undefined) opts[k] = sailsSocket[k];
  delete opts._raw;
  delete opts.eventQueue;
  return ioV4(url, opts);
}

/** The two ways the tests drive sails.io.js. */
export const FLAVORS = [
  {
    name: "sails.io.js + socket.io-client 2",
    base: ioV2,
    // With Engine.IO v3 the client's socket.id is not the server's: ask the test handler.
    serverId: (socket) => serverIdV2(socket._raw),
  },
  {
    name: "sails.io.js + socket.io-client 4",
    base: ioV4ForSails,
    serverId: async (socket) => socket._raw.id,
  },
];

/**
 * sails.io.js augmenting `flavor.base` (a new `io` each time), configured in the same tick so that
 * its auto-connecting `io.socket` (websocket only, as the SDK's default) uses `config`.
 * With autoConnect false there is no io.socket.
 */
export function makeSailsIo(flavor, url, config = {}) {
  // sails.io.js sets io.sails / io.socket on the function it is given: give each call its own.
  const base = flavor.base;
  const io = (...args) => base(...args);
  const sio = sailsIOClient(io);
  Object.assign(sio.sails, { url, environment: "production", reconnection: false }, config);
  return sio;
}

/** Wait for "connect" of a SailsSocket (socket.io-client 2 or 4 underneath). */
export function connectedSails(socket, timeoutMs = 15000) {
  if (socket.isConnected()) return Promise.resolve(socket);
  // io.socket has no _raw until the SDK's next tick
  return until(() => socket._raw, "the SailsSocket's raw socket", timeoutMs).then(() =>
    connectedV2(socket._raw, timeoutMs).then(() => socket),
  );
}

/** A connected SailsSocket from io.sails.connect(url, opts), remembered in `owned` for closing. */
export async function sailsConnect(io, url, opts, owned) {
  const socket = io.sails.connect(url, { multiplex: false, ...opts });
  owned.push(socket);
  await connectedSails(socket);
  return socket;
}

/** Disconnect SailsSockets and close their engines, ignoring errors. */
export function closeSailsSockets(sockets) {
  for (const s of sockets.splice(0)) {
    try {
      if (s.isConnected()) s.disconnect();
    } catch {
      // ignore
    }
    if (s._raw) closeSocket(s._raw);
  }
}

/**
 * socket.request(options) as a promise of the JWR (sails.io.js's own, with .error for a status
 * outside 200..399). Rejects when no answer comes within timeoutMs.
 */
export function vr(socket, options, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer to ${options.method || "get"} ${options.url} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.request({ ...options }, (body, jwr) => {
      clearTimeout(timer);
      if (!jwr || typeof jwr !== "object" || !("statusCode" in jwr)) {
        reject(new Error(`request ${options.url} failed: ${body && body.message}`));
        return;
      }
      resolve(jwr);
    });
  });
}

/**
 * The shorthand methods of sails.io.js (`socket.get(url, data, cb)`, post, put, patch, delete) as
 * a promise of {body, jwr}.
 */
export function vrShort(socket, method, url, data, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer to ${method} ${url} within ${timeoutMs} ms`)), timeoutMs);
    const cb = (body, jwr) => {
      clearTimeout(timer);
      resolve({ body, jwr });
    };
    if (data === undefined) socket[method](url, cb);
    else socket[method](url, data, cb);
  });
}

/**
 * Log every event the SailsSocket's raw socket receives, in order: entries {name, args}.
 * `log.wait(n)` resolves once the log holds n entries (checking `names` only when given).
 */
export function eventLog(socket, names) {
  const entries = [];
  onAnyEvent(socket._raw, (name, args) => {
    if (!names || names.includes(name)) entries.push({ name, args });
  });
  entries.wait = async (n, what = `${n} events`, timeoutMs = 20000) => {
    await until(() => entries.length >= n, `${what} (log: ${JSON.stringify(entries)})`, timeoutMs);
    return entries[n - 1];
  };
  return entries;
}

/** Assert a JWR's status, with its body in the message. */
export function assertStatus(jwr, status, what = "") {
  assert.equal(jwr.statusCode, status, `${what} status ${jwr.statusCode} body ${JSON.stringify(jwr.body)}`);
}

/** An HTTP request with a timeout (helpers' httpRequest), resolving {status, headers, body, text}: the body JSON-parsed when it is JSON. */
export async function http(method, url, { json, headers = {}, timeoutMs = 15000 } = {}) {
  const opts = { headers: { ...headers }, timeoutMs };
  if (json !== undefined) {
    opts.body = JSON.stringify(json);
    opts.headers["content-type"] = "application/json";
  }
  const res = await httpRequest(method, url, opts);
  const type = res.headers.get("content-type") || "";
  const body = type.includes("json") && res.text !== "" ? JSON.parse(res.text) : res.text;
  return { ...res, body };
}
