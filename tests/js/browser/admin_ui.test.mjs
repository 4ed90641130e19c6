// socket.io's admin UI (@socket.io/admin-ui 0.5.1, served by the binary at admin_ui_path) in
// Debian's headless Chromium (playwright-core), against the real default binary running the chat
// demo with admin_ui on and a bcrypt-hashed password:
//  - a demo user picks a nickname in a second page (its own browser context);
//  - the UI's page loads from the binary with no internet (every request off loopback is refused:
//    the UI's two web fonts come from CDNs and are optional), logs in with the server URL,
//    username and password, and shows the demo's socket (Sockets), its channel's room (Rooms),
//    its events (Events) and this server (Servers, by its admin_server_id);
//  - disconnecting the demo's socket from the UI: the demo page sees it (it goes offline, then
//    comes back by itself as it does after any server disconnect).
// A screenshot of the UI listing the demo's sockets goes to tests/js/output/admin-ui.png.
// Skipped when /usr/bin/chromium is not installed.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { after, before, describe, it, test } from "node:test";
import { REPO_ROOT, chromiumMissing, launchChromium, startServer } from "../support/helpers.mjs";

const require = createRequire(import.meta.url);
const bcrypt = require("bcryptjs");
const skip = chromiumMissing;
const T = { timeout: 120000 };
const WAIT = 20000; // bound of one wait on a page
const OUT = path.join(REPO_ROOT, "tests", "js", "output");
const PASSWORD = "admin-e2e-pass";
const SERVER_ID = "demo-node";

if (skip) {
  test("the admin UI in headless Chromium", { skip }, () => {});
} else {
  describe("the admin UI in headless Chromium", () => {
    let server;
    let browser;
    let demo; // the chat demo's page
    let ui; // the admin UI's page
    const errors = [];

    /** Waits until no transition or ripple runs on the UI's page, for a clean screenshot. */
    const settled = () =>
      ui.waitForFunction(() => document.getAnimations().every((a) => a.playState !== "running"), null, { timeout: WAIT });

    /** Opens a page of the UI from its side menu. */
    const nav = (name) => ui.getByRole("navigation").getByRole("link", { name }).click();

    /** The Sockets page's row of socket `id` (the Events page, kept in the DOM, names it too). */
    const socketRow = (id) => ui.locator("tr", { hasText: id }).filter({ hasText: "127.0.0.1" });

    /** A page in its own context that refuses every request off loopback. */
    async function offlinePage() {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      await page.route((url) => url.hostname !== "127.0.0.1", (route) => route.abort());
      page.on("pageerror", (e) => errors.push(String(e)));
      return page;
    }

    before(async () => {
      mkdirSync(OUT, { recursive: true });
      server = await startServer("switchyard", [
        "--host", "127.0.0.1",
        "--admin-ui", "true",
        "--admin-password-hash", bcrypt.hashSync(PASSWORD, 4),
        "--admin-server-id", SERVER_ID,
      ]);
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await server?.stop();
    });

    it("a demo user joins the chat", T, async () => {
      demo = await offlinePage();
      await demo.goto(`${server.url}/`);
      await demo.getByTestId("nick-input").fill("ada");
      await demo.getByTestId("nick-submit").click();
      await demo.locator('[data-testid="conn-state"][data-state="connected"]').waitFor({ timeout: WAIT });
      await demo.getByTestId("channel-title").filter({ hasText: "general" }).waitFor({ timeout: WAIT });
    });

    it("logs in to the served UI and sees the demo's sockets, rooms, events and server", T, async () => {
      ui = await offlinePage();
      await ui.goto(`${server.url}/admin-ui/`);
      await ui.getByLabel("Server URL").fill(server.url);
      await ui.getByLabel("Username").fill("admin");
      await ui.getByLabel("Password").fill(PASSWORD);
      await ui.getByRole("button", { name: "Connect" }).click();
      await ui.getByText(/^connected$/i).first().waitFor({ timeout: WAIT });

      const demoId = await demo.evaluate(() => io.socket._raw.id);
      assert.match(demoId, /^[\w-]{20}$/);
      await nav("Sockets");
      const row = socketRow(demoId);
      await row.first().waitFor({ timeout: WAIT });
      assert.equal(await row.count(), 1, "the demo's socket is listed once");
      assert.match(await row.innerText(), /127\.0\.0\.1/);
      await ui.mouse.move(0, 0);
      await settled();
      await ui.screenshot({ path: path.join(OUT, "admin-ui.png") });

      await nav("Rooms");
      await ui.getByText("channel:general").first().waitFor({ timeout: WAIT });

      await nav("Events");
      // The demo's virtual requests are events on its socket.
      await ui.locator("tr", { hasText: demoId }).first().waitFor({ timeout: WAIT });

      await nav("Servers");
      await ui.getByText(SERVER_ID).first().waitFor({ timeout: WAIT });
    });

    it("disconnects the demo's socket from the UI, and the demo page sees it", T, async () => {
      const demoId = await demo.evaluate(() => io.socket._raw.id);
      // Record the demo's connection states from now on.
      await demo.evaluate(() => {
        window.__states = [];
        const node = document.querySelector('[data-testid="conn-state"]');
        new MutationObserver(() => window.__states.push(node.dataset.state)).observe(node, { attributes: true });
      });
      await nav("Sockets");
      const row = socketRow(demoId);
      await row.waitFor({ timeout: WAIT });
      // The row's button disconnects the socket; the click also opens the socket's details.
      await row.getByRole("button").click();
      await demo.waitForFunction(() => window.__states.includes("offline"), null, { timeout: WAIT });
      const visible = (locator) => locator.locator("visible=true").first();
      await visible(ui.getByText("Socket details")).waitFor({ timeout: WAIT });
      await visible(ui.getByRole("cell", { name: demoId, exact: true })).waitFor({ timeout: WAIT });
      await visible(ui.getByText(/^disconnected$/i)).waitFor({ timeout: WAIT });
      await settled();
      await ui.screenshot({ path: path.join(OUT, "admin-ui-disconnected.png") });
      // The demo comes back by itself, as a new socket the UI lists.
      await demo.waitForFunction((old) => io.socket._raw.connected && io.socket._raw.id !== old, demoId, { timeout: WAIT });
      const newId = await demo.evaluate(() => io.socket._raw.id);
      await nav("Sockets");
      await socketRow(newId).waitFor({ timeout: WAIT });
      assert.deepEqual(errors, [], "no page threw");
    });
  });
}
