// socket.io's first promise: what the server writes to one client arrives in the order it was
// written, whichever path wrote it (emit, ack, emit with flags, room operators, broadcasts).
// socket.io-client v4 over each transport, and a raw WebSocket client that reads slowly.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { checkOrderRounds, connected, ioClient, openWs, sleep, startServer, toWsUrl, until } from "../support/helpers.mjs";

const T = { timeout: 60000 };

let server;
const sockets = [];

before(async () => {
  // Long heartbeats: the slow reader below stops reading for a while on purpose.
  server = await startServer("test_server", ["--ping-interval", "5000", "--ping-timeout", "5000"]);
});

after(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  if (server) await server.stop();
});

function connect(transports) {
  const socket = ioClient(server.url, { transports });
  sockets.push(socket);
  return connected(socket);
}

for (const transport of ["websocket", "polling"]) {
  describe(`order over ${transport}`, () => {
    it("emit, ack, flagged emits, a room operator and emits from a task arrive as written", T, async () => {
      const socket = await connect([transport]);
      await checkOrderRounds(socket, transport);
    });

    it("a burst of 2,000 client emits is echoed back in order", T, async () => {
      const socket = await connect([transport]);
      const got = [];
      socket.on("message-back", (i) => got.push(i));
      for (let i = 0; i < 2000; i++) socket.emit("message", i);
      await until(() => got.length >= 2000, `2000 echoes (got ${got.length})`);
      assert.deepEqual(
        got,
        Array.from({ length: 2000 }, (_, i) => i),
      );
    });
  });
}

describe("order under a client that reads slowly", () => {
  it("2,000 echoes to a WebSocket client that pauses reading arrive complete and in order", T, async () => {
    const client = openWs(`${toWsUrl(server.url)}/socket.io/?EIO=4&transport=websocket`, { autoPong: true });
    await client.opened;
    try {
      assert.ok((await client.next()).startsWith("0"), "open packet");
      client.send("40");
      const connect = await client.nextData();
      assert.ok(connect.startsWith("40{"), `CONNECT answer: ${connect}`);
      const tcp = client.ws._socket;
      // Stop reading, send the whole burst, and resume in short bursts of reading.
      tcp.pause();
      for (let i = 0; i < 2000; i++) client.send(`42["message",${i}]`);
      const got = [];
      const deadline = Date.now() + 30000;
      while (got.length < 2000) {
        assert.ok(Date.now() < deadline, `only ${got.length} echoes arrived`);
        await sleep(100);
        tcp.resume();
        await sleep(20);
        tcp.pause();
        while (client.queue.length) {
          const msg = client.queue.shift();
          if (typeof msg === "string" && msg.startsWith('42["message-back"')) got.push(JSON.parse(msg.slice(2))[1]);
        }
      }
      tcp.resume();
      assert.deepEqual(
        got,
        Array.from({ length: 2000 }, (_, i) => i),
      );
    } finally {
      client.close();
    }
  });
});

describe("broadcast acks", () => {
  it("1,200 clients answering a broadcast at once are all counted", T, async () => {
    const voters = [];
    try {
      for (let batch = 0; batch < 12; batch++) {
        const more = await Promise.all(Array.from({ length: 100 }, () => connect(["websocket"])));
        for (const s of more) s.on("poll", (_q, cb) => cb(s.id));
        await Promise.all(more.map((s) => s.timeout(10000).emitWithAck("join", "voters")));
        voters.push(...more);
      }
      const sender = await connect(["websocket"]);
      const answer = await sender.timeout(30000).emitWithAck("broadcast-ack", { rooms: ["voters"], timeout: 20000 });
      assert.ok(Array.isArray(answer.ok), JSON.stringify(answer).slice(0, 300));
      assert.equal(answer.ok.length, voters.length);
      assert.deepEqual(new Set(answer.ok.map(([id]) => id)), new Set(voters.map((s) => s.id)));
    } finally {
      for (const s of voters) s.disconnect();
    }
  });
});
