// The reference server of socket.io's two official protocol test suites, on the Node packages the
// bench peer uses (socket.io 4.8 and its engine.io): what `examples/conformance.rs` serves, for
// same-machine, same-load comparisons (`bash bench/suites.sh --peer`).
//
// - Engine.IO at /engine.io/: echoes every message.
// - Socket.IO at /socket.io/: on connection to `/` or `/custom` emits `auth` with the handshake's
//   auth; `message` → `message-back` with the same arguments; `message-with-ack` → ack with them.
// - pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, connectTimeout 1000 ms, CORS `*`.
//
// Port 3000 (the suites' own); prints `listening on 127.0.0.1:3000` when bound.
"use strict";
const http = require("node:http");
const { Server } = require("socket.io");
const { attach } = require("engine.io");

const heartbeat = { pingInterval: 300, pingTimeout: 200, maxHttpBufferSize: 1e6, cors: { origin: "*" } };
const httpServer = http.createServer();

const io = new Server(httpServer, { ...heartbeat, connectTimeout: 1000 });
const onConnection = (socket) => {
  socket.emit("auth", socket.handshake.auth);
  socket.on("message", (...args) => socket.emit("message-back", ...args));
  socket.on("message-with-ack", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
};
io.of("/").on("connection", onConnection);
io.of("/custom").on("connection", onConnection);

const engine = attach(httpServer, { ...heartbeat, path: "/engine.io/" });
engine.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

httpServer.listen(3000, "127.0.0.1", () => console.log("listening on 127.0.0.1:3000"));
