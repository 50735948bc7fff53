// Bounded bodies: workerd's resident memory while a 256 MiB chunked body is sent to the
// edge (Miniflare, local workerd), unsigned, with good signature headers, and to the admin
// API with its token. The edge reads at most 16 KiB of each before it answers.
import crypto from "node:crypto";
import { edgeMiniflare } from "./edge-miniflare.mjs";
import { workerdPids, rssBytes, measureGrowth } from "./workerd-memory.mjs";

const MiB = 1024 * 1024;
const TOTAL = Number(process.env.BENCH_BODY_MIB ?? 256) * MiB;
const ADMIN_TOKEN = "bench-admin";
const FLEET_SECRET = "bench-fleet";
const BASE = "http://edge.test";

const mf = edgeMiniflare({ bindings: { ADMIN_TOKEN, FLEET_SECRET, ALLOW_PRIVATE_ADDRESSES: "true" } });
await mf.ready;
const admin = { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` };
const reg = { hostname: "se-1.vpn.example.com", ipv4: "198.51.100.1", country: "se", city: "Stockholm", capacity: 100, features: [], probe: { kind: "heartbeat" } };
await (await mf.dispatchFetch(`${BASE}/v1/admin/servers/se-1`, { method: "PUT", headers: admin, body: JSON.stringify(reg) })).arrayBuffer();

function chunked(total) {
  const piece = new Uint8Array(64 * 1024).fill(0x20);
  let sent = 0;
  return {
    stream: new ReadableStream({
      pull(c) {
        if (sent >= total) return c.close();
        const n = Math.min(piece.length, total - sent);
        c.enqueue(n === piece.length ? piece : piece.subarray(0, n));
        sent += n;
      },
    }),
    sent: () => sent,
  };
}

function signedHeaders() {
  const ts = Math.floor(Date.now() / 1000);
  const hash = crypto.createHash("sha256");
  const piece = Buffer.alloc(64 * 1024, 0x20);
  for (let i = 0; i < TOTAL / piece.length; i++) hash.update(piece);
  const key = crypto.createHmac("sha256", FLEET_SECRET).update("se-1").digest();
  const sig = crypto.createHmac("sha256", key).update(`${ts}\nPOST\n/v1/sessions/offline\n${hash.digest("hex")}`).digest("hex");
  return { "content-type": "application/json", "x-edge-server": "se-1", "x-edge-timestamp": String(ts), "x-edge-signature": sig };
}

const pids = workerdPids();
if (pids.length === 0) throw new Error("workerd not found below this process");
const cases = [
  ["POST /v1/sessions/offline, unsigned", "POST", "/v1/sessions/offline", { "content-type": "application/json" }],
  ["POST /v1/sessions/offline, signed headers", "POST", "/v1/sessions/offline", signedHeaders()],
  ["PUT /v1/admin/servers/x, admin token", "PUT", "/v1/admin/servers/x", admin],
];
const rows = [];
for (const [name, method, path, headers] of cases) {
  const body = chunked(TOTAL);
  const t = performance.now();
  const { result, baseline, growth } = await measureGrowth(pids, async () => {
    // workerd answers without draining the rest and closes: the client may see a reset.
    try {
      const res = await mf.dispatchFetch(BASE + path, { method, headers, body: body.stream, duplex: "half" });
      await res.arrayBuffer();
      return res.status;
    } catch (e) {
      if (["ECONNRESET", "EPIPE"].includes(e.cause?.code)) return "reset";
      throw e;
    }
  });
  rows.push({ name, status: result, baseline, growth, pulled: body.sent(), ms: performance.now() - t });
}
const mb = (b) => (b / MiB).toFixed(1);
console.log(`\nbounded bodies: ${mb(TOTAL)} MiB chunked in 64 KiB pieces, workerd RSS sampled every 20 ms`);
console.log("| request | answer | workerd RSS before | peak growth | body pulled by the client | ms |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(`| ${r.name} | ${r.status} | ${mb(r.baseline)} MiB | ${mb(r.growth)} MiB | ${mb(r.pulled)} MiB | ${r.ms.toFixed(0)} |`);
}
console.log(`workerd RSS after all: ${mb(pids.reduce((s, p) => s + rssBytes(p), 0))} MiB`);
await mf.dispose();
