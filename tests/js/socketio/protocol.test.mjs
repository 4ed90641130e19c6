// Raw Socket.IO v5 protocol (over Engine.IO v4) against /socket.io/ of examples/conformance.
// Ported from (and extending) the official socketio/socket.io-protocol test suite.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  eioHandshake,
  eioWs,
  httpGet,
  httpPost,
  httpRequest,
  openWs,
  pollPackets,
  pollUrl,
  runCleanups,
  sleep,
  startServer,
  toWsUrl,
} from "../support/helpers.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const T = { timeout: 30000 };

let server;
let base; // http://127.0.0.1:PORT/socket.io/
let wsBase;
const cleanups = [];
const track = (client) => {
  cleanups.push(() => client.close());
  return client;
};

before(async () => {
  server = await startServer("conformance");
  base = `${server.url}/socket.io/`;
  wsBase = toWsUrl(base);
});

after(async () => {
  await runCleanups(cleanups);
  if (server) await server.stop();
});

/** Engine.IO websocket session with pings answered automatically. */
async function eio() {
  return track(await eioWs(wsBase, { autoPong: true }));
}

function expectConnectPacket(data, prefix) {
  assert.equal(typeof data, "string");
  assert.ok(data.startsWith(prefix), `expected ${prefix}{...}, got ${JSON.stringify(data)}`);
  const handshake = JSON.parse(data.slice(prefix.length));
  assert.deepEqual(Object.keys(handshake), ["sid"]);
  assert.equal(typeof handshake.sid, "string");
  assert.ok(handshake.sid.length > 0);
  return handshake.sid;
}

/** Engine.IO session + CONNECT to the main namespace; consumes the CONNECT and "auth" packets. */
async function initSocketIOConnection() {
  const socket = await eio();
  socket.send("40");
  socket.sid = expectConnectPacket(await socket.next(), "40");
  assert.equal(await socket.next(), '42["auth",{}]');
  return socket;
}

/** Assert that nothing but pings arrives for `ms`. */
async function expectSilence(socket, ms) {
  await sleep(ms);
  assert.deepEqual(socket.queue, [], "no packet expected");
}

describe("Engine.IO layer at /socket.io/", () => {
  it("opens a polling session with the configured timings", T, async () => {
    const hs = await eioHandshake(base);
    assert.deepEqual(hs.upgrades, ["websocket"]);
    assert.equal(hs.pingInterval, PING_INTERVAL);
    assert.equal(hs.pingTimeout, PING_TIMEOUT);
    assert.equal(hs.maxPayload, 1000000);
  });

  it("opens a websocket session with the configured timings", T, async () => {
    const socket = await eio();
    assert.deepEqual(socket.handshake.upgrades, []);
    assert.equal(socket.handshake.pingInterval, PING_INTERVAL);
    assert.equal(socket.handshake.pingTimeout, PING_TIMEOUT);
    assert.equal(socket.handshake.maxPayload, 1000000);
    socket.close();
  });

  it("fails with invalid query parameters", T, async () => {
    assert.equal((await httpGet(`${base}?transport=polling`)).status, 400);
    assert.equal((await httpGet(`${base}?EIO=abc&transport=polling`)).status, 400);
    assert.equal((await httpGet(`${base}?EIO=4`)).status, 400);
    assert.equal((await httpGet(`${base}?EIO=4&transport=abc`)).status, 400);
    assert.equal((await httpPost(`${base}?EIO=4&transport=polling`, "40")).status, 400);
    assert.equal((await httpGet(pollUrl(base, "unknown"))).status, 400);
  });

  it("sends ping packets over polling and closes the session upon ping timeout", T, async () => {
    const { sid } = await eioHandshake(base);
    const poll = await httpGet(pollUrl(base, sid));
    assert.equal(poll.text, "2");
    // No pong is sent: keep polling (bounded) until the session is gone.
    const deadline = Date.now() + 10000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) status = (await httpGet(pollUrl(base, sid))).status;
    assert.equal(status, 400);
  });

  it("sends ping packets over websocket and closes the session upon ping timeout", T, async () => {
    const socket = track(await eioWs(wsBase));
    assert.equal(await socket.next(3000), "2");
    await socket.waitClose(5000);
  });

  it("upgrades from polling to websocket", T, async () => {
    const { sid } = await eioHandshake(base);
    const ws = track(openWs(`${wsBase}?EIO=4&transport=websocket&sid=${sid}`));
    await ws.opened;
    ws.send("2probe");
    assert.equal(await ws.next(), "3probe");
    assert.deepEqual(await pollPackets(base, sid, 1), ["6"]);
    ws.send("5");
    ws.send("40");
    expectConnectPacket(await ws.nextData(), "40");
    assert.equal(await ws.nextData(), '42["auth",{}]');
    ws.close();
  });

  it("sets CORS headers on polling responses and preflight", T, async () => {
    const res = await httpGet(`${base}?EIO=4&transport=polling`, { headers: { Origin: "http://example.com" } });
    assert.equal(res.status, 200);
    assert.ok(["*", "http://example.com"].includes(res.headers.get("access-control-allow-origin")));
    const pre = await httpRequest("OPTIONS", `${base}?EIO=4&transport=polling`, {
      headers: { Origin: "http://example.com", "Access-Control-Request-Method": "POST" },
    });
    assert.ok(pre.status === 200 || pre.status === 204, `preflight status ${pre.status}`);
    assert.ok(["*", "http://example.com"].includes(pre.headers.get("access-control-allow-origin")));
  });
});

describe("Socket.IO connect", () => {
  it("allows connection to the main namespace", T, async () => {
    const socket = await eio();
    socket.send("40");
    expectConnectPacket(await socket.next(), "40");
    assert.equal(await socket.next(), '42["auth",{}]');
    socket.close();
  });

  it("allows connection to the main namespace with a payload", T, async () => {
    const socket = await eio();
    socket.send('40{"token":"123"}');
    expectConnectPacket(await socket.next(), "40");
    assert.equal(await socket.next(), '42["auth",{"token":"123"}]');
    socket.close();
  });

  it("allows connection to a custom namespace", T, async () => {
    const socket = await eio();
    socket.send("40/custom,");
    expectConnectPacket(await socket.next(), "40/custom,");
    assert.equal(await socket.next(), '42/custom,["auth",{}]');
    socket.close();
  });

  it("allows connection to a custom namespace with a payload", T, async () => {
    const socket = await eio();
    socket.send('40/custom,{"token":"abc"}');
    expectConnectPacket(await socket.next(), "40/custom,");
    assert.equal(await socket.next(), '42/custom,["auth",{"token":"abc"}]');
    socket.close();
  });

  it("allows connection to a custom namespace without a trailing comma", T, async () => {
    const socket = await eio();
    socket.send("40/custom");
    expectConnectPacket(await socket.next(), "40/custom,");
    assert.equal(await socket.next(), '42/custom,["auth",{}]');
    socket.close();
  });

  it("gives each namespace of a connection its own socket id", T, async () => {
    const socket = await eio();
    socket.send("40");
    const main = expectConnectPacket(await socket.next(), "40");
    assert.equal(await socket.next(), '42["auth",{}]');
    socket.send("40/custom,");
    const custom = expectConnectPacket(await socket.next(), "40/custom,");
    assert.equal(await socket.next(), '42/custom,["auth",{}]');
    assert.notEqual(main, custom);
    assert.notEqual(main, socket.handshake.sid, "the socket id must not reveal the engine session id");
    socket.close();
  });

  it("disallows connection to an unknown namespace", T, async () => {
    const socket = await eio();
    socket.send("40/random");
    assert.equal(await socket.next(), '44/random,{"message":"Invalid namespace"}');
    socket.close();
  });

  it("disallows connection with an invalid handshake", T, async () => {
    const socket = await eio();
    socket.send("4abc");
    await socket.waitClose();
  });

  it("disallows connection with a CONNECT payload that is not an object", T, async () => {
    for (const packet of ['40"not an object"', "40[1,2]", "40{not json"]) {
      const socket = await eio();
      socket.send(packet);
      await socket.waitClose();
      assert.deepEqual(
        socket.queue.filter((m) => typeof m === "string" && m.startsWith("40")),
        [],
        `no CONNECT answer expected for ${packet}`,
      );
    }
  });

  it("closes the connection if no handshake is received within connectTimeout", T, async () => {
    const socket = await eio(); // pings are answered, so only the connect timeout can close it
    await socket.waitClose(5000);
    assert.deepEqual(socket.queue, []);
  });

  it("closes the connection on an event for a namespace that was never joined", T, async () => {
    const socket = await eio();
    socket.send('42["message","hello"]');
    await socket.waitClose();
    assert.deepEqual(socket.queue, []);
  });

  it("connects over HTTP long-polling", T, async () => {
    const { sid } = await eioHandshake(base);
    const push = await httpPost(pollUrl(base, sid), '40{"via":"polling"}');
    assert.equal(push.status, 200);
    const packets = await pollPackets(base, sid, 2);
    expectConnectPacket(packets[0], "40");
    assert.equal(packets[1], '42["auth",{"via":"polling"}]');
    await httpPost(pollUrl(base, sid), '42["message","over polling"]');
    assert.deepEqual(await pollPackets(base, sid, 1), ['42["message-back","over polling"]']);
    await httpPost(pollUrl(base, sid), "1");
  });
});

describe("Socket.IO disconnect", () => {
  it("disconnects from the main namespace", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send("41");
    // the Engine.IO session stays open (the server keeps pinging), no packet for the namespace
    await expectSilence(socket, 1000);
    assert.ok(socket.isOpen(), "engine connection must stay open after leaving a namespace");
    socket.close();
  });

  it("connects then disconnects from a custom namespace", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send("40/custom");
    await socket.next(); // Socket.IO handshake
    await socket.next(); // auth packet
    socket.send("41/custom");
    socket.send('42["message","message to main namespace"]');
    assert.equal(await socket.next(), '42["message-back","message to main namespace"]');
    socket.close();
  });

  it("does not deliver events for a namespace after leaving it", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send("40/custom,");
    await socket.next();
    await socket.next();
    socket.send("41/custom,");
    socket.send('42["message","main"]');
    assert.equal(await socket.next(), '42["message-back","main"]');
    // the main namespace is unaffected; reconnecting to /custom gives a new socket
    socket.send("40/custom,");
    expectConnectPacket(await socket.next(), "40/custom,");
    assert.equal(await socket.next(), '42/custom,["auth",{}]');
    socket.close();
  });
});

describe("Socket.IO message", () => {
  it("sends a plain-text packet", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send('42["message",1,"2",{"3":[true]}]');
    assert.equal(await socket.next(), '42["message-back",1,"2",{"3":[true]}]');
    socket.close();
  });

  it("sends a plain-text packet in a custom namespace", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send("40/custom,");
    await socket.next();
    await socket.next();
    socket.send('42/custom,["message","to custom"]');
    assert.equal(await socket.next(), '42/custom,["message-back","to custom"]');
    socket.close();
  });

  it("sends a packet with binary attachments", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    socket.send(Uint8Array.from([1, 2, 3]));
    socket.send(Uint8Array.from([4, 5, 6]));
    assert.equal(
      await socket.next(),
      '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
    );
    assert.deepEqual([...(await socket.next())], [1, 2, 3]);
    assert.deepEqual([...(await socket.next())], [4, 5, 6]);
    socket.close();
  });

  it("sends a packet with one binary attachment nested in an object", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send('451-["message",{"file":{"_placeholder":true,"num":0},"name":"a.bin"}]');
    socket.send(Uint8Array.from([7, 7, 7]));
    assert.equal(await socket.next(), '451-["message-back",{"file":{"_placeholder":true,"num":0},"name":"a.bin"}]');
    assert.deepEqual([...(await socket.next())], [7, 7, 7]);
    socket.close();
  });

  it("sends a plain-text packet with an ack", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send('42456["message-with-ack",1,"2",{"3":[false]}]');
    assert.equal(await socket.next(), '43456[1,"2",{"3":[false]}]');
    socket.send('421["message-with-ack",1,"2",{"3":[true]}]');
    assert.equal(await socket.next(), '431[1,"2",{"3":[true]}]');
    socket.close();
  });

  it("sends a packet with an ack in a custom namespace", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send("40/custom,");
    await socket.next();
    await socket.next();
    socket.send('42/custom,7["message-with-ack","x"]');
    assert.equal(await socket.next(), '43/custom,7["x"]');
    socket.close();
  });

  it("sends a packet with binary attachments and an ack", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    socket.send(Uint8Array.from([1, 2, 3]));
    socket.send(Uint8Array.from([4, 5, 6]));
    assert.equal(await socket.next(), '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
    assert.deepEqual([...(await socket.next())], [1, 2, 3]);
    assert.deepEqual([...(await socket.next())], [4, 5, 6]);
    socket.close();
  });

  it("sends binary attachments over HTTP long-polling (base64)", T, async () => {
    const { sid } = await eioHandshake(base);
    await httpPost(pollUrl(base, sid), "40");
    await pollPackets(base, sid, 2);
    const push = await httpPost(
      pollUrl(base, sid),
      '451-["message",{"_placeholder":true,"num":0}]\x1ebAQID',
    );
    assert.equal(push.status, 200);
    assert.deepEqual(await pollPackets(base, sid, 2), [
      '451-["message-back",{"_placeholder":true,"num":0}]',
      "bAQID",
    ]);
    await httpPost(pollUrl(base, sid), "1");
  });

  it("closes the connection upon invalid format (unknown packet type)", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send("4abc");
    await socket.waitClose();
  });

  it("closes the connection upon invalid format (invalid payload format)", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send("42{}");
    await socket.waitClose();
  });

  it("closes the connection upon invalid format (invalid ack id)", T, async () => {
    const socket = await initSocketIOConnection();
    socket.send('42abc["message-with-ack",1,"2",{"3":[false]}]');
    await socket.waitClose();
  });

  it("closes the connection upon invalid format (bad or reserved event name)", T, async () => {
    for (const packet of ['42[{"a":1},2]', "42[]", '42["disconnect"]', '42["connect"]']) {
      const socket = await initSocketIOConnection();
      socket.send(packet);
      await socket.waitClose();
    }
  });

  it("keeps a connected socket alive across several heartbeats", T, async () => {
    const socket = await initSocketIOConnection();
    // Wait (bounded) until three pings have been answered.
    const deadline = Date.now() + 10000;
    while (socket.pongs() < 3 && Date.now() < deadline) await sleep(20);
    assert.ok(socket.pongs() >= 3, `only ${socket.pongs()} pings answered`);
    assert.ok(socket.isOpen());
    socket.send('42["message","still here"]');
    assert.equal(await socket.next(), '42["message-back","still here"]');
    socket.close();
  });
});
