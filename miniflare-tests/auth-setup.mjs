// Shared setup of the auth tests: the built Worker with a fake origin, two registered
// servers, optional persistence (to scan the bytes at rest and to restart the runtime),
// and the Worker's console output captured (to scan it for passwords).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { Edge, ADMIN_TOKEN, FLEET_SECRET } from "./harness.mjs";
import { startOrigin, waitFor } from "./fakes.mjs";

export const SESSION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
export const USERS = { alice: "alice-secret-pw", bob: "bob-secret-pw", carol: "carol-secret-pw" };
export const userKey = (u) => "cred:" + crypto.createHash("sha256").update(u).digest("hex");
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The harness's `Edge` (so `edge.restart()` is the harness's redeploy), with the Worker's
 * console output landing in `logs` (one string per chunk), across restarts too.
 */
async function startMf(bindings, persist, logs) {
  const options = {
    ...(persist ? { kvPersist: `${persist}/kv`, durableObjectsPersist: `${persist}/do` } : {}),
    // As the harness: documentation addresses allowed, checks only when a test fires a round.
    bindings: { ADMIN_TOKEN, FLEET_SECRET, ALLOW_PRIVATE_ADDRESSES: "true", PROBE_MODE: "cron", ...bindings },
    handleRuntimeStdio(stdout, stderr) {
      stdout.on("data", (c) => logs.push(c.toString("utf8")));
      stderr.on("data", (c) => logs.push(c.toString("utf8")));
    },
  };
  const edge = new Edge(null, { options, persist, ownedPersist: null, listen: false });
  await edge._start();
  return edge;
}

/**
 * `extra`: bindings on top of a configured origin. `opts.persist`: keep KV and Durable
 * Object data in a temp folder (`t.persist`), so `t.restart()` starts a new runtime on
 * the same storage, as a deploy or an eviction does.
 */
export async function setup(extra = {}, opts = {}) {
  const origin = await startOrigin({ ...USERS }, "origin-token", opts.origin ?? {});
  const persist = opts.persist ? fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-auth-")) : null;
  const bindings = {
    ORIGIN_AUTH_URL: `${origin.url}/api/vpn/auth`,
    ORIGIN_API_TOKEN: "origin-token",
    ORIGIN_TIMEOUT_MS: "300",
    CRED_PEPPER: "test-pepper",
    SESSION_KEY,
    ...extra,
  };
  const logs = [];
  const t = {
    origin,
    persist,
    logs,
    edge: await startMf(bindings, persist, logs),
    restart() {
      return t.edge.restart();
    },
    login(username, password, { server = "se-1", ip = "203.0.113.50", port = 40000 + Math.floor(Math.random() * 20000) } = {}) {
      return t.edge.auth(server, { username, password, client_ip: ip, client_port: port });
    },
    async cached(u) {
      const kv = await t.edge.mf.getKVNamespace("CREDENTIALS");
      return kv.get(userKey(u), "json");
    },
    async sessions() {
      const r = await t.edge.admin("GET", "/v1/admin/sessions");
      if (r.status !== 200) throw new Error(`admin sessions: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.sessions;
    },
    async close() {
      await t.edge.close();
      await origin.close();
      if (persist) fs.rmSync(persist, { recursive: true, force: true });
    },
  };
  if (!opts.noServers) {
    await t.edge.registerServer("se-1");
    await t.edge.registerServer("se-2");
  }
  return t;
}

/** Every encoding a password could take at rest or in a log line. */
export function encodings(pw) {
  const b = Buffer.from(pw, "utf8");
  const utf16be = Buffer.from(pw, "utf16le").swap16();
  return {
    utf8: b,
    utf16le: Buffer.from(pw, "utf16le"),
    utf16be,
    hex: Buffer.from(b.toString("hex")),
    HEX: Buffer.from(b.toString("hex").toUpperCase()),
    // Base64 at each of the three alignments the password could start at inside a longer
    // encoded value: the middle of the encoding, which does not depend on its neighbours.
    ...Object.fromEntries(
      [0, 1, 2].flatMap((k) => {
        const enc = Buffer.concat([Buffer.alloc(k), b]).toString("base64");
        const mid = enc.slice(k ? 4 : 0, -4);
        return [
          [`base64@${k}`, Buffer.from(mid)],
          [`base64url@${k}`, Buffer.from(mid.replace(/\+/g, "-").replace(/\//g, "_"))],
        ];
      }),
    ),
  };
}

/** Every byte under `dir` (KV blobs, SQLite files and their WAL). */
export function bytesUnder(dir) {
  const walk = (d) =>
    fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(d, e.name)) : [fs.readFileSync(path.join(d, e.name))],
    );
  return Buffer.concat(walk(dir));
}

/** The encodings of `pw` found in `bytes` (empty when none). */
export function findPassword(bytes, pw) {
  return Object.entries(encodings(pw))
    .filter(([, enc]) => bytes.indexOf(enc) !== -1)
    .map(([name]) => name);
}

export { waitFor };
