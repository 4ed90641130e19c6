// Benchmark peer: the bench contract (see ../../README.md) on the reference socket.io 4.8 server.
//
// - `echo` (...args) → emits `echo` (...args) back, or acks (...args) when the client asked for one.
// - `join` (room) → joins the room, acks "ok".
// - `fanout` (room, payload) → io.to(room).emit("fanout", payload), then acks "ok".
//
// Port: --port N or PORT; prints `listening on 127.0.0.1:PORT` when bound.
"use strict";
const http = require("node:http");
const { Server } = require("socket.io");

function port() {
  const i = process.argv.indexOf("--port");
  if (i >= 0 && process.argv[i + 1]) return Number(process.argv[i + 1]);
  return Number(process.env.PORT || 3000);
}

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: "/socket.io/",
  pingInterval: 25000,
  pingTimeout: 20000,
  transports: ["polling", "websocket"],
  maxHttpBufferSize: 1e6,
  serveClient: false,
});

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (ack) ack(...args);
    else socket.emit("echo", ...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack("ok");
  });
  socket.on("fanout", (room, payload, ack) => {
    io.to(room).emit("fanout", payload);
    if (typeof ack === "function") ack("ok");
  });
});

httpServer.listen(port(), "127.0.0.1", () => {
  const a = httpServer.address();
  console.log(`listening on ${a.address}:${a.port}`);
});

function stop() {
  io.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
