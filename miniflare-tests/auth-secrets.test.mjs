// Passwords at rest and in logs (README "Auth when the origin fails"): every byte of KV and
// Durable Object storage, and everything the Worker printed, scanned for each password in
// UTF-8, UTF-16, hex and base64, before and after re-verification; the sealed passwords
// themselves gone from storage once judged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { minute } from "./harness.mjs";
import { setup, USERS, bytesUnder, findPassword, waitFor } from "./auth-setup.mjs";

const PASSWORDS = [USERS.alice, USERS.bob, "mallory-made-this-up!", "x".repeat(129)];

test("no password at rest or in the Worker's output, in any encoding; sealed passwords gone once judged", async () => {
  const t = await setup({}, { persist: true });
  try {
    await t.login("alice", USERS.alice);
    await waitFor(() => t.cached("alice"), { what: "alice cached" });
    await t.login("mallory", "x".repeat(129)); // origin 422
    t.origin.mode = "down";
    const a = await t.login("alice", USERS.alice);
    const b = await t.login("bob", USERS.bob);
    const m = await t.login("mallory", "mallory-made-this-up!", { server: "se-2" });
    assert.deepEqual([a, b, m].map((r) => r.body.source), ["cache", "provisional", "provisional"]);
    await t.edge.signed("se-2", "POST", "/v1/sessions/offline", {
      sessions: [{ username: "carol", password: USERS.carol, client_ip: "198.51.100.9", client_port: 9, admitted_at: Math.floor(Date.now() / 1000) - 5 }],
    });
    for (const r of [a, b, m]) assert.ok(!JSON.stringify(r.body).includes("secret"));

    await t.restart(); // flushes what the runtime holds to its files
    const before = bytesUnder(t.persist);
    assert.notEqual(before.indexOf("mallory"), -1, "the scan reaches the ledger's rows (usernames are stored)");
    for (const pw of [...PASSWORDS, USERS.carol]) assert.deepEqual(findPassword(before, pw), [], `password at rest before re-verification`);
    // Each sealed password's data key (KV `seal:<session>`): without it the sealed bytes a
    // storage engine keeps after a delete (SQLite's WAL, point-in-time recovery) cannot be
    // opened, even with SESSION_KEY.
    const kv = await t.edge.mf.getKVNamespace("CREDENTIALS");
    const sealKeys = (await kv.list({ prefix: "seal:" })).keys.map((k) => k.name);
    assert.equal(sealKeys.length, 4, "one per pending session");
    const dataKeys = await Promise.all(sealKeys.map((k) => kv.get(k)));
    for (const dk of dataKeys) assert.notEqual(before.indexOf(dk), -1, "the scan sees the data keys at rest");
    t.origin.mode = "up";
    await t.edge.round(minute(0));
    assert.deepEqual((await t.sessions()).filter((s) => s.state === "pending_reverification"), []);
    await t.restart();
    const after = bytesUnder(t.persist);
    for (const pw of [...PASSWORDS, USERS.carol]) assert.deepEqual(findPassword(after, pw), [], `password at rest after re-verification`);
    const kvAfter = await t.edge.mf.getKVNamespace("CREDENTIALS");
    assert.deepEqual((await kvAfter.list({ prefix: "seal:" })).keys, []);
    const left = dataKeys.filter((dk) => after.indexOf(dk) !== -1 || after.indexOf(Buffer.from(dk, "hex")) !== -1);
    assert.deepEqual(left, [], "every sealed password's data key is gone from every byte of storage");
    const printed = Buffer.from(t.logs.join(""), "utf8");
    for (const pw of [...PASSWORDS, USERS.carol]) assert.deepEqual(findPassword(printed, pw), [], "password in the Worker's output");
  } finally {
    await t.close();
  }
});

test("the Worker's output is captured (the scan above can fail)", async () => {
  const t = await setup({ TEST_FAULTS: "ledger" });
  try {
    t.origin.mode = "down";
    await t.login("bob", USERS.bob);
    await waitFor(() => t.logs.join("").includes("session ledger"), { what: "an error line from the Worker" });
  } finally {
    await t.close();
  }
});
