// A TCP proxy on 127.0.0.1 that sends each new connection to the port `target()` names then: a
// load balancer without stickiness, to move a reconnecting client from one node to another. It can
// also freeze the connections it carries, as a dead network does: nothing passes either way, and
// neither side hears of it.
import net from "node:net";

/** Starts the proxy; resolves with `{ port, url, freeze(), close() }`. */
export async function startProxy(target) {
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target(), "127.0.0.1");
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** The connections made so far pass nothing more, and stay open. */
    freeze() {
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close: () =>
      new Promise((resolve) => {
        for (const { client, upstream } of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
