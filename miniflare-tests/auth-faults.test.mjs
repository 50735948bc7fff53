// Fallbacks when our own storage fails, through the test-only TEST_FAULTS switch (honoured
// only when the TEST_FAULTS var is set, which production never does and /healthz would
// report): the session ledger, the AuthGuard, the credential cache's KV and the seals' data keys.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, USERS, waitFor } from "./auth-setup.mjs";
import { minute } from "./harness.mjs";

const pair = (r) => [r.body.decision, r.body.source, r.body.reason];

test("an admission the ledger cannot record is denied (cache match and provisional alike)", async () => {
  const cached = await setup({ CACHE_REFRESH_S: "60" });
  let entry;
  try {
    await cached.login("alice", USERS.alice);
    entry = await waitFor(() => cached.cached("alice"), { what: "alice cached" });
  } finally {
    await cached.close();
  }
  const t = await setup({ TEST_FAULTS: "ledger" });
  try {
    const kv = await t.edge.mf.getKVNamespace("CREDENTIALS");
    await kv.put("cred:" + (await import("node:crypto")).createHash("sha256").update("alice").digest("hex"), JSON.stringify(entry));
    t.origin.mode = "down";
    assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["deny", "policy", "not_recorded"]);
    assert.deepEqual(pair(await t.login("bob", USERS.bob)), ["deny", "policy", "not_recorded"]);
    assert.equal((await t.edge.json("/healthz")).body.problems.some((p) => p.name === "TEST_FAULTS"), true, "the switch is visible");
  } finally {
    await t.close();
  }
});

test("the AuthGuard down: the cap is unknown, so provisional admissions are refused; a cache match is still served", async () => {
  const t = await setup({ TEST_FAULTS: "guard" });
  try {
    await t.login("alice", USERS.alice);
    await waitFor(() => t.cached("alice"), { what: "alice cached" });
    t.origin.mode = "down";
    assert.deepEqual(pair(await t.login("bob", USERS.bob)), ["deny", "policy", "cap_unavailable"]);
    assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["allow", "cache", "cache_matched"]);
    assert.deepEqual(pair(await t.login("alice", "wrong")), ["deny", "cache", "cache_mismatch"]);
  } finally {
    await t.close();
  }
});

test("the credential cache's KV down: origin up still answers, degraded logins are provisional (recorded, re-verified)", async () => {
  const t = await setup({ TEST_FAULTS: "kv" });
  try {
    assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["allow", "origin", "origin_accepted"]);
    t.origin.mode = "down";
    assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["allow", "provisional", "provisional"]);
    assert.equal((await t.sessions()).length, 1);
  } finally {
    await t.close();
  }
});

test("a seal's data key the store cannot read: the session is neither disconnected at once nor left admitted; it is judged once the store answers", async () => {
  const base = Date.now();
  const t = await setup({}, { persist: true });
  try {
    t.origin.mode = "down";
    assert.equal((await t.login("mallory", "made-up")).body.source, "provisional");
    t.origin.mode = "up";
    await t.edge.restart({ bindings: { TEST_FAULTS: "sealkeys" } });
    await t.edge.round(minute(0, base));
    // An error on our side: one attempt counted (so it cannot last for ever), no verdict.
    assert.deepEqual(
      (await t.sessions()).map((s) => [s.username, s.state, s.attempts]),
      [["mallory", "pending_reverification", 1]],
    );
    assert.deepEqual((await t.edge.heartbeat("se-1")).body.disconnect, []);
    await t.edge.restart({ bindings: { TEST_FAULTS: "" } });
    await t.edge.round(minute(1, base));
    const d = (await t.edge.heartbeat("se-1")).body.disconnect;
    assert.deepEqual(d.map((x) => [x.username, x.reason]), [["mallory", "rejected"]]);
  } finally {
    await t.close();
  }
});
