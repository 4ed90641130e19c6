// Redis over TLS (issue 22): the default binary against a TLS-only redis-server, with
// certificates made at test time (support/tls_helpers.mjs). Two nodes exchange a broadcast over
// rediss:// on each adapter (classic and sharded pub/sub, Streams), trusting the test CA by
// redis_tls_ca_file; with Redis asking for client certificates, nodes present theirs
// (redis_tls_cert_file/key_file) and one without is refused at start; a CA that did not sign
// Redis' certificate is one error line naming the URL and exit status 1; recovery's sessions are
// kept in and taken from Redis over TLS (examples/test_server); and Redis coming back
// with a certificate that does not verify is logged and counted, then the node reconnects once the
// right one is back. Every wait is for the condition it checks (bounded); everything started here
// is stopped in after().
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import {
  REPO_ROOT,
  closeSocket,
  connected,
  escapeRegExp,
  httpPost,
  ioClient,
  serverBinary,
  spawnProcess,
  startServer,
  until,
} from "../support/helpers.mjs";
import { metricsUrl, scrape, value } from "../support/metrics_helpers.mjs";
import { redisMissing, startRedis, waitForAdapters } from "../support/redis_helpers.mjs";
import { FLAVORS, closeSailsSockets, makeSailsIo, sailsConnect, vr } from "../support/sails_helpers.mjs";
import { makeCertificates, opensslMissing } from "../support/tls_helpers.mjs";

const T = { timeout: 60000 };

/** The flags of a node on `redis` with `adapter` ("redis", "sharded" or "redis-streams"). */
function adapterArgs(redis, adapter) {
  const kind = adapter === "sharded" ? ["--adapter", "redis", "--redis-variant", "sharded"] : ["--adapter", adapter];
  return [...kind, "--redis-url", redis.url];
}

describe("Redis over TLS", { skip: redisMissing || opensslMissing }, () => {
  let certs;
  let redis; // TLS only, no client certificate asked
  let mutual; // TLS only, a client certificate signed by the CA required
  const servers = [];

  before(async () => {
    certs = makeCertificates();
    const files = { cert: certs.file("ca-server.pem"), key: certs.file("ca-server.key"), ca: certs.file("ca.pem") };
    redis = await startRedis({ tls: { ...files, authClients: false } });
    mutual = await startRedis({ tls: { ...files, authClients: true } });
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.stop();
    await mutual?.stop();
    certs?.remove();
  });

  async function node(args) {
    const server = await startServer("switchyard", args);
    servers.push(server);
    return server;
  }

  /**
   * A message posted on `from` (plain HTTP) reaches a socket in the channel on `to`: the broadcast
   * crossed Redis. Posted again until it arrives, as a Streams node reads from the stream's end
   * once it is up, and a sharded one subscribes the room once the socket joins.
   */
  async function crosses(from, to, text) {
    const sio = makeSailsIo(FLAVORS[1], to.url, { autoConnect: false });
    const owned = [];
    try {
      await received(from, await sailsConnect(sio, to.url, {}, owned), text);
    } finally {
      // Closed before the nodes stop, which would otherwise wait for it.
      closeSailsSockets(owned);
    }
  }

  async function received(from, socket, text) {
    assert.equal((await vr(socket, { method: "put", url: "/me", data: { nick: "reader" } })).statusCode, 200);
    assert.equal((await vr(socket, { method: "post", url: "/channels/general/join" })).statusCode, 200);
    const got = [];
    socket._raw.on("message", (m) => got.push(m));
    // Not kept alive: the node would wait for the idle connection when it stops.
    const headers = { "content-type": "application/json", connection: "close" };
    await until(
      async () => {
        const res = await httpPost(`${from.url}/channels/general/messages`, JSON.stringify({ nick: "writer", text }), { headers });
        assert.equal(res.status, 201, res.text);
        return got.some((m) => m.text === text);
      },
      `"${text}" posted on one node to reach the other`,
      20000,
      100,
    );
  }

  for (const adapter of ["redis", "sharded", "redis-streams"]) {
    it(`two nodes exchange a broadcast over rediss:// (${adapter}), trusting redis_tls_ca_file`, T, async () => {
      const args = [...adapterArgs(redis, adapter), "--redis-tls-ca-file", certs.file("ca.pem")];
      const [a, b] = [await node(args), await node(args)];
      if (adapter !== "redis-streams") await waitForAdapters(redis, 2, { variant: adapter === "sharded" ? "sharded" : "classic" });
      await crosses(a, b, `over TLS on ${adapter}`);
      await Promise.all([a.stop(), b.stop()]);
    });
  }

  it("recovery's sessions go through Redis over TLS: a cut client comes back as itself with what it missed", T, async () => {
    // examples/test_server: its events make rooms and broadcasts, and it prints each disconnection.
    const srv = await startServer("test_server", [
      "--adapter", "redis", "--redis-url", redis.url, "--redis-tls-ca-file", certs.file("ca.pem"), "--recovery", "1",
    ]);
    servers.push(srv);
    const [a, producer] = [ioClient(srv.url, { transports: ["websocket"] }), ioClient(srv.url)];
    try {
      const got = [];
      a.on("room-msg", (data) => got.push(data));
      await Promise.all([connected(a), connected(producer)]);
      const ack = (socket, event, ...args) => socket.timeout(10000).emitWithAck(event, ...args);
      await ack(a, "join", ["news"]);
      await ack(producer, "io-emit", { rooms: ["news"], data: "before" });
      await until(() => got.length === 1, "the first broadcast");
      const id = a.id;
      // The session is kept in Redis when the transport goes, and taken from there on return.
      a.io.engine.close();
      await srv.waitForLine(new RegExp(`^disconnect / ${escapeRegExp(id)} `), 10000);
      await until(async () => (await redis.command(["KEYS", "sio:session:*"])).length === 1, "the session kept in Redis");
      await ack(producer, "io-emit", { rooms: ["news"], data: "missed" });
      const back = connected(a);
      a.connect();
      await back;
      assert.equal(a.recovered, true);
      assert.equal(a.id, id);
      await until(() => got.length === 2, "the missed broadcast");
      assert.deepEqual(got, ["before", "missed"]);
      assert.deepEqual(await redis.command(["KEYS", "sio:session:*"]), [], "taken from Redis");
    } finally {
      closeSocket(a);
      closeSocket(producer);
      await srv.stop();
    }
  });

  it("mutual TLS: nodes present redis_tls_cert_file/key_file; one without a certificate exits 1", T, async () => {
    const ca = ["--redis-tls-ca-file", certs.file("ca.pem")];
    const own = ["--redis-tls-cert-file", certs.file("ca-client.pem"), "--redis-tls-key-file", certs.file("ca-client.key")];
    const args = [...adapterArgs(mutual, "redis"), ...ca, ...own];
    const [a, b] = [await node(args), await node(args)];
    await waitForAdapters(mutual, 2);
    await crosses(b, a, "over mutual TLS");
    await Promise.all([a.stop(), b.stop()]);

    const refused = await failsAtStart([...adapterArgs(mutual, "redis"), ...ca]);
    assert.match(refused, new RegExp(`^switchyard: cannot reach redis at ${mutual.url}: `));
  });

  it("a CA that did not sign Redis' certificate: one error line naming the URL and why, exit 1", T, async () => {
    for (const adapter of ["redis", "redis-streams"]) {
      const line = await failsAtStart([...adapterArgs(redis, adapter), "--redis-tls-ca-file", certs.file("other.pem")]);
      assert.match(line, new RegExp(`^switchyard: cannot reach redis at ${redis.url}: invalid peer certificate: UnknownIssuer`));
    }
    // The password is not shown.
    const url = redis.url.replace("rediss://", "rediss://app:s3cret@");
    const line = await failsAtStart(["--adapter", "redis", "--redis-url", url, "--redis-tls-ca-file", certs.file("other.pem")]);
    assert.match(line, /cannot reach redis at rediss:\/\/app:\*\*\*@127\.0\.0\.1:\d+: /);
    assert.doesNotMatch(line, /s3cret/);
  });

  for (const adapter of ["redis", "redis-streams"]) {
    it(`Redis back with a certificate that does not verify (${adapter}): logged and counted; back with the right one, reconnected`, T, async () => {
      // A Redis of its own: this one is restarted with another certificate on its port.
      const files = { cert: certs.file("ca-server.pem"), key: certs.file("ca-server.key"), ca: certs.file("ca.pem") };
      let own = await startRedis({ tls: { ...files, authClients: false } });
      const port = own.port;
      try {
        const server = await node([
          ...adapterArgs(own, adapter),
          "--redis-tls-ca-file", certs.file("ca.pem"),
          "--metrics", "true",
          "--metrics-addr", "127.0.0.1:0",
        ]);
        const metrics = await metricsUrl(server);
        const before = await scrape(metrics);
        const refused = server.waitForStderr(/redis (streams )?adapter: .*down: invalid peer certificate: UnknownIssuer/, 30000);
        await own.kill();
        await own.stop();
        const other = { cert: certs.file("other-server.pem"), key: certs.file("other-server.key"), ca: certs.file("other.pem") };
        own = await startRedis({ port, tls: { ...other, authClients: false } });
        await refused;
        // Counted: the tries go on failing (and are counted) while that Redis stays up.
        const errors = (s) => value(s, "switchyard_adapter_errors_total");
        const atRefusal = await scrape(metrics);
        await until(async () => errors(await scrape(metrics)) > errors(atRefusal), "failed reconnections counted", 20000, 50);
        assert.equal(value(await scrape(metrics), "switchyard_adapter_link_up"), 0);

        await own.kill();
        await own.stop();
        own = await startRedis({ port, tls: { ...files, authClients: false } });
        // Up again once every part of the link is (Streams: reading and appending), each counted.
        const reconnects = (s) => value(s, "switchyard_adapter_reconnects_total");
        const back = (s) => value(s, "switchyard_adapter_link_up") === 1 && reconnects(s) > reconnects(before);
        await until(async () => back(await scrape(metrics)), "the reconnection", 20000, 50);
        await server.stop();
      } finally {
        await own.stop();
      }
    });
  }
});

/** Runs the binary with `args` (Redis down or refusing): it exits 1 with one line on stderr, returned. */
async function failsAtStart(args) {
  const bin = serverBinary("switchyard");
  assert.ok(existsSync(bin), `${bin} not found (run "cargo build" first)`);
  const proc = await spawnProcess(bin, ["--port", "0", ...args], { cwd: REPO_ROOT, name: "switchyard" });
  const exit = await proc.exited;
  const stderr = proc.stderr().trim();
  assert.equal(exit.code, 1, proc.output());
  assert.equal(stderr.split("\n").length, 1, `one line on stderr:\n${stderr}`);
  return stderr;
}
