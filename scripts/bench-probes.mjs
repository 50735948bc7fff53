// Probers at scale and DNS speed, in Miniflare (local workerd), README "Probers":
// 1. 1,000 servers in 50 pools probed over HTTP by three regions every 15 s, a tenth never
//    answering: workerd CPU per cycle (all regions and pools together, from /proc), the
//    most probes open at once, and each cycle's wall time from first probe to last answer.
// 2. Time from a server's failure to its record being deleted in the Cloudflare fake, at
//    PROBE_INTERVAL_S=15 (the default) and 5.
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
  // Our own Miniflare's workerd: a child of this process (read, never signalled).
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
  const starts = [];
  const track = (req) => {
    open++;
    maxOpen = Math.max(maxOpen, open);
    starts.push(Date.now());
    req.on("close", () => open--);
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
  // Let one full cycle pass so every prober knows every target, then measure.
  const grid = 15_000;
  await new Promise((r) => setTimeout(r, grid - (Date.now() % grid) + grid + 500));
  maxOpen = 0;
  const from = Date.now();
  const cpu0 = workerdCpuMs();
  await new Promise((r) => setTimeout(r, CYCLES * grid));
  const cpu = (workerdCpuMs() - cpu0) / CYCLES;
  const inWindow = starts.filter((t) => t >= from);
  // Per cycle: probes started, and how far into the cycle the last one started.
  const latest = new Map();
  for (const t of inWindow) latest.set(Math.floor(t / grid), Math.max(latest.get(Math.floor(t / grid)) ?? 0, t % grid));
  const spread = [...latest.values()].map((ms) => (ms / 1000).toFixed(1));
  await mf.dispose();
  ok.close();
  hang.close();
  console.log(`\nprobers, ${SERVERS} servers in ${POOLS} pools over HTTP, ${SERVERS / 10} never answering, 3 regions, 15 s (Miniflare):`);
  console.log(`  workerd CPU per cycle: ${cpu.toFixed(0)} ms (all regions, probes and pool judgements)`);
  console.log(`  probes per cycle: ${(inWindow.length / CYCLES).toFixed(0)} (3 regions × ${SERVERS}); the last one of each cycle started ${spread.join(", ")} s into it`);
  console.log(`  at most ${maxOpen} probes open at once (3 probers × 6)`);
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

await scale();
console.log(`\ntime from a failure to its DNS record deleted (Cloudflare fake, 3 regions, Miniflare):`);
await failureToDeletion(15);
await failureToDeletion(5);
