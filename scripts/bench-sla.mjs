// SLA ledger figures: a full 31-day month (44,640 recorded minutes, every 97th with one 15 s
// cycle down) in the real SlaLedger Durable Object (Miniflare, local workerd): time to
// record a minute, and time to compute the month's report through GET /v1/sla/{month}.
import { edgeMiniflare } from "./edge-miniflare.mjs";

const mf = edgeMiniflare();
await mf.ready;
const ns = await mf.getDurableObjectNamespace("SLA");
const stub = ns.get(ns.idFromName("2025-12"));
const start = Date.parse("2025-12-01T00:00:00Z") / 60000;
const MINUTES = 31 * 1440;

async function record(i) {
  const down = i % 97 === 0;
  const res = await stub.fetch("https://do/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ op: "record", month: "2025-12", minutes: [{ minute: start + i, state: down ? "down" : "up", down_units: down ? 25_000 : 0, checks: { total: 1000, passed: down ? 0 : 990, maintenance: 0 } }] }),
  });
  await res.arrayBuffer();
}

const samples = [];
const t0 = performance.now();
for (let i = 0; i < MINUTES; i++) {
  const t = performance.now();
  await record(i);
  samples.push(performance.now() - t);
}
const fillS = (performance.now() - t0) / 1000;
samples.sort((a, b) => a - b);
const q = (p) => samples[Math.floor((samples.length - 1) * p)];

const reports = [];
let body;
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  const res = await mf.dispatchFetch("http://edge.test/v1/sla/2025-12");
  body = await res.json();
  reports.push(performance.now() - t);
}
reports.sort((a, b) => a - b);
await mf.dispose();

console.log(`\nSLA ledger, 31-day month (2025-12), ${MINUTES} recorded minutes, SQLite Durable Object on local workerd`);
console.log(`record one minute (sequential, incl. DO call): p50 ${q(0.5).toFixed(2)} ms, p99 ${q(0.99).toFixed(2)} ms; whole month ${fillS.toFixed(1)} s`);
console.log(`compute the month's report (GET /v1/sla/2025-12, 20 runs): p50 ${reports[10].toFixed(2)} ms, max ${reports[19].toFixed(2)} ms`);
console.log(`report: observed ${body.observed_minutes}, downtime ${body.downtime_minutes}, availability ${body.availability_pct} %, credit ${body.credit_minutes} min`);
