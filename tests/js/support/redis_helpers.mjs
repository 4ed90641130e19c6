// Helpers for the cluster tests: a throwaway redis-server on a free loopback port (started,
// killed and restarted on the same port by PID), a tiny RESP client to ask it things, generic
// child processes that print a "listening on" line, and N test_server nodes sharing one Redis.
// Everything started here is stopped by PID by its owner; a last-resort exit hook kills leftovers.
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import os from "node:os";
import path from "node:path";
import { freePort, sleep, spawnProcess, startServer } from "./helpers.mjs";

/** The redis-server executable on PATH, or null. */
export function findRedisServer() {
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, "redis-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export const REDIS_SERVER = findRedisServer();

/**
 * Why the cluster tests are skipped here, or false when they run. Under CI=true they never skip:
 * .ci/run installs redis-server, and a missing one must fail the run rather than hide the tests.
 */
export const redisMissing =
  REDIS_SERVER || process.env.CI === "true" ? false : "redis-server is not on PATH (apt-get install redis-server)";


// ---------------------------------------------------------------------------------------------
// A minimal RESP client: one command per connection (enough for PING and PUBSUB NUMSUB).

function encodeCommand(args) {
  let out = `*${args.length}\r\n`;
  for (const a of args) {
    const s = String(a);
    out += `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  }
  return out;
}

/** Parse one RESP value at `buf[pos]`; returns [value, nextPos] or null when incomplete. */
function parseResp(buf, pos = 0) {
  const eol = buf.indexOf("\r\n", pos);
  if (eol < 0) return null;
  const kind = String.fromCharCode(buf[pos]);
  const line = buf.toString("utf8", pos + 1, eol);
  const after = eol + 2;
  switch (kind) {
    case "+":
      return [line, after];
    case "-":
      return [new Error(line), after];
    case ":":
      return [Number(line), after];
    case "$": {
      const len = Number(line);
      if (len < 0) return [null, after];
      if (buf.length < after + len + 2) return null;
      return [buf.toString("utf8", after, after + len), after + len + 2];
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return [null, after];
      const items = [];
      let p = after;
      for (let i = 0; i < n; i++) {
        const r = parseResp(buf, p);
        if (!r) return null;
        items.push(r[0]);
        p = r[1];
      }
      return [items, p];
    }
    default:
      throw new Error(`unexpected RESP reply ${JSON.stringify(buf.toString("utf8", pos, Math.min(buf.length, pos + 60)))}`);
  }
}

/**
 * Run one command against 127.0.0.1:port and resolve with the parsed reply (errors reject); over
 * TLS when `tlsOptions` (node:tls connect options: ca, cert, key) are given.
 */
export function redisCommand(port, args, timeoutMs = 3000, tlsOptions = null) {
  return new Promise((resolve, reject) => {
    const where = { host: "127.0.0.1", port };
    const sock = tlsOptions ? tls.connect({ ...where, ...tlsOptions }) : net.connect(where);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error(`redis ${args[0]}: no reply within ${timeoutMs} ms`)), timeoutMs);
    function finish(err, value) {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    }
    sock.once("error", (err) => finish(err));
    sock.once(tlsOptions ? "secureConnect" : "connect", () => sock.write(encodeCommand(args)));
    sock.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      let parsed;
      try {
        parsed = parseResp(buf);
      } catch (err) {
        finish(err);
        return;
      }
      if (!parsed) return;
      if (parsed[0] instanceof Error) finish(parsed[0]);
      else finish(null, parsed[0]);
    });
    sock.once("close", () => finish(new Error(`redis ${args[0]}: connection closed without a reply`)));
  });
}

/** True when the server on `port` answers PING with PONG (over TLS with `tlsOptions`). */
export async function redisPing(port, tlsOptions = null) {
  try {
    return (await redisCommand(port, ["PING"], 1000, tlsOptions)) === "PONG";
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// redis-server

/**
 * Start a throwaway redis-server on a free loopback port (or `port`) with a temp dir, no
 * persistence unless `appendonly` (then what it holds survives kill() and restart());
 * resolves once it answers PING. With `tls` ({cert, key, ca} file paths, `authClients`), it
 * speaks TLS only, on that port, asking clients for a certificate signed by `ca` when
 * `authClients`; its url is then rediss://. Returns
 * {port, url, pid(), kill(), restart(), stop(), command(args)}:
 * kill() SIGKILLs it by PID and waits for its exit; restart() starts it again on the same port.
 */
export async function startRedis({ port, appendonly = false, tls: tlsFiles } = {}) {
  if (!REDIS_SERVER) throw new Error("redis-server is not on PATH (apt-get install redis-server)");
  const dir = mkdtempSync(path.join(os.tmpdir(), "switchyard-redis-"));
  const chosen = port ?? (await freePort());
  let current = null;
  const listen = tlsFiles
    ? ["--port", "0", "--tls-port", String(chosen), "--tls-cert-file", tlsFiles.cert, "--tls-key-file", tlsFiles.key,
      "--tls-ca-cert-file", tlsFiles.ca, "--tls-auth-clients", tlsFiles.authClients ? "yes" : "no"]
    : ["--port", String(chosen)];
  // The tests' own client presents the server's certificate when Redis asks for one: it is
  // signed by the same CA, and the test client is not what the tests are about.
  const tlsOptions = tlsFiles
    ? { ca: readFileSync(tlsFiles.ca), cert: readFileSync(tlsFiles.cert), key: readFileSync(tlsFiles.key) }
    : null;

  async function launch() {
    // The port may still be held for a moment by the previous instance: retry within a bound.
    const deadline = Date.now() + 20000;
    for (;;) {
      const proc = await spawnProcess(
        REDIS_SERVER,
        [...listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", appendonly ? "yes" : "no", "--dir", dir, "--logfile", ""],
        { name: "redis-server" },
      );
      let up = false;
      while (!proc.exitInfo() && Date.now() < deadline) {
        if (await redisPing(chosen, tlsOptions)) {
          up = true;
          break;
        }
        await sleep(20);
      }
      if (up && !proc.exitInfo()) return proc;
      await proc.stop(1000);
      if (Date.now() >= deadline) {
        throw new Error(`redis-server did not answer PING on 127.0.0.1:${chosen}\n${proc.output()}`);
      }
      await sleep(200);
    }
  }

  current = await launch();
  const handle = {
    port: chosen,
    url: `${tlsFiles ? "rediss" : "redis"}://127.0.0.1:${chosen}`,
    dir,
    pid: () => current?.pid,
    running: () => current !== null && !current.exitInfo(),
    output: () => current?.output() ?? "",
    command: (args, timeoutMs) => redisCommand(chosen, args, timeoutMs, tlsOptions),
    /** SIGKILL by PID and wait for its exit (its port then refuses connections). */
    async kill() {
      if (!current) return;
      current.signal("SIGKILL");
      await current.exited;
      current = null;
    },
    /** Start it again on the same port (after kill()). */
    async restart() {
      if (current && !current.exitInfo()) throw new Error("redis-server is still running");
      current = await launch();
    },
    /** Stop it by PID and remove its directory. */
    async stop() {
      if (current) await current.stop();
      current = null;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

// ---------------------------------------------------------------------------------------------
// Switchyard test_server nodes, and how many adapters Redis counts

/**
 * The Redis command whose count is the adapter's server count: classic (`createAdapter`) counts
 * the subscribers of `P-request#N#` (PUBSUB NUMSUB), sharded (`createShardedAdapter`) those of
 * `P#N#` (PUBSUB SHARDNUMSUB).
 */
export function adapterCountCommand({ variant = "classic", prefix = "socket.io", nsp = "/" } = {}) {
  return variant === "sharded"
    ? ["PUBSUB", "SHARDNUMSUB", `${prefix}#${nsp}#`]
    : ["PUBSUB", "NUMSUB", `${prefix}-request#${nsp}#`];
}

/** The test_server / node_peer flags selecting `variant` ("classic", "sharded" or "streams"). */
export const variantArgs = (variant = "classic") => (variant === "classic" ? [] : ["--redis-variant", variant]);

/**
 * Start `count` test_server nodes with `--adapter redis --redis-url <redis>` (+ the variant's
 * flags and `args`), then wait until Redis counts them all. Stopping them is the caller's job.
 */
export async function startNodes(redis, count, args = [], { variant = "classic" } = {}) {
  const nodes = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await startNode(redis, [...variantArgs(variant), ...args]));
    await waitForAdapters(redis, count, { variant });
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return nodes;
}

/** The flags naming `redis`: a redis-server's URL, or a Redis Cluster's seeds (redis_cluster.mjs). */
export const redisArgs = (redis) => (redis.seeds ? ["--redis-cluster", redis.seeds.join(",")] : ["--redis-url", redis.url]);

/** One test_server node on `redis` (not waiting for its subscriptions). */
export function startNode(redis, args = []) {
  return startServer("test_server", ["--adapter", "redis", ...redisArgs(redis), ...args]);
}

/**
 * Wait until Redis counts exactly `want` adapters of namespace "/" (see adapterCountCommand), so
 * that a cluster is complete, or a stopped node gone, before a test goes on.
 */
export async function waitForAdapters(redis, want, { variant = "classic", prefix = "socket.io", timeoutMs = 20000 } = {}) {
  const command = adapterCountCommand({ variant, prefix });
  let seen = -1;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      seen = Number((await redis.command(command))[1]);
    } catch {
      seen = -1;
    }
    if (seen === want) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${want} adapters (${command.join(" ")}: ${seen}); ` +
          "does every node run the Redis adapter (--adapter redis) with the same variant?",
      );
    }
    await sleep(20);
  }
}
