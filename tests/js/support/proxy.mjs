// A TCP proxy on 127.0.0.1 that sends each new connection to the port `target()` names then: a
// load balancer without stickiness, to move a reconnecting client from one node to another.
import net from "node:net";

/** Starts the proxy; resolves with `{ port, close() }`. Connections already made stay where they are. */
export async function startProxy(target) {
  const open = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target(), "127.0.0.1");
    open.add(client);
    open.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    url: `http://127.0.0.1:${server.address().port}`,
    close: () =>
      new Promise((resolve) => {
        open.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}
