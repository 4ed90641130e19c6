// socket.conn, socket.request and socket.client on examples/test_server (its `connection` event
// answers with them), with socket.io-client 4:
//  - over polling (upgrade off): transport "polling", ready state "open", address, protocol 4;
//    the request's method, URL, headers and cookies (parsed and decoded);
//  - polling then upgraded to WebSocket: the server hears the upgrade (`watch-upgrade` makes it
//    emit `upgraded`) and socket.conn says "websocket" from then on;
//  - two namespaces on one Manager: one connection, and each socket's client lists both sockets.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Manager, io } from "socket.io-client";
import { connected, startServer } from "../support/helpers.mjs";

const T = { timeout: 30000 };

describe("socket.conn, socket.request, socket.client", () => {
  let server;
  const open = [];
  before(async () => {
    server = await startServer("test_server");
  });
  after(async () => {
    for (const s of open) s.disconnect();
    await server?.stop();
  });

  it("describes a polling connection and the request that opened it", T, async () => {
    const socket = io(server.url, {
      forceNew: true,
      upgrade: false,
      transports: ["polling"],
      extraHeaders: { cookie: 'sid=abc; name="x%20y"; theme=dark', "X-Trace": "t1" },
    });
    open.push(socket);
    await connected(socket);
    const { conn, request, client } = await socket.timeout(5000).emitWithAck("connection");
    assert.equal(conn.id, socket.io.engine.id);
    assert.equal(conn.transport, "polling");
    assert.equal(conn.readyState, "open");
    assert.equal(conn.remoteAddress, "127.0.0.1");
    assert.equal(conn.protocol, 4);
    assert.equal(request.method, "GET");
    assert.match(request.url, /^\/socket\.io\/\?EIO=4&transport=polling/);
    assert.equal(request.headers["x-trace"], "t1");
    assert.deepEqual(request.cookies, { sid: "abc", name: "x y", theme: "dark" });
    assert.equal(request.remoteAddress, "127.0.0.1");
    assert.equal(client.id, socket.io.engine.id);
    assert.deepEqual(client.sockets, [{ nsp: "/", id: socket.id }]);
  });

  it("hears the upgrade from polling to WebSocket", T, async () => {
    const socket = io(server.url, { forceNew: true, transports: ["polling", "websocket"] });
    open.push(socket);
    const upgraded = new Promise((resolve) => socket.once("upgraded", resolve));
    await connected(socket);
    socket.emit("watch-upgrade");
    // Told when it happens, or at once when it already has.
    assert.deepEqual(await upgraded, { transport: "websocket", now: "websocket" });
    assert.equal(socket.io.engine.transport.name, "websocket");
    const { conn, request } = await socket.timeout(5000).emitWithAck("connection");
    assert.equal(conn.transport, "websocket");
    // The request is still the handshake's, over polling.
    assert.match(request.url, /transport=polling/);
  });

  it("lists the sockets one Manager has in two namespaces", T, async () => {
    const manager = new Manager(server.url, { forceNew: true });
    const main = manager.socket("/");
    const custom = manager.socket("/custom");
    open.push(main, custom);
    await Promise.all([connected(main), connected(custom)]);
    const fromMain = await main.timeout(5000).emitWithAck("connection");
    const fromCustom = await custom.timeout(5000).emitWithAck("connection");
    const expected = [
      { nsp: "/", id: main.id },
      { nsp: "/custom", id: custom.id },
    ];
    assert.deepEqual(fromMain.client.sockets, expected);
    assert.deepEqual(fromCustom.client.sockets, expected);
    assert.equal(fromMain.conn.id, fromCustom.conn.id);
    assert.equal(fromMain.client.id, manager.engine.id);
    // One namespace left: the other's client no longer lists it.
    custom.disconnect();
    for (;;) {
      const now = await main.timeout(5000).emitWithAck("connection");
      if (now.client.sockets.length === 1) {
        assert.deepEqual(now.client.sockets, [{ nsp: "/", id: main.id }]);
        break;
      }
    }
  });
});
