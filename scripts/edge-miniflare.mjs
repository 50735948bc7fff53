// The built Worker in Miniflare with every binding wrangler.toml declares: shared by the
// test harness and the benchmarks that drive Durable Objects directly.
import { Miniflare } from "miniflare";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BUILD = path.join(ROOT, "workers/edge/build");

export function edgeMiniflare(extra = {}) {
  return new Miniflare({
    modules: true,
    scriptPath: path.join(BUILD, "index.js"),
    modulesRoot: BUILD,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js"] },
      { type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true },
    ],
    compatibilityDate: "2026-04-01",
    kvNamespaces: ["FLEET", "CREDENTIALS"],
    durableObjects: {
      POOLS: { className: "PoolRegistry", useSQLite: true },
      FLEET_INDEX: { className: "FleetIndex", useSQLite: true },
      SLA: { className: "SlaLedger", useSQLite: true },
      SESSIONS: { className: "SessionLedger", useSQLite: true },
      AUTH_GUARD: { className: "AuthGuard", useSQLite: true },
      REPLAY: { className: "ReplayGuard", useSQLite: true },
      PROBERS: { className: "Prober", useSQLite: true },
    },
    ...extra,
  });
}
