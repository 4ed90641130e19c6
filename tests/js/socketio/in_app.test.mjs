// Switchyard mounted in a user-built actix-web app (examples/in_app.rs): every transport works
// through actix-web's own HTTP/1 dispatcher, beside the app's other routes.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { httpGet, ioClient, once, startServer } from "../support/helpers.mjs";

const T = { timeout: 30000 };
let server;
const clients = [];

before(async () => {
  server = await startServer("in_app");
});

after(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  if (server) await server.stop();
});

function client(opts) {
  const c = ioClient(server.url, opts);
  clients.push(c);
  return c;
}

describe("Socket.IO mounted in an actix-web app", () => {
  for (const [name, opts] of [
    ["websocket only", { transports: ["websocket"] }],
    ["polling only", { transports: ["polling"] }],
    ["polling then upgrade", {}],
  ]) {
    it(`${name}: text, binary and acks round-trip`, T, async () => {
      const c = client(opts);
      const upgraded = new Promise((resolve) => c.io.on("open", () => c.io.engine.once("upgrade", resolve)));
      await once(c, "connect", 10000);
      if (!opts.transports) {
        await upgraded;
        assert.equal(c.io.engine.transport.name, "websocket");
      }
      const back = once(c, "message-back");
      c.emit("message", "hi", Buffer.from([1, 2, 3]));
      const [text, bin] = await back;
      assert.equal(text, "hi");
      assert.deepEqual([...new Uint8Array(bin)], [1, 2, 3]);
      assert.deepEqual(await c.timeout(5000).emitWithAck("ask", { n: 1 }), { n: 1 });
      c.disconnect();
    });
  }

  it("the app's own routes still answer", T, async () => {
    const res = await httpGet(`${server.url}/hello`);
    assert.equal(res.status, 200);
    assert.equal(res.text, "hello");
  });
});
