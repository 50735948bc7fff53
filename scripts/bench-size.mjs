// Size breakdown of the release wasm (README "Size"): the biggest items and the share of each
// crate, from `twiggy top` over the build that keeps function names (scripts/build saves it
// as target/size/index_bg.named.wasm before stripping). Sizes are raw bytes after wasm-opt;
// the budget is on the gzip -9 size of the stripped wasm, printed by scripts/bench.
//   node scripts/bench-size.mjs [named.wasm] [rows]
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import path from "node:path";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const wasm = process.argv[2] ?? path.join(root, "target/size/index_bg.named.wasm");
const rows = Number(process.argv[3] ?? 20);
const items = JSON.parse(
  execFileSync("twiggy", ["top", "-n", "1000000", "--format", "json", wasm], { maxBuffer: 1 << 28 }).toString(),
).filter((i) => !i.name.startsWith('"') && !i.name.startsWith("custom section")); // name sections are stripped
const total = items.reduce((s, i) => s + i.shallow_size, 0);

// The crate an item belongs to: its first path segment (`<A as B>::f` counts for A's crate).
// After wasm-opt, async handlers are inlined into wasm-bindgen's future_to_promise closures,
// so `js_sys` there is mostly our own endpoint and Durable Object code.
function owner(name) {
  if (name.startsWith("data segment")) return "(data: strings, tables)";
  const m = name.match(/^<*&?(?:mut |dyn )?([A-Za-z_][A-Za-z0-9_]*)/);
  const c = m ? m[1] : name.slice(0, 30);
  return ["T", "f64", "char", "str", "u8", "u64", "usize", "elem", "type", "code", "import", "export"].includes(c)
    ? "(other)"
    : c;
}
const byCrate = new Map();
for (const i of items) byCrate.set(owner(i.name), (byCrate.get(owner(i.name)) ?? 0) + i.shallow_size);
const pct = (n) => ((100 * n) / total).toFixed(1).padStart(5);
const kb = (n) => String(n).padStart(8);

console.log(`\nsize breakdown (${wasm}, ${total} bytes without the name section)`);
console.log("\nby crate:");
for (const [c, n] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, rows)) console.log(`${kb(n)} ${pct(n)} %  ${c}`);
console.log(`\ntop ${rows} items:`);
for (const i of [...items].sort((a, b) => b.shallow_size - a.shallow_size).slice(0, rows)) {
  console.log(`${kb(i.shallow_size)} ${pct(i.shallow_size)} %  ${i.name.replace(/::h[0-9a-f]{16}$/, "").slice(0, 110)}`);
}
