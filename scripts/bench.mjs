// Seeds 1,000 servers in 50 pools, runs wrk against each endpoint and prints a table.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { signedHeaders, TimestampClock } from "./edge-client.mjs";
import { workerdCpu } from "./workerd-cpu.mjs";

// A fast fake origin (the provider's website) that the edge calls for /v1/auth.
let originUp = true;
const origin = http.createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => (raw += c));
  req.on("end", () => {
    if (!originUp) return req.socket.destroy();
    const body = JSON.parse(raw || "{}");
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ valid: body.password === "bench-password" }));
  });
});
await new Promise((r) => origin.listen(Number(process.env.ORIGIN_PORT), "127.0.0.1", r));

// A minimal Cloudflare DNS API (list with pagination, batch) that counts the calls.
const cf = { records: [], lists: 0, batches: 0, next: 1 };
const cfServer = http.createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => (raw += c));
  req.on("end", () => {
    const url = new URL(req.url, "http://x");
    const send = (body) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ success: true, errors: [], messages: [], ...body }));
    };
    if (req.method === "GET") {
      cf.lists++;
      const per = Number(url.searchParams.get("per_page") ?? 100);
      const page = Number(url.searchParams.get("page") ?? 1);
      const total_pages = Math.max(1, Math.ceil(cf.records.length / per));
      return send({ result: cf.records.slice((page - 1) * per, page * per), result_info: { page, total_pages } });
    }
    cf.batches++;
    const b = JSON.parse(raw);
    cf.records = cf.records.filter((r) => !(b.deletes ?? []).some((d) => d.id === r.id));
    for (const p of b.posts ?? []) cf.records.push({ ...p, id: String(cf.next++) });
    send({ result: {} });
  });
});
await new Promise((r) => cfServer.listen(Number(process.env.CF_PORT), "127.0.0.1", r));


const EDGE = process.env.EDGE_URL;
const ADMIN = process.env.ADMIN_TOKEN;
const FLEET_SECRET = process.env.FLEET_SECRET;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SERVERS = Number(process.env.BENCH_SERVERS ?? 1000);
const POOLS = 50;

// 50 assigned ISO 3166-1 codes (the edge refuses unassigned ones), each pool placed on a
// band of the globe so recommendations with a position have real distances to score.
const COUNTRIES = ("ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj " +
  "bl bm bn bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr").split(" ");
const country = (i) => COUNTRIES[i % COUNTRIES.length];
const place = (i) => ({ latitude: -60 + (i % POOLS) * 2.4, longitude: -170 + ((i * 37) % 340) });
const ids = Array.from({ length: SERVERS }, (_, i) => `bench-${i}`);

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

const t0 = performance.now();
await inBatches(ids, 16, async (id) => {
  const i = Number(id.slice(6));
  const res = await fetch(`${EDGE}/v1/admin/servers/${id}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({
      hostname: `${id}.vpn.example.com`, ipv4: `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      country: country(i % POOLS), city: "Bench City", capacity: 200, features: i % 3 ? ["p2p"] : [],
      ...place(i),
      probe: { kind: "heartbeat" },
    }),
  });
  if (res.status !== 201 && res.status !== 200) throw new Error(`register ${id}: ${res.status}`);
  await res.arrayBuffer();
});
const registerMs = performance.now() - t0;

const clock = new TimestampClock();
const t1 = performance.now();
await inBatches(ids, 16, async (id) => {
  const path = `/v1/servers/${id}/heartbeat`;
  const body = JSON.stringify({ clients: Math.floor(Math.random() * 180) });
  const res = await fetch(EDGE + path, { method: "POST", headers: signedHeaders(id, "POST", path, body, clock.next(id), FLEET_SECRET), body });
  if (res.status !== 200) throw new Error(`heartbeat ${id}: ${res.status}`);
  await res.arrayBuffer();
});
const heartbeatMs = performance.now() - t1;

async function timedRound() {
  const [calls0, cpu0, t] = [cf.lists + cf.batches, workerdCpu(), performance.now()];
  await fetch(`${EDGE}/__scheduled?cron=*+*+*+*+*`).then((r) => r.arrayBuffer());
  return { wall: performance.now() - t, cpu: workerdCpu() - cpu0, provider: cf.lists + cf.batches - calls0 };
}
const rounds = [];
for (let i = 0; i < 3; i++) rounds.push(await timedRound());

// Asynchronous, so this process keeps serving the fake origin while wrk runs.
async function wrk(path, script) {
  const args = ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency"];
  if (script) args.push("-s", script);
  const { stdout: out } = await promisify(execFile)("wrk", [...args, EDGE + path], { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return { rps, p50: pct(50), p99: pct(99), errors: non2xx ? Number(non2xx[1]) : 0 };
}

const endpoints = [
  ["GET /healthz (floor)", "/healthz"],
  ["GET /v1/servers", "/v1/servers"],
  ["GET /v1/servers?country=ad", "/v1/servers?country=ad"],
  ["GET /v1/countries", "/v1/countries"],
  ["GET /v1/recommendations", "/v1/recommendations?limit=3"],
  ["GET /v1/recommendations?country=ae", "/v1/recommendations?country=ae&limit=3"],
  ["GET /v1/recommendations?lat=&lon=", "/v1/recommendations?lat=59.91&lon=10.75&limit=3"],
];
const rows = [];
for (const [name, path] of endpoints) rows.push({ name, ...(await wrk(path)) });

// /v1/auth: one signed request, replayed by wrk (auth timestamps only need to be within 120 s).
function authScript(username) {
  const body = JSON.stringify({ username, password: "bench-password", client_ip: "203.0.113.9", client_port: 40000 });
  const headers = signedHeaders("bench-0", "POST", "/v1/auth", body, Math.floor(Date.now() / 1000), FLEET_SECRET);
  const lua = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(body)}`,
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
  ].join("\n");
  const file = path.join(os.tmpdir(), `vpn-edge-auth-${process.pid}-${username}.lua`);
  fs.writeFileSync(file, lua);
  return file;
}
async function authOnce(username, tries = 3) {
  try {
    return await authAttempt(username);
  } catch (e) {
    // A keep-alive connection the dev server closed while wrk ran: retry on a new one.
    if (tries <= 1) throw e;
    return authOnce(username, tries - 1);
  }
}
async function authAttempt(username) {
  const body = JSON.stringify({ username, password: "bench-password", client_ip: "203.0.113.9", client_port: 40000 });
  const res = await fetch(EDGE + "/v1/auth", {
    method: "POST",
    headers: signedHeaders("bench-0", "POST", "/v1/auth", body, Math.floor(Date.now() / 1000), FLEET_SECRET),
    body,
  });
  return res.json();
}
// Warm the cache: the entry is written after the answer (waitUntil).
await authOnce("bench-user");
await new Promise((r) => setTimeout(r, 1500));
rows.push({ name: "POST /v1/auth, origin up, cache fresh", ...(await wrk("/v1/auth", authScript("bench-user"))) });
originUp = false;
const degraded = await authOnce("bench-user");
if (degraded.source !== "cache") throw new Error(`expected a cache hit with the origin down, got ${JSON.stringify(degraded)}`);
rows.push({ name: "POST /v1/auth, origin down, cache hit", ...(await wrk("/v1/auth", authScript("bench-user"))) });
originUp = true;
origin.close();

cfServer.close();

const pad = (s, n) => String(s).padEnd(n);
const num = (x, d = 1) => x.toFixed(d).padStart(9);
console.log(`${SERVERS} servers in ${POOLS} pools; wrk -t2 -c${CONNECTIONS} -d${SECONDS}s on local workerd (wrangler dev)\n`);
console.log(`${pad("endpoint", 38)}${"req/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}  non-2xx`);
for (const r of rows) console.log(`${pad(r.name, 38)}${num(r.rps, 0)}${num(r.p50, 2)}${num(r.p99, 2)}  ${r.errors}`);
console.log(`\nregister ${SERVERS} servers (admin API, 16 in flight): ${(registerMs / 1000).toFixed(1)} s`);
console.log(`heartbeat ${SERVERS} servers (16 in flight): ${(heartbeatMs / 1000).toFixed(1)} s (${((SERVERS / heartbeatMs) * 1000).toFixed(0)}/s)`);
const fmt = (r) => `${r.wall.toFixed(0)} ms wall, ${r.cpu.toFixed(2)} s workerd CPU, ${r.provider} provider calls`;
console.log(`cron round, ${SERVERS} servers in ${POOLS} pools, heartbeat probes, DNS via a local Cloudflare fake (UP_AFTER=1: the first round publishes every pool):`);
for (const r of rounds) console.log(`  ${fmt(r)}`);
console.log(`DNS records at the end: ${cf.records.length}; subrequests per round besides probes and provider calls: 1 index + ${POOLS} pools + SLA + ledger + guard Durable Object calls, 2-3 KV operations`);
