// The Engine.IO layer under hostile or racy clients, against the bare echo endpoint /engine.io/ of
// examples/conformance: pong storms, ping-frame floods, the upgrade race, the polling ping timeout
// and packet order under a burst. Raw protocol only (HTTP and a raw TCP WebSocket client), so what
// is tested is exactly what goes over the wire. Every loop is bounded in count and time; tests wait
// for the condition they check (generous bounds), they never assert on durations.
import assert from "node:assert/strict";
import net from "node:net";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  eioHandshake,
  httpGet,
  httpPost,
  openWs,
  pollPackets,
  pollUrl,
  sleep,
  splitPayload,
  startServer,
  toWsUrl,
  waitSessionGone,
} from "../support/helpers.mjs";

const T = { timeout: 120000 };

// ---------------------------------------------------------------------------------------------
// A raw WebSocket client over TCP: frames exactly as written, reading can be paused.

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

/** One masked client frame (zero mask key: valid, and the payload needs no XOR). */
function frame(opcode, payload) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  let head;
  if (data.length < 126) {
    head = Buffer.from([0x80 | opcode, 0x80 | data.length]);
  } else if (data.length < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(data.length, 2);
  } else {
    throw new Error("frame too long for this helper");
  }
  return Buffer.concat([head, Buffer.alloc(4), data]);
}

/** Opens `path` on 127.0.0.1:`port` as a WebSocket; resolves once the 101 is read. */
function rawWs(port, path) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const frames = [];
    const waiters = [];
    let closed = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error("websocket handshake timed out"));
    }, 10000);
    sock.on("error", (err) => {
      if (!upgraded) reject(err);
    });
    sock.on("close", () => {
      closed = true;
      for (const w of waiters.splice(0)) w();
    });
    sock.on("connect", () => {
      sock.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buf.subarray(0, end).toString();
        buf = buf.subarray(end + 4);
        if (!head.startsWith("HTTP/1.1 101")) {
          clearTimeout(timer);
          sock.destroy();
          reject(new Error(`no upgrade: ${head}`));
          return;
        }
        upgraded = true;
        clearTimeout(timer);
        resolve(client);
      }
      for (;;) {
        if (buf.length < 2) break;
        const opcode = buf[0] & 0x0f;
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) {
          if (buf.length < 4) break;
          len = buf.readUInt16BE(2);
          off = 4;
        } else if (len === 127) {
          if (buf.length < 10) break;
          len = Number(buf.readBigUInt64BE(2));
          off = 10;
        }
        if (buf.length < off + len) break;
        frames.push({ opcode, data: buf.subarray(off, off + len) });
        buf = buf.subarray(off + len);
      }
      for (const w of waiters.splice(0)) w();
    });

    const client = {
      sock,
      frames,
      send: (opcode, payload) => sock.write(frame(opcode, payload)),
      /** Writes `data` and resolves once the kernel took it all (bounded by `timeoutMs`). */
      writeAll(data, timeoutMs = 60000) {
        return new Promise((res, rej) => {
          const t = setTimeout(() => rej(new Error("write did not drain in time")), timeoutMs);
          sock.write(data, (err) => {
            clearTimeout(t);
            if (err) rej(err);
            else res();
          });
        });
      },
      /** Waits until `pred(frames)` holds (re-checked on every frame), up to `timeoutMs`. */
      until(pred, timeoutMs = 20000) {
        const deadline = Date.now() + timeoutMs;
        return new Promise((res, rej) => {
          const check = () => {
            if (pred(frames)) return res();
            if (closed) return rej(new Error("connection closed while waiting"));
            if (Date.now() > deadline) return rej(new Error("condition not met in time"));
            waiters.push(check);
            setTimeout(() => {
              const i = waiters.indexOf(check);
              if (i >= 0) {
                waiters.splice(i, 1);
                check();
              }
            }, 200);
          };
          check();
        });
      },
      close: () => sock.destroy(),
    };
  });
}

/** Engine.IO packets (text frames) received so far, pings answered with pongs as they come. */
function textPackets(client) {
  return client.frames.filter((f) => f.opcode === OP_TEXT).map((f) => f.data.toString());
}

/** Peak resident memory of a process in KiB (Linux). */
function peakRssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+)/.exec(status)[1]);
}

// ---------------------------------------------------------------------------------------------

describe("Engine.IO robustness (default heartbeat: 300 ms / 200 ms)", () => {
  let server;
  let base;
  let wsBase;

  before(async () => {
    server = await startServer("conformance");
    base = `${server.url}/engine.io/`;
    wsBase = toWsUrl(base);
  });
  after(async () => {
    if (server) await server.stop();
  });

  /**
   * `rounds` rounds of five fresh polling sessions at once (a busy server is where the upgrade
   * and a GET race), each given to `upgrade(round, sid, ws)` with a WebSocket opened to upgrade it.
   */
  async function upgradeRaces(rounds, upgrade) {
    const one = async (round) => {
      const { sid } = await eioHandshake(base);
      const ws = openWs(`${wsBase}?EIO=4&transport=websocket&sid=${sid}`);
      try {
        await ws.opened;
        await upgrade(round, sid, ws);
      } finally {
        ws.close();
      }
    };
    for (let i = 0; i < rounds; i++) {
      await Promise.all([0, 1, 2, 3, 4].map((j) => one(`round ${i}.${j}`)));
    }
  }

  it("a GET sent right after the upgrade packet gets 400, every time (50 fresh sessions)", T, async () => {
    await upgradeRaces(10, async (round, sid, ws) => {
      ws.send("2probe");
      assert.equal(await ws.next(), "3probe");
      ws.send("5");
      const poll = await httpGet(pollUrl(base, sid));
      assert.equal(poll.status, 400, `${round}: GET after "5" answered ${poll.status} ${JSON.stringify(poll.text)}`);
      // The WebSocket is the transport now.
      ws.send("4still");
      assert.equal(await ws.nextData(), "4still");
    });
  });

  it("2probe, 5 and a GET sent back to back: the 3probe reaches the client before the GET's 400 (200 fresh sessions)", T, async () => {
    // The official suite's "ignores HTTP requests with same sid after upgrade" reads them in
    // that order: engine.io writes the 3probe before it refuses the GET.
    await upgradeRaces(40, async (round, sid, ws) => {
      ws.send("2probe");
      ws.send("5");
      const poll = await httpGet(pollUrl(base, sid));
      assert.equal(poll.status, 400, `${round}: GET after "5" answered ${poll.status} ${JSON.stringify(poll.text)}`);
      assert.equal(ws.queue[0], "3probe", `${round}: first on the WebSocket by the time the 400 came`);
      ws.send("4hello");
      assert.equal(await ws.nextData(), "3probe");
      assert.equal(await ws.nextData(), "4hello");
    });
  });

  it("a polling client that stops polling loses its session by pingInterval + pingTimeout", T, async () => {
    // Never polls at all.
    const { sid: idle } = await eioHandshake(base);
    // Polls once (takes the ping), then waits in a second GET and never answers.
    const { sid: waiting } = await eioHandshake(base);
    const first = await httpGet(pollUrl(base, waiting));
    assert.deepEqual(splitPayload(first.text), ["2"]);
    const pending = httpGet(pollUrl(base, waiting), { timeoutMs: 20000 });
    // A noop POST tells whether the session is still there without touching its heartbeat.
    await waitSessionGone(base, idle);
    await waitSessionGone(base, waiting);
    const res = await pending;
    assert.equal(res.status, 200);
    assert.deepEqual(splitPayload(res.text), ["1"], "the waiting GET is answered with the close packet");
  });

  it("packets of one WebSocket reach the session in the order sent, even in one burst", T, async () => {
    const client = await rawWs(server.port, "/engine.io/?EIO=4&transport=websocket");
    try {
      await client.until((f) => textPackets({ frames: f }).length >= 1);
      assert.match(textPackets(client)[0], /^0\{/);
      // Answer the heartbeat while the burst is echoed.
      let answered = 0;
      const pongs = setInterval(() => {
        const pings = textPackets(client).filter((p) => p === "2").length;
        for (; answered < pings; answered++) client.send(OP_TEXT, "3");
      }, 20);
      const N = 20000;
      const burst = [];
      for (let i = 0; i < N; i++) burst.push(frame(OP_TEXT, `4m${i}`));
      try {
        await client.writeAll(Buffer.concat(burst)); // one write
        await client.until((f) => textPackets({ frames: f }).filter((p) => p.startsWith("4m")).length >= N, 60000);
      } finally {
        clearInterval(pongs);
      }
      const echoed = textPackets(client).filter((p) => p.startsWith("4m"));
      const expected = Array.from({ length: N }, (_, i) => `4m${i}`);
      const firstWrong = echoed.findIndex((p, i) => p !== expected[i]);
      assert.equal(firstWrong, -1, `out of order at ${firstWrong}: got ${echoed[firstWrong]}`);
    } finally {
      client.close();
    }
  });
});

describe("Engine.IO robustness (slow heartbeat: 20 s / 20 s)", () => {
  let server;
  let base;

  before(async () => {
    server = await startServer("conformance", ["--ping-interval", "20000", "--ping-timeout", "20000"], {
      env: { RUST_LOG: "switchyard_engineio::session=trace" },
    });
    base = `${server.url}/engine.io/`;
  });
  after(async () => {
    if (server) await server.stop();
  });

  // engine.io's "poll connection closed prematurely": a closed tab's session ends at once, not
  // 40 s later at the ping timeout (which this server's heartbeat would take).
  it("a polling GET whose connection closes ends its session at once", T, async () => {
    const { sid } = await eioHandshake(base);
    const pending = server.waitForStderr(new RegExp(`session ${sid}: GET waits for data`), 10000);
    const sock = net.connect(server.port, "127.0.0.1");
    sock.on("error", () => {});
    const url = new URL(pollUrl(base, sid));
    sock.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await pending;
    sock.destroy();
    await waitSessionGone(base, sid, 10000);
    // Another session, whose GET is answered as usual, is not touched.
    const other = await eioHandshake(base);
    await httpPost(pollUrl(base, other.sid), "4still");
    assert.deepEqual(await pollPackets(base, other.sid, 1), ["4still"]);
  });

  it("a POST of 500,000 unrequested pongs stalls neither the server nor its session", T, async () => {
    const { sid } = await eioHandshake(base);
    const storm = Array(500000).fill("3").join("\x1e"); // 999,999 bytes: under maxPayload
    const posted = httpPost(pollUrl(base, sid), storm, { timeoutMs: 60000 });
    // Another client is served meanwhile.
    const other = await eioHandshake(base);
    assert.ok(other.sid);
    const res = await posted;
    assert.equal(res.status, 200);
    assert.equal(res.text, "ok");
    // The storming session is alive and healthy: it echoes, and its heartbeat was not pushed back.
    const push = await httpPost(pollUrl(base, sid), "4after the storm", { timeoutMs: 20000 });
    assert.equal(push.status, 200);
    assert.deepEqual(await pollPackets(base, sid, 1, { timeoutMs: 20000 }), ["4after the storm"]);
    // And so is the other one.
    await httpPost(pollUrl(base, other.sid), "4other");
    assert.deepEqual(await pollPackets(base, other.sid, 1), ["4other"]);
  });
});

describe("Engine.IO robustness (a server of its own, for its peak memory)", () => {
  let server;

  before(async () => {
    server = await startServer("conformance", ["--ping-interval", "20000", "--ping-timeout", "20000"]);
  });
  after(async () => {
    if (server) await server.stop();
  });

  it("ping frames from a client that does not read leave at most one pong waiting", T, async (t) => {
    const client = await rawWs(server.port, "/engine.io/?EIO=4&transport=websocket");
    try {
      await client.until((f) => textPackets({ frames: f }).length >= 1);
      const before = peakRssKiB(server.proc.pid);
      client.sock.pause(); // stop reading: the server's writes back up
      const payload = Buffer.alloc(125, 0x61); // largest control payload
      const ping = frame(OP_PING, payload);
      const COUNT = 200000; // 26 MB of pings, 25 MB of pongs if each were kept
      const BATCH = 2000;
      const batch = Buffer.concat(Array(BATCH).fill(ping));
      for (let i = 0; i < COUNT / BATCH; i++) await client.writeAll(batch);
      // While the server works through them (a bounded look, 1 s): its peak must stay low.
      const limitMiB = 8;
      const grown = () => (peakRssKiB(server.proc.pid) - before) / 1024;
      for (let i = 0; i < 20; i++) {
        assert.ok(grown() < limitMiB, `server memory peaked ${grown().toFixed(1)} MiB higher with pings unread`);
        await sleep(50);
      }
      // Reading resumes: the connection still works, and its echo comes after every ping was
      // handled (one connection's frames are handled in order).
      client.send(OP_TEXT, "4still here");
      client.sock.resume();
      await client.until((f) => textPackets({ frames: f }).includes("4still here"), 60000);
      // The peak, not the current size: what the server held at its worst.
      const grewMiB = grown();
      t.diagnostic(`server peak memory grew by ${grewMiB.toFixed(1)} MiB`);
      assert.ok(grewMiB < limitMiB, `server memory peaked ${grewMiB.toFixed(1)} MiB higher for ${COUNT} unread pings`);
      const pongs = client.frames.filter((f) => f.opcode === OP_PONG);
      assert.ok(pongs.length >= 1, "the latest ping was answered");
      assert.ok(pongs.every((f) => f.data.equals(payload)));
      assert.ok(!client.frames.some((f) => f.opcode === OP_CLOSE));
    } finally {
      client.close();
    }
  });
});
