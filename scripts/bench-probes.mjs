// Probers at scale and DNS speed, in Miniflare (local workerd), README "Probers":
// 1. 1,000 servers in 50 pools probed over HTTP by three regions every 15 s, a tenth never
//    answering (a fake that accepts and never answers; the tenth is whole pools, the worst
//    case for their slices): workerd CPU per cycle (all probers and pools together, from
//    /proc), probes per cycle, the most probes open at once (all probers, and per prober
//    from X-Edge-Prober), the prober objects seen, and each cycle's duration from its start
//    to its last probe closed.
// 2. Time from a server's failure to its record being deleted in the Cloudflare fake, at
//    PROBE_INTERVAL_S=15 (the default) and 5.
// 3. The bound of one slice alone: a pool of 24 servers that all hang (two slices of 12).
//   node scripts/bench-probes.mjs        BENCH_SERVERS=1000 BENCH_CYCLES=3 BENCH_PARTS=scale,slices,dns
import http from "node:http";
import fs from "node:fs";
import { execFileSync } from "node:child_process";
import { edgeMiniflare } from "./edge-miniflare.mjs";
import { startCloudflare, waitFor } from "../miniflare-tests/fakes.mjs";

const SERVERS = Number(process.env.BENCH_SERVERS ?? 1000);
const POOLS = 50;
const CYCLES = Number(process.env.BENCH_CYCLES ?? 3);
const ADMIN = "bench";

function workerdCpuMs() {
  // Our own Miniflare's workerd only: a child of this process (read, never signalled), so
  // other workerd processes on a shared machine do not count.
  const pids = execFileSync("pgrep", ["-P", String(process.pid)]).toString().trim().split("\n").filter(Boolean);
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime + stime
    } catch {}
  }
  return (ticks * 1000) / 100; // USER_HZ = 100
}

async function scale() {
  let open = 0;
  let maxOpen = 0;
  const probes = []; // { at, closedAt, prober }
  const byProber = new Map(); // name → { open, max }
  const track = (req) => {
    const prober = req.headers["x-edge-prober"] ?? "?";
    const p = byProber.get(prober) ?? { open: 0, max: 0 };
    byProber.set(prober, p);
    open++;
    p.open++;
    maxOpen = Math.max(maxOpen, open);
    p.max = Math.max(p.max, p.open);
    const probe = { at: Date.now(), closedAt: null, prober };
    probes.push(probe);
    req.on("close", () => {
      open--;
      p.open--;
      probe.closedAt = Date.now();
    });
  };
  const ok = http.createServer((req, res) => {
    track(req);
    res.end("ok");
  });
  const hang = http.createServer((req) => track(req));
  await new Promise((r) => ok.listen(0, "127.0.0.1", r));
  await new Promise((r) => hang.listen(0, "127.0.0.1", r));
  // Documentation addresses (198.51.100.x) are accepted only with ALLOW_PRIVATE_ADDRESSES.
  const mf = edgeMiniflare({
    bindings: { ADMIN_TOKEN: ADMIN, PROBE_MODE: "alarms", PROBE_INTERVAL_S: "15", ALLOW_PRIVATE_ADDRESSES: "true" },
  });
  await mf.ready;
  // Assigned ISO 3166-1 codes only (the edge refuses the others).
  const COUNTRIES = ("ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj " +
    "bl bm bn bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr").split(" ");
  for (let i = 0; i < SERVERS; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, SERVERS - i) }, async (_, k) => {
        const n = i + k;
        const target = n % 10 === 0 ? hang : ok;
        const res = await mf.dispatchFetch(`http://edge.test/v1/admin/servers/probe-${n}`, {
          method: "PUT",
          headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
          body: JSON.stringify({
            hostname: `probe-${n}.example.com`, ipv4: `198.51.${Math.floor(n / 250)}.${(n % 250) + 1}`,
            country: COUNTRIES[n % POOLS], city: "Bench", capacity: 100,
            probe: { kind: "http", url: `http://127.0.0.1:${target.address().port}/health` },
          }),
        });
        await res.arrayBuffer();
      }),
    );
  }
  // Let one full cycle pass so every prober knows its targets, then measure whole cycles.
  const grid = 15_000;
  await new Promise((r) => setTimeout(r, grid - (Date.now() % grid) + grid));
  const from = Date.now();
  maxOpen = 0;
  for (const p of byProber.values()) p.max = p.open;
  const cpu0 = workerdCpuMs();
  await new Promise((r) => setTimeout(r, CYCLES * grid));
  const cpu = (workerdCpuMs() - cpu0) / CYCLES;
  // Cycles that started in the window, and wait for their last probes to close.
  await new Promise((r) => setTimeout(r, 6_000));
  const inWindow = probes.filter((p) => p.at >= from && p.at < from + CYCLES * grid);
  const cycles = new Map();
  for (const p of inWindow) {
    const c = Math.floor(p.at / grid) * grid;
    const e = cycles.get(c) ?? { started: 0, lastClosed: 0, open: 0 };
    e.started++;
    if (p.closedAt === null) e.open++;
    else e.lastClosed = Math.max(e.lastClosed, p.closedAt - c);
    cycles.set(c, e);
  }
  // Per prober and cycle: probes, how late its wake started probing (local scheduling: one
  // workerd thread runs every object here, unlike production), and its slice's duration
  // from first probe to last close (what the slice capacity bounds).
  const slices = new Map();
  for (const p of inWindow) {
    const key = `${p.prober} ${Math.floor(p.at / grid)}`;
    const e = slices.get(key) ?? { n: 0, first: Infinity, last: 0, start: Math.floor(p.at / grid) * grid };
    e.n++;
    e.first = Math.min(e.first, p.at);
    e.last = Math.max(e.last, p.closedAt ?? Infinity);
    slices.set(key, e);
  }
  const q = (xs, f) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))];
  const durations = [...slices.values()].map((e) => e.last - e.first).filter(Number.isFinite);
  const lateness = [...slices.values()].map((e) => e.first - e.start);
  const perProberMax = Math.max(...[...byProber.values()].map((p) => p.max));
  const probers = [...byProber.keys()].filter((k) => k.startsWith("prober-"));
  await mf.dispose();
  ok.close();
  hang.close();
  console.log(`\nprobers, ${SERVERS} servers in ${POOLS} pools over HTTP, ${SERVERS / 10} never answering, 3 regions, 15 s (Miniflare):`);
  console.log(`  prober objects: ${probers.length} (3 regions × ${probers.length / 3} slices; 12 servers per slice at most at 15 s)`);
  console.log(`  workerd CPU per cycle: ${cpu.toFixed(0)} ms (all probers and pools, probes and judgements, mean of ${CYCLES} cycles)`);
  for (const [c, e] of [...cycles].sort()) {
    console.log(`  cycle ${new Date(c).toISOString().slice(11, 19)}: ${e.started} probes started, last closed ${(e.lastClosed / 1000).toFixed(1)} s into the cycle${e.open ? `, ${e.open} still open` : ""}`);
  }
  console.log(`  probes in flight: at most ${maxOpen} at once across all probers, at most ${perProberMax} per prober (limit 6)`);
  console.log(`  per prober and cycle: at most ${Math.max(...[...slices.values()].map((e) => e.n))} probes; first probe to last close p50 ${(q(durations, 0.5) / 1000).toFixed(1)} s, max ${(q(durations, 1) / 1000).toFixed(1)} s (all-hanging slices: 2 timeouts of 5 s)`);
  console.log(`  wake to first probe after the cycle start (local: one workerd thread for all ${probers.length} objects): p50 ${(q(lateness, 0.5) / 1000).toFixed(1)} s, p90 ${(q(lateness, 0.9) / 1000).toFixed(1)} s`);
}

// The bound a slice keeps, without the rest of the fleet competing for local workerd's one
// thread: one pool whose 24 servers all hang, at the default 15 s. One prober per region
// would need 4 timeouts of 5 s (20 s > 15 s: the next wake late, the region abstaining);
// two slices of 12 need 2 (10 s).
async function worstSlices() {
  const seen = [];
  const hang = http.createServer((req) => {
    const p = { prober: req.headers["x-edge-prober"], at: Date.now(), closedAt: null };
    seen.push(p);
    req.on("close", () => (p.closedAt = Date.now()));
  });
  await new Promise((r) => hang.listen(0, "127.0.0.1", r));
  const mf = edgeMiniflare({
    bindings: { ADMIN_TOKEN: ADMIN, PROBE_MODE: "alarms", PROBE_INTERVAL_S: "15", ALLOW_PRIVATE_ADDRESSES: "true" },
  });
  await mf.ready;
  for (let n = 0; n < 24; n++) {
    const res = await mf.dispatchFetch(`http://edge.test/v1/admin/servers/hang-${String(n).padStart(2, "0")}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({
        hostname: `hang-${n}.example.com`, ipv4: `198.51.100.${n + 1}`, country: "se", city: "Bench", capacity: 100,
        probe: { kind: "http", url: `http://127.0.0.1:${hang.address().port}/health` },
      }),
    });
    await res.arrayBuffer();
  }
  const grid = 15_000;
  await new Promise((r) => setTimeout(r, grid - (Date.now() % grid) + grid));
  const from = Date.now();
  await new Promise((r) => setTimeout(r, 2 * grid + 6_000));
  await mf.dispose();
  hang.close();
  const runs = new Map();
  for (const p of seen.filter((p) => p.at >= from && p.at < from + 2 * grid)) {
    const c = Math.floor(p.at / grid) * grid;
    const key = `${p.prober} ${c}`;
    const e = runs.get(key) ?? { prober: p.prober, c, n: 0, first: Infinity, last: 0 };
    e.n++;
    e.first = Math.min(e.first, p.at);
    e.last = Math.max(e.last, p.closedAt ?? Infinity);
    runs.set(key, e);
  }
  console.log(`\none pool of 24 servers that all hang, 3 regions, 15 s: ${new Set([...runs.values()].map((e) => e.prober)).size} probers`);
  for (const e of [...runs.values()].sort((a, b) => a.c - b.c || a.prober.localeCompare(b.prober))) {
    console.log(`  ${e.prober} cycle ${new Date(e.c).toISOString().slice(11, 19)}: ${e.n} probes, wake +${((e.first - e.c) / 1000).toFixed(1)} s, done +${((e.last - e.c) / 1000).toFixed(1)} s`);
  }
}

async function failureToDeletion(intervalS) {
  const cf = await startCloudflare();
  let failing = false;
  const vpn = http.createServer((req, res) => res.writeHead(failing ? 503 : 200).end());
  await new Promise((r) => vpn.listen(0, "127.0.0.1", r));
  const mf = edgeMiniflare({
    bindings: {
      ADMIN_TOKEN: ADMIN, PROBE_MODE: "alarms", PROBE_INTERVAL_S: String(intervalS), DNS_PROVIDER: "cloudflare",
      ALLOW_PRIVATE_ADDRESSES: "true",
      CLOUDFLARE_ZONE_ID: "zone123", CLOUDFLARE_API_TOKEN: "cf-token", CLOUDFLARE_API_URL: cf.apiUrl,
    },
  });
  await mf.ready;
  const ok = http.createServer((req, res) => res.end("ok"));
  await new Promise((r) => ok.listen(0, "127.0.0.1", r));
  for (const [id, port] of [["se-1", vpn.address().port], ["se-2", ok.address().port], ["se-3", ok.address().port]]) {
    const res = await mf.dispatchFetch(`http://edge.test/v1/admin/servers/${id}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({
        hostname: `${id}.example.com`, ipv4: `198.51.100.${id.slice(3)}`, country: "se", city: "Bench", capacity: 100,
        probe: { kind: "http", url: `http://127.0.0.1:${port}/health` },
      }),
    });
    await res.arrayBuffer();
  }
  const pool = () => cf.records.filter((r) => r.name === "pool.prd.se.example.com").map((r) => r.content);
  await waitFor(() => pool().length === 3, { timeoutMs: 10 * intervalS * 1000, what: "three in DNS" });
  // Fail at a random point of the cycle, as a real failure would.
  await new Promise((r) => setTimeout(r, Math.random() * intervalS * 1000));
  failing = true;
  const t = Date.now();
  await waitFor(() => !pool().includes("198.51.100.1"), { timeoutMs: 10 * intervalS * 1000, intervalMs: 50, what: "deleted" });
  const took = (Date.now() - t) / 1000;
  await mf.dispose();
  vpn.close();
  ok.close();
  await cf.close();
  console.log(`  PROBE_INTERVAL_S=${intervalS}: failure → record deleted in ${took.toFixed(1)} s (DOWN_AFTER=3)`);
}

const PARTS = (process.env.BENCH_PARTS ?? "scale,slices,dns").split(",");
if (PARTS.includes("scale")) await scale();
if (PARTS.includes("slices")) await worstSlices();
if (PARTS.includes("dns")) {
  console.log(`\ntime from a failure to its DNS record deleted (Cloudflare fake, 3 regions, Miniflare):`);
  await failureToDeletion(15);
  await failureToDeletion(5);
}
