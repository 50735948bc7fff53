import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startEdge } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
// Screenshots are kept as test artefacts (gitignored).
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "artifacts");

/**
 * Real headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
 * JSON messages separated by NUL on fds 3 and 4), so the test can size the viewport, run
 * script in the page and read what the browser logged. No npm dependency. scripts/setup
 * installs Debian's chromium; a missing browser fails the test rather than skipping it.
 */
async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-chromium-"));
  const proc = spawn(CHROMIUM, [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-pipe", `--user-data-dir=${profile}`, "about:blank",
  ], { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"], detached: true });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const out = proc.stdio[3];
  const inp = proc.stdio[4];
  let nextId = 1;
  const pending = new Map();
  const listeners = [];
  let buf = "";
  inp.on("data", (chunk) => {
    buf += chunk.toString("utf8");
    let i;
    while ((i = buf.indexOf("\0")) >= 0) {
      const msg = JSON.parse(buf.slice(0, i));
      buf = buf.slice(i + 1);
      if (msg.id && pending.has(msg.id)) {
        const { resolve, reject, method } = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result);
      } else if (msg.method) {
        for (const l of [...listeners]) l(msg);
      }
    }
  });
  const exited = new Promise((r) => proc.on("exit", r));
  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject, method });
    out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
  });
  const waitEvent = (method, sessionId, timeoutMs = 20_000) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${method}; chromium said: ${stderr.slice(-500)}`)), timeoutMs);
    const l = (msg) => {
      if (msg.method === method && msg.sessionId === sessionId) {
        clearTimeout(timer);
        listeners.splice(listeners.indexOf(l), 1);
        resolve(msg.params);
      }
    };
    listeners.push(l);
  });
  return {
    send,
    waitEvent,
    onEvent: (l) => listeners.push(l),
    /** A new tab of `width`×`height` CSS pixels (mobile emulation for narrow ones). */
    async page(width, height) {
      const { targetId } = await send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
      const s = (method, params) => send(method, params, sessionId);
      await s("Page.enable");
      await s("Runtime.enable");
      await s("Log.enable");
      await s("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: width < 600 });
      const log = [];
      listeners.push((msg) => {
        if (msg.sessionId !== sessionId) return;
        if (msg.method === "Log.entryAdded") log.push(msg.params.entry.text);
        if (msg.method === "Runtime.consoleAPICalled") log.push(msg.params.args.map((a) => a.value).join(" "));
        if (msg.method === "Runtime.exceptionThrown") log.push(msg.params.exceptionDetails.text);
      });
      return {
        sessionId,
        log,
        send: s,
        async goto(url) {
          const loaded = waitEvent("Page.loadEventFired", sessionId);
          await s("Page.navigate", { url });
          await loaded;
        },
        async eval(expression) {
          const r = await s("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
          if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.text}`);
          return r.result.value;
        },
        async screenshot(file) {
          const { cssContentSize } = await s("Page.getLayoutMetrics");
          const clip = { x: 0, y: 0, width, height: Math.ceil(cssContentSize.height), scale: 1 };
          const { data } = await s("Page.captureScreenshot", { format: "png", captureBeyondViewport: true, clip });
          fs.writeFileSync(file, Buffer.from(data, "base64"));
          return fs.readFileSync(file);
        },
      };
    },
    async close() {
      // The whole process group: Chromium's helpers (crashpad, utility processes) outlive
      // the browser process and keep writing the profile.
      try {
        process.kill(-proc.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await exited;
      // The profile is a temp folder: failing to remove it is not the page's failure.
      try {
        fs.rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
      } catch (e) {
        console.log(`# left ${profile}: ${e.code}`);
      }
    },
  };
}

async function until(check, what, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("the status page in headless Chromium: headline, coverage, legend and tooltips, fits 390 px and 1280 px, refreshes in place under its CSP", async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // UP_AFTER 1: a server is up after one good round, so every round below is at the real
  // current minute (or the next one, with heartbeats older than it), never ahead of them.
  const edge = await startEdge({ UP_AFTER: "1" }, { listen: true });
  const browser = await launch();
  try {
    await edge.registerServer("se-1", { city: "Stockholm" });
    await edge.registerServer("de-1", { country: "de", city: "Berlin" });
    // A hostname with a 61-character label and no hyphen: nothing to break it at but CSS.
    await edge.registerServer("de-2", { country: "de", city: "<b>Berlin</b>", hostname: "de2averylonghostnamelabelthatcannotbreakonanarrowphonescreen.vpn.example.com" });
    await edge.registerServer("nl-1", { country: "nl", city: "Amsterdam", maintenance: true });
    await edge.heartbeat("se-1", { clients: 25 });
    // One round at the real current minute: this month has one measured minute, today a bar.
    await edge.round(new Date());

    // The headers: a restrictive policy whose hashes Chromium must accept (checked below).
    const res = await edge.fetch("/");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const csp = res.headers.get("content-security-policy");
    assert.match(csp, /^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/]+=*'; style-src 'sha256-/);
    assert.ok(!csp.includes("unsafe-inline"));
    const html = await res.text();
    const script = html.match(/<script>([^]*?)<\/script>/)[1];
    assert.ok(csp.includes(`'sha256-${crypto.createHash("sha256").update(script).digest("base64")}'`), "the script's hash");

    for (const [width, height] of [[390, 844], [1280, 900]]) {
      const page = await browser.page(width, height);
      await page.goto(`${edge.url}/`);
      const dom = await page.eval("document.documentElement.outerHTML");
      // Headline from the pools: de has no server up (se-1 is the only heartbeat).
      assert.equal(await page.eval("document.querySelector('#headline strong').textContent"), "Major outage");
      assert.match(await page.eval("document.querySelector('#headline').textContent"), /No server is up in de\./);
      assert.match(dom, /<strong>1<\/strong> of <strong>4<\/strong> servers up/);
      assert.match(dom, /pool\.prd\.de\.example\.com/);
      assert.match(dom, /data-server="se-1"[^]*?class="up"/);
      assert.ok(dom.includes("&lt;b&gt;Berlin&lt;/b&gt;"), "operator text is escaped, not rendered as markup");
      assert.ok(!dom.includes("<b>Berlin</b>"));
      // Coverage next to availability, with the month's real elapsed minutes.
      const sla = await page.eval("document.querySelector('#sla').textContent");
      assert.match(sla, /^This month so far: measured for 1 of [\d,]+ minutes so far \([\d.]+ %\)\. Availability 100\.000 % \(target 99\.5 %\) counts the [\d,]+ minutes not measured as available\.$/);
      assert.ok(!/<strong>100/.test(dom), "an unmeasured 100 % is never the headline figure");
      // Human-readable times, the ISO value kept in <time datetime>.
      const updated = await page.eval("(() => { const t = document.querySelector('#summary time'); return [t.getAttribute('datetime'), t.textContent]; })()");
      assert.match(updated[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.match(updated[1], /^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC$/);
      // 90 bars, a legend with the four kinds, today's bar measured.
      assert.equal(await page.eval("document.querySelectorAll('#days li').length"), 90);
      assert.equal(await page.eval("document.querySelectorAll('#legend li').length"), 4);
      const today = new Date().toISOString().slice(0, 10);
      assert.match(await page.eval(`document.querySelector('#days li[data-day="${today}"]').getAttribute('aria-label')`), /measured for 1 of 1,440 min/);

      // Nothing overflows sideways.
      // Under mobile emulation Chrome widens the layout viewport to the content, so
      // innerWidth grows with an overflow (a page 1068 px wide reported innerWidth 1068):
      // the device width is the bound that can fail.
      const fit = await page.eval("[document.documentElement.scrollWidth, innerWidth, document.documentElement.clientWidth]");
      assert.ok(fit[0] <= fit[1] && fit[0] <= width && fit[2] === width, `${width} px: scrollWidth ${fit[0]}, innerWidth ${fit[1]}, clientWidth ${fit[2]}`);

      // The tooltips of the first and the last bar show on hover and stay on screen.
      for (const which of ["first", "last"]) {
        const box = await page.eval(`(() => { const r = document.querySelector('#days li:${which}-child').getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`);
        await page.send("Input.dispatchMouseEvent", { type: "mouseMoved", x: box[0], y: box[1] });
        const tip = await page.eval(`(() => { const t = document.querySelector('#days li:${which}-child .tip'); const r = t.getBoundingClientRect(); return [getComputedStyle(t).display, r.left, r.right, t.textContent]; })()`);
        assert.equal(tip[0], "block", `${which} tip shows on hover`);
        assert.ok(tip[1] >= 0 && tip[2] <= width, `${width} px: ${which} tip at ${tip[1]}..${tip[2]}`);
        assert.match(tip[3], /^\d{1,2} [A-Z][a-z]{2} \d{4}: /);
      }
      await page.send("Input.dispatchMouseEvent", { type: "mouseMoved", x: 1, y: 1 });

      const file = path.join(ARTIFACTS, `status-page-${width}.png`);
      const png = await page.screenshot(file);
      assert.equal(png.subarray(1, 4).toString(), "PNG");
      assert.ok(png.length > 5_000, `screenshot is ${png.length} bytes`);
      console.log(`status page screenshot (${width} px): ${file}`);
      assert.deepEqual(page.log.filter((l) => /Content Security Policy|Refused/i.test(l)), [], "no CSP violation");
    }

    // Refresh without a reload: the page's own timer (virtual time, so the test does not
    // wait a minute) fetches a fresh copy and swaps <main>; a reload would drop the marker.
    const page = await browser.page(390, 844);
    await page.goto(`${edge.url}/`);
    await page.eval("window.__notReloaded = true");
    await edge.heartbeat("de-1", { clients: 5 });
    await edge.heartbeat("de-2", { clients: 5 });
    await edge.round(new Date(Date.now() + 60_000)); // the next minute's round
    assert.match((await edge.json("/v1/countries")).body.countries.find((c) => c.code === "de").up.toString(), /^2$/);
    assert.match(await page.eval("document.querySelector('#summary').textContent"), /^1 of 4/, "not refreshed yet");
    const budget = page.send("Emulation.setVirtualTimePolicy", { policy: "advance", budget: 61_000 });
    await budget;
    await until(async () => /^3 of 4/.test(await page.eval("document.querySelector('#summary').textContent")), "the page refreshed itself");
    assert.equal(await page.eval("window.__notReloaded"), true, "refreshed in place, not reloaded");
    assert.equal(await page.eval("document.querySelector('#headline strong').textContent"), "Degraded service");
    assert.deepEqual(page.log.filter((l) => /Content Security Policy|Refused/i.test(l)), [], "no CSP violation");
  } finally {
    try {
      await browser.close();
    } finally {
      await edge.close();
    }
  }
});

test("a down check cycle on the status page: the month's downtime and today's bar show its fraction of a minute", async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup`);
  // Probers on; a heartbeat server that never beats fails every cycle (registering it arms
  // no prober, so the recorded cycle below is the pool's first).
  const edge = await startEdge({ PROBE_MODE: "alarms", PROBE_REGIONS: "weur" }, { listen: true });
  const browser = await launch();
  try {
    await edge.registerServer("se-1");
    // A minute of today and of this month: a few minutes back, or ahead just after midnight.
    const now = Math.floor(Date.now() / 60_000);
    const m = now % 1440 >= 10 ? now - 3 : now + 10;
    // One 15 s cycle in which nothing passed, as the probers report it, recorded by the
    // watchdog round two minutes on.
    const ns = await edge.mf.getDurableObjectNamespace("POOLS");
    const report = { op: "report", region: "weur", slice: 0, cycle: m * 60_000 + 15_000, len_ms: 15_000, expected: ["weur"], results: {}, now_ms: Date.now() };
    const res = await ns.get(ns.idFromName("se")).fetch("https://do/", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(report) });
    assert.equal(res.status, 200, await res.text());
    await edge.round(new Date((m + 2) * 60_000));
    assert.equal((await edge.json("/v1/sla/current")).body.downtime_minutes, 0.25);

    const page = await browser.page(1280, 900);
    await page.goto(`${edge.url}/`);
    const line = await page.eval("document.querySelector('#sla').nextElementSibling.textContent");
    assert.match(line, /^Downtime 0\.25 min of an allowance of [\d.]+ min; credit so far: 0 min/);
    const today = new Date().toISOString().slice(0, 10);
    const tip = await page.eval(`document.querySelector('#days li[data-day="${today}"] .tip').textContent`);
    // m and the minute after it (no cycle: unknown) are recorded today.
    assert.match(tip, /: 87\.50 % available, 0\.25 min down, measured for 2 of 1,440 min$/);
    assert.equal(await page.eval(`document.querySelector('#days li[data-day="${today}"]').classList.contains("bad")`), true, "below the target that day");
  } finally {
    try {
      await browser.close();
    } finally {
      await edge.close();
    }
  }
});
