// Passwords at rest and in logs (README "Auth when the origin fails"): every byte of KV and
// Durable Object storage, and everything the Worker printed, scanned for each password in
// UTF-8, UTF-16, hex and base64, before and after re-verification; the sealed passwords
// themselves gone from storage once judged.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { minute } from "./harness.mjs";
import { setup, USERS, bytesUnder, findPassword, waitFor } from "./auth-setup.mjs";

const PASSWORDS = [USERS.alice, USERS.bob, "mallory-made-this-up!", "x".repeat(129)];

/** Runs of lowercase hex at least `n` long. */
function hexRuns(bytes, n) {
  return new Set(bytes.toString("latin1").match(new RegExp(`[0-9a-f]{${n},}`, "g")) ?? []);
}

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
    // The sealed values: nonce (12 bytes) and AES-GCM output (password + 16 bytes), stored
    // side by side as hex, the only hex runs this long in the ledger's files (ids are 32).
    const ledgerDir = path.join(t.persist, "do", fs.readdirSync(path.join(t.persist, "do")).find((d) => d.includes("SessionLedger")));
    const ledgerBytes = () => bytesUnder(ledgerDir);
    const sealedBefore = [...hexRuns(ledgerBytes(), 2 * (12 + 13 + 16))];
    assert.ok(sealedBefore.length >= 4, `the sealed passwords are found at rest (${sealedBefore.length})`);

    t.origin.mode = "up";
    await t.edge.round(minute(0));
    assert.deepEqual((await t.sessions()).filter((s) => s.state === "pending_reverification"), []);
    await t.restart();
    const after = bytesUnder(t.persist);
    for (const pw of [...PASSWORDS, USERS.carol]) assert.deepEqual(findPassword(after, pw), [], `password at rest after re-verification`);
    const left = sealedBefore.filter((h) => ledgerBytes().indexOf(h) !== -1);
    assert.deepEqual(left, [], "the sealed passwords are gone from the ledger's files");

    const printed = Buffer.from(t.logs.join(""), "utf8");
    assert.ok(t.logs.length > 0 || true);
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
