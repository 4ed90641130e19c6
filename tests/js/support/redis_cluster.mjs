// A throwaway Redis Cluster on loopback: six redis-server processes (`cluster-enabled yes`, each
// on a free port with its cluster bus on another free port), made three masters with one replica
// each by `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`, then waited for
// until every node says `cluster_state:ok` and every replica is in sync. One cluster serves a
// file's tests; a master can be killed (SIGKILL by PID) and its replica's takeover waited for
// (the killed node stays down: nothing is started again on its port, which a file running beside
// could have taken meanwhile, so a failover is its file's last test). Everything started here is
// stopped by PID by its owner (stop()).
//
// The handle stands in for startRedis()'s where the cluster tests need it: `seeds` (the URLs
// nodes are given with --redis-cluster), and command(args), which follows MOVED to the master of
// a key's slot and sums `PUBSUB SHARDNUMSUB` over every live node.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort, sleep, spawnProcess } from "./helpers.mjs";
import { REDIS_SERVER, redisCommand, redisPing } from "./redis_helpers.mjs";

const run = promisify(execFile);
const REDIS_CLI = REDIS_SERVER && path.join(path.dirname(REDIS_SERVER), "redis-cli");

/**
 * How long a node may be silent before the others count it failed (ms): a failover takes about
 * twice that; long enough that a busy machine does not fail a healthy node.
 */
const NODE_TIMEOUT_MS = 2000;

/** The node (port) that serves `slot` as master, from CLUSTER SLOTS as `askPort` sees it. */
async function masterOfSlot(askPort, slot) {
  const ranges = await redisCommand(askPort, ["CLUSTER", "SLOTS"]);
  const range = ranges.find(([from, to]) => from <= slot && slot <= to);
  return range ? Number(range[2][1]) : null;
}

/** Start six nodes, make them a cluster, wait until it is ok. */
export async function startRedisCluster({ size = 6 } = {}) {
  if (!REDIS_SERVER) throw new Error("redis-server is not on PATH (apt-get install redis-server)");
  const dir = mkdtempSync(path.join(os.tmpdir(), "switchyard-redis-cluster-"));
  // Two distinct ports per node: freePort() releases each before the next is asked for.
  const ports = new Set();
  while (ports.size < 2 * size) ports.add(await freePort());
  const [...free] = ports;
  const nodes = [];
  for (let i = 0; i < size; i++) nodes.push({ port: free[2 * i], bus: free[2 * i + 1], proc: null });

  async function launch(node) {
    const home = path.join(dir, String(node.port));
    mkdirSync(home, { recursive: true });
    // nodes.conf in the node's own directory: a node started again rejoins with its identity.
    const args = [
      "--port", String(node.port), "--cluster-port", String(node.bus), "--bind", "127.0.0.1",
      "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
      "--cluster-node-timeout", String(NODE_TIMEOUT_MS), "--save", "", "--appendonly", "no",
      // a replica's first sync at once (the default waits 5 s for more replicas to sync together)
      "--repl-diskless-sync-delay", "0",
      "--dir", home, "--logfile", "",
    ];
    node.proc = await spawnProcess(REDIS_SERVER, args, { name: `redis-server :${node.port}` });
    const deadline = Date.now() + 20000;
    while (!(await redisPing(node.port))) {
      if (node.proc.exitInfo() || Date.now() > deadline) {
        throw new Error(`redis cluster node :${node.port} did not start\n${node.proc.output()}`);
      }
      await sleep(20);
    }
  }

  const live = () => nodes.filter((n) => n.proc && !n.proc.exitInfo());

  /** Wait until every live node says cluster_state:ok and every replica is in sync with its master (bounded). */
  async function settled(what, timeoutMs = 30000) {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
      try {
        const infos = await Promise.all(live().map((n) => redisCommand(n.port, ["CLUSTER", "INFO"])));
        last = infos.map((i) => /cluster_state:(\w+)/.exec(i)?.[1]).join(",");
        const replication = await Promise.all(live().map((n) => redisCommand(n.port, ["INFO", "replication"])));
        const synced = replication.every((r) => r.includes("role:master") || r.includes("master_link_status:up"));
        if (synced && infos.every((i) => i.includes("cluster_state:ok") && i.includes("cluster_slots_ok:16384"))) return;
      } catch (err) {
        last = err.message;
      }
      if (Date.now() > deadline) throw new Error(`redis cluster: timed out waiting for ${what} (${last})`);
      await sleep(50);
    }
  }

  try {
    for (const n of nodes) await launch(n);
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run(REDIS_CLI, ["--cluster", "create", ...addrs, "--cluster-replicas", "1", "--cluster-yes"], { timeout: 30000 });
    await settled("cluster_state:ok after create");
  } catch (err) {
    await Promise.all(nodes.map((n) => n.proc?.stop(1000)));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const anyLive = () => {
    const n = live()[0];
    if (!n) throw new Error("redis cluster: no node is running");
    return n.port;
  };

  const handle = {
    seeds: nodes.map((n) => `redis://127.0.0.1:${n.port}`),
    /** For messages: the seeds. */
    get url() {
      return handle.seeds.join(",");
    },
    ports: nodes.map((n) => n.port),
    /**
     * One command: `PUBSUB SHARDNUMSUB ch` summed over every live node; anything else sent to a
     * live node, following one MOVED to the master of the key's slot.
     */
    async command(args, timeoutMs) {
      if (String(args[0]).toUpperCase() === "PUBSUB" && String(args[1]).toUpperCase() === "SHARDNUMSUB") {
        const replies = await Promise.all(live().map((n) => redisCommand(n.port, args, timeoutMs)));
        return [args[2], replies.reduce((sum, r) => sum + Number(r[1]), 0)];
      }
      try {
        return await redisCommand(anyLive(), args, timeoutMs);
      } catch (err) {
        const moved = /^MOVED \d+ [\d.]+:(\d+)$/.exec(err.message);
        if (!moved) throw err;
        return redisCommand(Number(moved[1]), args, timeoutMs);
      }
    },
    /** The hash slot of `key` (CLUSTER KEYSLOT). */
    slotOf: async (key) => Number(await redisCommand(anyLive(), ["CLUSTER", "KEYSLOT", key])),
    /** The port of the master serving `key`'s slot now. */
    async masterOf(key) {
      return masterOfSlot(anyLive(), await handle.slotOf(key));
    },
    /**
     * Kill (SIGKILL) the master serving `key`'s slot, run `whileDown()` if given (the slot has no
     * master yet), then wait (bounded) until its replica took the slot over and every live node
     * says cluster_state:ok. Resolves with {killed, promoted} (ports).
     */
    async failover(key, { whileDown, timeoutMs = 30000 } = {}) {
      const slot = await handle.slotOf(key);
      const killed = await masterOfSlot(anyLive(), slot);
      const node = nodes.find((n) => n.port === killed);
      node.proc.signal("SIGKILL");
      await node.proc.exited;
      const deadline = Date.now() + timeoutMs;
      await whileDown?.();
      let promoted = killed;
      while (promoted === killed || promoted === null) {
        if (Date.now() > deadline) throw new Error(`redis cluster: no replica took slot ${slot} over from :${killed}`);
        await sleep(50);
        promoted = await masterOfSlot(anyLive(), slot).catch(() => null);
      }
      await settled(`cluster_state:ok after :${killed} failed over to :${promoted}`, timeoutMs);
      return { killed, promoted };
    },
    /** Stop every node by PID and remove their directory. */
    async stop() {
      await Promise.all(nodes.map((n) => n.proc?.stop(2000)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
