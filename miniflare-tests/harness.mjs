// One shared Miniflare harness: the built wasm Worker with its real KV and Durable
// Objects, plus helpers to sign requests as a VPN server and to fire cron rounds.
import { edgeMiniflare } from "../scripts/edge-miniflare.mjs";
import { serverKey as deriveKey, signature } from "../scripts/edge-client.mjs";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const ADMIN_TOKEN = "test-admin-token-0123456789";
export const FLEET_SECRET = "test-fleet-secret-0123456789";
export const BASE = "http://edge.test";

/**
 * `opts.listen`: also serve on a loopback port (for a real browser); `edge.url` is it.
 * `opts.persist`: a folder for KV and Durable Object data (a test can scan the bytes, and
 * `edge.restart()` comes back on it). `opts.restartable: true`: the same with a temp folder
 * made here and removed by `edge.close()`.
 */
export async function startEdge(bindings = {}, opts = {}) {
  let persist = opts.persist ?? null;
  let ownedPersist = null;
  if (!persist && opts.restartable) {
    persist = ownedPersist = fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-restart-"));
  }
  const options = {
    ...(opts.listen ? { host: "127.0.0.1", port: 0 } : {}),
    ...(persist ? { kvPersist: `${persist}/kv`, durableObjectsPersist: `${persist}/do` } : {}),
    // The fixtures use documentation addresses (198.51.100.0/24, 192.0.2.0/24, 2001:db8::/32).
    // PROBE_MODE=cron: checks only when a test fires a round, unless it asks for the
    // probers' alarm loop (probers.test.mjs) with PROBE_MODE=alarms.
    bindings: { ADMIN_TOKEN, FLEET_SECRET, ALLOW_PRIVATE_ADDRESSES: "true", PROBE_MODE: "cron", ...bindings },
  };
  const edge = new Edge(null, { options, persist, ownedPersist, listen: !!opts.listen });
  await edge._start();
  return edge;
}

export function serverKey(serverId, secret = FLEET_SECRET) {
  return deriveKey(serverId, secret);
}

export function sign(serverId, method, target, body, ts, secret = FLEET_SECRET) {
  return signature(serverId, method, target, body, ts, secret);
}

export class Edge {
  constructor(mf, setup = null) {
    this.mf = mf;
    this.clockSkew = 0;
    this._setup = setup;
    this.persist = setup?.persist ?? null;
    this.restarts = 0;
  }

  async _start() {
    const { options, listen } = this._setup;
    this.mf = edgeMiniflare(options);
    const url = await this.mf.ready;
    this.url = listen ? url.toString().replace(/\/$/, "") : null;
    // Keep the same port across restarts, so a browser or client holding `edge.url` goes on working.
    if (listen) options.port = Number(url.port);
  }

  /**
   * A redeploy (or an eviction of every object at once): dispose the runtime and start a fresh
   * one with identical options on the same persisted KV and Durable Object storage. Nothing in
   * memory survives; only what the Worker stored does. Needs `opts.persist` or `opts.restartable`.
   * `changes.bindings`: a redeploy with these vars changed (merged in; later restarts keep them).
   */
  async restart(changes = {}) {
    if (!this.persist) throw new Error("edge.restart() needs startEdge(bindings, { persist: dir }) or { restartable: true }");
    await this.stop();
    if (changes.bindings) this._setup.options.bindings = { ...this._setup.options.bindings, ...changes.bindings };
    await this._start();
    this.restarts += 1;
    return this;
  }

  /** Stop the runtime and keep its data (to read the persisted files); `restart()` resumes. */
  async stop() {
    await this.mf?.dispose();
    this.mf = null;
  }

  async close() {
    await this.stop();
    if (this._setup?.ownedPersist) fs.rmSync(this._setup.ownedPersist, { recursive: true, force: true });
  }

  fetch(pathname, init = {}) {
    return this.mf.dispatchFetch(BASE + pathname, init);
  }

  async json(pathname, init = {}) {
    const res = await this.fetch(pathname, init);
    const text = await res.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, headers: res.headers, body, text };
  }

  admin(method, pathname, body, token = ADMIN_TOKEN) {
    const headers = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    return this.json(pathname, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  }

  registerServer(id, overrides = {}) {
    return this.admin("PUT", `/v1/admin/servers/${id}`, server(id, overrides));
  }

  /**
   * A request signed as `serverId`; `opts.ts` overrides the timestamp (seconds). Without
   * it, the same request sent twice in one second gets the next second's timestamp, as a
   * real agent retrying a second later would: a signature is accepted once.
   */
  signed(serverId, method, target, body, opts = {}) {
    const raw = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
    let ts = opts.ts ?? Math.floor(Date.now() / 1000);
    if (opts.ts === undefined && opts.signature === undefined) {
      this._used ??= new Set();
      while (this._used.has(`${serverId} ${ts} ${method} ${target} ${raw}`)) ts += 1;
      this._used.add(`${serverId} ${ts} ${method} ${target} ${raw}`);
    }
    const headers = {
      "content-type": "application/json",
      "x-edge-server": serverId,
      "x-edge-timestamp": String(ts),
      "x-edge-signature": opts.signature ?? sign(opts.signAs ?? serverId, method, target, raw, ts, opts.secret),
      ...(opts.headers ?? {}),
    };
    return this.json(target, { method, headers, body: method === "GET" ? undefined : raw });
  }

  /** `POST /v1/auth` signed as `serverId`. */
  auth(serverId, body) {
    return this.signed(serverId, "POST", "/v1/auth", body);
  }

  /** Heartbeats need strictly increasing timestamps; keep one counter per server. */
  heartbeat(serverId, body = { clients: 10 }, opts = {}) {
    this._hbTs ??= {};
    const now = Math.floor(Date.now() / 1000);
    const ts = opts.ts ?? Math.max(now, (this._hbTs[serverId] ?? 0) + 1);
    this._hbTs[serverId] = Math.max(ts, this._hbTs[serverId] ?? 0);
    return this.signed(serverId, "POST", `/v1/servers/${serverId}/heartbeat`, body, { ...opts, ts });
  }

  /** Fire the every-minute cron for the minute containing `date`. */
  async round(date = new Date()) {
    const worker = await this.mf.getWorker();
    return worker.scheduled({ cron: "* * * * *", scheduledTime: date });
  }

  /** Fire the daily SLA credit cron. */
  async dailyCredits(date = new Date()) {
    const worker = await this.mf.getWorker();
    return worker.scheduled({ cron: "5 0 * * *", scheduledTime: date });
  }

  async kvValues(namespace) {
    const kv = await this.mf.getKVNamespace(namespace);
    const out = [];
    let cursor;
    do {
      const page = await kv.list({ cursor });
      for (const k of page.keys) out.push({ key: k.name, value: await kv.get(k.name) });
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return out;
  }
}

let ipCounter = 10;
export function server(id, overrides = {}) {
  ipCounter += 1;
  return {
    hostname: `${id}.vpn.example.com`,
    ipv4: `198.51.100.${ipCounter % 250}`,
    country: "se",
    city: "Stockholm",
    capacity: 100,
    features: ["p2p"],
    probe: { kind: "heartbeat" },
    maintenance: false,
    ...overrides,
  };
}

/** Minutes from a fixed base, so rounds are deterministic and monotonic within a test. */
export function minute(n, base = Date.now()) {
  return new Date(Math.floor(base / 60000) * 60000 + n * 60000);
}

/**
 * Asserts that a JSON body is written the way `serde_json::json!` wrote it before the
 * size cuts (README "Size": `http::sorted_json`): compact, and every object's keys in
 * sorted order. JSON.parse keeps the text's key order, so the check reads it back.
 * Only for bodies without whole-number floats (serde writes `59.0`, JavaScript `59`) and
 * without integer-like keys (JavaScript lists `"9"`, `"10"` first, in numeric order):
 * either makes this fail although the bytes are right. The LibreNMS answer and the DNS
 * plan have neither.
 */
export function assertSortedCompactJson(text) {
  const value = JSON.parse(text);
  if (JSON.stringify(value) !== text) throw new Error(`not compact JSON as written by serde_json: ${text}`);
  const walk = (v, at) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}[${i}]`));
    if (v === null || typeof v !== "object") return;
    const keys = Object.keys(v);
    const sorted = [...keys].sort();
    if (keys.join() !== sorted.join()) throw new Error(`keys of ${at || "the body"} not sorted: ${keys.join(", ")}`);
    for (const k of keys) walk(v[k], `${at}.${k}`);
  };
  walk(value, "");
}
