import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import { startEdge, minute } from "./harness.mjs";
import { startOrigin, refusedUrl, waitFor } from "./fakes.mjs";

const SESSION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const USERS = { alice: "alice-secret-pw", bob: "bob-secret-pw", carol: "carol-secret-pw" };
const userKey = (u) => "cred:" + crypto.createHash("sha256").update(u).digest("hex");

async function setup(extra = {}, opts = {}) {
  const origin = await startOrigin({ ...USERS });
  const edge = await startEdge(
    {
      ORIGIN_AUTH_URL: `${origin.url}/api/vpn/auth`,
      ORIGIN_API_TOKEN: "origin-token",
      ORIGIN_TIMEOUT_MS: "300",
      CRED_PEPPER: "test-pepper",
      SESSION_KEY,
      ...extra,
    },
    opts,
  );
  await edge.registerServer("se-1");
  await edge.registerServer("se-2");
  const login = (username, password, server = "se-1", port = 40000 + Math.floor(Math.random() * 20000)) =>
    edge.auth(server, { username, password, client_ip: "203.0.113.50", client_port: port });
  const cached = async (u) => {
    const kv = await edge.mf.getKVNamespace("CREDENTIALS");
    return kv.get(userKey(u), "json");
  };
  const close = async () => {
    await edge.close();
    await origin.close();
  };
  return { origin, edge, login, cached, close };
}

test("origin up: valid users are allowed and cached with a pinned PBKDF2, invalid ones denied", async () => {
  const t = await setup();
  try {
    const ok = await t.login("alice", USERS.alice);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual([ok.body.decision, ok.body.source], ["allow", "origin"]);
    assert.match(ok.body.session_id, /^[0-9a-f]{32}$/);
    const entry = await waitFor(() => t.cached("alice"), { what: "cache entry" });
    assert.equal(entry.iterations, 100_000, "production Workers refuse more; local workerd would not");
    assert.match(entry.salt, /^[0-9a-f]{32}$/);
    assert.match(entry.hash, /^[0-9a-f]{64}$/);
    assert.ok(!JSON.stringify(entry).includes(USERS.alice));
    // The origin got the password with its bearer token.
    assert.equal(t.origin.requests[0].headers.authorization, "Bearer origin-token");
    assert.deepEqual(t.origin.requests[0].json, { username: "alice", password: USERS.alice });

    const bad = await t.login("alice", "wrong");
    assert.deepEqual([bad.body.decision, bad.body.source], ["deny", "origin"]);
    const unknown = await t.login("mallory", "whatever");
    assert.deepEqual([unknown.body.decision, unknown.body.source], ["deny", "origin"]);
    assert.equal(await t.cached("mallory"), null);

    // A fresh entry is not rewritten on every login (the normal path hashes rarely).
    const before = await t.cached("alice");
    await t.login("alice", USERS.alice);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await t.cached("alice"), before);
  } finally {
    await t.close();
  }
});

test("a stranger's wrong guesses do not evict the cache entry; a revoked password does", async () => {
  const t = await setup();
  try {
    await t.login("alice", USERS.alice);
    const entry = await waitFor(() => t.cached("alice"), { what: "cache entry" });
    for (let i = 0; i < 3; i++) {
      const r = await t.login("alice", `guess-${i}`);
      assert.equal(r.body.decision, "deny");
    }
    assert.deepEqual(await t.cached("alice"), entry, "wrong guesses leave it alone");

    // The provider changes alice's password: the old one is now revoked.
    t.origin.users.alice = "alice-new-pw";
    const revoked = await t.login("alice", USERS.alice);
    assert.deepEqual([revoked.body.decision, revoked.body.source], ["deny", "origin"]);
    assert.equal(await t.cached("alice"), null, "the revoked password's entry is gone");
  } finally {
    await t.close();
  }
});

for (const [mode, how] of [
  ["500", "answers 500"],
  ["garbage", "answers 200 with HTML"],
  ["novalid", "answers 200 without `valid`"],
  ["hang", "is slower than ORIGIN_TIMEOUT_MS"],
  ["down", "resets the connection"],
]) {
  test(`an origin that ${how} is unavailable, never a denial`, async () => {
    const t = await setup();
    try {
      t.origin.mode = mode;
      const r = await t.login("bob", USERS.bob);
      assert.equal(r.status, 200);
      assert.deepEqual([r.body.decision, r.body.source], ["allow", "provisional"]);
    } finally {
      await t.close();
    }
  });
}

test("a refused connection is unavailable too", async () => {
  const t = await setup({ ORIGIN_AUTH_URL: await refusedUrl() });
  try {
    const r = await t.login("bob", USERS.bob);
    assert.deepEqual([r.body.decision, r.body.source], ["allow", "provisional"]);
  } finally {
    await t.close();
  }
});

test("the circuit breaker: a dead origin is called twice, then not during the cool-down", async () => {
  const t = await setup();
  try {
    t.origin.mode = "500";
    for (let i = 0; i < 6; i++) assert.equal((await t.login(`u${i}`, "pw")).body.source, "provisional");
    assert.equal(t.origin.requests.length, 2, "BREAKER_THRESHOLD calls, then open");
  } finally {
    await t.close();
  }
});

test("while degraded: cache hits, cache misses, lockout after 5 failures", async () => {
  const t = await setup();
  try {
    await t.login("alice", USERS.alice);
    await waitFor(() => t.cached("alice"), { what: "cache entry" });
    t.origin.mode = "down";

    const hit = await t.login("alice", USERS.alice);
    assert.deepEqual([hit.body.decision, hit.body.source], ["allow", "cache"]);
    for (let i = 0; i < 4; i++) {
      const miss = await t.login("alice", `nope-${i}`);
      assert.deepEqual([miss.body.decision, miss.body.source], ["deny", "cache"]);
    }
    assert.equal((await t.login("alice", USERS.alice)).body.source, "cache", "four failures do not lock");
    assert.deepEqual(Object.values((await t.login("alice", "nope-5")).body).slice(0, 2), ["deny", "cache"]);
    const locked = await t.login("alice", USERS.alice);
    assert.deepEqual([locked.body.decision, locked.body.source], ["deny", "lockout"]);
    // Lockout is per username.
    assert.equal((await t.login("bob", USERS.bob)).body.source, "provisional");
  } finally {
    await t.close();
  }
});

test("policies: cached-only denies unknown users, closed denies everyone; the provisional cap holds", async () => {
  const cachedOnly = await setup({ FAIL_OPEN_POLICY: "cached-only" });
  try {
    cachedOnly.origin.mode = "500";
    assert.deepEqual(Object.values((await cachedOnly.login("bob", USERS.bob)).body).slice(0, 2), ["deny", "policy"]);
  } finally {
    await cachedOnly.close();
  }
  const closed = await setup({ FAIL_OPEN_POLICY: "closed" });
  try {
    await closed.login("alice", USERS.alice);
    await waitFor(() => closed.cached("alice"), { what: "cache entry" });
    closed.origin.mode = "500";
    assert.deepEqual(Object.values((await closed.login("alice", USERS.alice)).body).slice(0, 2), ["deny", "policy"]);
  } finally {
    await closed.close();
  }
  const capped = await setup({ PROVISIONAL_PER_MINUTE: "2" });
  try {
    capped.origin.mode = "500";
    const sources = [];
    for (let i = 0; i < 4; i++) sources.push((await capped.login(`user${i}`, "pw")).body.source);
    // Unless the minute turned between logins, exactly two fit under the cap.
    assert.ok(sources.filter((s) => s === "provisional").length >= 2);
    assert.ok(sources.includes("policy"), sources.join(","));
  } finally {
    await capped.close();
  }
});

test("the whole fail-open cycle: down, admit, back, re-verify, disconnect exactly the invalid one", async () => {
  const persist = fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-auth-"));
  const t = await setup({}, { persist });
  try {
    await t.login("alice", USERS.alice);
    await waitFor(() => t.cached("alice"), { what: "alice cached" });

    t.origin.mode = "down";
    const a = await t.login("alice", USERS.alice, "se-1", 50001);
    const b = await t.login("bob", USERS.bob, "se-1", 50002);
    const m = await t.login("mallory", "mallory-made-this-up", "se-2", 50003);
    assert.deepEqual([a.body.source, b.body.source, m.body.source], ["cache", "provisional", "provisional"]);
    assert.ok([a, b, m].every((r) => r.body.decision === "allow"));

    const pending = await t.edge.admin("GET", "/v1/admin/sessions");
    assert.equal(pending.status, 200);
    assert.deepEqual(pending.body.sessions.map((s) => s.username).sort(), ["alice", "bob", "mallory"]);
    assert.ok(!JSON.stringify(pending.body).includes("secret-pw"));

    // Passwords are sealed, not stored: no plaintext in any byte of KV or Durable Object storage.
    const scan = (dir) =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? scan(path.join(dir, e.name)) : [fs.readFileSync(path.join(dir, e.name))],
      );
    const everything = Buffer.concat(scan(persist));
    // The scan does see the ledger's rows: usernames are stored (they are not secret).
    assert.notEqual(everything.indexOf("mallory"), -1, "the scan reaches Durable Object storage");
    for (const pw of [USERS.alice, USERS.bob, "mallory-made-this-up"]) {
      assert.equal(everything.indexOf(pw), -1, `plaintext password found in storage`);
    }

    // Nothing to disconnect yet.
    assert.deepEqual((await t.edge.heartbeat("se-2")).body.disconnect, []);

    t.origin.mode = "up";
    await t.edge.round(minute(0));

    assert.deepEqual((await t.edge.admin("GET", "/v1/admin/sessions")).body.sessions, [], "sealed passwords are gone");
    assert.deepEqual((await t.edge.heartbeat("se-1")).body.disconnect, []);
    const hb = await t.edge.heartbeat("se-2");
    assert.equal(hb.body.disconnect.length, 1);
    assert.deepEqual(hb.body.disconnect[0], {
      session_id: m.body.session_id,
      username: "mallory",
      client_ip: "203.0.113.50",
      client_port: 50003,
      reason: "re-verification failed: the origin rejected the credentials",
    });
    // Un-acked: delivered again.
    assert.equal((await t.edge.heartbeat("se-2")).body.disconnect.length, 1);
    // Only the owning server can ack, and a foreign path is refused.
    assert.equal((await t.edge.signed("se-1", "POST", "/v1/servers/se-2/disconnects/ack", { session_ids: [m.body.session_id] })).status, 403);
    const ack = await t.edge.signed("se-2", "POST", "/v1/servers/se-2/disconnects/ack", { session_ids: [m.body.session_id] });
    assert.equal(ack.status, 200);
    assert.equal(ack.body.removed, 1);
    assert.deepEqual((await t.edge.heartbeat("se-2")).body.disconnect, []);

    // bob, unknown before, is now cached: the next outage admits him from the cache.
    await waitFor(() => t.cached("bob"), { what: "bob cached after re-verification" });
    t.origin.mode = "down";
    await new Promise((r) => setTimeout(r, 50));
    const again = await t.login("bob", USERS.bob);
    assert.ok(["cache"].includes(again.body.source), again.body.source);
  } finally {
    await t.close();
    fs.rmSync(persist, { recursive: true, force: true });
  }
});

test("an ended session leaves the ledger; offline admissions are recorded and re-verified", async () => {
  const t = await setup();
  try {
    t.origin.mode = "500";
    const s = await t.login("bob", USERS.bob);
    // Another server cannot end it (and so pull it out of re-verification).
    const foreign = await t.edge.signed("se-2", "POST", "/v1/sessions/end", { session_id: s.body.session_id });
    assert.equal(foreign.body.ended, false);
    assert.equal((await t.edge.admin("GET", "/v1/admin/sessions")).body.sessions.length, 1);
    const end = await t.edge.signed("se-1", "POST", "/v1/sessions/end", { session_id: s.body.session_id });
    assert.equal(end.status, 200);
    assert.equal(end.body.ended, true);
    assert.deepEqual((await t.edge.admin("GET", "/v1/admin/sessions")).body.sessions, []);
    assert.equal((await t.edge.signed("se-1", "POST", "/v1/sessions/end", { session_id: s.body.session_id })).body.ended, false);

    const admitted = Math.floor(Date.now() / 1000) - 60;
    const off = await t.edge.signed("se-2", "POST", "/v1/sessions/offline", {
      sessions: [
        { username: "carol", password: USERS.carol, client_ip: "198.51.100.9", client_port: 1234, admitted_at: admitted },
        { username: "eve", password: "eve-guess", client_ip: "198.51.100.10", client_port: 1235, admitted_at: admitted },
      ],
    });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.recorded, 2);
    const pending = (await t.edge.admin("GET", "/v1/admin/sessions")).body.sessions;
    assert.deepEqual(pending.map((p) => [p.username, p.source, p.server_id]), [["carol", "offline", "se-2"], ["eve", "offline", "se-2"]]);

    t.origin.mode = "up";
    await t.edge.round(minute(0));
    const list = (await t.edge.heartbeat("se-2")).body.disconnect;
    assert.deepEqual(list.map((d) => d.username), ["eve"]);
    assert.equal(list[0].session_id, off.body.session_ids[1]);
  } finally {
    await t.close();
  }
});

test("a cache flush is an epoch bump: old entries no longer admit", async () => {
  const t = await setup();
  try {
    await t.login("alice", USERS.alice);
    await waitFor(() => t.cached("alice"), { what: "cache entry" });
    assert.equal((await t.edge.admin("POST", "/v1/admin/cache/flush", undefined, "wrong")).status, 401);
    const flush = await t.edge.admin("POST", "/v1/admin/cache/flush");
    assert.equal(flush.status, 200);
    assert.equal(flush.body.epoch, 1);
    t.origin.mode = "500";
    assert.equal((await t.login("alice", USERS.alice)).body.source, "provisional");
  } finally {
    await t.close();
  }
});

test("bad auth requests are 4xx with the field named; unsigned ones 401", async () => {
  const t = await setup();
  try {
    const base = { username: "alice", password: "pw", client_ip: "203.0.113.5", client_port: 5000 };
    const cases = [
      ["username", { username: "" }],
      ["username", { username: "x".repeat(257) }],
      ["username", { username: "a\u0000b" }],
      ["password", { password: "" }],
      ["password", { password: "p".repeat(1025) }],
      ["password", { password: "line\nbreak" }],
      ["password", { password: 42 }],
      ["client_ip", { client_ip: "999.1.1.1" }],
      ["client_port", { client_port: 0 }],
      ["client_port", { client_port: 70000 }],
      ["client_port", { client_port: "80" }],
    ];
    for (const [field, patch] of cases) {
      const r = await t.edge.auth("se-1", { ...base, ...patch });
      assert.equal(r.status, 400, `${field} ${JSON.stringify(patch).slice(0, 40)}`);
      assert.match(r.body.error.message, new RegExp("`" + field + "`"));
      assert.ok(!JSON.stringify(r.body).includes("p".repeat(50)), "the password is never echoed");
    }
    const missing = await t.edge.auth("se-1", { username: "alice" });
    assert.equal(missing.status, 400);
    const unsigned = await t.edge.json("/v1/auth", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(base) });
    assert.equal(unsigned.status, 401);
    const badSig = await t.edge.signed("se-1", "POST", "/v1/auth", base, { signature: "00".repeat(32) });
    assert.equal(badSig.status, 401);
    assert.equal(t.origin.requests.length, 0, "nothing reached the origin");
  } finally {
    await t.close();
  }
});
