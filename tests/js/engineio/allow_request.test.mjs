// The allowRequest hook (EngineConfig::allow_request): test_server refuses any handshake whose
// query says deny=1, with HTTP 403 and engine.io's error body, and lets the rest through.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startServer, httpGet, parseError } from "../support/helpers.mjs";

describe("allowRequest hook", () => {
  let server;
  before(async () => {
    server = await startServer("test_server");
  });
  after(async () => {
    await server.stop();
  });

  it("refuses a polling handshake with 403 and code 4", async () => {
    const res = await httpGet(`${server.url}/socket.io/?EIO=4&transport=polling&deny=1`);
    assert.equal(res.status, 403);
    assert.deepEqual(parseError(res), { code: 4, message: "denied by allowRequest" });
  });

  it("lets other handshakes through", async () => {
    const res = await httpGet(`${server.url}/socket.io/?EIO=4&transport=polling&deny=0`);
    assert.equal(res.status, 200);
    assert.ok(res.text.startsWith("0{"), res.text);
  });

  for (const transports of [["polling"], ["websocket"]]) {
    it(`socket.io-client (${transports}) gets connect_error and never connects`, async () => {
      const socket = io(server.url, { transports, query: { deny: "1" }, reconnection: false });
      try {
        const err = await new Promise((resolve, reject) => {
          socket.on("connect", () => reject(new Error("connected despite allowRequest")));
          socket.on("connect_error", resolve);
          setTimeout(() => reject(new Error("no connect_error within 5 s")), 5000);
        });
        assert.ok(err instanceof Error);
        assert.equal(socket.connected, false);
      } finally {
        socket.close();
      }
    });
  }
});
