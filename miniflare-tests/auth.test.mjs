// Auth when the origin fails (README "Auth when the origin fails"): the decision table
// against the built Worker, the cache's life cycle, the breaker, the provisional cap and
// the whole fail-open cycle. The attacks of issue 10 have their own auth-*.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { minute } from "./harness.mjs";
import { refusedUrl } from "./fakes.mjs";
import { setup, USERS, userKey, sleep, waitFor } from "./auth-setup.mjs";

const pair = (r) => [r.body.decision, r.body.source];

test("origin up: valid users are allowed and cached with a pinned PBKDF2, invalid ones denied", async () => {
  const t = await setup();
  try {
    const ok = await t.login("alice", USERS.alice);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(pair(ok), ["allow", "origin"]);
    assert.equal(ok.body.reason, "origin_accepted");
    assert.match(ok.body.session_id, /^[0-9a-f]{32}$/);
    const entry = await waitFor(() => t.cached("alice"), { what: "cache entry" });
    assert.equal(entry.iterations, 100_000, "production Workers refuse more; local workerd would not");
    assert.match(entry.salt, /^[0-9a-f]{32}$/);
    assert.match(entry.hash, /^[0-9a-f]{64}$/);
    assert.equal(t.origin.requests[0].headers.authorization, "Bearer origin-token");
    assert.deepEqual(t.origin.requests[0].json, { username: "alice", password: USERS.alice });
    // KV expiry is CACHE_MAX_AGE_DAYS (30 by default).
    const kv = await t.edge.mf.getKVNamespace("CREDENTIALS");
    const key = (await kv.list()).keys.find((k) => k.name === userKey("alice"));
    const days = (key.expiration * 1000 - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);

    assert.deepEqual(pair(await t.login("alice", "wrong")), ["deny", "origin"]);
    assert.deepEqual(pair(await t.login("mallory", "whatever")), ["deny", "origin"]);
    assert.equal(await t.cached("mallory"), null);
  } finally {
    await t.close();
  }
});

test("the cache's life cycle: not rewritten while fresh, refreshed after CACHE_REFRESH_S and after a flush, expired after CACHE_MAX_AGE_DAYS", async () => {
  const t = await setup({ CACHE_REFRESH_S: "60", CACHE_MAX_AGE_DAYS: "2" });
  const kv = await t.edge.mf.getKVNamespace("CREDENTIALS");
  try {
    await t.login("alice", USERS.alice);
    const first = await waitFor(() => t.cached("alice"), { what: "cache entry" });
    // A second login while fresh: no rewrite. carol's first login is written by the same
    // kind of waitUntil, started later; once it has landed, alice's would have too.
    await t.login("alice", USERS.alice);
    await t.login("carol", USERS.carol);
    await waitFor(() => t.cached("carol"), { what: "carol's entry (waitUntil settled)" });
    await sleep(200);
    assert.deepEqual(await t.cached("alice"), first, "a fresh entry is not rewritten");

    // Older than CACHE_REFRESH_S: the next login rewrites it (new salt, new verified_at).
    const aged = { ...first, verified_at: Date.now() - 61_000 };
    await kv.put(userKey("alice"), JSON.stringify(aged));
    await t.login("alice", USERS.alice);
    const refreshed = await waitFor(async () => {
      const e = await t.cached("alice");
      return e.verified_at > aged.verified_at && e;
    }, { what: "refresh after CACHE_REFRESH_S" });
    assert.notEqual(refreshed.salt, first.salt);

    // A flush: entries of the old epoch are rewritten by the next login.
    const flush = await t.edge.admin("POST", "/v1/admin/cache/flush");
    assert.deepEqual([flush.status, flush.body.epoch], [200, 1]);
    await t.login("alice", USERS.alice);
    const after = await waitFor(async () => {
      const e = await t.cached("alice");
      return e.epoch === 1 && e;
    }, { what: "refresh after a flush" });
    assert.equal(after.epoch, 1);

    // Older than CACHE_MAX_AGE_DAYS: not trusted while the origin is down.
    await kv.put(userKey("alice"), JSON.stringify({ ...after, verified_at: Date.now() - 2 * 86_400_000 }));
    t.origin.mode = "down";
    assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["allow", "provisional"]);
    // KV expiry follows CACHE_MAX_AGE_DAYS too.
    const key = (await kv.list()).keys.find((k) => k.name === userKey("carol"));
    const days = (key.expiration * 1000 - Date.now()) / 86_400_000;
    assert.ok(days > 1.9 && days <= 2, `expires in ${days} days`);
  } finally {
    await t.close();
  }
});

test("a stranger's wrong guesses do not evict the cache entry; a revoked password does", async () => {
  const t = await setup();
  try {
    await t.login("alice", USERS.alice);
    const entry = await waitFor(() => t.cached("alice"), { what: "cache entry" });
    for (let i = 0; i < 3; i++) assert.equal((await t.login("alice", `guess-${i}`)).body.decision, "deny");
    assert.deepEqual(await t.cached("alice"), entry, "wrong guesses leave it alone");
    t.origin.users.alice = "alice-new-pw";
    const revoked = await t.login("alice", USERS.alice);
    assert.deepEqual(pair(revoked), ["deny", "origin"]);
    assert.equal(revoked.body.reason, "origin_revoked_cached");
    assert.equal(await t.cached("alice"), null, "the revoked password's entry is gone");
  } finally {
    await t.close();
  }
});

for (const [mode, how] of [
  ["500", "answers 500"],
  ["502", "answers 502 with HTML"],
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
      assert.deepEqual(pair(r), ["allow", "provisional"]);
    } finally {
      await t.close();
    }
  });
}

test("a refused connection is unavailable too", async () => {
  const t = await setup({ ORIGIN_AUTH_URL: await refusedUrl() });
  try {
    assert.deepEqual(pair(await t.login("bob", USERS.bob)), ["allow", "provisional"]);
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

test("the circuit breaker against a hung origin: one probe per 10 s cool-down", async () => {
  const t = await setup();
  try {
    t.origin.mode = "hang";
    const started = Date.now();
    const times = [];
    // Logins every 250 ms for 14 s: two calls open the breaker, one probe ~10 s later.
    while (Date.now() - started < 14_000) {
      const r = await t.login(`u${times.length}`, "pw");
      assert.equal(r.body.source, "provisional");
      times.push(Date.now() - started);
      await sleep(250);
    }
    const calls = t.origin.requests.length;
    assert.equal(calls, 3, `two calls, then exactly one probe per cool-down (saw ${calls})`);
    assert.ok(times.length > 20, "many logins were answered meanwhile");
  } finally {
    await t.close();
  }
});

test("while degraded: cache hits, cache misses, lockout after 5 failures from one address", async () => {
  const t = await setup();
  try {
    await t.login("alice", USERS.alice);
    await waitFor(() => t.cached("alice"), { what: "cache entry" });
    t.origin.mode = "down";
    assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["allow", "cache"]);
    for (let i = 0; i < 4; i++) assert.deepEqual(pair(await t.login("alice", `nope-${i}`)), ["deny", "cache"]);
    assert.equal((await t.login("alice", USERS.alice)).body.source, "cache", "four failures do not lock");
    assert.deepEqual(pair(await t.login("alice", "nope-5")), ["deny", "cache"]);
    assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["deny", "lockout"]);
    assert.equal((await t.login("bob", USERS.bob)).body.source, "provisional", "lockout is per username");
  } finally {
    await t.close();
  }
});

test("policies: cached-only denies unknown users, closed denies everyone", async () => {
  const cachedOnly = await setup({ FAIL_OPEN_POLICY: "cached-only" });
  try {
    cachedOnly.origin.mode = "500";
    assert.deepEqual(pair(await cachedOnly.login("bob", USERS.bob)), ["deny", "policy"]);
  } finally {
    await cachedOnly.close();
  }
  const closed = await setup({ FAIL_OPEN_POLICY: "closed" });
  try {
    await closed.login("alice", USERS.alice);
    await waitFor(() => closed.cached("alice"), { what: "cache entry" });
    closed.origin.mode = "500";
    assert.deepEqual(pair(await closed.login("alice", USERS.alice)), ["deny", "policy"]);
  } finally {
    await closed.close();
  }
});

test("the provisional cap is exact and fleet-wide across servers", async () => {
  const t = await setup({ PROVISIONAL_PER_MINUTE: "3" });
  try {
    t.origin.mode = "500";
    // Retried if the UTC minute turns mid-run (the cap is per minute), from the start of a
    // fresh minute: the logins after the turn already spent some of the new minute's slots.
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 60_000 - (Date.now() % 60_000) + 50));
      const m0 = Math.floor(Date.now() / 60000);
      const sources = [];
      for (let i = 0; i < 6; i++) {
        const r = await t.login(`cap${attempt}-${i}`, "pw", { server: i % 2 ? "se-2" : "se-1" });
        sources.push(r.body.source);
      }
      if (Math.floor(Date.now() / 60000) !== m0 && attempt < 2) continue;
      assert.deepEqual(sources, ["provisional", "provisional", "provisional", "policy", "policy", "policy"]);
      break;
    }
  } finally {
    await t.close();
  }
});

test("the whole fail-open cycle: down, admit, back, re-verify, disconnect exactly the invalid one", async () => {
  const t = await setup({}, { persist: true });
  try {
    await t.login("alice", USERS.alice);
    await waitFor(() => t.cached("alice"), { what: "alice cached" });
    t.origin.mode = "down";
    const a = await t.login("alice", USERS.alice, { port: 50001 });
    const b = await t.login("bob", USERS.bob, { port: 50002 });
    const m = await t.login("mallory", "mallory-made-this-up", { server: "se-2", port: 50003 });
    assert.deepEqual([a, b, m].map((r) => r.body.source), ["cache", "provisional", "provisional"]);
    assert.ok([a, b, m].every((r) => r.body.decision === "allow"));

    const pending = await t.sessions();
    assert.deepEqual(pending.map((s) => [s.username, s.state]).sort(), [
      ["alice", "pending_reverification"],
      ["bob", "pending_reverification"],
      ["mallory", "pending_reverification"],
    ]);
    assert.deepEqual((await t.edge.heartbeat("se-2")).body.disconnect, []);

    // The runtime restarts (a deploy): what is pending survives.
    await t.restart();
    t.origin.mode = "up";
    await t.edge.round(minute(0));

    assert.deepEqual((await t.edge.heartbeat("se-1")).body.disconnect, []);
    const hb = await t.edge.heartbeat("se-2");
    assert.deepEqual(hb.body.disconnect, [
      { session_id: m.body.session_id, username: "mallory", client_ip: "203.0.113.50", client_port: 50003, reason: "rejected" },
    ]);
    assert.equal((await t.edge.heartbeat("se-2")).body.disconnect.length, 1, "un-acked: delivered again");
    assert.deepEqual((await t.sessions()).map((s) => [s.username, s.state, s.reason]), [["mallory", "disconnect_pending", "rejected"]]);

    // Acks are scoped: a foreign path is refused, and through its own path another server
    // cannot ack a session that is not its own.
    const foreign = await t.edge.signed("se-1", "POST", "/v1/servers/se-2/disconnects/ack", { session_ids: [m.body.session_id] });
    assert.equal(foreign.status, 403);
    const own = await t.edge.signed("se-1", "POST", "/v1/servers/se-1/disconnects/ack", { session_ids: [m.body.session_id] });
    assert.deepEqual([own.status, own.body.removed], [200, 0]);
    assert.equal((await t.edge.heartbeat("se-2")).body.disconnect.length, 1, "still delivered to se-2");
    const ack = await t.edge.signed("se-2", "POST", "/v1/servers/se-2/disconnects/ack", { session_ids: [m.body.session_id] });
    assert.deepEqual([ack.status, ack.body.removed], [200, 1]);
    assert.deepEqual((await t.edge.heartbeat("se-2")).body.disconnect, []);
    assert.deepEqual((await t.sessions()).map((s) => [s.username, s.state]), [["mallory", "acked"]], "visible until it is gone");
    const end = await t.edge.signed("se-2", "POST", "/v1/sessions/end", { session_id: m.body.session_id });
    assert.equal(end.body.ended, true);
    assert.deepEqual(await t.sessions(), [], "gone");

    // bob, unknown before, is now cached: the next outage admits him from the cache.
    await waitFor(() => t.cached("bob"), { what: "bob cached after re-verification" });
    t.origin.mode = "down";
    assert.deepEqual(pair(await t.login("bob", USERS.bob)), ["allow", "cache"]);
  } finally {
    await t.close();
  }
});

test("re-verification starts at once after a login in the same isolate reaches the origin", async () => {
  const t = await setup();
  try {
    t.origin.mode = "down";
    const m = await t.login("mallory", "made-up", { server: "se-2" });
    assert.equal(m.body.source, "provisional");
    await sleep(10_500); // the breaker's cool-down
    t.origin.mode = "up";
    assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["allow", "origin"]);
    // No cron round: the login started it.
    const list = await waitFor(async () => {
      const d = (await t.edge.heartbeat("se-2")).body.disconnect;
      return d.length && d;
    }, { what: "mallory on the disconnect list without a round" });
    assert.deepEqual(list.map((d) => d.session_id), [m.body.session_id]);
  } finally {
    await t.close();
  }
});

test("an ended session leaves the ledger; only its own server may end it", async () => {
  const t = await setup();
  try {
    t.origin.mode = "500";
    const s = await t.login("bob", USERS.bob);
    const foreign = await t.edge.signed("se-2", "POST", "/v1/sessions/end", { session_id: s.body.session_id });
    assert.equal(foreign.body.ended, false);
    assert.equal((await t.sessions()).length, 1);
    const end = await t.edge.signed("se-1", "POST", "/v1/sessions/end", { session_id: s.body.session_id });
    assert.deepEqual([end.status, end.body.ended], [200, true]);
    assert.deepEqual(await t.sessions(), []);
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
      ["username", { username: "a\u0085b" }],
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
    assert.equal((await t.edge.auth("se-1", { username: "alice" })).status, 400);
    const unsigned = await t.edge.json("/v1/auth", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(base) });
    assert.equal(unsigned.status, 401);
    const badSig = await t.edge.signed("se-1", "POST", "/v1/auth", base, { signature: "00".repeat(32) });
    assert.equal(badSig.status, 401);
    assert.equal(t.origin.requests.length, 0, "nothing reached the origin");
  } finally {
    await t.close();
  }
});
