// Seeds 1,000 servers in 50 pools, runs wrk against each endpoint and prints a table.
import { execFileSync } from "node:child_process";
import { signedHeaders, TimestampClock } from "./edge-client.mjs";

const EDGE = process.env.EDGE_URL;
const ADMIN = process.env.ADMIN_TOKEN;
const FLEET_SECRET = process.env.FLEET_SECRET;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SERVERS = Number(process.env.BENCH_SERVERS ?? 1000);
const POOLS = 50;

const letters = "abcdefghijklmnopqrstuvwxyz";
const country = (i) => letters[Math.floor(i / 26) % 26] + letters[i % 26];
const ids = Array.from({ length: SERVERS }, (_, i) => `bench-${i}`);

async function inBatches(items, size, fn) {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

const t0 = performance.now();
await inBatches(ids, 16, async (id, i = Number(id.slice(6))) => {
  const res = await fetch(`${EDGE}/v1/admin/servers/${id}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: JSON.stringify({
      hostname: `${id}.vpn.example.com`, ipv4: `198.51.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      country: country(i % POOLS), city: "Bench City", capacity: 200, features: i % 3 ? ["p2p"] : [],
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

const rounds = [];
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  await fetch(`${EDGE}/__scheduled?cron=*+*+*+*+*`).then((r) => r.arrayBuffer());
  rounds.push(performance.now() - t);
}

function wrk(path) {
  const out = execFileSync("wrk", ["-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", EDGE + path], { encoding: "utf8" });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
    return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]];
  };
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  return { rps, p50: pct(50), p99: pct(99), errors: non2xx ? Number(non2xx[1]) : 0 };
}

const rows = [
  ["GET /healthz (floor)", "/healthz"],
  ["GET /v1/servers", "/v1/servers"],
  ["GET /v1/servers?country=aa", "/v1/servers?country=aa"],
  ["GET /v1/countries", "/v1/countries"],
  ["GET /v1/recommendations", "/v1/recommendations?limit=3"],
  ["GET /v1/recommendations?country=ab", "/v1/recommendations?country=ab&limit=3"],
].map(([name, path]) => ({ name, ...wrk(path) }));

const pad = (s, n) => String(s).padEnd(n);
const num = (x, d = 1) => x.toFixed(d).padStart(9);
console.log(`${SERVERS} servers in ${POOLS} pools; wrk -t2 -c${CONNECTIONS} -d${SECONDS}s on local workerd (wrangler dev)\n`);
console.log(`${pad("endpoint", 38)}${"req/s".padStart(9)}${"p50 ms".padStart(9)}${"p99 ms".padStart(9)}  non-2xx`);
for (const r of rows) console.log(`${pad(r.name, 38)}${num(r.rps, 0)}${num(r.p50, 2)}${num(r.p99, 2)}  ${r.errors}`);
console.log(`\nregister ${SERVERS} servers (admin API, 16 in flight): ${(registerMs / 1000).toFixed(1)} s`);
console.log(`heartbeat ${SERVERS} servers (16 in flight): ${(heartbeatMs / 1000).toFixed(1)} s (${((SERVERS / heartbeatMs) * 1000).toFixed(0)}/s)`);
console.log(`cron round, ${SERVERS} servers in ${POOLS} pools (wall, 3 runs): ${rounds.map((r) => r.toFixed(0) + " ms").join(", ")}`);
