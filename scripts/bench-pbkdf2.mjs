// The cost of one credential hash as the Worker computes it: WebCrypto PBKDF2-HMAC-SHA256,
// 100,000 iterations, 256 bits, inside local workerd. Timed from outside (Date.now() does
// not advance inside a request), against an empty request as the baseline.
import { Miniflare } from "miniflare";
import { workerdCpu } from "./workerd-cpu.mjs";


const mf = new Miniflare({
  modules: true,
  compatibilityDate: "2026-04-01",
  script: `export default { async fetch(req) {
    if (new URL(req.url).pathname === "/empty") return new Response("ok");
    const key = await crypto.subtle.importKey("raw", new Uint8Array(32), "PBKDF2", false, ["deriveBits"]);
    await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: new Uint8Array(16), iterations: 100000 }, key, 256);
    return new Response("ok");
  } }`,
});
async function time(path, n) {
  const t = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await (await mf.dispatchFetch("http://x" + path)).text();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(n / 2)];
}
await time("/hash", 3);
const base = await time("/empty", 30);
const hash = await time("/hash", 30);
// CPU, not wall time: what the Workers CPU limit counts. 100 hashes, minus 100 empty requests.
const cpu = async (p, n) => { const c0 = workerdCpu(); for (let i = 0; i < n; i++) await (await mf.dispatchFetch("http://x" + p)).text(); return workerdCpu() - c0; };
const cpuEmpty = await cpu("/empty", 100);
const cpuHash = await cpu("/hash", 100);
await mf.dispose();
console.log(`PBKDF2-HMAC-SHA256, 100,000 iterations: ${(((cpuHash - cpuEmpty) / 100) * 1000).toFixed(1)} ms of workerd CPU per hash (100 hashes: ${cpuHash.toFixed(2)} s, 100 empty requests: ${cpuEmpty.toFixed(2)} s)`);
console.log(`\nPBKDF2-HMAC-SHA256, 100,000 iterations (WebCrypto in workerd): ${(hash - base).toFixed(1)} ms per hash (p50 ${hash.toFixed(1)} ms minus empty request ${base.toFixed(1)} ms)`);
