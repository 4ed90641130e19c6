// Shared helpers for the end-to-end tests: start an example server, raw HTTP / WebSocket clients,
// small Engine.IO / Socket.IO utilities, and the socket.io-client (4, and 2 where said) helpers
// every file uses: connect, wait for events and disconnects, record events, close. Bounded waits
// (`until`), cleanups (`runCleanups`). Every test owns what it starts and must clean it up.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";
import WebSocket from "ws";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

// Directory holding the server executables: cargo's debug examples (honouring CARGO_TARGET_DIR),
// or any directory named by E2E_EXAMPLES_DIR (e.g. a reference implementation; not SWITCHYARD_*,
// which the server reserves for its own settings and rejects when unknown).
const TARGET_DIR = path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR || "target");
const EXAMPLES_DIR = process.env.E2E_EXAMPLES_DIR
  ? path.resolve(process.env.E2E_EXAMPLES_DIR)
  : path.join(TARGET_DIR, "debug", "examples");
// The default binary (the chat demo): E2E_SWITCHYARD_BIN, else cargo's debug build.
const SWITCHYARD_BIN = process.env.E2E_SWITCHYARD_BIN
  ? path.resolve(process.env.E2E_SWITCHYARD_BIN)
  : path.join(TARGET_DIR, "debug", "switchyard");

/** The executable for `name`: "switchyard" is the default binary, anything else an example. */
export function serverBinary(name) {
  return name === "switchyard" ? SWITCHYARD_BIN : path.join(EXAMPLES_DIR, name);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `s` with every RegExp metacharacter escaped, to match it literally (e.g. a socket id). */
export const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/**
 * Runs every cleanup of `list` (and empties it), last registered first; errors are ignored (best
 * effort), so that one failing cleanup does not leave the others undone.
 */
export async function runCleanups(list) {
  for (const c of list.splice(0).reverse()) {
    try {
      await c();
    } catch {
      // best effort
    }
  }
}

/** A TCP port free on 127.0.0.1 right now (the kernel's pick), to start a server on it again later. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const live = new Set();
process.on("exit", () => {
  // last resort: never leave a process behind if a test file crashes
  for (const proc of live) {
    try {
      process.kill(proc.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

/**
 * Spawn `cmd args`, keep its output, and (when `ready` is a regex) wait for a stdout line matching
 * it. Returns {proc, pid, lines, output(), stderr(), exited, exitInfo(), waitForLine,
 * waitForStderr, signal, stop}. Everything is signalled by PID.
 */
export async function spawnProcess(cmd, args, { ready, readyTimeoutMs = 20000, cwd, env = {}, name = cmd } = {}) {
  // No backtraces unless a test asks: capturing one for a handler that panics on purpose takes
  // ~150 ms in a debug build, on the worker thread, long enough to miss a 200 ms heartbeat.
  const base = { ...process.env, RUST_BACKTRACE: "0" };
  const proc = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...base, ...env } });
  live.add(proc);
  const lines = [];
  let stderr = "";
  let exitInfo = null;
  const waiters = new Set();
  const stderrWaiters = new Set();
  const exited = new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      live.delete(proc);
      for (const w of waiters) w.onExit();
      resolve(exitInfo);
    });
  });
  proc.once("error", (err) => {
    stderr += `\nspawn error: ${err.message}`;
  });
  proc.stderr.setEncoding("utf8");
  // stderr is kept as text (the tail) and also read line by line for `waitForStderr`.
  proc.stderr.on("data", (chunk) => {
    stderr += chunk;
    if (stderr.length > 200000) stderr = stderr.slice(-100000);
  });
  createInterface({ input: proc.stderr }).on("line", (line) => {
    for (const w of stderrWaiters) w(line);
  });
  createInterface({ input: proc.stdout }).on("line", (line) => {
    lines.push(line);
    if (lines.length > 50000) lines.splice(0, 10000);
    for (const w of waiters) w.onLine(line);
  });
  const output = () => `stdout (tail):\n${lines.slice(-40).join("\n")}\nstderr (tail):\n${stderr.slice(-3000)}`;

  /** Resolve with the first stdout line (already printed or future) matching `regex`. */
  function waitForLine(regex, timeoutMs = 5000) {
    const found = lines.find((l) => regex.test(l));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        onLine(line) {
          if (regex.test(line)) {
            done();
            resolve(line);
          }
        },
        onExit() {
          done();
          reject(new Error(`${name} exited (${JSON.stringify(exitInfo)}) before printing a line matching ${regex}\n${output()}`));
        },
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${name}: no line matching ${regex} within ${timeoutMs} ms\n${output()}`));
      }, timeoutMs);
      function done() {
        clearTimeout(timer);
        waiters.delete(waiter);
      }
      waiters.add(waiter);
      if (exitInfo) waiter.onExit();
    });
  }

  /** Resolve with the next stderr line (from now on) matching `regex`; reject after timeoutMs. */
  function waitForStderr(regex, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stderrWaiters.delete(waiter);
        reject(new Error(`no stderr line matching ${regex} within ${timeoutMs} ms`));
      }, timeoutMs);
      function waiter(line) {
        if (!regex.test(line)) return;
        clearTimeout(timer);
        stderrWaiters.delete(waiter);
        resolve(line);
      }
      stderrWaiters.add(waiter);
    });
  }

  /** Send `sig` to the PID (ignored when it has exited). */
  function signal(sig) {
    if (exitInfo) return;
    try {
      process.kill(proc.pid, sig);
    } catch {
      // already gone
    }
  }

  /** SIGTERM by PID (SIGCONT too, in case it was stopped), SIGKILL after graceMs; resolves with {code, signal}. */
  async function stop(graceMs = 5000) {
    if (exitInfo) return exitInfo;
    signal("SIGCONT");
    signal("SIGTERM");
    const killer = setTimeout(() => signal("SIGKILL"), graceMs);
    const info = await exited;
    clearTimeout(killer);
    return info;
  }

  if (ready) {
    try {
      await waitForLine(ready, readyTimeoutMs);
    } catch (err) {
      signal("SIGKILL");
      throw err;
    }
  }
  return {
    proc,
    pid: proc.pid,
    lines,
    output,
    stderr: () => stderr,
    exited,
    exitInfo: () => exitInfo,
    waitForLine,
    waitForStderr,
    signal,
    stop,
  };
}

/**
 * Spawn target/debug/examples/<example> --port 0 [...args] and wait for
 * "listening on 127.0.0.1:PORT" on its stdout. `startServer("switchyard", ...)` runs the default
 * binary instead (E2E_SWITCHYARD_BIN, else target/debug/switchyard), from the repo root so that it
 * serves static/. When args name a `--port`, that port is used instead of 0 (to start a server
 * again on the port it had).
 */
export async function startServer(example, args = [], { timeoutMs = 20000, env = {} } = {}) {
  const bin = serverBinary(example);
  if (!existsSync(bin)) {
    const build = example === "switchyard" ? "cargo build" : "cargo build --examples";
    throw new Error(`server binary ${bin} not found (run "${build}" first)`);
  }
  const portArgs = args.includes("--port") ? [] : ["--port", "0"];
  const ready = /^listening on 127\.0\.0\.1:\d+$/;
  const server = await spawnProcess(bin, [...portArgs, ...args], {
    ready,
    readyTimeoutMs: timeoutMs,
    cwd: REPO_ROOT,
    env,
    name: example,
  });
  const port = Number(server.lines.find((l) => ready.test(l)).split(":").pop());
  return { ...server, port, url: `http://127.0.0.1:${port}` };
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

async function request(url, { method = "GET", body, headers = {}, timeoutMs = 10000 } = {}) {
  const res = await fetch(url, {
    method,
    body,
    headers,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}

export function httpGet(url, opts = {}) {
  return request(url, { ...opts, method: "GET" });
}

export function httpPost(url, body, opts = {}) {
  return request(url, { ...opts, method: "POST", body });
}

export function httpRequest(method, url, opts = {}) {
  return request(url, { ...opts, method });
}

/** Parse an HTTP error body `{"code":N,"message":"..."}`. */
export function parseError(res) {
  try {
    return JSON.parse(res.text);
  } catch {
    throw new Error(`expected a JSON error body, got status ${res.status} body ${JSON.stringify(res.text)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Engine.IO over polling

/** Polling handshake at `base` (e.g. http://127.0.0.1:1234/engine.io/). Returns the open packet data. */
export async function eioHandshake(base, extraQuery = "") {
  const res = await httpGet(`${base}?EIO=4&transport=polling${extraQuery}`);
  if (res.status !== 200 || !res.text.startsWith("0")) {
    throw new Error(`bad handshake: status ${res.status} body ${JSON.stringify(res.text)}`);
  }
  return { ...JSON.parse(res.text.slice(1)), response: res };
}

export const pollUrl = (base, sid) => `${base}?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;

/** Split a v4 polling payload into its packets. */
export const splitPayload = (text) => (text === "" ? [] : text.split("\x1e"));

/**
 * GET repeatedly until `count` packets other than pings were received; answers each server ping
 * "2" with a pong "3" (POST) unless answerPings is false. Returns the packets in order.
 */
export async function pollPackets(base, sid, count, { answerPings = true, timeoutMs = 10000 } = {}) {
  const packets = [];
  const deadline = Date.now() + timeoutMs;
  while (packets.length < count) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`timed out polling; got ${JSON.stringify(packets)}`);
    const res = await httpGet(pollUrl(base, sid), { timeoutMs: left });
    if (res.status !== 200) {
      throw new Error(`poll failed: status ${res.status} body ${JSON.stringify(res.text)} (got ${JSON.stringify(packets)})`);
    }
    for (const p of splitPayload(res.text)) {
      if (p === "2") {
        if (answerPings) {
          const pong = await httpPost(pollUrl(base, sid), "3");
          if (pong.status !== 200) throw new Error(`pong failed with status ${pong.status}`);
        }
        continue;
      }
      packets.push(p);
    }
  }
  return packets;
}

/**
 * Waits (bounded) until the polling session `sid` at `base` is gone: a noop POST "6", which leaves
 * its heartbeat alone, is refused with 400.
 */
export function waitSessionGone(base, sid, timeoutMs = 15000) {
  const gone = async () => (await httpPost(pollUrl(base, sid), "6")).status === 400;
  return until(gone, `session ${sid} to close`, timeoutMs, 25);
}

// ---------------------------------------------------------------------------------------------
// Raw WebSocket with a message queue

/**
 * Open a WebSocket and queue every message. Text frames are queued as strings, binary frames as
 * Buffers. With {autoPong: true} every Engine.IO ping "2" is answered with "3" and not queued.
 */
export function openWs(url, { autoPong = false, headers } = {}) {
  const ws = new WebSocket(url, { headers });
  const queue = [];
  const waiters = [];
  let closeInfo = null;
  let errorInfo = null;
  let pongs = 0; // pings answered by autoPong

  const opened = new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
    ws.once("close", () => reject(new Error("websocket closed before opening")));
  });
  opened.catch(() => {});
  const closed = new Promise((resolve) => {
    ws.once("close", (code, reason) => {
      closeInfo = { code, reason: reason.toString() };
      for (const w of waiters.splice(0)) w.reject(new Error(`websocket closed (${code}) while waiting for a message`));
      resolve(closeInfo);
    });
  });
  ws.on("error", (err) => {
    errorInfo = err;
  });
  ws.on("message", (data, isBinary) => {
    const msg = isBinary ? Buffer.from(data) : data.toString();
    if (autoPong && msg === "2") {
      if (ws.readyState === WebSocket.OPEN) ws.send("3");
      pongs++;
      return;
    }
    const w = waiters.shift();
    if (w) w.resolve(msg);
    else queue.push(msg);
  });

  /** Next queued message (string or Buffer). */
  function next(timeoutMs = 5000) {
    if (queue.length) return Promise.resolve(queue.shift());
    if (closeInfo) return Promise.reject(new Error(`websocket closed (${closeInfo.code}), no message queued`));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`no websocket message within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  }

  /**
   * Next message that is neither an Engine.IO ping "2" (answered with "3" when `pong` is true)
   * nor a noop "6" (which a server may send at any time and a client ignores).
   */
  async function nextData(timeoutMs = 5000, { pong = true } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const msg = await next(Math.max(1, deadline - Date.now()));
      if (msg === "2") {
        if (pong && ws.readyState === WebSocket.OPEN) ws.send("3");
        continue;
      }
      if (msg === "6") continue;
      return msg;
    }
  }

  /** Resolve with {code, reason} once closed; reject after timeoutMs. */
  function waitClose(timeoutMs = 5000) {
    if (closeInfo) return Promise.resolve(closeInfo);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`websocket not closed within ${timeoutMs} ms`)), timeoutMs);
      closed.then((info) => {
        clearTimeout(timer);
        resolve(info);
      });
    });
  }

  return {
    ws,
    queue,
    opened,
    closed,
    next,
    nextData,
    waitClose,
    send: (data) => ws.send(data),
    isOpen: () => ws.readyState === WebSocket.OPEN,
    error: () => errorInfo,
    pongs: () => pongs,
    close() {
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) {
        try {
          ws.terminate();
        } catch {
          // ignore
        }
      }
    },
  };
}

/** Open an Engine.IO v4 websocket session at `wsBase` (ws://host:port/engine.io/) and read the open packet. */
export async function eioWs(wsBase, { autoPong = false, query = "" } = {}) {
  const client = openWs(`${wsBase}?EIO=4&transport=websocket${query}`, { autoPong });
  await client.opened;
  const open = await client.next();
  if (typeof open !== "string" || !open.startsWith("0")) {
    client.close();
    throw new Error(`expected an Engine.IO open packet, got ${JSON.stringify(open)}`);
  }
  client.handshake = JSON.parse(open.slice(1));
  return client;
}

export const toWsUrl = (httpUrl) => httpUrl.replace(/^http/, "ws");

/**
 * A WebSocket request with bad parameters is either refused with HTTP 400 (the usual answer) or,
 * as the Node reference does for some cases, accepted and closed at once: never given a session.
 * Waits for the close (up to `timeoutMs`).
 */
export async function expectWsRefused(url, timeoutMs = 5000) {
  const client = openWs(url);
  try {
    let opened = true;
    try {
      await client.opened;
    } catch (err) {
      opened = false;
      assert.match(String(err.message), /400/, `websocket ${url} must be refused with HTTP 400, got: ${err.message}`);
    }
    await client.waitClose(timeoutMs);
    if (opened) {
      const got = client.queue.filter((m) => typeof m === "string" && m.startsWith("0"));
      assert.deepEqual(got, [], `websocket ${url} must not get an Engine.IO session`);
    }
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// socket.io-client (4, and 2 where said) sockets and their events

/** A socket.io-client 4 socket on its own connection, not reconnecting, with the tests' timeout. */
export function ioClient(url, opts = {}) {
  return io(url, { forceNew: true, reconnection: false, timeout: 10000, ...opts });
}

/** Wait for "connect" of a socket.io-client 4 socket; fail with the connect_error if there is one. */
export function connected(socket, timeoutMs = 10000) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("not connected in time")), timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      const data = err.data === undefined ? "" : ` ${JSON.stringify(err.data)}`;
      reject(new Error(`connect_error: ${err.message}${data}`));
    });
  });
}

/** Wait for the "disconnect" event of a socket.io-client (2 or 4) socket; resolves with the reason. */
export function disconnected(socket, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no disconnect event on ${socket.nsp} within ${timeoutMs} ms`)), timeoutMs);
    socket.once("disconnect", (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/**
 * Resolves once `emitter` has emitted `event` `n` more times (e.g. an engine's "ping" or "pong",
 * its heartbeats); rejects after `timeoutMs`.
 */
export function eventCount(emitter, event, n, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`only ${seen} of ${n} "${event}" events within ${timeoutMs} ms`));
    }, timeoutMs);
    function onEvent() {
      if (++seen < n) return;
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolve();
    }
    emitter.on(event, onEvent);
  });
}

/**
 * Calls `fn(name, args)` for every event `socket` receives: through socket.io-client 4's onAny
 * (args as it hands them), or, as socket.io-client 2 has no onAny, by wrapping its own `onevent`
 * (the ack callback left out of args).
 */
export function onAnyEvent(socket, fn) {
  if (typeof socket.onAny === "function") {
    socket.onAny((name, ...args) => fn(name, args));
    return;
  }
  const original = socket.onevent;
  socket.onevent = function onevent(packet) {
    original.call(this, packet); // appends the ack callback to packet.data when there is one
    const args = (packet.data || []).slice();
    const name = args.shift();
    if (packet.id != null && typeof args[args.length - 1] === "function") args.pop();
    fn(name, args);
  };
}

/**
 * Make a socket.io-client (2 or 4) socket record every event it receives, so that nothing the
 * server emits right after the connection is missed: `socket.event(name)` resolves with the
 * arguments of the next unseen `name` event, `socket.hasSeen(name)` says whether one waits unread.
 */
export function recordEvents(socket) {
  const recorder = eventRecorder();
  onAnyEvent(socket, recorder.push);
  socket.event = recorder.event;
  socket.hasSeen = recorder.hasSeen;
  return socket;
}

export const isBinary = (x) => Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);

/** The bytes of a binary value (Buffer, ArrayBuffer or typed array) as a plain array. */
export function bytes(x) {
  assert.ok(isBinary(x), `binary expected, got ${JSON.stringify(x)}`);
  return [...(x instanceof ArrayBuffer ? new Uint8Array(x) : new Uint8Array(x.buffer, x.byteOffset, x.byteLength))];
}

/**
 * Emits a Buffer and an object holding Buffers (nested, and an empty one) to test_server's echo
 * "message" and checks that "message-back" brings them back intact; `socket` records its events
 * (recordEvents).
 */
export async function checkNestedBinaryEcho(socket) {
  const payload = {
    name: "file",
    data: Buffer.from([1, 2, 3]),
    nested: { list: [Buffer.from([4]), "text", Buffer.alloc(0)] },
  };
  socket.emit("message", Buffer.from([255, 0, 128]), payload);
  const [first, second] = await socket.event("message-back");
  assert.deepEqual(bytes(first), [255, 0, 128]);
  assert.equal(second.name, "file");
  assert.deepEqual(bytes(second.data), [1, 2, 3]);
  assert.deepEqual(bytes(second.nested.list[0]), [4]);
  assert.equal(second.nested.list[1], "text");
  assert.deepEqual(bytes(second.nested.list[2]), []);
}

/** Wait for an event on an EventEmitter-like object (socket.io-client sockets included). */
export function once(emitter, event, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      reject(new Error(`event "${event}" not received within ${timeoutMs} ms`));
    }, timeoutMs);
    function handler(...args) {
      clearTimeout(timer);
      resolve(args);
    }
    emitter.once(event, handler);
  });
}

/** Assert that an event does NOT arrive within ms. */
export function notReceived(emitter, event, ms) {
  return new Promise((resolve, reject) => {
    const handler = (...args) => {
      clearTimeout(timer);
      reject(new Error(`unexpected event "${event}": ${JSON.stringify(args)}`));
    };
    const timer = setTimeout(() => {
      emitter.off(event, handler);
      resolve();
    }, ms);
    emitter.once(event, handler);
  });
}

/**
 * Records events as they arrive so that none emitted right after the connection is missed.
 * Feed it with `push(name, args)`; `event(name, timeoutMs)` resolves with the arguments of the
 * next unseen `name` event; `hasSeen(name)` says whether one waits unread.
 */
export function eventRecorder() {
  const seen = new Map();
  const waiters = new Map();
  const push = (name, args) => {
    const w = waiters.get(name);
    if (w && w.length) {
      w.shift()(args);
      return;
    }
    if (!seen.has(name)) seen.set(name, []);
    seen.get(name).push(args);
  };
  const event = (name, timeoutMs = 5000) => {
    const queued = seen.get(name);
    if (queued && queued.length) return Promise.resolve(queued.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = waiters.get(name) || [];
        const i = list.indexOf(done);
        if (i >= 0) list.splice(i, 1);
        reject(new Error(`event "${name}" not received within ${timeoutMs} ms`));
      }, timeoutMs);
      function done(args) {
        clearTimeout(timer);
        resolve(args);
      }
      if (!waiters.has(name)) waiters.set(name, []);
      waiters.get(name).push(done);
    });
  };
  const hasSeen = (name) => (seen.get(name) || []).length > 0;
  return { push, event, hasSeen };
}

/** Close a socket.io-client (2 or 4) socket and its engine, ignoring errors. */
export function closeSocket(socket) {
  try {
    socket.disconnect();
  } catch {
    // ignore
  }
  try {
    socket.io.engine?.close();
  } catch {
    // ignore
  }
}

/**
 * Resolves once `check()` (sync or async) is truthy, polling every `everyMs`; rejects after
 * `timeoutMs` naming `what` (a string, or a function that builds the message then).
 */
export async function until(check, what, timeoutMs = 20000, everyMs = 5) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "function" ? what() : what}`);
    }
    await sleep(everyMs);
  }
}

/**
 * The core issue's order check, 20 rounds on a connected socket (socket.io-client 2 or 4) of
 * test_server: its "order" event answers `emit(0); ack; emit(1)`, then from a task
 * `compress(false) 2, volatile 3, to(own id) 4, 5`, which must arrive as written.
 */
export async function checkOrderRounds(socket, transport) {
  for (let round = 0; round < 20; round++) {
    const seen = [];
    const onOrder = (step) => seen.push(step);
    socket.on("order", onOrder);
    socket.emit("order", () => seen.push("ack"));
    await until(() => seen.includes(5), `step 5 of round ${round} (seen ${JSON.stringify(seen)})`);
    socket.off("order", onOrder);
    const expected = [0, "ack", 1, 2, 3, 4, 5];
    // A volatile packet may be dropped when the transport cannot take it at once (a polling
    // client between two GETs); what arrives must still be in order.
    const want = seen.includes(3) ? expected : expected.filter((s) => s !== 3);
    if (transport === "websocket") assert.ok(seen.includes(3), `volatile dropped on an idle WebSocket: ${seen}`);
    assert.deepEqual(seen, want, `round ${round}`);
  }
}

/** Debian's Chromium, which the browser tests drive through playwright-core. */
export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser tests are skipped here, or false when Chromium is installed. */
export const chromiumMissing = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

/** Headless Chromium with the flags every browser test uses. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    timeout: 60000,
  });
}
