// Every Durable Object across restarts of the runtime (a redeploy, or the eviction of every
// object at once): `edge.restart()` disposes Miniflare and starts a fresh one on the same
// persisted storage, so nothing held in an object's memory survives. Each scenario must give
// the same answers with restarts between its steps as without (README, "What each Durable
// Object stores").
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startEdge } from "./harness.mjs";
import { startCloudflare, startFake, startOrigin, waitFor } from "./fakes.mjs";

const POOL = "pool.prd.se.example.com";
const SESSION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const status = async (edge, id) => (await edge.json(`/v1/servers/${id}`)).body.status;
const inDns = (cf) => cf.pool(POOL).filter((r) => r.comment === "vpn-edge").map((r) => r.content).sort();
const events = (hooks) => hooks.requests.filter((r) => r.url === "/alerts").map((r) => `${r.json.event}:${r.json.server_id ?? ""}`);

/**
 * The pool: se-1 lives on heartbeats, se-2 on an HTTP probe that always answers (so the
 * pool is never empty and DNS is never frozen). Rounds at the real current time and then a
 * minute apart; heartbeats are always sent before the round that judges them.
 */
async function poolScenario(restartEveryStep) {
  const cf = await startCloudflare();
  const hooks = await startFake("webhook");
  const edge = await startEdge(
    {
      DNS_PROVIDER: "cloudflare",
      CLOUDFLARE_API_URL: cf.apiUrl,
      CLOUDFLARE_ZONE_ID: "zone123",
      CLOUDFLARE_API_TOKEN: "cf-token",
      ALERT_WEBHOOK_URL: `${hooks.url}/alerts`,
    },
    { restartable: true },
  );
  const between = () => (restartEveryStep ? edge.restart() : undefined);
  const trace = [];
  try {
    await edge.registerServer("se-1", { ipv4: "192.0.2.1" });
    await edge.registerServer("se-2", { ipv4: "192.0.2.2", probe: { kind: "http", url: `${hooks.url}/probe` } });
    await between();
    assert.equal((await edge.heartbeat("se-1")).status, 200);
    const t0 = Date.now();
    const round = async (k) => {
      await edge.round(new Date(t0 + k * 60_000));
      trace.push(`${k}: se-1 ${await status(edge, "se-1")}, se-2 ${await status(edge, "se-2")}, dns ${inDns(cf).join(" ") || "-"}`);
      await between();
    };
    await round(0); // good round 1 of UP_AFTER=2
    assert.equal((await edge.heartbeat("se-1")).status, 200);
    await round(1); // good round 2: up, published
    // Heartbeats stop; from round 2 on the last one is more than HEARTBEAT_STALE_S=90 s old.
    await round(2);
    await round(3);
    await round(4); // bad round 3 of DOWN_AFTER=3: down, withdrawn
    await round(5);
    await new Promise((r) => setTimeout(r, 300));
    return { trace, alerts: events(hooks), restarts: edge.restarts };
  } finally {
    await edge.close();
    await cf.close();
    await hooks.close();
  }
}

const POOL_TRACE = [
  "0: se-1 down, se-2 down, dns -",
  "1: se-1 up, se-2 up, dns 192.0.2.1 192.0.2.2",
  "2: se-1 up, se-2 up, dns 192.0.2.1 192.0.2.2",
  "3: se-1 up, se-2 up, dns 192.0.2.1 192.0.2.2",
  "4: se-1 down, se-2 up, dns 192.0.2.2",
  "5: se-1 down, se-2 up, dns 192.0.2.2",
];

test("pool: up after UP_AFTER good rounds, down after DOWN_AFTER bad ones, DNS following, with a restart between every step", async () => {
  const plain = await poolScenario(false);
  assert.deepEqual(plain.trace, POOL_TRACE, "without restarts");
  const restarted = await poolScenario(true);
  assert.equal(restarted.restarts, 7);
  assert.deepEqual(restarted.trace, POOL_TRACE, "with a restart between every step");
  for (const e of ["server_up:se-1", "server_up:se-2", "server_down:se-1"]) {
    assert.equal(restarted.alerts.filter((x) => x === e).length, 1, `${e} once: ${restarted.alerts.join(" ")}`);
  }
  assert.deepEqual(restarted.alerts.filter((x) => x.startsWith("server_")).sort(), plain.alerts.filter((x) => x.startsWith("server_")).sort());
});

/** The pool's stored records, read straight from its SQLite file (the runtime stopped). */
function storedPoolRecords(persist) {
  const out = {};
  const files = (dir) =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  for (const f of files(path.join(persist, "do")).filter((f) => f.endsWith(".sqlite"))) {
    let rows = "";
    try {
      rows = execFileSync("sqlite3", ["-readonly", f, "SELECT key || ' ' || hex(value) FROM _cf_KV WHERE key LIKE 's:%'"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    } catch {
      continue; // no key-value table in this object
    }
    for (const line of rows.split("\n").filter(Boolean)) {
      const [key, hex] = line.split(" ");
      // The value is a V8-serialized one-byte string holding the record's JSON text.
      const bytes = Buffer.from(hex, "hex").toString("latin1");
      const json = bytes.slice(bytes.indexOf("{"));
      out[key] = JSON.parse(json);
    }
  }
  return out;
}

test("pool: a round's results are in storage, readable without the Worker", async () => {
  const edge = await startEdge({}, { restartable: true });
  try {
    await edge.registerServer("se-1");
    await edge.heartbeat("se-1");
    const t0 = Date.now();
    await edge.round(new Date(t0));
    await edge.heartbeat("se-1");
    await edge.round(new Date(t0 + 60_000));
    assert.equal(await status(edge, "se-1"), "up");
    await edge.stop(); // the runtime stopped, so the file is quiet
    const stored = storedPoolRecords(edge.persist);
    assert.deepEqual(Object.keys(stored), ["s:se-1"]);
    const rec = stored["s:se-1"];
    assert.equal(rec.reg.id, "se-1");
    assert.equal(rec.last_check_passed, true, "the last round's check is stored");
    assert.match(JSON.stringify(rec.health), /"up"/, "the published health is stored");
    await edge.restart();
    assert.equal(await status(edge, "se-1"), "up");
  } finally {
    await edge.close();
  }
});

test("fleet index: pools found after a restart, moves and deletes remembered", async () => {
  const edge = await startEdge({}, { restartable: true });
  const ids = async () => (await edge.json("/v1/servers")).body.servers.map((s) => `${s.id}/${s.country}/${s.status}`).sort();
  try {
    await edge.registerServer("se-1", { country: "se" });
    await edge.registerServer("de-1", { country: "de" });
    await edge.registerServer("nl-1", { country: "nl" });
    await edge.restart();
    for (const id of ["se-1", "de-1", "nl-1"]) assert.equal((await edge.heartbeat(id)).status, 200, id);
    const t0 = Date.now();
    await edge.round(new Date(t0));
    await edge.restart();
    for (const id of ["se-1", "de-1", "nl-1"]) await edge.heartbeat(id);
    await edge.round(new Date(t0 + 60_000));
    assert.deepEqual(await ids(), ["de-1/de/up", "nl-1/nl/up", "se-1/se/up"], "the round found every pool");

    // A move to another country after a restart: the index still knows the old pool.
    await edge.restart();
    assert.equal((await edge.registerServer("nl-1", { country: "de" })).status, 200);
    await edge.restart();
    assert.equal((await edge.admin("DELETE", "/v1/admin/servers/se-1")).status, 204);
    await edge.restart();
    for (const id of ["de-1", "nl-1"]) await edge.heartbeat(id);
    await edge.round(new Date(t0 + 120_000));
    // (A moved server starts over in its new pool: its health is that pool's to judge.)
    const after = await ids();
    assert.deepEqual(after.map((s) => s.split("/").slice(0, 2).join("/")), ["de-1/de", "nl-1/de"], "the deleted server is gone, the moved one is in one pool");
    assert.equal(after[0], "de-1/de/up");
    assert.equal((await edge.heartbeat("se-1")).status, 401, "a deleted server is unknown");
    await edge.restart();
    await edge.round(new Date(t0 + 180_000));
    assert.deepEqual((await ids()).map((s) => s.split("/").slice(0, 2).join("/")), ["de-1/de", "nl-1/de"]);
  } finally {
    await edge.close();
  }
});

test("SLA ledger: minutes and a credit in retry survive restarts; the alarm retry repeats the same call", async () => {
  const billing = await startFake("billing");
  billing.answer({ status: 503, raw: "maintenance window" });
  billing.fallback = { status: 201, body: { ok: true } };
  const edge = await startEdge(
    { CREDIT_API_URL: `${billing.url}/credits`, CREDIT_API_TOKEN: "billing-token", CREDIT_RETRY_BASE_S: "4" },
    { restartable: true },
  );
  try {
    await edge.registerServer("se-1"); // never sends a heartbeat: every minute is down
    // 220 down minutes in September 2026, a restart in the middle, and one minute twice.
    const start = Date.parse("2026-09-10T00:00:00Z");
    for (let i = 0; i < 110; i++) await edge.round(new Date(start + i * 60_000));
    await edge.restart();
    await edge.round(new Date(start + 50 * 60_000 + 20_000));
    for (let i = 110; i < 220; i++) await edge.round(new Date(start + i * 60_000));
    await edge.restart();
    const before = (await edge.json("/v1/sla/2026-09")).body;
    assert.equal(before.observed_minutes, 220);
    assert.equal(before.downtime_minutes, 220);
    assert.ok(before.credit_minutes > 0);

    await edge.dailyCredits(new Date("2026-11-25T00:05:00Z"));
    // The operator's view carries the billing API's answer (the public one never does).
    const first = (await edge.admin("GET", "/v1/admin/sla/2026-09")).body.credit;
    assert.deepEqual([first.status, first.attempts], ["pending", 1]);
    assert.match(first.last_error, /503/);
    await edge.restart(); // before the retry alarm (4 s) is due
    const after = (await edge.admin("GET", "/v1/admin/sla/2026-09")).body;
    assert.deepEqual(after.credit, first, "the credit state survived the restart");
    assert.equal(after.downtime_minutes, 220);

    const issued = await waitFor(async () => {
      const r = (await edge.json("/v1/sla/2026-09")).body;
      return r.credit.status === "issued" && r;
    }, { timeoutMs: 30_000, what: "the alarm's retry after the restart" });
    assert.equal(issued.credit.attempts, 2);
    assert.equal(billing.requests.length, 2);
    const [a, b] = billing.requests;
    assert.equal(a.headers["idempotency-key"], "sla-2026-09");
    assert.equal(b.headers["idempotency-key"], a.headers["idempotency-key"]);
    assert.deepEqual(b.json, a.json, "the retry sends the same figures");
    assert.equal(a.json.credit_minutes, before.credit_minutes);

    await edge.restart();
    await edge.dailyCredits(new Date("2026-11-26T00:05:00Z"));
    assert.equal((await edge.json("/v1/sla/2026-09")).body.credit.status, "issued");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(billing.requests.length, 2, "an issued credit is never sent again");
  } finally {
    await edge.close();
    await billing.close();
  }
});

async function authSetup(extra = {}) {
  const origin = await startOrigin({ alice: "alice-secret-pw", bob: "bob-secret-pw" });
  const hooks = await startFake("webhook");
  const edge = await startEdge(
    {
      ORIGIN_AUTH_URL: `${origin.url}/api/vpn/auth`,
      ORIGIN_API_TOKEN: "origin-token",
      ORIGIN_TIMEOUT_MS: "300",
      CRED_PEPPER: "test-pepper",
      SESSION_KEY,
      ALERT_WEBHOOK_URL: `${hooks.url}/alerts`,
      ...extra,
    },
    { restartable: true },
  );
  await edge.registerServer("se-1");
  await edge.registerServer("se-2");
  const login = (username, password, server = "se-1", port = 40000 + Math.floor(Math.random() * 20000)) =>
    edge.auth(server, { username, password, client_ip: "203.0.113.50", client_port: port });
  const cached = async (u) => (await edge.mf.getKVNamespace("CREDENTIALS")).get("cred:" + crypto.createHash("sha256").update(u).digest("hex"), "json");
  const close = async () => {
    await edge.close();
    await origin.close();
    await hooks.close();
  };
  return { origin, hooks, edge, login, cached, close };
}

test("session ledger: pending sessions, sealed passwords and disconnect lists survive restarts until acked", async () => {
  const t = await authSetup();
  const { edge } = t;
  try {
    t.origin.mode = "down";
    const bob = await t.login("bob", "bob-secret-pw", "se-1", 50001);
    const mallory = await t.login("mallory", "made-up", "se-2", 50002);
    assert.deepEqual([bob.body.source, mallory.body.source], ["provisional", "provisional"]);
    await edge.restart();
    const pending = (await edge.admin("GET", "/v1/admin/sessions")).body.sessions;
    assert.deepEqual(
      pending.map((s) => [s.username, s.server_id, s.session_id]).sort(),
      [["bob", "se-1", bob.body.session_id], ["mallory", "se-2", mallory.body.session_id]],
    );

    // The origin is back after a redeploy: the sealed passwords open under the same
    // SESSION_KEY and are re-verified (bob valid, mallory not).
    await edge.restart();
    t.origin.mode = "up";
    await edge.round(new Date());
    const left = (await edge.admin("GET", "/v1/admin/sessions")).body.sessions;
    assert.deepEqual(left.filter((x) => x.state === "pending_reverification"), [], "every answer is in");
    await waitFor(() => t.cached("bob"), { what: "bob confirmed and cached by re-verification" });
    await edge.restart();
    assert.deepEqual((await edge.heartbeat("se-1")).body.disconnect, [], "bob was valid: his sealed password opened");
    const list = (await edge.heartbeat("se-2")).body.disconnect;
    assert.deepEqual(list.map((d) => [d.session_id, d.username, d.client_port]), [[mallory.body.session_id, "mallory", 50002]]);
    await edge.restart();
    assert.deepEqual((await edge.heartbeat("se-2")).body.disconnect.map((d) => d.session_id), [mallory.body.session_id], "listed until acked");
    const ack = await edge.signed("se-2", "POST", "/v1/servers/se-2/disconnects/ack", { session_ids: [mallory.body.session_id] });
    assert.equal(ack.body.removed, 1);
    await edge.restart();
    assert.deepEqual((await edge.heartbeat("se-2")).body.disconnect, [], "an ack is remembered");
  } finally {
    await t.close();
  }
});

test("session ledger: a session pending across a restart is re-verified by the first login after it", async () => {
  const t = await authSetup();
  try {
    t.origin.mode = "500";
    const s = await t.login("alice", "alice-secret-pw");
    assert.equal(s.body.source, "provisional");
    await t.edge.restart();
    t.origin.mode = "up";
    // Any origin answer starts re-verification; the round is not needed.
    assert.equal((await t.login("bob", "bob-secret-pw")).body.source, "origin");
    await waitFor(async () => (await t.edge.admin("GET", "/v1/admin/sessions")).body.sessions.length === 0, { what: "re-verified" });
    assert.deepEqual((await t.edge.heartbeat("se-1")).body.disconnect, []);
  } finally {
    await t.close();
  }
});

test("auth guard: provisional cap, lockout counters and the origin's state survive restarts", async () => {
  const t = await authSetup({ PROVISIONAL_PER_MINUTE: "2" });
  const { edge } = t;
  try {
    await t.login("alice", "alice-secret-pw");
    await waitFor(() => t.cached("alice"), { what: "alice cached" });

    // The cap is per minute: start early in one so the restart cannot cross into the next.
    if (new Date().getUTCSeconds() > 40) await new Promise((r) => setTimeout(r, (61 - new Date().getUTCSeconds()) * 1000));
    const capMinute = Math.floor(Date.now() / 60_000);
    t.origin.mode = "down";
    assert.equal((await t.login("carol", "pw-1")).body.source, "provisional");
    assert.equal((await t.login("dave", "pw-2")).body.source, "provisional");
    await waitFor(() => events(t.hooks).includes("origin_down:"), { what: "origin_down" });
    await edge.restart();
    const third = await t.login("erin", "pw-3");
    assert.equal(Math.floor(Date.now() / 60_000), capMinute, "the test stayed within one minute");
    assert.deepEqual([third.body.decision, third.body.source], ["deny", "policy"], "the cap counted the admissions before the restart");

    // Lockout: five failures within the window, a restart after the second and the fifth.
    for (let i = 0; i < 2; i++) assert.equal((await t.login("alice", `guess-${i}`)).body.source, "cache");
    await edge.restart();
    for (let i = 2; i < 5; i++) assert.equal((await t.login("alice", `guess-${i}`)).body.decision, "deny");
    await edge.restart();
    const locked = await t.login("alice", "alice-secret-pw");
    assert.deepEqual([locked.body.decision, locked.body.source], ["deny", "lockout"]);

    // The origin's state: still down after a restart (no second origin_down), back after another.
    await edge.round(new Date());
    await edge.restart();
    t.origin.mode = "up";
    await edge.round(new Date());
    await waitFor(() => events(t.hooks).includes("origin_up:"), { what: "origin_up after the restart" });
    await edge.restart();
    await edge.round(new Date());
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(events(t.hooks).filter((e) => e.startsWith("origin")), ["origin_down:", "origin_up:"]);
  } finally {
    await t.close();
  }
});

test("harness: restart() needs a persisted edge; restartable folders are removed on close", async () => {
  const plain = await startEdge();
  try {
    await assert.rejects(plain.restart(), /persist/);
  } finally {
    await plain.close();
  }
  const edge = await startEdge({}, { restartable: true });
  const dir = edge.persist;
  assert.ok(fs.existsSync(dir));
  await edge.registerServer("se-1");
  await edge.restart();
  assert.equal((await edge.json("/v1/servers/se-1")).status, 200, "KV survived the restart");
  await edge.close();
  assert.equal(fs.existsSync(dir), false);
});
