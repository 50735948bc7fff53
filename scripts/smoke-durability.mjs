// Durability on real local workerd (wrangler dev), which evicts idle Durable Objects by
// itself: a heartbeat server comes up after UP_AFTER rounds, its heartbeats stop, and it goes
// down after DOWN_AFTER rounds and leaves the DNS pool; wrangler dev is restarted twice in
// between on the same persisted state (a redeploy). Rounds are real crons fired through
// `/__scheduled`, one per real minute (rounds in one minute count once), so this takes about
// five minutes. Run by scripts/smoke-durability (and scripts/bench).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "./edge-miniflare.mjs";
import { signedHeaders, TimestampClock } from "./edge-client.mjs";
import { startCloudflare, startFake } from "../miniflare-tests/fakes.mjs";

const PORT = Number(process.env.SMOKE_PORT ?? 8795);
const EDGE = `http://127.0.0.1:${PORT}`;
const ADMIN = "smoke-admin-token";
const FLEET_SECRET = "smoke-fleet-secret";
const STALE_S = 30; // the smallest HEARTBEAT_STALE_S the edge accepts
const UP_AFTER = 2;
const DOWN_AFTER = 3;
const POOL = "pool.prd.se.example.com";
const STATE = fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-smoke-"));
const LOG = path.join(STATE, "wrangler.log");

const cf = await startCloudflare({ token: "smoke-cf" });
const hooks = await startFake("webhook");
const started = Date.now();
const stamp = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const say = (msg) => console.log(`${stamp()}  ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let wrangler = null;
async function startWrangler() {
  const vars = {
    ADMIN_TOKEN: ADMIN,
    FLEET_SECRET,
    DNS_PROVIDER: "cloudflare",
    CLOUDFLARE_API_URL: cf.apiUrl,
    CLOUDFLARE_ZONE_ID: "zone123",
    CLOUDFLARE_API_TOKEN: "smoke-cf",
    ALERT_WEBHOOK_URL: `${hooks.url}/alerts`,
    HEARTBEAT_STALE_S: String(STALE_S),
    // Documentation addresses; the minute round judges (as it fires /__scheduled by hand).
    ALLOW_PRIVATE_ADDRESSES: "true",
    PROBE_MODE: "cron",
    UP_AFTER: String(UP_AFTER),
    DOWN_AFTER: String(DOWN_AFTER),
  };
  const args = ["dev", "--local", "--ip", "127.0.0.1", "--port", String(PORT), "--test-scheduled", "--persist-to", STATE];
  args.push("--show-interactive-dev-session=false", "--log-level", "warn");
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const out = fs.openSync(LOG, "a");
  // Its own process group, so stopping it stops workerd too.
  wrangler = spawn(path.join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", out, out],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  const exited = new Promise((r) => wrangler.once("exit", r));
  wrangler.exited = exited;
  for (let i = 0; i < 240; i++) {
    const ok = await fetch(`${EDGE}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    if (wrangler.exitCode !== null) break;
    await sleep(250);
  }
  throw new Error("wrangler dev did not come up");
}

async function stopWrangler() {
  if (!wrangler || wrangler.exitCode !== null) return;
  process.kill(-wrangler.pid, "SIGTERM");
  await Promise.race([wrangler.exited, sleep(10_000)]);
  if (wrangler.exitCode === null) process.kill(-wrangler.pid, "SIGKILL");
  await wrangler.exited;
}

async function redeploy(n) {
  await stopWrangler();
  await startWrangler();
  say(`wrangler dev restarted (redeploy ${n}): every object starts from storage`);
}

const clock = new TimestampClock();
async function heartbeat(id) {
  const target = `/v1/servers/${id}/heartbeat`;
  const body = JSON.stringify({ clients: 5 });
  const res = await fetch(EDGE + target, { method: "POST", headers: signedHeaders(id, "POST", target, body, clock.next(id), FLEET_SECRET), body });
  if (res.status !== 200) throw new Error(`heartbeat ${id}: ${res.status} ${await res.text()}`);
}

async function register(id, ipv4) {
  const res = await fetch(`${EDGE}/v1/admin/servers/${id}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({ hostname: `${id}.vpn.example.com`, ipv4, country: "se", city: "Stockholm", capacity: 100, features: [], probe: { kind: "heartbeat" }, maintenance: false }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`register ${id}: ${res.status} ${await res.text()}`);
}

/** One real cron round, at the start of the next real minute. */
async function roundNextMinute(label) {
  const next = (Math.floor(Date.now() / 60_000) + 1) * 60_000 + 1_000;
  await sleep(next - Date.now());
  return round(label);
}

async function round(label) {
  const res = await fetch(`${EDGE}/__scheduled?cron=*+*+*+*+*`);
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`round: ${res.status}`);
  const view = await (await fetch(`${EDGE}/v1/servers/se-1`)).json();
  const dns = cf.pool(POOL).filter((r) => r.comment === "vpn-edge").map((r) => r.content).sort();
  say(`round ${label}: se-1 ${view.status}; DNS ${POOL}: ${dns.join(" ") || "-"}`);
  return { status: view.status, dns };
}

function expect(what, ok) {
  if (!ok) throw new Error(`FAILED: ${what}`);
}

// se-2 keeps the pool from being empty (an empty pool is frozen, not withdrawn).
let keepAlive = null;
let failed = false;
try {
  say(`state in ${STATE}; UP_AFTER=${UP_AFTER} DOWN_AFTER=${DOWN_AFTER} HEARTBEAT_STALE_S=${STALE_S}`);
  await startWrangler();
  say("wrangler dev up");
  await register("se-1", "192.0.2.1");
  await register("se-2", "192.0.2.2");
  keepAlive = setInterval(() => heartbeat("se-2").catch(() => {}), 10_000);
  await heartbeat("se-1");
  await heartbeat("se-2");
  let r = await round("1 (heartbeats fresh)");
  expect("one good round is not enough", r.status === "down");
  await redeploy(1);
  // Heartbeats right before the next minute's round.
  const next = (Math.floor(Date.now() / 60_000) + 1) * 60_000;
  await sleep(Math.max(0, next - Date.now() - 5_000));
  await heartbeat("se-1");
  await heartbeat("se-2");
  r = await roundNextMinute("2 (heartbeats fresh)");
  expect(`up after UP_AFTER=${UP_AFTER} good rounds across a redeploy`, r.status === "up");
  expect("se-1 published in DNS", r.dns.includes("192.0.2.1"));
  say("se-1 stops sending heartbeats");
  r = await roundNextMinute("3 (stale: bad 1)");
  expect("one bad round is not enough", r.status === "up");
  await redeploy(2);
  for (let bad = 2; bad <= DOWN_AFTER; bad++) {
    r = await roundNextMinute(`${bad + 2} (stale: bad ${bad})`);
    if (bad < DOWN_AFTER) expect(`${bad} bad rounds are not enough`, r.status === "up");
  }
  expect(`down after DOWN_AFTER=${DOWN_AFTER} bad rounds across a redeploy`, r.status === "down");
  expect("se-1 left the DNS pool, se-2 stayed", r.dns.join(" ") === "192.0.2.2");
  const alerts = hooks.requests.filter((q) => q.url === "/alerts").map((q) => `${q.json.event}:${q.json.server_id ?? ""}`);
  say(`alerts: ${alerts.join(" ")}`);
  expect("se-1 announced up once and down once", alerts.filter((a) => a === "server_up:se-1").length === 1 && alerts.filter((a) => a === "server_down:se-1").length === 1);
  say(`PASS: durable across 2 redeploys and idle eviction on local workerd (${((Date.now() - started) / 1000).toFixed(0)} s)`);
} catch (e) {
  failed = true;
  console.error(`${stamp()}  ${e.message}`);
  console.error(fs.readFileSync(LOG, "utf8").split("\n").slice(-20).join("\n"));
} finally {
  clearInterval(keepAlive);
  await stopWrangler();
  await cf.close();
  await hooks.close();
  fs.rmSync(STATE, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
