// Issue 10.2 as the attack that worked: sessions the origin cannot judge sat at the head
// of the ledger and stopped every run, so nobody admitted during an outage was ever
// disconnected. Now each is retried with its own stored backoff and, after
// REVERIFY_MAX_ATTEMPTS attempts over at least 5 minutes, disconnected (`unverifiable`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { minute } from "./harness.mjs";
import { setup, USERS, waitFor } from "./auth-setup.mjs";

const BROKEN = ["broken-1", "broken-2", "broken-3", "broken-4"];

async function outage(t) {
  t.origin.mode = "down";
  const admitted = {};
  // The ones the origin cannot judge are admitted first (the oldest, at the head).
  for (const u of BROKEN) admitted[u] = (await t.login(u, `${u}-pw`, { server: "se-2" })).body;
  admitted.mallory = (await t.login("mallory", "made-up", { server: "se-2" })).body;
  admitted.bob = (await t.login("bob", USERS.bob)).body;
  for (const [u, r] of Object.entries(admitted)) assert.equal(r.source, "provisional", u);
  for (const u of BROKEN) t.origin.broken.add(u);
  t.origin.mode = "up";
  return admitted;
}

const attemptsOf = async (t) =>
  Object.fromEntries((await t.sessions()).filter((s) => s.state === "pending_reverification").map((s) => [s.username, s.attempts]));

test("attack: sessions the origin cannot judge never stall re-verification; they end unverifiable, backoff surviving restarts", async () => {
  const base = Date.now();
  const t = await setup({}, { persist: true });
  try {
    const admitted = await outage(t);
    await t.edge.round(minute(0, base));
    // The run went past the four it could not judge: mallory out, bob confirmed.
    const d = (await t.edge.heartbeat("se-2")).body.disconnect;
    assert.deepEqual(d.map((x) => [x.username, x.reason]), [["mallory", "rejected"]]);
    assert.equal(d[0].session_id, admitted.mallory.session_id);
    assert.deepEqual(await attemptsOf(t), Object.fromEntries(BROKEN.map((u) => [u, 1])));
    assert.ok(await t.cached("bob"), "bob confirmed and cached");

    // Backoff 30 s, 60 s, 120 s, 240 s: a run before a session's time leaves it alone.
    await t.edge.round(minute(1, base));
    assert.deepEqual(Object.values(await attemptsOf(t)), [2, 2, 2, 2]);
    await t.edge.round(minute(2, base));
    assert.deepEqual(Object.values(await attemptsOf(t)), [3, 3, 3, 3]);
    await t.restart(); // the backoff is stored, not remembered by an isolate
    await t.edge.round(minute(3, base));
    assert.deepEqual(Object.values(await attemptsOf(t)), [3, 3, 3, 3], "not due before its backoff");
    await t.edge.round(minute(4, base));
    assert.deepEqual(Object.values(await attemptsOf(t)), [4, 4, 4, 4]);
    await t.restart();
    await t.edge.round(minute(8, base));
    assert.deepEqual(await attemptsOf(t), {}, "the fifth attempt, 8 minutes after the first, gives up");
    const list = (await t.edge.heartbeat("se-2")).body.disconnect;
    assert.deepEqual(
      list.map((x) => [x.username, x.reason]).sort(),
      [["mallory", "rejected"], ...BROKEN.map((u) => [u, "unverifiable"])].sort(),
    );
    assert.deepEqual(
      (await t.sessions()).map((s) => s.state),
      ["disconnect_pending", "disconnect_pending", "disconnect_pending", "disconnect_pending", "disconnect_pending"],
    );
  } finally {
    await t.close();
  }
});

test("while the origin is down for everyone, no attempt counts: nobody is given up", async () => {
  const base = Date.now();
  const t = await setup();
  try {
    await outage(t);
    t.origin.mode = "500";
    for (const m of [0, 1, 2, 4, 8, 16, 32]) await t.edge.round(minute(m, base));
    const pending = await t.sessions();
    assert.equal(pending.length, 6);
    assert.ok(pending.every((s) => s.state === "pending_reverification" && s.attempts === 0), JSON.stringify(pending));
    assert.deepEqual((await t.edge.heartbeat("se-2")).body.disconnect, []);
  } finally {
    await t.close();
  }
});

test("REVERIFY_MAX_ATTEMPTS is honoured (and the 5-minute span still holds)", async () => {
  const base = Date.now();
  const t = await setup({ REVERIFY_MAX_ATTEMPTS: "2" });
  try {
    await outage(t);
    await t.edge.round(minute(0, base));
    await t.edge.round(minute(1, base));
    assert.deepEqual(Object.values(await attemptsOf(t)), [2, 2, 2, 2], "two attempts but only 1 minute apart");
    await t.edge.round(minute(5, base));
    assert.deepEqual(await attemptsOf(t), {});
    const list = (await t.edge.heartbeat("se-2")).body.disconnect;
    assert.equal(list.filter((x) => x.reason === "unverifiable").length, 4);
  } finally {
    await t.close();
  }
});

test("a re-verification asked for while a run waits on the origin is not lost: the run goes round again", async () => {
  const base = Date.now();
  const t = await setup({ ORIGIN_TIMEOUT_MS: "3000" });
  try {
    t.origin.mode = "down";
    assert.equal((await t.login("mallory", "made-up", { server: "se-2" })).body.source, "provisional");
    // Minute 0's round starts a run that hangs on the origin until its 3 s timeout ...
    t.origin.mode = "hang";
    const seen = t.origin.requests.length;
    const first = t.edge.round(minute(0, base));
    await waitFor(() => t.origin.requests.length > seen, { what: "the first run asking the origin" });
    // ... and the origin is back while it waits: minute 2's round asks again mid-run.
    t.origin.mode = "up";
    await t.edge.round(minute(2, base));
    await first;
    const listed = await waitFor(async () => {
      const d = (await t.edge.heartbeat("se-2")).body.disconnect;
      return d.length ? d : null;
    }, { timeoutMs: 10_000, what: "mallory on se-2's disconnect list without another round" });
    assert.deepEqual(listed.map((d) => [d.username, d.reason]), [["mallory", "rejected"]]);
  } finally {
    await t.close();
  }
});
