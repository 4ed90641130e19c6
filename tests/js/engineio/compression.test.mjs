// Compression end to end against examples/test_server: permessage-deflate on the WebSocket
// transport (negotiation, RSV1 framing, the 1024-byte threshold, the per-emit compress flag),
// HTTP gzip/deflate on polling responses, socket.io-client round trips over a deflated
// connection, and the catch-all (onAny / onAnyOutgoing) listeners.
//
// The raw WebSocket client below speaks RFC 6455 over node:net itself so that the frame bits
// (RSV1, masking) and the 101 response headers can be checked; the raw HTTP client uses
// node:http because fetch() decompresses bodies transparently.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import zlib from "node:zlib";
import { io } from "socket.io-client";
import { closeSocket, escapeRegExp as escape, once, sleep, splitPayload, startServer } from "../support/helpers.mjs";

const T = { timeout: 60000 };
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };

/** test_server --deflate 1 (permessage-deflate on). */
let deflateServer;
/** test_server without --deflate (permessage-deflate off). */
let plainServer;
/**
 * test_server with relaxed heartbeats for the raw polling tests: with the default 300 ms / 200 ms
 * a raw polling client that is a little slow to pick up a ping would lose its session.
 */
let pollServer;

before(async () => {
  [deflateServer, plainServer, pollServer] = await Promise.all([
    startServer("test_server", ["--deflate", "1"]),
    startServer("test_server"),
    startServer("test_server", ["--ping-interval", "1000", "--ping-timeout", "20000"]),
  ]);
});

after(async () => {
  await Promise.all([deflateServer, plainServer, pollServer].filter(Boolean).map((s) => s.stop()));
});

/** String equality without dumping 100 KB strings into the failure message. */
function assertSameString(actual, expected, label) {
  if (actual === expected) return;
  if (typeof actual !== "string") {
    assert.fail(`${label}: expected a string of ${expected.length} chars, got ${typeof actual}`);
  }
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${label}: strings differ (actual ${actual.length} chars, expected ${expected.length}); ` +
      `first difference at ${i}: actual ${JSON.stringify(actual.slice(i, i + 40))} ` +
      `expected ${JSON.stringify(expected.slice(i, i + 40))}`,
  );
}

/** Buffer equality without dumping 100 KB buffers into the failure message. */
function assertSameBuffer(actual, expected, label) {
  assert.ok(Buffer.isBuffer(actual) || actual instanceof Uint8Array || actual instanceof ArrayBuffer,
    `${label}: expected binary data, got ${typeof actual} ${actual?.constructor?.name}`);
  const got = Buffer.from(actual instanceof ArrayBuffer ? new Uint8Array(actual) : actual);
  if (got.equals(expected)) return;
  let i = 0;
  while (i < got.length && i < expected.length && got[i] === expected[i]) i++;
  assert.fail(`${label}: buffers differ (actual ${got.length} bytes, expected ${expected.length}); first difference at ${i}`);
}

// ---------------------------------------------------------------------------------------------
// Raw WebSocket client over node:net

/** A masked client frame (RFC 6455 §5.2/§5.3). */
function clientFrame(opcode, payload, { rsv1 = false, fin = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, "utf8");
  const len = data.length;
  let header;
  if (len < 126) {
    header = Buffer.alloc(2);
    header[1] = 0x80 | len;
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[1] = 0x80 | 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  header[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const mask = crypto.randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i] ^ mask[i & 3];
  return Buffer.concat([header, mask, masked]);
}

/**
 * Inflates the server's compressed messages. Unless server_no_context_takeover was agreed, each
 * message may refer back into earlier ones, so the whole stream so far (each message with its
 * 00 00 ff ff tail put back, RFC 7692 §7.2.2) is inflated and the new output is returned.
 */
class ServerInflater {
  constructor(noContextTakeover) {
    this.noContextTakeover = noContextTakeover;
    this.stream = [];
    this.produced = 0;
  }

  inflate(payload) {
    const piece = Buffer.concat([payload, DEFLATE_TAIL]);
    if (this.noContextTakeover) return zlib.inflateRawSync(piece, SYNC);
    this.stream.push(piece);
    const all = zlib.inflateRawSync(Buffer.concat(this.stream), SYNC);
    const out = Buffer.from(all.subarray(this.produced));
    this.produced = all.length;
    return out;
  }
}

/** Client-side compression of one message: raw DEFLATE, sync flush, tail removed. */
function clientDeflate(text) {
  const out = zlib.deflateRawSync(Buffer.from(text, "utf8"), SYNC);
  assert.ok(out.subarray(-4).equals(DEFLATE_TAIL), "sync-flushed DEFLATE should end with 00 00 ff ff");
  return out.subarray(0, out.length - 4);
}

class RawWs {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.head = null;
    /** Every frame the server sent, in order (pings and control frames included). */
    this.frames = [];
    /** Data frames not yet taken (Engine.IO pings "2" and noops "6" excluded). */
    this.queue = [];
    this.waiters = [];
    this.pingsAnswered = 0;
    this.ended = false;
    this.inflater = null;
    this.headWaiter = null;
    sock.on("data", (chunk) => this.onData(chunk));
    sock.on("error", (err) => {
      this.error = err;
    });
    sock.on("close", () => {
      this.ended = true;
      if (this.headWaiter) this.headWaiter.reject(new Error("connection closed before the handshake response"));
      for (const w of this.waiters.splice(0)) {
        w.reject(new Error(`connection closed while waiting for a frame; frames: ${this.describeFrames()}`));
      }
    });
  }

  /** Connects and sends the opening handshake; resolves once the response head was read. */
  static async open(port, { offer, timeoutMs = 10000 } = {}) {
    const sock = net.connect({ host: "127.0.0.1", port });
    sock.setNoDelay(true);
    const ws = new RawWs(sock);
    try {
      await new Promise((resolve, reject) => {
        sock.once("connect", resolve);
        sock.once("error", reject);
      });
      ws.key = crypto.randomBytes(16).toString("base64");
      const lines = [
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1",
        `Host: 127.0.0.1:${port}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${ws.key}`,
        "Sec-WebSocket-Version: 13",
      ];
      if (offer !== undefined) lines.push(`Sec-WebSocket-Extensions: ${offer}`);
      const headPromise = new Promise((resolve, reject) => {
        ws.headWaiter = { resolve, reject };
      });
      sock.write(`${lines.join("\r\n")}\r\n\r\n`);
      let timer;
      await Promise.race([
        headPromise,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no handshake response within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    } catch (err) {
      sock.destroy();
      throw err;
    }
    return ws;
  }

  onData(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (!this.head) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...headerLines] = this.buf.subarray(0, end).toString("latin1").split("\r\n");
      const headers = {};
      for (const line of headerLines) {
        const i = line.indexOf(":");
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
      this.head = { statusLine, status: Number(statusLine.split(" ")[1]), headers };
      this.buf = this.buf.subarray(end + 4);
      const ext = headers["sec-websocket-extensions"];
      if (this.head.status === 101 && ext && /^permessage-deflate\b/i.test(ext)) {
        this.inflater = new ServerInflater(/server_no_context_takeover/i.test(ext));
      }
      this.headWaiter?.resolve(this.head);
      this.headWaiter = null;
    }
    if (this.head.status !== 101) return;
    this.parseFrames();
  }

  parseFrames() {
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      let len = b1 & 0x7f;
      let offset = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        offset = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (b1 & 0x80) !== 0;
      if (masked) offset += 4; // recorded and asserted against below; a server must not mask
      if (this.buf.length < offset + len) return;
      let payload = Buffer.from(this.buf.subarray(offset, offset + len));
      if (masked) {
        const mask = this.buf.subarray(offset - 4, offset);
        for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
      }
      this.buf = this.buf.subarray(offset + len);
      const frame = {
        fin: (b0 & 0x80) !== 0,
        rsv1: (b0 & 0x40) !== 0,
        rsv2: (b0 & 0x20) !== 0,
        rsv3: (b0 & 0x10) !== 0,
        opcode: b0 & 0x0f,
        masked,
        wireLength: len,
        payload,
      };
      this.frames.push(frame);
      this.onFrame(frame);
    }
  }

  onFrame(frame) {
    if (frame.opcode === 0x9) {
      this.write(clientFrame(0xa, frame.payload));
      return;
    }
    if (frame.opcode === 0x8) {
      frame.closeCode = frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : null;
      this.closeFrame = frame;
      return;
    }
    if (frame.opcode !== 0x1 && frame.opcode !== 0x2) return;
    frame.data = frame.payload;
    if (frame.rsv1 && this.inflater) {
      try {
        frame.data = this.inflater.inflate(frame.payload);
      } catch (err) {
        frame.inflateError = err;
      }
    }
    if (frame.opcode === 0x1) frame.text = frame.data.toString("utf8");
    if (frame.text === "2") {
      // Engine.IO ping: answer at once with a masked "3" (pingTimeout is short).
      this.sendText("3");
      this.pingsAnswered++;
      return;
    }
    if (frame.text === "6") return;
    const i = this.waiters.findIndex((w) => w.pred(frame));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      w.resolve(frame);
    } else {
      this.queue.push(frame);
    }
  }

  write(buf) {
    if (!this.sock.destroyed) this.sock.write(buf);
  }

  sendText(text) {
    this.write(clientFrame(0x1, text));
  }

  /** First queued (or future) data frame matching `pred`; other frames stay queued. */
  take(pred, timeoutMs = 10000, what = "a matching frame") {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    if (this.ended) return Promise.reject(new Error(`connection closed; no ${what}; frames: ${this.describeFrames()}`));
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const j = this.waiters.indexOf(waiter);
        if (j >= 0) this.waiters.splice(j, 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms; frames: ${this.describeFrames()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** The next data frame whose text starts with `prefix`. */
  takeText(prefix, timeoutMs = 10000) {
    return this.take((f) => f.text !== undefined && f.text.startsWith(prefix), timeoutMs, `frame starting with ${JSON.stringify(prefix)}`);
  }

  describeFrames() {
    return JSON.stringify(
      this.frames.slice(-20).map((f) => ({
        op: f.opcode,
        rsv1: f.rsv1,
        len: f.wireLength,
        text: f.text === undefined ? undefined : f.text.slice(0, 60),
      })),
    );
  }

  destroy() {
    this.sock.destroy();
  }
}

/** RFC 6455 §4.2.2: the Sec-WebSocket-Accept value for `key`. */
const acceptFor = (key) => crypto.createHash("sha1").update(key + WS_GUID).digest("base64");

/** Checks the 101 response; returns its headers. */
function assertSwitched(ws) {
  assert.equal(ws.head.status, 101, `expected 101, got ${ws.head.statusLine}`);
  assert.equal(ws.head.headers["upgrade"]?.toLowerCase(), "websocket");
  assert.equal(ws.head.headers["sec-websocket-accept"], acceptFor(ws.key));
  return ws.head.headers;
}

/** Reads the Engine.IO open packet and connects to namespace "/". Returns the Socket.IO id. */
async function sioConnect(ws) {
  const open = await ws.takeText("0");
  const handshake = JSON.parse(open.text.slice(1));
  assert.equal(typeof handshake.sid, "string");
  ws.sendText("40");
  const connect = await ws.takeText("40");
  const { sid } = JSON.parse(connect.text.slice(2));
  assert.equal(typeof sid, "string");
  return sid;
}

const bigPacket = (size) => `42["big",${JSON.stringify("x".repeat(size))}]`;

let ackIds = 0;
/** Asks for `big` (size, compress) and returns its frame once the ack arrived too. */
async function rawCompressTest(ws, size, compress) {
  const id = ++ackIds;
  ws.sendText(`42${id}["compress-test",${JSON.stringify({ size, compress })}]`);
  const [big] = await Promise.all([ws.takeText('42["big"'), ws.takeText(`43${id}[`)]);
  assert.equal(big.inflateError, undefined, `compressed "big" frame did not inflate: ${big.inflateError}`);
  return big;
}

/** Every server frame: FIN set (one frame per message), unmasked, RSV2/RSV3 clear. */
function assertServerFrames(ws, { deflate }) {
  for (const f of ws.frames) {
    assert.equal(f.masked, false, `server frame is masked: ${ws.describeFrames()}`);
    assert.equal(f.fin, true, `server frame without FIN: ${ws.describeFrames()}`);
    assert.equal(f.rsv2 || f.rsv3, false, `server frame with RSV2/RSV3: ${ws.describeFrames()}`);
    if (!deflate) assert.equal(f.rsv1, false, `RSV1 set although permessage-deflate was not agreed: ${ws.describeFrames()}`);
  }
  assert.equal(ws.closeFrame, undefined, `server closed the connection (code ${ws.closeFrame?.closeCode})`);
  assert.equal(ws.ended, false, "connection ended during the test");
}

// ---------------------------------------------------------------------------------------------
// 1. permessage-deflate negotiated

describe("permessage-deflate negotiated (--deflate 1)", () => {
  it("answers the offer in the 101 and compresses only messages that ask for it and reach the threshold", T, async () => {
    const ws = await RawWs.open(deflateServer.port, { offer: "permessage-deflate; client_max_window_bits" });
    try {
      const headers = assertSwitched(ws);
      const ext = headers["sec-websocket-extensions"];
      assert.ok(ext !== undefined, `no sec-websocket-extensions in the 101: ${JSON.stringify(headers)}`);
      assert.match(ext, /^permessage-deflate(\s*;|$)/i);
      assert.ok(ws.inflater, "the raw client should have set up an inflater");
      await sioConnect(ws);

      // compress: true, 5000 chars: RSV1 set, and the payload really is compressed.
      const compressed = await rawCompressTest(ws, 5000, true);
      assert.equal(compressed.opcode, 0x1, "big should be a text frame");
      assert.equal(compressed.rsv1, true, "a 5 KB message emitted with compress(true) should have RSV1 set");
      assert.ok(compressed.wireLength < 5000, `compressed frame is ${compressed.wireLength} bytes for 5012 bytes of text`);
      assertSameString(compressed.text, bigPacket(5000), "inflated big (compress true)");

      // compress: false: RSV1 clear, plain text on the wire.
      const plain = await rawCompressTest(ws, 5000, false);
      assert.equal(plain.rsv1, false, "a message emitted with compress(false) must not be compressed");
      assert.equal(plain.wireLength, bigPacket(5000).length);
      assertSameString(plain.payload.toString("utf8"), bigPacket(5000), "plain big (compress false)");

      // Below the threshold: sent uncompressed even though compression was asked for.
      const small = await rawCompressTest(ws, 100, true);
      assert.equal(small.rsv1, false, "a 110-byte message is below the 1024-byte threshold");
      assert.equal(small.payload.toString("utf8"), bigPacket(100));

      // The threshold itself: 42["big","x…"] is size + 12 bytes.
      const justBelow = await rawCompressTest(ws, 1011, true);
      assert.equal(justBelow.payload.length, 1023);
      assert.equal(justBelow.rsv1, false, "a 1023-byte message is below the 1024-byte threshold");
      const atThreshold = await rawCompressTest(ws, 1012, true);
      assert.equal(atThreshold.rsv1, true, "a 1024-byte message reaches the 1024-byte threshold");
      assertSameString(atThreshold.text, bigPacket(1012), "inflated 1024-byte message");

      // Another compressed message on the same connection (context takeover unless the server
      // announced server_no_context_takeover) still inflates to the right text.
      const again = await rawCompressTest(ws, 7000, true);
      assert.equal(again.rsv1, true);
      assertSameString(again.text, bigPacket(7000), "second compressed message");

      assertServerFrames(ws, { deflate: true });
    } finally {
      ws.destroy();
    }
  });

  it("the first compressed message inflates on its own with inflateRawSync + 00 00 ff ff", T, async () => {
    const ws = await RawWs.open(deflateServer.port, { offer: "permessage-deflate; client_max_window_bits" });
    try {
      assertSwitched(ws);
      await sioConnect(ws);
      const big = await rawCompressTest(ws, 5000, true);
      assert.equal(big.rsv1, true);
      const inflated = zlib.inflateRawSync(Buffer.concat([big.payload, DEFLATE_TAIL]), SYNC).toString("utf8");
      assertSameString(inflated, bigPacket(5000), "inflateRawSync(payload + 00 00 ff ff)");
      assertServerFrames(ws, { deflate: true });
    } finally {
      ws.destroy();
    }
  });

  it("inflates compressed client messages and answers them compressed", T, async () => {
    const ws = await RawWs.open(deflateServer.port, { offer: "permessage-deflate; client_max_window_bits" });
    try {
      assertSwitched(ws);
      await sioConnect(ws);
      for (const text of ["y".repeat(3000), `${"héllo wörld ✓ ".repeat(200)}end`]) {
        const packet = `42["message",${JSON.stringify(text)}]`;
        ws.write(clientFrame(0x1, clientDeflate(packet), { rsv1: true }));
        const back = await ws.takeText('42["message-back"');
        assert.equal(back.inflateError, undefined, `message-back did not inflate: ${back.inflateError}`);
        assert.equal(back.rsv1, true, "a message-back over 1024 bytes (compress by default) should be compressed");
        assertSameString(back.text, `42["message-back",${JSON.stringify(text)}]`, "message-back");
      }
      // Uncompressed client frames stay valid on a deflate connection.
      ws.sendText('42["message","plain"]');
      const back = await ws.takeText('42["message-back"');
      assert.equal(back.text, '42["message-back","plain"]');
      assertServerFrames(ws, { deflate: true });
    } finally {
      ws.destroy();
    }
  });

  it("keeps the connection alive by answering pings while idle", T, async () => {
    const ws = await RawWs.open(deflateServer.port, { offer: "permessage-deflate; client_max_window_bits" });
    try {
      assertSwitched(ws);
      await sioConnect(ws);
      // pingInterval is 300 ms: wait (bounded) until several pings arrived and were answered.
      const deadline = Date.now() + 10000;
      while (ws.pingsAnswered < 2 && Date.now() < deadline) await sleep(20);
      assert.ok(ws.pingsAnswered >= 2, `expected several pings, answered ${ws.pingsAnswered}`);
      const big = await rawCompressTest(ws, 5000, true);
      assert.equal(big.rsv1, true);
      assertSameString(big.text, bigPacket(5000), "big after pings");
      assertServerFrames(ws, { deflate: true });
    } finally {
      ws.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 2. permessage-deflate not negotiated

describe("permessage-deflate not negotiated", () => {
  it("without --deflate the offer is declined and nothing is compressed", T, async () => {
    const ws = await RawWs.open(plainServer.port, { offer: "permessage-deflate; client_max_window_bits" });
    try {
      const headers = assertSwitched(ws);
      assert.equal(headers["sec-websocket-extensions"], undefined, `unexpected extension header ${headers["sec-websocket-extensions"]}`);
      await sioConnect(ws);
      for (const [size, compress] of [[5000, true], [5000, false], [100, true]]) {
        const big = await rawCompressTest(ws, size, compress);
        assert.equal(big.rsv1, false, `RSV1 set for size ${size} compress ${compress} without negotiation`);
        assertSameString(big.payload.toString("utf8"), bigPacket(size), `big ${size} ${compress}`);
      }
      assertServerFrames(ws, { deflate: false });
    } finally {
      ws.destroy();
    }
  });

  it("with --deflate 1 but no offer from the client, nothing is compressed", T, async () => {
    const ws = await RawWs.open(deflateServer.port);
    try {
      const headers = assertSwitched(ws);
      assert.equal(headers["sec-websocket-extensions"], undefined, `unexpected extension header ${headers["sec-websocket-extensions"]}`);
      await sioConnect(ws);
      for (const [size, compress] of [[5000, true], [100000, true], [5000, false]]) {
        const big = await rawCompressTest(ws, size, compress);
        assert.equal(big.rsv1, false, `RSV1 set for size ${size} compress ${compress} without negotiation`);
        assertSameString(big.payload.toString("utf8"), bigPacket(size), `big ${size} ${compress}`);
      }
      ws.sendText('42["message","hi"]');
      assert.equal((await ws.takeText('42["message-back"')).text, '42["message-back","hi"]');
      assertServerFrames(ws, { deflate: false });
    } finally {
      ws.destroy();
    }
  });

  it("with --deflate 1, offers of other extensions only are declined", T, async () => {
    const ws = await RawWs.open(deflateServer.port, { offer: "x-webkit-deflate-frame, foo; bar=1" });
    try {
      const headers = assertSwitched(ws);
      assert.equal(headers["sec-websocket-extensions"], undefined, `unexpected extension header ${headers["sec-websocket-extensions"]}`);
      await sioConnect(ws);
      const big = await rawCompressTest(ws, 5000, true);
      assert.equal(big.rsv1, false);
      assertSameString(big.payload.toString("utf8"), bigPacket(5000), "big");
      assertServerFrames(ws, { deflate: false });
    } finally {
      ws.destroy();
    }
  });

  it("a client frame with RSV1 on a connection without the extension fails it with 1002", T, async () => {
    const ws = await RawWs.open(plainServer.port, { offer: "permessage-deflate; client_max_window_bits" });
    try {
      assertSwitched(ws);
      await sioConnect(ws);
      ws.write(clientFrame(0x1, clientDeflate(`42["message",${JSON.stringify("z".repeat(3000))}]`), { rsv1: true }));
      const deadline = Date.now() + 10000;
      while (!ws.closeFrame && !ws.ended && Date.now() < deadline) await sleep(20);
      assert.ok(ws.closeFrame, `expected a close frame, got none (ended: ${ws.ended}); frames: ${ws.describeFrames()}`);
      assert.equal(ws.closeFrame.closeCode, 1002);
      assert.equal(
        ws.frames.some((f) => f.text?.startsWith('42["message-back"')),
        false,
        "the RSV1 message must not be delivered",
      );
    } finally {
      ws.destroy();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 3. socket.io-client over a deflated WebSocket

describe("socket.io-client over websocket with permessage-deflate", () => {
  let socket;
  let disconnectReason = null;

  before(async () => {
    socket = io(deflateServer.url, { transports: ["websocket"], forceNew: true, reconnection: false });
    socket.on("disconnect", (reason, details) => {
      disconnectReason = `${reason} ${details?.message ?? details?.description?.message ?? ""}`.trim();
    });
    await once(socket, "connect", 15000);
  });

  /** Fails at once (instead of after a timeout) if an earlier step lost the connection. */
  const assertConnected = (step) =>
    assert.ok(socket.connected, `socket disconnected before ${step}: ${disconnectReason}`);

  after(() => {
    if (socket) closeSocket(socket);
  });

  /** The ws WebSocket under the engine.io-client transport. */
  const rawWs = () => socket.io.engine.transport.ws;

  it("negotiates permessage-deflate", T, () => {
    assert.equal(socket.io.engine.transport.name, "websocket");
    assert.equal(rawWs().extensions, "permessage-deflate");
  });

  it("round-trips ~100 KB strings intact via message -> message-back", T, async () => {
    // maxPayload is 100000 bytes per WebSocket message; 42["message","…"] adds 16 bytes.
    const repetitive = "x".repeat(99000);
    // No characters JSON escapes, so the packet stays within maxPayload.
    const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_!?()[]{}<>=+*/";
    const varied = Array.from({ length: 99000 }, (_, i) => alphabet[(i * 7919) % alphabet.length]).join("");
    const random = crypto.randomBytes(37000).toString("base64").slice(0, 49000);
    for (const [label, text] of [["repetitive", repetitive], ["varied", varied], ["random", random]]) {
      assertConnected(`the ${label} string`);
      const back = once(socket, "message-back", 20000);
      socket.emit("message", text);
      const [got] = await back;
      assertSameString(got, text, `message-back (${label})`);
    }
    assertConnected("the end of the test");
  });

  it("round-trips a 100 KB binary Buffer intact", T, async () => {
    // maxPayload (100000) bounds each WebSocket frame as sent, and incompressible data grows a
    // little when the client deflates it (stored blocks), so the random buffer leaves some room
    // (the ws library bounds compressed frames the same way). The patterned one is 100000 bytes.
    const random = crypto.randomBytes(99000);
    const patterned = Buffer.alloc(100000, "abcdefgh");
    for (const [label, buf] of [["random", random], ["patterned", patterned]]) {
      assertConnected(`the ${label} buffer`);
      const back = once(socket, "message-back", 20000);
      socket.emit("message", buf);
      const [got] = await back;
      assertSameBuffer(got, buf, `message-back (${label})`);
    }
    // Mixed: a string and a buffer in the same event.
    const back = once(socket, "message-back", 20000);
    socket.emit("message", { text: "y".repeat(40000), data: Buffer.alloc(50000, 7) });
    const [got] = await back;
    assertSameString(got.text, "y".repeat(40000), "mixed text");
    assertSameBuffer(got.data, Buffer.alloc(50000, 7), "mixed data");
    assertConnected("the end of the test");
  });

  it("compress-test delivers big intact with compress true and false", T, async () => {
    const tcp = rawWs()._socket;
    assert.ok(tcp && typeof tcp.bytesRead === "number", "ws client should expose its net.Socket");
    for (const compress of [true, false]) {
      assertConnected(`compress-test ${compress}`);
      const before = tcp.bytesRead;
      const big = once(socket, "big", 20000);
      const ack = socket.timeout(20000).emitWithAck("compress-test", { size: 100000, compress });
      const [[got]] = await Promise.all([big, ack]);
      assertSameString(got, "x".repeat(100000), `big (compress ${compress})`);
      const read = tcp.bytesRead - before;
      if (compress) {
        assert.ok(read < 20000, `compress(true): ${read} bytes read for a 100 KB message of "x"`);
      } else {
        assert.ok(read >= 100000, `compress(false): only ${read} bytes read for a 100 KB message`);
      }
    }
    assertConnected("the end of the test");
  });
});

// ---------------------------------------------------------------------------------------------
// 4. HTTP compression of polling responses

/** A raw HTTP request (no transparent decompression). */
function rawHttp(method, url, { headers = {}, body, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, raw: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** The response body as text, decoded according to its Content-Encoding. */
function bodyText(res) {
  const coding = res.headers["content-encoding"];
  if (coding === undefined) return res.raw.toString("utf8");
  if (coding === "gzip") return zlib.gunzipSync(res.raw).toString("utf8");
  if (coding === "deflate") return zlib.inflateSync(res.raw).toString("utf8");
  throw new Error(`unexpected content-encoding ${coding}`);
}

class PollSession {
  constructor(server) {
    this.base = `${server.url}/socket.io/`;
  }

  url() {
    return `${this.base}?EIO=4&transport=polling&sid=${encodeURIComponent(this.sid)}`;
  }

  async post(body) {
    const res = await rawHttp("POST", this.url(), { body, headers: { "content-type": "text/plain;charset=UTF-8" } });
    assert.equal(res.status, 200, `POST ${JSON.stringify(body.slice(0, 60))} failed: ${res.status} ${res.raw}`);
  }

  /** GETs until a response holds a packet matching `pred`; answers pings. Returns that response. */
  async pollUntil(pred, headers = {}, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    const seen = [];
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching packet within ${timeoutMs} ms; got ${JSON.stringify(seen.map((p) => p.slice(0, 60)))}`);
      const res = await rawHttp("GET", this.url(), { headers, timeoutMs: left });
      assert.equal(res.status, 200, `poll failed: ${res.status} ${res.raw}`);
      const text = bodyText(res);
      const packets = splitPayload(text);
      seen.push(...packets);
      for (const p of packets) if (p === "2") await this.post("3");
      const match = packets.find(pred);
      if (match !== undefined) return { res, text, packets, match };
    }
  }

  /** Engine.IO handshake (asking for gzip) and Socket.IO connect to "/". */
  async open() {
    const hs = await rawHttp("GET", `${this.base}?EIO=4&transport=polling`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(hs.status, 200);
    assert.equal(hs.headers["content-encoding"], undefined, "the small handshake response should not be compressed");
    const text = hs.raw.toString("utf8");
    assert.ok(text.startsWith("0"), `bad handshake ${text}`);
    this.sid = JSON.parse(text.slice(1)).sid;
    await this.post("40");
    const { match, packets } = await this.pollUntil((p) => p.startsWith("40"), { "accept-encoding": "gzip" });
    assert.match(match, /^40\{"sid":"[^"]+"/);
    // The server greets every socket with `nsp` then `auth` (compressible); drain them so
    // they do not share a later response with the packet a test looks at.
    if (!packets.some((p) => p.startsWith('42["auth"'))) await this.pollUntil((p) => p.startsWith('42["auth"'));
    return this;
  }

  /** Asks for `big` (no ack id, so the response holds no ack asking for compression). */
  async compressTest(size, compress, acceptEncoding) {
    await this.post(`42["compress-test",${JSON.stringify({ size, compress })}]`);
    const headers = acceptEncoding === undefined ? {} : { "accept-encoding": acceptEncoding };
    return this.pollUntil((p) => p.startsWith('42["big"'), headers);
  }

  async close() {
    if (!this.sid) return;
    try {
      await rawHttp("POST", this.url(), { body: "1", timeoutMs: 5000 });
    } catch {
      // the session may already be gone
    }
  }
}

describe("HTTP compression of polling responses", () => {
  async function withSession(fn) {
    const session = new PollSession(pollServer);
    try {
      await session.open();
      await fn(session);
    } finally {
      await session.close();
    }
  }

  it("gzips a >= 1024-byte response when compress is asked and gzip is accepted", T, async () => {
    await withSession(async (s) => {
      const { res, match, text } = await s.compressTest(5000, true, "gzip");
      assert.equal(res.headers["content-encoding"], "gzip");
      assert.equal(res.raw[0], 0x1f, "gzip magic");
      assert.equal(res.raw[1], 0x8b, "gzip magic");
      assert.ok(res.raw.length < text.length, `gzip body ${res.raw.length} bytes for ${text.length} bytes of payload`);
      assertSameString(match, bigPacket(5000), "gunzipped big packet");
      assert.ok(text.includes('42["big","xxx'));
    });
  });

  it("uses deflate when only deflate is accepted", T, async () => {
    await withSession(async (s) => {
      const { res, match } = await s.compressTest(5000, true, "deflate");
      assert.equal(res.headers["content-encoding"], "deflate");
      assertSameString(match, bigPacket(5000), "inflated big packet");
    });
  });

  it("does not compress when the packet was emitted with compress(false)", T, async () => {
    await withSession(async (s) => {
      const { res, match } = await s.compressTest(5000, false, "gzip");
      assert.equal(res.headers["content-encoding"], undefined);
      assertSameString(match, bigPacket(5000), "plain big packet");
      assert.ok(res.raw.toString("utf8").includes(bigPacket(5000)));
    });
  });

  it("does not compress when the request does not accept gzip or deflate", T, async () => {
    await withSession(async (s) => {
      for (const acceptEncoding of ["identity", "br", undefined]) {
        const { res, match } = await s.compressTest(5000, true, acceptEncoding);
        assert.equal(res.headers["content-encoding"], undefined, `Accept-Encoding: ${acceptEncoding}`);
        assertSameString(match, bigPacket(5000), `plain big packet (Accept-Encoding: ${acceptEncoding})`);
      }
    });
  });

  it("does not compress a response below 1024 bytes", T, async () => {
    await withSession(async (s) => {
      const { res, match, text } = await s.compressTest(100, true, "gzip");
      assert.ok(text.length < 1024);
      assert.equal(res.headers["content-encoding"], undefined);
      assert.equal(match, bigPacket(100));
    });
  });

  it("does not use a coding the request refuses with q=0", T, async () => {
    await withSession(async (s) => {
      const refused = await s.compressTest(5000, true, "gzip;q=0");
      assert.notEqual(refused.res.headers["content-encoding"], "gzip", "Accept-Encoding: gzip;q=0 refuses gzip (RFC 9110 §12.5.3)");
      assertSameString(refused.match, bigPacket(5000), "big packet (gzip;q=0)");
      const both = await s.compressTest(5000, true, "gzip;q=0, deflate;q=0");
      assert.equal(both.res.headers["content-encoding"], undefined, "Accept-Encoding: gzip;q=0, deflate;q=0 refuses both");
      assertSameString(both.match, bigPacket(5000), "big packet (gzip;q=0, deflate;q=0)");
    });
  });
});

// ---------------------------------------------------------------------------------------------
// 5. catch-all listeners

describe("catch-all listeners (onAny / onAnyOutgoing)", () => {
  const sockets = [];

  after(() => {
    for (const s of sockets.splice(0)) closeSocket(s);
  });

  async function connect() {
    const socket = io(plainServer.url, { transports: ["websocket"], forceNew: true, reconnection: false });
    sockets.push(socket);
    await once(socket, "connect", 15000);
    await plainServer.waitForLine(new RegExp(`^connect / ${escape(socket.id)}$`), 10000);
    return socket;
  }

  it("reports incoming and outgoing events, broadcasts included, until off-any", T, async () => {
    const a = await connect();
    const b = await connect();
    const forA = (l) => l.startsWith(`any / ${a.id} `) || l.startsWith(`any-out / ${a.id} `);
    const forB = (l) => l.startsWith(`any / ${b.id} `) || l.startsWith(`any-out / ${b.id} `);

    assert.deepEqual(await a.timeout(10000).emitWithAck("listen-any", {}), [1, 1]);

    // An incoming event and the event the server sends back.
    let back = once(a, "message-back", 10000);
    a.emit("message", "hi");
    assert.deepEqual(await back, ["hi"]);
    await plainServer.waitForLine(new RegExp(`^any / ${escape(a.id)} message$`), 10000);
    await plainServer.waitForLine(new RegExp(`^any-out / ${escape(a.id)} message-back$`), 10000);

    // A broadcast from another client reaches the listening socket.
    let roomMsg = once(a, "room-msg", 10000);
    await b.timeout(10000).emitWithAck("io-emit", { data: "x" });
    assert.deepEqual(await roomMsg, ["x"]);
    await plainServer.waitForLine(new RegExp(`^any-out / ${escape(a.id)} room-msg$`), 10000);
    assert.deepEqual(plainServer.lines.filter(forB), [], "b registered no catch-all listener");

    // A broadcast that asks every client for an ack is an outgoing event too.
    a.once("poll", (_question, answer) => answer("yes"));
    const votes = await b.timeout(10000).emitWithAck("broadcast-ack", { timeout: 5000 });
    assert.deepEqual(votes, { ok: [["yes"]] });
    await plainServer.waitForLine(new RegExp(`^any-out / ${escape(a.id)} poll$`), 10000);

    assert.deepEqual(await a.timeout(10000).emitWithAck("off-any", {}), [0, 0]);
    // The off-any event itself was still seen by the listener: its line lands first.
    await plainServer.waitForLine(new RegExp(`^any / ${escape(a.id)} off-any$`), 10000);
    const linesBefore = plainServer.lines.length;

    back = once(a, "message-back", 10000);
    a.emit("message", "again");
    assert.deepEqual(await back, ["again"]);
    roomMsg = once(a, "room-msg", 10000);
    await b.timeout(10000).emitWithAck("io-emit", { data: "y" });
    assert.deepEqual(await roomMsg, ["y"]);
    // An absence check: a quiet window in which a stray catch-all line would have landed.
    await sleep(500);
    const later = plainServer.lines.slice(linesBefore).filter(forA);
    assert.deepEqual(later, [], `catch-all lines for ${a.id} after off-any`);
    assert.deepEqual(plainServer.lines.filter(forB), [], "b registered no catch-all listener");
  });
});
