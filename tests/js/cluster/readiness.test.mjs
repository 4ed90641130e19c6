// /readyz follows the Redis adapter's link (issue 20), pub/sub and Streams: the default binary on a
// real redis-server answers 200; with Redis killed it answers 503 and says why, and the metrics show the link down;
// once Redis is back on its port it answers 200 again, a reconnection counted. Every wait is for
// the condition it checks (bounded); Redis and the server are stopped in after().
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { httpGet, startServer, until } from "../support/helpers.mjs";
import { metricsUrl, scrape, value } from "../support/metrics_helpers.mjs";
import { redisMissing, startRedis } from "../support/redis_helpers.mjs";

const T = { timeout: 60000 };

for (const adapter of ["redis", "redis-streams"]) {
  describe(`readiness over the ${adapter} adapter's link`, { skip: redisMissing }, () => {
    let redis;
    let server;
    let url;

    before(async () => {
      redis = await startRedis();
      server = await startServer("switchyard", [
        "--adapter", adapter,
        "--redis-url", redis.url,
        "--metrics", "true",
        "--metrics-addr", "127.0.0.1:0",
      ]);
      url = await metricsUrl(server);
    });

    after(async () => {
      await server?.stop();
      await redis?.stop();
    });

    const readyz = () => httpGet(`${server.url}/readyz`);

    it("is 200 while Redis is up, 503 with the reason while it is down, 200 once it is back", T, async () => {
      assert.equal((await readyz()).status, 200);
      const before = await scrape(url);
      assert.equal(value(before, "switchyard_adapter_link_up"), 1);

      await redis.kill();
      let down;
      await until(async () => (down = await readyz()).status === 503, "/readyz to say 503", 20000, 50);
      assert.match(down.text, /^not ready: the adapter's link to the cluster is down/);
      // Alive all the same: only readiness follows Redis.
      assert.equal((await httpGet(`${server.url}/healthz`)).status, 200);
      assert.equal(value(await scrape(url), "switchyard_adapter_link_up"), 0);

      await redis.restart();
      await until(async () => (await readyz()).status === 200, "/readyz to say 200 again", 20000, 50);
      const back = await scrape(url);
      assert.equal(value(back, "switchyard_adapter_link_up"), 1);
      assert.ok(
        value(back, "switchyard_adapter_reconnects_total") > value(before, "switchyard_adapter_reconnects_total"),
        "the reconnection is counted",
      );
    });
  });
}
