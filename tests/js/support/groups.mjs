// Which end-to-end files run side by side and which run alone, for .ci/run and `npm test`.
//
// Files run in parallel by default: every server a test starts listens on a port the kernel picks
// (`--port 0`, or `freePort()` just before), each Redis file starts its own redis-server on a free
// port, and the per-address limits are counted per server. SERIAL lists the files that need the
// machine to themselves (run one at a time, after the others), each with the reason.
//
// As a script: `node support/groups.mjs parallel|serial` prints that group's files, one a line,
// relative to the current folder.
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Files (relative to tests/js) that must not share the machine with the others, and why. */
export const SERIAL = new Map([
  [
    "browser/demo.test.mjs",
    "stops the demo binary and starts it again on the port it had: a file running beside it could " +
      "take that port in between",
  ],
  [
    "cluster/streams_adapter.test.mjs",
    "kills redis-server and restarts it on the same port: a file running beside it could take " +
      "that port in between",
  ],
  [
    "cluster/redis_adapter.test.mjs",
    "kills redis-server and restarts it on the same port, and expects a port it picked to stay " +
      "unused: a file running beside it could take either port",
  ],
  [
    "cluster/readiness.test.mjs",
    "kills redis-server and restarts it on the same port: a file running beside it could take " +
      "that port in between",
  ],
  [
    "cluster/redis_tls.test.mjs",
    "kills redis-server and starts one with another certificate on the same port: a file running " +
      "beside it could take that port in between",
  ],
  [
    "cluster/redis_restart.test.mjs",
    "kills redis-server and restarts it on the same port, and times the reconnection: a file running " +
      "beside it could take the port, or slow the node down",
  ],
]);

/** Every *.test.mjs below tests/js (not node_modules), relative to tests/js, sorted. */
export function allTestFiles() {
  const files = [];
  for (const dir of readdirSync(ROOT, { withFileTypes: true })) {
    // A test file outside the folders would never run: say so rather than skip it.
    if (dir.isFile() && dir.name.endsWith(".test.mjs")) {
      throw new Error(`groups.mjs: ${dir.name} is not in a folder by concern (engineio/, socketio/, sails/, ...)`);
    }
    if (!dir.isDirectory() || dir.name === "node_modules" || dir.name.startsWith(".")) continue;
    for (const f of readdirSync(path.join(ROOT, dir.name))) {
      if (f.endsWith(".test.mjs")) files.push(`${dir.name}/${f}`);
    }
  }
  return files.sort();
}

/** The files of `group` ("parallel" or "serial"), relative to tests/js. */
export function groupFiles(group) {
  const all = allTestFiles();
  for (const f of SERIAL.keys()) if (!all.includes(f)) throw new Error(`groups.mjs: SERIAL names ${f}, which does not exist`);
  if (group === "serial") return [...SERIAL.keys()];
  if (group === "parallel") return all.filter((f) => !SERIAL.has(f));
  throw new Error(`groups.mjs: unknown group ${JSON.stringify(group)} (parallel or serial)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const f of groupFiles(process.argv[2])) console.log(path.relative(process.cwd(), path.join(ROOT, f)));
}
