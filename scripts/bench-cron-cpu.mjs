// CPU of one cron round and of one SLA credit call (what the Workers CPU limit counts),
// measured as workerd CPU from /proc around each, in Miniflare with the built wasm.
//   node scripts/bench-cron-cpu.mjs [servers=1000] [pools=50]
import { startEdge } from "../miniflare-tests/harness.mjs";
import { startFake } from "../miniflare-tests/fakes.mjs";
import { workerdCpu } from "./workerd-cpu.mjs";


const SERVERS = Number(process.argv[2] ?? 1000);
const POOLS = Number(process.argv[3] ?? 50);
const billing = await startFake("billing");
billing.answer({ status: 200, body: {} });
const edge = await startEdge({ ALLOW_PRIVATE_ADDRESSES: "true", CREDIT_API_URL: billing.url, CREDIT_API_TOKEN: "t" });
const cc = ["se", "de", "nl", "fr", "gb", "us", "ca", "jp", "au", "br", "es", "it", "pl", "no", "fi", "dk", "ch", "at", "be", "ie",
  "pt", "cz", "ro", "hu", "gr", "tr", "il", "in", "sg", "hk", "kr", "tw", "mx", "ar", "cl", "co", "za", "nz", "is", "ee",
  "lv", "lt", "sk", "si", "hr", "bg", "rs", "ua", "md", "lu"];
for (let i = 0; i < SERVERS; i += 16) {
  await Promise.all(Array.from({ length: Math.min(16, SERVERS - i) }, (_, k) => {
    const n = i + k;
    return edge.registerServer(`s-${n}`, { country: cc[n % POOLS], ipv4: `198.51.${100 + Math.floor(n / 250)}.${(n % 250) + 1}` });
  }));
}
const rounds = [];
const base = Math.floor(Date.now() / 60_000) * 60_000;
for (let i = 0; i < 4; i++) {
  const c0 = workerdCpu();
  const t0 = performance.now();
  await edge.round(new Date(base + i * 60_000));
  rounds.push([workerdCpu() - c0, performance.now() - t0]);
}
const c0 = workerdCpu();
await edge.dailyCredits(new Date(base));
const credit = workerdCpu() - c0;
await edge.close();
await billing.close();
console.log(`cron round, ${SERVERS} servers in ${POOLS} pools (Worker and its Durable Objects together, heartbeat probes):`);
for (const [cpu, wall] of rounds) console.log(`  ${(cpu * 1000).toFixed(0)} ms workerd CPU, ${wall.toFixed(0)} ms wall`);
console.log(`daily credit run (3 closed months): ${(credit * 1000).toFixed(0)} ms workerd CPU`);
