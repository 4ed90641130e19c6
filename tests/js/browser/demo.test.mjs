// The chat demo at / (static/index.html + chat.js) in Debian's headless Chromium (playwright-core),
// against the real default binary (E2E_SWITCHYARD_BIN, else target/debug/switchyard), several
// browser contexts at once (each its own localStorage, like separate people):
//  - ada and bob pick nicknames (bad ones and a taken one refused inline), create and join a
//    channel, leave one; presence lists and member counts update;
//  - bob sees "ada is typing…", which goes away by itself, then her message; `<b>` is literal;
//  - private messages as conversations, one per person with unread counts, both ways (click a
//    member; `/msg nick text`), kept over a reload;
//  - a reload keeps the nickname, the channel and its history;
//  - the online panel says whose members it lists; a page that left every channel stays so
//    after a reconnect (not put back into #general);
//  - a polling-only page (?transport=polling) talks with the WebSocket pages; each page shows its
//    transport beside "Connected";
//  - a tab closed leaves the others' member lists at once (WebSocket; polling too, the page
//    ends its session when the tab goes, and when that close never arrives the server ends the
//    session as its pending poll's connection closes);
//  - bad input: empty, oversized (over 2000) messages, an unknown channel in the URL hash (404),
//    an unknown user, sending too fast (429 "slow down"), all shown on the page;
//  - phone width (390x844): no horizontal overflow, the lists in a drawer;
//  - the server stopped (by PID) and started again on the same port: every page says so, comes
//    back by itself (nickname, channel; history is in memory, so empty) and can send again.
// A screenshot of each step goes to tests/js/output/demo/. No page may log a console error or
// throw, except the browser's own network errors while the server is down. Every wait is for a
// condition, bounded. Skipped when /usr/bin/chromium is not installed.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it, test } from "node:test";
import { REPO_ROOT, freePort, sleep, startServer, chromiumMissing, launchChromium } from "../support/helpers.mjs";

const skip = chromiumMissing;
const T = { timeout: 120000 };
const WAIT = 20000; // bound of one wait on a page
const SLOW_WAIT = 30000; // bound of waits that span a reconnection
const OUT = path.join(REPO_ROOT, "tests", "js", "output", "demo");
const ROOM = "e2e-room";
const WIDE = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };


if (skip) {
  test("the chat demo in headless Chromium", { skip }, () => {});
} else {
  describe("the chat demo in headless Chromium", () => {
    let port;
    let server;
    let browser;
    const people = []; // every page opened: {name, ctx, page, errors, closed}
    let restarting = false; // the server is down on purpose: network errors are expected
    const expectedNetworkErrors = [];
    let shots = 0;

    /** Starts the demo on `port`, retrying a little while the port is not free again yet. */
    async function startOnPort() {
      const deadline = Date.now() + SLOW_WAIT;
      for (;;) {
        try {
          return await startServer("switchyard", ["--port", String(port), "--host", "127.0.0.1"]);
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(250); // bounded retry of a failed bind, not a wait for a page condition
        }
      }
    }

    before(async () => {
      rmSync(OUT, { recursive: true, force: true });
      mkdirSync(OUT, { recursive: true });
      port = await freePort();
      server = await startOnPort();
      browser = await launchChromium();
    });

    after(async () => {
      for (const p of people) if (!p.closed) await p.ctx.close().catch(() => {});
      if (browser) await browser.close().catch(() => {});
      if (server) await server.stop();
    });

    /** A new browser context (a new person) with the page at `/${suffix}` of the server's origin. */
    async function openChat(name, { suffix = "", viewport = WIDE } = {}) {
      const ctx = await browser.newContext({ viewport });
      const page = await ctx.newPage();
      const who = { name, ctx, page, errors: [], closed: false };
      people.push(who);
      const record = (text, network) => {
        if (restarting && network) expectedNetworkErrors.push(`${name}: ${text}`);
        else who.errors.push(text);
      };
      page.on("pageerror", (err) => record(`pageerror: ${err.message}`, false));
      page.on("console", (msg) => {
        if (msg.type() !== "error") return;
        const text = msg.text();
        const network = /net::ERR_|WebSocket connection to '.*' failed/.test(text);
        record(`console.error: ${text} (${msg.location().url})`, network);
      });
      page.on("response", (res) => {
        if (res.status() >= 400) {
          const url = res.url();
          record(`HTTP ${res.status()} for ${res.request().method()} ${url}`, url.includes("/socket.io/"));
        }
      });
      page.on("requestfailed", (req) => {
        // a long-poll cut short by a page closing or the server going away
        const network = req.url().includes("/socket.io/");
        if (!network || restarting) record(`request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText}`, network);
      });
      const res = await page.goto(`${server.url}/${suffix}`);
      assert.equal(res.status(), 200, `GET /${suffix}`);
      return who;
    }

    async function close(who) {
      who.closed = true;
      await who.ctx.close();
    }

    async function shot(who, step) {
      shots++;
      const file = path.join(OUT, `${String(shots).padStart(2, "0")}-${step}.png`);
      await who.page.screenshot({ path: file });
    }

    /** Resolves once fn(arg) is truthy in the page (polled), within ms. */
    function waitIn(who, fn, arg, ms = WAIT) {
      return who.page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
    }

    const ready = (who, ms = WAIT) => who.page.locator('#app[data-ready="true"]').waitFor({ timeout: ms });
    const connState = (who) => who.page.getByTestId("conn-state").getAttribute("data-state");

    async function pickNick(who, nick) {
      // (typed before the connection is up, a nickname is sent once it is: not what these tests check)
      await who.page.locator('[data-testid="conn-state"][data-state="connected"]').waitFor({ timeout: WAIT });
      await who.page.getByTestId("nick-input").fill(nick);
      await who.page.getByTestId("nick-submit").click();
    }

    async function send(who, text) {
      const input = who.page.getByTestId("message-input");
      await input.fill(text);
      await input.press("Enter");
    }

    /** Waits until `who` shows a message (kind "message" or "private") by `author` with exactly `text`. */
    function waitMessage(who, author, text, kind = "message", ms = WAIT) {
      return waitIn(
        who,
        ([a, t, k]) =>
          Array.from(document.querySelectorAll('[data-testid="message"]')).some(
            (li) => li.dataset.author === a && li.dataset.kind === k &&
              li.querySelector('[data-testid="message-text"]').textContent === t,
          ),
        [author, text, kind],
        ms,
      );
    }

    /** Waits until the member list of `who` is exactly `nicks` (in order). */
    function waitMembers(who, nicks, ms = WAIT) {
      return waitIn(
        who,
        (want) =>
          JSON.stringify(Array.from(document.querySelectorAll('[data-testid="member"]')).map((li) => li.dataset.nick)) ===
          JSON.stringify(want),
        nicks,
        ms,
      );
    }

    /** Waits until the error banner is shown with text matching `re` (source, flags). */
    function waitError(who, re, ms = WAIT) {
      return waitIn(
        who,
        ([src, flags]) => {
          const b = document.querySelector('[data-testid="error-banner"]');
          const t = document.querySelector('[data-testid="error-text"]');
          return b && !b.hidden && new RegExp(src, flags).test(t.textContent);
        },
        [re.source, re.flags],
        ms,
      );
    }

    const members = (who) =>
      who.page.$$eval('[data-testid="member"]', (lis) => lis.map((li) => li.dataset.nick));
    const messageTexts = (who, kind = "message") =>
      who.page.$$eval(`[data-testid="message"][data-kind="${kind}"]`, (lis) =>
        lis.map((li) => `${li.dataset.author}: ${li.querySelector('[data-testid="message-text"]').textContent}`));

    let ada;
    let bob;
    let cy;

    it("ada and bob pick nicknames; bad and taken ones are refused on the page", T, async () => {
      ada = await openChat("ada");
      await ada.page.getByTestId("nick-screen").waitFor({ timeout: WAIT });
      await shot(ada, "nick-screen");
      await pickNick(ada, "ada");
      await ready(ada);
      assert.equal(await ada.page.getByTestId("me").textContent(), "ada");
      assert.equal(await ada.page.getByTestId("channel-title").textContent(), "#general", "lands in #general");
      assert.equal(await connState(ada), "connected");

      bob = await openChat("bob");
      const nickError = bob.page.getByTestId("nick-error");
      await pickNick(bob, "   ");
      await nickError.waitFor({ timeout: WAIT });
      assert.match(await nickError.textContent(), /1 to 32 characters/);
      await pickNick(bob, "b".repeat(33));
      await waitIn(bob, () => /at most 32 characters/.test(document.querySelector('[data-testid="nick-error"]').textContent));
      // the server's answer, 409 {error: "nickname taken"} (case-insensitive), as a sentence
      await pickNick(bob, "ADA");
      await waitIn(
        bob,
        () => document.querySelector('[data-testid="nick-error"]').textContent === "That nickname is taken. Pick another one.",
      );
      await shot(bob, "nick-taken");
      await pickNick(bob, "bob");
      await ready(bob);
      assert.equal(await bob.page.getByTestId("nick-screen").isHidden(), true);
      await waitMembers(ada, ["ada", "bob"]);
      await waitMembers(bob, ["ada", "bob"]);
    });

    it("ada creates a channel, bob sees it in his list and joins it: presence on both", T, async () => {
      await ada.page.getByTestId("new-channel-input").fill(ROOM);
      await ada.page.getByTestId("new-channel-button").click();
      await waitIn(ada, (room) => document.querySelector('[data-testid="channel-title"]').textContent === `#${room}`, ROOM);
      await ready(ada);
      await waitMembers(ada, ["ada"]);
      assert.equal(await ada.page.evaluate(() => location.hash), `#${ROOM}`);

      // the `channels` event brings the new channel to bob's list
      const item = bob.page.locator(`[data-testid="channel-item"][data-channel="${ROOM}"]`);
      await item.waitFor({ timeout: WAIT });
      await item.locator("a").click();
      await waitIn(bob, (room) => document.querySelector('[data-testid="channel-title"]').textContent === `#${room}`, ROOM);
      await ready(bob);
      await waitMembers(bob, ["ada", "bob"]);
      await waitMembers(ada, ["ada", "bob"]);
      // member counts in the channel list follow presence
      await waitIn(ada, (room) => document.querySelector(`[data-testid="channel-item"][data-channel="${room}"]`)?.dataset.members === "2", ROOM);
      await shot(ada, "channel-joined");
    });

    it("bob sees ada typing, the hint goes away by itself, then her message arrives", T, async () => {
      const hint = () => bob.page.getByTestId("typing-hint").textContent();
      const input = ada.page.getByTestId("message-input");
      await input.pressSequentially("hello bob", { delay: 20 });
      const typingShown = () =>
        waitIn(bob, () => document.querySelector('[data-testid="typing-hint"]').textContent === "ada is typing…", undefined, 3000)
          .then(() => true, () => false);
      // `typing` is volatile (it may be dropped): if the hint does not come, ada types on
      let seen = await typingShown();
      for (let i = 0; i < 6 && !seen; i++) {
        await input.press("End");
        await input.pressSequentially(" ");
        await input.press("Backspace");
        seen = await typingShown();
      }
      assert.ok(seen, 'bob sees "ada is typing…"');
      await shot(bob, "typing-hint");
      // no more typing from ada: the hint disappears after about 3 s
      await waitIn(bob, () => document.querySelector('[data-testid="typing-hint"]').textContent === "", undefined, WAIT);
      assert.equal(await hint(), "");
      await ada.page.getByTestId("message-input").press("Enter");
      await waitMessage(bob, "ada", "hello bob");
      // the sender shows its own message from the answer (the broadcast skips it)
      await waitMessage(ada, "ada", "hello bob");
      assert.deepEqual(await messageTexts(ada), ["ada: hello bob"]);
      const time = await bob.page.locator('[data-testid="message"][data-author="ada"] time').first().textContent();
      assert.match(time, /^\d\d:\d\d$/, "local HH:MM");
      await shot(bob, "message-received");
    });

    it("markup in a message is shown as text", T, async () => {
      await send(bob, "<b>bold?</b> <img src=x onerror=alert(1)>");
      await waitMessage(ada, "bob", "<b>bold?</b> <img src=x onerror=alert(1)>");
      await waitMessage(bob, "bob", "<b>bold?</b> <img src=x onerror=alert(1)>");
      for (const who of [ada, bob]) {
        const tags = await who.page.$$eval("#message-list b, #message-list img", (n) => n.length);
        assert.equal(tags, 0, `${who.name}: no <b> or <img> element in the message list`);
      }
      await shot(ada, "markup-literal");
    });

    it("private messages are conversations: bob clicks ada in the member list; ada answers with /msg", T, async () => {
      const title = (who) => who.page.getByTestId("channel-title").textContent();
      const conversation = (who, nick) => who.page.locator(`[data-testid="conversation-item"][data-nick="${nick}"]`);
      await bob.page.locator('[data-testid="member"][data-nick="ada"] button').click();
      await bob.page.getByTestId("pm-target").waitFor({ timeout: WAIT });
      assert.equal(await bob.page.locator("#pm-target-name").textContent(), "ada");
      assert.equal(await title(bob), "@ada");
      await send(bob, "psst, ada");
      await waitMessage(bob, "bob", "psst, ada", "private");
      // ada, in the channel, sees a conversation with one unread message, not the message itself
      await conversation(ada, "bob").and(ada.page.locator('[data-unread="1"]')).waitFor({ timeout: WAIT });
      assert.deepEqual(await messageTexts(ada, "private"), []);
      assert.equal(await title(ada), `#${ROOM}`);
      await conversation(ada, "bob").locator("button").click();
      await waitMessage(ada, "bob", "psst, ada", "private");
      assert.equal(await title(ada), "@bob");
      assert.equal(await ada.page.locator('[data-kind="private"]').first().getAttribute("data-to"), "ada");
      assert.equal(await conversation(ada, "bob").getAttribute("data-unread"), "0");
      // back in the channel, ada answers with /msg: the conversation opens with the answer in it
      await ada.page.getByTestId("pm-cancel").click();
      assert.equal(await title(ada), `#${ROOM}`);
      await send(ada, "/msg bob got it");
      await waitMessage(ada, "ada", "got it", "private");
      assert.equal(await title(ada), "@bob");
      assert.deepEqual(await messageTexts(ada, "private"), ["bob: psst, ada", "ada: got it"]);
      // bob has the conversation open: it arrives there
      await waitMessage(bob, "ada", "got it", "private");
      await shot(ada, "private-conversation");
      await shot(bob, "private-received");
      // and it is not in the channel
      await bob.page.getByTestId("pm-cancel").click();
      assert.equal(await title(bob), `#${ROOM}`);
      assert.equal((await messageTexts(bob)).includes("ada: got it"), false);
      assert.deepEqual(await messageTexts(bob, "private"), []);
    });

    it("a reload keeps the nickname, the channel, its history and the private conversations", T, async () => {
      await ada.page.reload();
      // the previous connection may still hold "ada" for a moment: the page tries again by itself
      await ready(ada, SLOW_WAIT);
      assert.equal(await ada.page.getByTestId("nick-screen").isHidden(), true, "no nickname asked again");
      assert.equal(await ada.page.getByTestId("me").textContent(), "ada");
      assert.equal(await ada.page.getByTestId("channel-title").textContent(), `#${ROOM}`);
      await waitMessage(ada, "ada", "hello bob");
      assert.deepEqual(await messageTexts(ada), ["ada: hello bob", "bob: <b>bold?</b> <img src=x onerror=alert(1)>"]);
      await waitMembers(ada, ["ada", "bob"]);
      await waitMembers(bob, ["ada", "bob"]);
      // the private conversation is kept too (in this browser), and opens as it was
      await ada.page.locator('[data-testid="conversation-item"][data-nick="bob"] button').click();
      await waitMessage(ada, "ada", "got it", "private");
      assert.deepEqual(await messageTexts(ada, "private"), ["bob: psst, ada", "ada: got it"]);
      await ada.page.getByTestId("pm-cancel").click();
      assert.equal(await ada.page.getByTestId("channel-title").textContent(), `#${ROOM}`);
      await shot(ada, "after-reload");
    });

    it("a polling-only page (?transport=polling) talks with the WebSocket pages", T, async () => {
      cy = await openChat("cy", { suffix: `?transport=polling#${ROOM}` });
      await pickNick(cy, "cy");
      await ready(cy);
      assert.equal(await cy.page.getByTestId("channel-title").textContent(), `#${ROOM}`, "the channel of the URL hash");
      const transports = await cy.page.evaluate(() => ({
        wanted: io.sails.transports,
        engine: io.socket._raw.io.engine.transport.name,
      }));
      assert.deepEqual(transports, { wanted: ["polling"], engine: "polling" });
      assert.equal(await ada.page.evaluate(() => io.socket._raw.io.engine.transport.name), "websocket");
      // Each page says which transport it is on, beside "Connected".
      const shown = (who) =>
        who.page.evaluate(() => {
          const node = document.querySelector('[data-testid="conn-state"]');
          return { transport: node.dataset.transport, label: node.querySelector(".conn-label").textContent };
        });
      assert.deepEqual(await shown(cy), { transport: "polling", label: "Connected · long-polling" });
      assert.deepEqual(await shown(ada), { transport: "websocket", label: "Connected · WebSocket" });
      // it gets the history, and presence reaches everyone
      await waitMessage(cy, "ada", "hello bob");
      await waitMembers(ada, ["ada", "bob", "cy"]);
      await waitMembers(cy, ["ada", "bob", "cy"]);
      await send(cy, "hi from polling");
      await waitMessage(ada, "cy", "hi from polling");
      await waitMessage(bob, "cy", "hi from polling");
      await send(ada, "hi cy, from a websocket");
      await waitMessage(cy, "ada", "hi cy, from a websocket");
      await shot(cy, "polling-page");
    });

    it("a tab closed leaves the member lists of the others", T, async () => {
      const dee = await openChat("dee", { suffix: `#${ROOM}` });
      await pickNick(dee, "dee");
      await ready(dee);
      await waitMembers(ada, ["ada", "bob", "cy", "dee"]);
      await waitMembers(cy, ["ada", "bob", "cy", "dee"]);
      await shot(ada, "presence-four");
      await close(dee);
      await waitMembers(ada, ["ada", "bob", "cy"]);
      await waitMembers(bob, ["ada", "bob", "cy"]);
      await waitMembers(cy, ["ada", "bob", "cy"]);
      await waitIn(ada, (room) => document.querySelector(`[data-testid="channel-item"][data-channel="${room}"]`)?.dataset.members === "3", ROOM);
      await shot(ada, "presence-after-close");
    });

    // The server's heartbeat is socket.io's (25 s + 20 s): a polling tab whose pending GET's
    // connection closes leaves at once, as on engine.io, not when its pings go unanswered.
    it("a closed polling tab leaves the member lists within seconds", T, async () => {
      const eve = await openChat("eve", { suffix: `?transport=polling#${ROOM}` });
      await pickNick(eve, "eve");
      await ready(eve);
      assert.equal(await eve.page.evaluate(() => io.socket._raw.io.engine.transport.name), "polling");
      await waitMembers(ada, ["ada", "bob", "cy", "eve"]);
      // The tab goes without its pagehide close reaching the server (a discarded tab, a crash):
      // the server sees only the pending poll's connection end.
      await eve.page.evaluate(() => {
        navigator.sendBeacon = () => true;
      });
      await close(eve);
      await waitMembers(ada, ["ada", "bob", "cy"], 10000);
    });

    it("bad input: unknown channel (404), empty and oversized messages, unknown user, too fast (429)", T, async () => {
      // an unknown channel in the URL of a new page: the 404 is shown, the page goes to #general
      const eve = await openChat("eve", { suffix: "#no-such-channel" });
      await pickNick(eve, "eve");
      await waitError(eve, /^Could not join #no-such-channel: That channel does not exist \(any more\)\.$/);
      await ready(eve);
      assert.equal(await eve.page.getByTestId("channel-title").textContent(), "#general");
      await shot(eve, "unknown-channel-404");

      // ... and in the hash of a page already in a channel: it stays there
      await ada.page.evaluate(() => { location.hash = "#nowhere"; });
      await waitError(ada, /^Could not join #nowhere: That channel does not exist/);
      await waitIn(ada, (room) => location.hash === `#${room}`, ROOM);
      assert.equal(await ada.page.getByTestId("channel-title").textContent(), `#${ROOM}`);
      await ada.page.locator("#error-close").click();

      const input = eve.page.getByTestId("message-input");
      await send(eve, "   ");
      await waitError(eve, /message is empty/);
      await send(eve, "x".repeat(2001));
      await waitError(eve, /at most 2000 characters \(this one has 2001\)/);
      assert.equal((await input.inputValue()).length, 2001, "the refused text stays in the box");
      assert.match(await eve.page.getByTestId("char-count").textContent(), /2001 \/ 2000/);
      await shot(eve, "message-too-long");
      // the server's own refusal, as a sentence
      await send(eve, "/msg nobody-here hello?");
      await waitError(eve, /^Nobody by that name is online\.$/);
      // exactly 2000 is fine
      await send(eve, "y".repeat(2000));
      await waitIn(eve, () => Array.from(document.querySelectorAll('[data-testid="message"][data-author="eve"]'))
        .some((li) => li.querySelector('[data-testid="message-text"]').textContent.length === 2000));

      // more than 5 messages in 5 s: 429, "slow down" on the page
      let refused = false;
      for (let i = 0; i < 20 && !refused; i++) {
        await send(eve, `quick ${i}`);
        refused = await eve.page.evaluate(() => {
          const b = document.querySelector('[data-testid="error-banner"]');
          return !b.hidden && /slow down/i.test(document.querySelector('[data-testid="error-text"]').textContent);
        });
        if (!refused && i >= 5) {
          // the answer of the sixth may still be on its way
          refused = await waitError(eve, /slow down/i, 3000).then(() => true, () => false);
        }
      }
      assert.ok(refused, "a visible 'slow down'");
      await shot(eve, "slow-down-429");
      await close(eve);
      await waitMembers(ada, ["ada", "bob", "cy"]);
    });

    it("at phone width (390x844) the chat fits and the lists are a drawer", T, async () => {
      // over polling: its tab closing must reach the others at once too (not after the heartbeat timeout)
      const pia = await openChat("pia", { suffix: `?transport=polling#${ROOM}`, viewport: PHONE });
      await pickNick(pia, "pia");
      await ready(pia);
      await waitMessage(pia, "cy", "hi from polling");
      await send(pia, `a long word: ${"w".repeat(300)}`);
      await waitMessage(ada, "pia", `a long word: ${"w".repeat(300)}`);
      const layout = await pia.page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
        sidebarRight: document.querySelector('[data-testid="sidebar"]').getBoundingClientRect().right,
        toggle: getComputedStyle(document.querySelector('[data-testid="drawer-toggle"]')).display,
      }));
      assert.ok(layout.scrollWidth <= layout.innerWidth, `no horizontal overflow: ${JSON.stringify(layout)}`);
      assert.ok(layout.sidebarRight <= 0, `the drawer is closed: ${JSON.stringify(layout)}`);
      assert.notEqual(layout.toggle, "none", "the drawer button is shown");
      await shot(pia, "phone");
      await pia.page.getByTestId("drawer-toggle").click();
      await waitIn(pia, () => {
        const r = document.querySelector('[data-testid="sidebar"]').getBoundingClientRect();
        return r.left >= 0 && r.right > 200;
      });
      await pia.page.locator('[data-testid="member"][data-nick="ada"]').waitFor({ timeout: WAIT });
      await shot(pia, "phone-drawer");
      await pia.page.getByTestId("scrim").click({ position: { x: 370, y: 400 } });
      await waitIn(pia, () => document.querySelector('[data-testid="sidebar"]').getBoundingClientRect().right <= 0);
      await waitMembers(ada, ["ada", "bob", "cy", "pia"]);
      await close(pia);
      await waitMembers(ada, ["ada", "bob", "cy"]);
    });

    it("bob opens general, then leaves it: its member count drops for ada, bob is back in the room", T, async () => {
      const general = (who) => who.page.locator('[data-testid="channel-item"][data-channel="general"]');
      await waitIn(ada, () => document.querySelector('[data-testid="channel-item"][data-channel="general"]')?.dataset.members === "2");
      await general(bob).locator("a").click();
      await waitIn(bob, () => document.querySelector('[data-testid="channel-title"]').textContent === "#general");
      await waitMembers(bob, ["ada", "bob"]);
      await bob.page.getByTestId("leave-button").click();
      await waitIn(bob, (room) => document.querySelector('[data-testid="channel-title"]').textContent === `#${room}`, ROOM);
      await waitIn(bob, () => document.querySelector('[data-testid="channel-item"][data-channel="general"]')?.dataset.joined === "false");
      await waitIn(ada, () => document.querySelector('[data-testid="channel-item"][data-channel="general"]')?.dataset.members === "1");
      await waitMembers(bob, ["ada", "bob", "cy"]);
      assert.equal(await bob.page.evaluate(() => location.hash), `#${ROOM}`);
      await shot(bob, "left-general");
    });

    it("the online panel says whose it lists; after leaving every channel, a reconnect keeps it so", T, async () => {
      const zoe = await openChat("zoe");
      await pickNick(zoe, "zoe");
      await ready(zoe);
      const title = () => zoe.page.getByTestId("members-title").textContent();
      assert.equal(await title(), "In #general");
      await zoe.page.getByTestId("leave-button").click();
      await waitIn(zoe, () => document.querySelectorAll('[data-testid="channel-item"][data-joined="true"]').length === 0);
      assert.equal(await title(), "Open a channel to see who is in it");
      // The connection blinks; once the page has entered its channels again, it is in none.
      const before = await zoe.page.evaluate(() => Number(document.getElementById("app").dataset.entered || 0));
      await zoe.page.evaluate(() => io.socket._raw.io.engine.close());
      await waitIn(zoe, (n) => Number(document.getElementById("app").dataset.entered || 0) > n, before, SLOW_WAIT);
      const joined = await zoe.page.evaluate(() => document.querySelectorAll('[data-testid="channel-item"][data-joined="true"]').length);
      assert.equal(joined, 0, "not put back into #general");
      assert.equal(await connState(zoe), "connected");
      await shot(zoe, "no-channel-after-reconnect");
      await close(zoe);
    });

    it("the server restarts on the same port: every page shows it, comes back by itself and can send", T, async () => {
      const pages = [ada, bob, cy];
      restarting = true;
      const pid = server.proc.pid;
      const exit = await server.stop(); // SIGTERM by PID (SIGKILL after 5 s)
      server = null;
      assert.ok(exit, `server ${pid} stopped`);
      for (const who of pages) {
        await waitIn(who, () => ["reconnecting", "offline"].includes(document.querySelector('[data-testid="conn-state"]').dataset.state), undefined, SLOW_WAIT);
      }
      await shot(ada, "server-down");

      // An error shown while the server was away is no news once it is back.
      await ada.page.evaluate(() => {
        document.getElementById("error-text").textContent = "Connection lost: not sent. Try again once connected.";
        document.getElementById("error-banner").hidden = false;
      });
      server = await startOnPort();
      assert.equal(server.port, port, "the same port");
      for (const who of pages) {
        await ready(who, SLOW_WAIT);
        assert.equal(await connState(who), "connected");
        assert.equal(await who.page.locator("#error-banner").isHidden(), true, `${who.name}: the banner cleared`);
        assert.equal(await who.page.getByTestId("channel-title").textContent(), `#${ROOM}`, `${who.name} is back in #${ROOM}`);
      }
      // the channel existed only in memory: the first page back made it again; all three are in it
      for (const who of pages) await waitMembers(who, ["ada", "bob", "cy"], SLOW_WAIT);
      // history was in memory too: empty now
      assert.deepEqual(await messageTexts(ada), []);
      await send(ada, "still here after the restart");
      await waitMessage(bob, "ada", "still here after the restart");
      await waitMessage(cy, "ada", "still here after the restart");
      await send(cy, "me too, over polling");
      await waitMessage(ada, "cy", "me too, over polling");
      restarting = false;
      await shot(ada, "after-restart");
      await shot(cy, "after-restart-polling");
    });

    it("no page had a page error or a console error", T, async (t) => {
      for (const who of people) {
        assert.deepEqual(who.errors, [], `${who.name}: ${who.errors.join("\n")}`);
      }
      if (expectedNetworkErrors.length) {
        // the browser's own reports of refused connections while the server was down
        t.diagnostic(`${expectedNetworkErrors.length} network errors while the server was down (expected):`);
        for (const e of expectedNetworkErrors) t.diagnostic(`  ${e.slice(0, 200)}`);
        for (const e of expectedNetworkErrors) {
          assert.match(e, /ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|WebSocket connection to|HTTP 400|request failed/, e);
        }
      }
      const files = readdirSync(OUT).filter((f) => f.endsWith(".png"));
      assert.equal(files.length, shots, `screenshots in ${OUT}`);
    });
  });
}
