// The default binary as a new user meets it (issue: the front door): what start-up prints, and the
// info lines a connection, a disconnection, a refused namespace and a refused handshake leave in
// the log, with the socket id, Engine.IO session id, transport, protocol version, namespace and reason.
// Every wait is for a stdout or stderr line (bounded); the server is stopped in after().
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, describe, it } from "node:test";
import { closeSocket, httpGet, once, startServer } from "../support/helpers.mjs";

const require = createRequire(import.meta.url);
const { io } = require("socket.io-client");
const T = { timeout: 30000 };

describe("first run of the default binary", () => {
  let server;

  before(async () => {
    server = await startServer("switchyard", [], { env: { RUST_LOG: "info" } });
  });

  after(async () => {
    await server?.stop();
  });

  it("prints the demo, where its config came from and the URL to open", T, async () => {
    await server.waitForLine(/^switchyard \S+: the chat demo, config from the built-in defaults/);
    const open = await server.waitForLine(/^open http:\/\//);
    assert.match(open, new RegExp(`^open ${server.url}/ \\(files from static, Socket\\.IO at /socket\\.io/`));
    const page = await httpGet(`${server.url}/`);
    assert.equal(page.status, 200);
  });

  for (const transport of ["websocket", "polling"]) {
    it(`logs a ${transport} connection and its disconnection with ids, transport, version and reason`, T, async () => {
      const connected = server.waitForStderr(/ connect nsp=\/ socket=\S+ sid=\S+ transport=\w+ eio=4$/, 15000);
      const socket = io(server.url, { forceNew: true, reconnection: false, transports: [transport] });
      try {
        await once(socket, "connect", 15000);
        const line = await connected;
        assert.ok(line.includes(`socket=${socket.id} `), line);
        assert.ok(line.includes(`transport=${transport} `), line);
        const sid = / sid=(\S+) /.exec(line)[1];
        const gone = server.waitForStderr(new RegExp(`disconnect nsp=/ socket=${socket.id} sid=${sid} `), 15000);
        socket.disconnect();
        const bye = await gone;
        assert.match(bye, new RegExp(`transport=${transport} eio=4 reason=client namespace disconnect$`));
      } finally {
        closeSocket(socket);
      }
    });
  }

  it("logs a refused namespace and a refused handshake with the reason", T, async () => {
    const refused = server.waitForStderr(/namespace \/nope refused to sid=\S+: Invalid namespace$/, 15000);
    const socket = io(`${server.url}/nope`, { forceNew: true, reconnection: false, transports: ["websocket"] });
    try {
      const [error] = await once(socket, "connect_error", 15000);
      assert.equal(error.message, "Invalid namespace");
      await refused;
    } finally {
      closeSocket(socket);
    }
    const handshake = server.waitForStderr(/handshake from \S+ refused: unsupported protocol version EIO=9$/, 15000);
    const res = await httpGet(`${server.url}/socket.io/?EIO=9&transport=polling`);
    assert.equal(res.status, 400);
    await handshake;
  });
});
