import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEdge, minute } from "./harness.mjs";

const run = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

// Real headless Chromium against the page served by the built Worker. scripts/setup installs
// Debian's chromium; a missing browser fails the test rather than skipping it.
function chromium(args) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-chromium-"));
  return run(CHROMIUM, [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--user-data-dir=${profile}`, ...args,
  ], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }).finally(() => fs.rmSync(profile, { recursive: true, force: true }));
}

test("the status page renders in headless Chromium with pools, servers and the 90-day strip", async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup`);
  const edge = await startEdge({}, { listen: true });
  const shot = path.join(os.tmpdir(), `vpn-edge-status-${process.pid}.png`);
  try {
    const base = Date.now();
    await edge.registerServer("se-1", { city: "Stockholm" });
    await edge.registerServer("de-1", { country: "de", city: "Berlin" });
    await edge.registerServer("de-2", { country: "de", city: "<b>Berlin</b>" });
    await edge.heartbeat("se-1", { clients: 25 });
    await edge.round(minute(0, base));
    await edge.round(minute(1, base));

    const { stdout: dom } = await chromium(["--dump-dom", `${edge.url}/`]);
    assert.match(dom, /<strong>1<\/strong> of <strong>3<\/strong> servers up/);
    assert.match(dom, /pool\.prd\.de\.example\.com/);
    assert.match(dom, /data-server="se-1"[^]*?class="up"/);
    assert.match(dom, /This month so far: <strong>/);
    assert.equal((dom.match(/data-day=/g) ?? []).length, 90);
    assert.ok(dom.includes("&lt;b&gt;Berlin&lt;/b&gt;"), "operator text is escaped, not rendered as markup");
    assert.ok(!dom.includes("<b>Berlin</b>"));

    await chromium(["--screenshot=" + shot, "--window-size=1024,900", `${edge.url}/`]);
    const png = fs.readFileSync(shot);
    assert.equal(png.subarray(1, 4).toString(), "PNG");
    assert.ok(png.length > 5_000, `screenshot is ${png.length} bytes`);
  } finally {
    fs.rmSync(shot, { force: true });
    await edge.close();
  }
});
