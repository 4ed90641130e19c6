// Helpers for the legacy-client tests (socket.io-client 2.x / sails.io.js, i.e. Engine.IO v3 and
// Socket.IO protocol v4): loading the CommonJS clients, waiting on their events, and the pieces
// of engine.io-parser 2.2.1 (the parser those clients really use) the raw protocol tests need.
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** socket.io-client 2.5.0 (CommonJS), installed as "socket.io-client-v2". */
export const ioV2 = require("socket.io-client-v2");

/** engine.io-parser 2.2.1: the Engine.IO v3 packet and payload codec socket.io-client 2 uses. */
export const eioParserV3 = require("socket.io-client-v2/node_modules/engine.io-parser");

/** Path of a file inside the socket.io-client 2 package (e.g. its browser bundle). */
export const v2PackagePath = (rel) => require.resolve(`socket.io-client-v2/${rel}`);

/**
 * Wait for "connect" of a socket.io-client 2 socket; fail on a namespace "error" (CONNECT_ERROR),
 * an engine "connect_error" or "connect_timeout".
 */
export function connectedV2(socket, timeoutMs = 15000) {
  if (socket.connected) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("error", onError);
      socket.off("connect_error", onConnectError);
      socket.off("connect_timeout", onTimeout);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`socket ${socket.nsp} not connected within ${timeoutMs} ms`));
    }, timeoutMs);
    function onConnect() {
      cleanup();
      resolve(socket);
    }
    function onError(data) {
      cleanup();
      reject(new Error(`error event on ${socket.nsp}: ${JSON.stringify(data)}`));
    }
    function onConnectError(err) {
      cleanup();
      reject(new Error(`connect_error on ${socket.nsp}: ${err && (err.message || err)} ${JSON.stringify(err && err.description)}`));
    }
    function onTimeout() {
      cleanup();
      reject(new Error(`connect_timeout on ${socket.nsp}`));
    }
    socket.on("connect", onConnect);
    socket.on("error", onError);
    socket.on("connect_error", onConnectError);
    socket.on("connect_timeout", onTimeout);
  });
}

/** Wait for the "error" event (a CONNECT_ERROR in protocol v4) and resolve with its data. */
export function errorEventV2(socket, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("error", onError);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no error event on ${socket.nsp} within ${timeoutMs} ms`));
    }, timeoutMs);
    function onConnect() {
      cleanup();
      reject(new Error(`${socket.nsp} connected although an error was expected`));
    }
    function onError(data) {
      cleanup();
      resolve(data);
    }
    socket.on("connect", onConnect);
    socket.on("error", onError);
  });
}

/** Emit with an ack callback (socket.io-client 2 has no emitWithAck); resolves with the ack's args. */
export function ackV2(socket, event, args = [], timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for "${event}" within ${timeoutMs} ms`)), timeoutMs);
    socket.emit(event, ...args, (...answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
  });
}

/**
 * The socket's id on the server. With Engine.IO v3 the server's socket ids are random (as
 * socket.io 4 with allowEIO3), so the v2 client's own `socket.id` is not the server's: ask the
 * server for the socket's rooms, whose only entry right after connecting is the socket's own id.
 */
export async function serverIdV2(socket) {
  const [rooms] = await ackV2(socket, "rooms");
  assert.ok(Array.isArray(rooms) && rooms.length === 1, `rooms of a fresh socket: ${JSON.stringify(rooms)}`);
  return rooms[0];
}

/** Resolves once the engine's transport is the WebSocket (after the polling → websocket upgrade). */
export function upgradedV2(socket, timeoutMs = 15000) {
  const engine = socket.io.engine;
  if (engine.transport && engine.transport.name === "websocket") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      engine.off("upgrade", onUpgrade);
      engine.off("upgradeError", onUpgradeError);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no upgrade within ${timeoutMs} ms (transport ${engine.transport && engine.transport.name})`));
    }, timeoutMs);
    function onUpgrade() {
      cleanup();
      resolve();
    }
    function onUpgradeError(err) {
      cleanup();
      reject(new Error(`upgrade error: ${err && err.message}`));
    }
    engine.on("upgrade", onUpgrade);
    engine.on("upgradeError", onUpgradeError);
  });
}

/**
 * Stop an engine.io-client 3 engine's heartbeat for good: it sends no more pings and no longer
 * watches for the server's pongs (so only the server can notice the silence).
 */
export function stopHeartbeatV3(engine) {
  engine.setPing = () => {};
  engine.ping = () => {};
  clearTimeout(engine.pingIntervalTimer);
  clearTimeout(engine.pingTimeoutTimer);
  engine.off("heartbeat", engine.onHeartbeat);
}


// ---------------------------------------------------------------------------------------------
// Engine.IO v3 codec (engine.io-parser 2.2.1), promisified

/** Decode a v3 text payload (`<len>:<packet>...`) into packets [{type, data}]; throws on a parse error. */
export function decodeTextPayloadV3(text) {
  const packets = [];
  let failed = false;
  eioParserV3.decodePayload(text, (packet) => {
    if (packet.type === "error" && packet.data === "parser error") {
      failed = true;
      return false;
    }
    packets.push(packet);
    return undefined;
  });
  if (failed) throw new Error(`not a valid Engine.IO v3 payload: ${JSON.stringify(text.slice(0, 300))}`);
  return packets;
}

/** Decode a v3 binary (XHR2) payload into packets [{type, data}]. */
export function decodeBinaryPayloadV3(buffer) {
  const packets = [];
  let failed = false;
  eioParserV3.decodePayloadAsBinary(buffer, (packet) => {
    if (packet.type === "error" && packet.data === "parser error") failed = true;
    else packets.push(packet);
  });
  if (failed) throw new Error(`not a valid Engine.IO v3 binary payload: ${buffer.toString("hex").slice(0, 300)}`);
  return packets;
}

/** Encode packets as a v3 text payload; binary data as base64 `b4...` packets. */
export function encodeTextPayloadV3(packets) {
  let out;
  eioParserV3.encodePayload(packets, false, (data) => {
    out = data;
  });
  return out;
}

/** Encode packets as a v3 binary (XHR2) payload (a Buffer). */
export function encodeBinaryPayloadV3(packets) {
  let out;
  eioParserV3.encodePayloadAsBinary(packets, (data) => {
    out = data;
  });
  return out;
}
