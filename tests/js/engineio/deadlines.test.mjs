// The ping-timeout race of engine.io's official suite ("closes the session upon ping timeout"),
// sent 200 times without retries: a long-polling session that never answers its ping, and one GET
// sent pingInterval + pingTimeout after the handshake answer. The server decides by its session
// core's rule (a deadline that has passed means closed, whether or not its timer has fired), so
// every GET must get 400 (as the official suite checks: the status), never the ping.
//
// The wait is the condition under test (time passing), not a stand-in for order. The conformance
// server runs the official suites' timings: pingInterval 300 ms, pingTimeout 200 ms.
//
// And the close race of socket.io's official suite ("should forcefully close the session"): a GET
// and a POST of `1` sent together, in whatever order the server reads them; the GET gets the noop
// `6` (the core keeps it for the next GET when none waits) and the GET after it gets 400.
//
// And the upgrade race of engine.io's official suite ("ignores HTTP requests with same sid after
// upgrade"): `2probe` and `5` sent on the WebSocket, then a GET, which may be read before either;
// the core holds a GET that comes while a probe is open, so the `5` refuses it (400) every time.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { eioHandshake, httpGet, httpPost, openWs, pollUrl, startServer, toWsUrl } from "../support/helpers.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const LANES = 4;
const PER_LANE = 50;

let server;
let base;

before(async () => {
  server = await startServer("conformance");
  base = `${server.url}/engine.io/`;
});

after(async () => {
  if (server) await server.stop();
});

describe("Engine.IO deadlines, raced", () => {
  it(`a GET sent pingInterval + pingTimeout after the handshake gets 400, ${LANES * PER_LANE} times`, { timeout: 120000 }, async () => {
    const outcomes = [];
    const lane = async () => {
      for (let i = 0; i < PER_LANE; i++) {
        const { sid } = await eioHandshake(base);
        // At least pingInterval + pingTimeout after the answer, on a clock that is not cached:
        // libuv's timers run on the loop's cached time and can fire a few ms early.
        const due = performance.now() + PING_INTERVAL + PING_TIMEOUT;
        while (performance.now() < due) await sleep(Math.ceil(due - performance.now()));
        const res = await httpGet(pollUrl(base, sid));
        outcomes.push(res.status === 400 ? "400" : `${res.status} ${JSON.stringify(res.text)}`);
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    const wrong = outcomes.filter((o) => o !== "400");
    assert.deepEqual(wrong, [], `${wrong.length} of ${outcomes.length} GETs were not refused`);
  });
});

// A server of its own with a slow heartbeat: a ping must not answer the GET first on a loaded machine.
describe("Engine.IO close, raced", () => {
  let slow;
  before(async () => {
    slow = await startServer("conformance", ["--ping-interval", "20000", "--ping-timeout", "20000"]);
  });
  after(async () => {
    if (slow) await slow.stop();
  });

  it(`a GET sent beside a POST of close gets "6" and the next GET 400, ${LANES * PER_LANE} times`, { timeout: 120000 }, async () => {
    const base = `${slow.url}/engine.io/`;
    const outcomes = [];
    const lane = async () => {
      for (let i = 0; i < PER_LANE; i++) {
        const { sid } = await eioHandshake(base);
        const [poll, post] = await Promise.all([httpGet(pollUrl(base, sid)), httpPost(pollUrl(base, sid), "1")]);
        const next = await httpGet(pollUrl(base, sid));
        outcomes.push(`${poll.status} ${JSON.stringify(poll.text)} / post ${post.status} / next ${next.status}`);
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    const wrong = outcomes.filter((o) => o !== '200 "6" / post 200 / next 400');
    assert.deepEqual(wrong, [], `${wrong.length} of ${outcomes.length} went otherwise`);
  });
});

describe("Engine.IO upgrade, raced", () => {
  let slow;
  before(async () => {
    slow = await startServer("conformance", ["--ping-interval", "20000", "--ping-timeout", "20000"]);
  });
  after(async () => {
    if (slow) await slow.stop();
  });

  it(`a GET sent after 2probe and 5 on the WebSocket gets 400 and the WebSocket carries on, ${LANES * PER_LANE} times`, { timeout: 120000 }, async () => {
    const base = `${slow.url}/engine.io/`;
    const outcomes = [];
    const lane = async () => {
      for (let i = 0; i < PER_LANE; i++) {
        const { sid } = await eioHandshake(base);
        const ws = openWs(`${toWsUrl(base)}?EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`);
        try {
          await ws.opened;
          ws.send("2probe");
          ws.send("5");
          const poll = await httpGet(pollUrl(base, sid));
          const probe = await ws.next(10000);
          ws.send(`4hello ${i}`);
          const echo = await ws.next(10000);
          outcomes.push(`${poll.status} / ${probe} / ${echo}`);
          if (outcomes.at(-1) !== `400 / 3probe / 4hello ${i}`) outcomes.push(`(was ${JSON.stringify(poll.text)})`);
        } finally {
          ws.close();
        }
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    const wrong = outcomes.filter((o) => !/^400 \/ 3probe \/ 4hello \d+$/.test(o));
    assert.deepEqual(wrong, [], `${wrong.length} went otherwise`);
  });
});
