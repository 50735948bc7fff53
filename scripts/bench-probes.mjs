// Probe scale: 1,000 servers in 50 pools, every one probed over HTTP, a tenth of them never
// answering (each such probe waits out the 5 s timeout). One cron round in Miniflare (local
// workerd), wall time, and the most probes the fake servers saw open at once.
import http from "node:http";
import { edgeMiniflare } from "./edge-miniflare.mjs";

const SERVERS = Number(process.env.BENCH_SERVERS ?? 1000);
const POOLS = 50;
let open = 0;
let maxOpen = 0;
const track = (req) => {
  open++;
  maxOpen = Math.max(maxOpen, open);
  req.on("close", () => open--);
};
const ok = http.createServer((req, res) => {
  track(req);
  res.end("ok");
});
const hang = http.createServer((req) => track(req));
await new Promise((r) => ok.listen(0, "127.0.0.1", r));
await new Promise((r) => hang.listen(0, "127.0.0.1", r));

// Documentation addresses (198.51.x) are accepted only with ALLOW_PRIVATE_ADDRESSES.
const mf = edgeMiniflare({ bindings: { ADMIN_TOKEN: "bench", ALLOW_PRIVATE_ADDRESSES: "true" } });
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
        headers: { authorization: "Bearer bench", "content-type": "application/json" },
        body: JSON.stringify({
          hostname: `probe-${n}.example.com`, ipv4: `198.51.${Math.floor(n / 250)}.${(n % 250) + 1}`,
          country: COUNTRIES[n % POOLS % COUNTRIES.length], city: "Bench", capacity: 100,
          probe: { kind: "http", url: `http://127.0.0.1:${target.address().port}/health` },
        }),
      });
      await res.arrayBuffer();
    }),
  );
}
const worker = await mf.getWorker();
const t = performance.now();
await worker.scheduled({ cron: "* * * * *", scheduledTime: new Date() });
const wall = performance.now() - t;
const up = (await (await mf.dispatchFetch("http://edge.test/v1/servers")).json()).servers.length;
await mf.dispose();
ok.close();
hang.close();
console.log(`\nprobe round, ${SERVERS} servers in ${POOLS} pools probed over HTTP, ${SERVERS / 10} never answering (Miniflare):`);
console.log(`  ${(wall / 1000).toFixed(1)} s wall; at most ${maxOpen} probes open at once (${POOLS} pools × 6); ${up} servers judged`);
