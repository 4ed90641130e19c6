// socket.io's admin UI across a cluster: two Switchyard binaries (the demo, admin_ui on, no auth)
// on one throwaway redis-server (Redis adapter, classic and sharded; E2E_REDIS_VARIANTS narrows
// them), and an admin client (plain
// socket.io-client 4 on /admin, as the UI connects) on the first node only. As with Node's
// instrument(), everything goes through the adapter:
//  - server_stats from both nodes (each by its admin_server_id) reach the one admin client;
//  - all_sockets lists the demo's sockets of both nodes (fetchSockets across nodes);
//  - socket_connected and room_joined from the other node reach it;
//  - its commands reach the other node's sockets: join (socketsJoin) and _disconnect
//    (disconnectSockets).
import assert from "node:assert/strict";
import { it, test } from "node:test";
import { VARIANTS, describeOnRedis, waitFor } from "../support/cluster_helpers.mjs";
import { adapterCountCommand, redisMissing, variantArgs } from "../support/redis_helpers.mjs";
import { startServer } from "../support/helpers.mjs";

const T = { timeout: 120000 };

if (redisMissing) {
  test("the admin UI across a cluster", { skip: redisMissing }, () => {});
} else {
  for (const variant of VARIANTS) describeOnRedis(`the admin UI across a cluster (${variant})`, variant, ({ cluster }) => {
    it(
      "shows both nodes' stats and sockets, and its commands reach the other node",
      T,
      cluster(async (scope) => {
        const start = async (id) => {
          const node = await startServer("switchyard", [
            "--host", "127.0.0.1",
            "--adapter", "redis",
            "--redis-url", scope.redis.url,
            ...variantArgs(variant),
            "--admin-ui", "true",
            "--admin-auth", "false",
            "--admin-server-id", id,
          ]);
          scope.defer(() => node.stop());
          return node;
        };
        const [a, b] = [await start("node-a"), await start("node-b")];
        // Both nodes' admin namespaces listen on Redis before anything is told.
        for (const nsp of ["/", "/admin"]) {
          let seen = -1;
          const command = adapterCountCommand({ nsp, variant });
          await waitFor(async () => (seen = Number((await scope.redis.command(command))[1])) === 2, () => `2 adapters on ${nsp} (${seen})`);
        }
        const onA = await scope.client(a, { label: "user on A" });
        const onB = await scope.client(b, { label: "user on B" });
        const ui = await scope.client({ url: `${a.url}/admin` }, { label: "admin on A" });

        await waitFor(() => {
          const ids = new Set(ui.got("server_stats").map(([s]) => s.serverId));
          return ids.has("node-a") && ids.has("node-b");
        }, "server_stats from both nodes");
        const statsOfB = ui.got("server_stats").find(([s]) => s.serverId === "node-b")[0];
        assert.ok(statsOfB.namespaces.some((n) => n.name === "/" && n.socketsCount >= 1), JSON.stringify(statsOfB.namespaces));

        await waitFor(() => ui.got("all_sockets").length === 1, "all_sockets");
        const [[all]] = ui.got("all_sockets");
        const listed = new Set(all.filter((s) => s.nsp === "/").map((s) => s.id));
        assert.ok(listed.has(onA.id) && listed.has(onB.id), `${[...listed]} must list ${onA.id} and ${onB.id}`);
        const remote = all.find((s) => s.id === onB.id);
        assert.deepEqual(remote.rooms, [onB.id]);
        assert.equal(remote.handshake.address, "127.0.0.1");

        // A socket that connects to B is announced to the admin on A.
        const later = await scope.client(b, { label: "later on B" });
        await waitFor(() => ui.got("socket_connected").some(([s]) => s.id === later.id), "socket_connected from B");

        // Commands from the admin on A reach B's sockets.
        ui.emit("join", "/", "vip", onB.id);
        await waitFor(() => ui.got("room_joined").some(([nsp, room, id]) => nsp === "/" && room === "vip" && id === onB.id), "room_joined on B");
        const gone = new Promise((resolve) => onB.once("disconnect", resolve));
        ui.emit("_disconnect", "/", false, onB.id);
        assert.equal(await gone, "io server disconnect");
        assert.ok(onA.connected, "only the filtered socket is disconnected");
      }),
    );
  });
}
