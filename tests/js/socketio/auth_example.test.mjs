// The documented auth example (examples/auth.rs): a token in `auth` admits the client with its
// user in socket.data; no token or a bad one is a CONNECT_ERROR whose data says why.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { startServer } from "../support/helpers.mjs";

const { io } = createRequire(import.meta.url)("socket.io-client");
const T = { timeout: 20000 };

function attempt(url, auth) {
  return new Promise((resolve) => {
    const socket = io(url, { auth, transports: ["websocket"], reconnection: false, forceNew: true });
    socket.once("connect", () => resolve({ socket }));
    socket.once("connect_error", (err) => {
      socket.close();
      resolve({ error: { message: err.message, data: err.data } });
    });
  });
}

describe("examples/auth.rs", () => {
  let server;
  before(async () => {
    server = await startServer("auth");
  });
  after(async () => {
    await server?.stop();
  });

  it("admits a known token, with its user in socket.data", T, async () => {
    const { socket } = await attempt(server.url, { token: "alice-token" });
    assert.ok(socket, "connected");
    assert.deepEqual(await socket.timeout(5000).emitWithAck("whoami"), { user: "alice", role: "admin" });
    socket.close();
  });

  it("refuses a missing or bad token with connect_error data", T, async () => {
    const none = await attempt(server.url, {});
    assert.equal(none.error.message, "unauthorized");
    assert.equal(none.error.data.reason, "no token");
    const bad = await attempt(server.url, { token: "mallory" });
    assert.deepEqual(bad.error, { message: "unauthorized", data: { reason: "bad token" } });
  });
});
