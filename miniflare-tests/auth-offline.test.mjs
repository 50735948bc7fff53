// Issue 10.4 as the attacks that worked: one bad item (a username with U+0085, an
// admitted_at of 0 or a day ahead) rejected the whole offline report forever, and one
// signed report of 100 guesses was a bulk password oracle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { minute } from "./harness.mjs";
import { setup, USERS, waitFor } from "./auth-setup.mjs";

const nowS = () => Math.floor(Date.now() / 1000);
const item = (username, password, extra = {}) => ({
  username,
  password,
  client_ip: "198.51.100.9",
  client_port: 1234,
  admitted_at: nowS() - 60,
  ...extra,
});

test("attack: one poisoned item no longer blocks the report; each bad item is named by index", async () => {
  const t = await setup();
  try {
    t.origin.mode = "down"; // kept pending until the round below
    const r = await t.edge.signed("se-2", "POST", "/v1/sessions/offline", {
      sessions: [
        item("carol", USERS.carol),
        item("u\u0085x", "pw"),
        item("eve", "eve-guess", { admitted_at: 0 }),
        item("eve", "eve-guess", { admitted_at: nowS() + 86_400 }),
        item("eve", "eve-guess", { admitted_at: nowS() - 25 * 3600 }),
        item("dave", "dave-guess", { admitted_at: nowS() + 30, client_port: 1240 }),
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.recorded.map((x) => x.index), [0, 5]);
    assert.deepEqual(r.body.rejected.map((x) => x.index), [1, 2, 3, 4]);
    assert.match(r.body.rejected[0].error, /sessions\[1\]\.username/);
    assert.match(r.body.rejected[1].error, /sessions\[2\]\.admitted_at.*older/);
    assert.match(r.body.rejected[2].error, /sessions\[3\]\.admitted_at.*future/);
    assert.match(r.body.rejected[3].error, /sessions\[4\]\.admitted_at.*older/);
    assert.ok(!JSON.stringify(r.body).includes("eve-guess"), "passwords are never echoed");
    const pending = await t.sessions();
    assert.deepEqual(pending.map((p) => [p.username, p.source, p.server_id, p.state]).sort(), [
      ["carol", "offline", "se-2", "pending_reverification"],
      ["dave", "offline", "se-2", "pending_reverification"],
    ]);
    assert.deepEqual(pending.map((p) => p.session_id).sort(), r.body.recorded.map((x) => x.session_id).sort());
    // Each seal's data key is in KV for CACHE_MAX_AGE_DAYS (30 by default), no longer.
    const keys = (await (await t.edge.mf.getKVNamespace("CREDENTIALS")).list({ prefix: "seal:" })).keys;
    assert.deepEqual(keys.map((k) => k.name).sort(), r.body.recorded.map((x) => `seal:${x.session_id}`).sort());
    for (const k of keys) {
      const days = (k.expiration * 1000 - Date.now()) / 86_400_000;
      assert.ok(days > 29.9 && days <= 30, `${k.name} expires in ${days} days`);
    }

    t.origin.mode = "up";
    // Two minutes on: past the 30 s backoff of the report's own (failed) run, whatever the second now.
    await t.edge.round(minute(2));
    // The round's re-verification may still be finishing when it returns: poll the list.
    const listed = await waitFor(async () => {
      const d = (await t.edge.heartbeat("se-2")).body.disconnect;
      return d.length ? d : null;
    }, { what: "dave on se-2's disconnect list" });
    assert.deepEqual(listed.map((d) => [d.username, d.reason]), [["dave", "rejected"]]);
  } finally {
    await t.close();
  }
});

test("attack: 100 guesses in one report record 3, reject 97, and lock the guessed user out", async () => {
  const t = await setup();
  try {
    await t.login("alice", USERS.alice);
    t.origin.mode = "down"; // the report arrives during the outage
    const guesses = Array.from({ length: 100 }, (_, i) => item("alice", i === 57 ? USERS.alice : `guess-${i}`, { client_port: 2000 + i }));
    const r = await t.edge.signed("se-1", "POST", "/v1/sessions/offline", { sessions: guesses });
    assert.equal(r.status, 200);
    assert.equal(r.body.recorded.length, 3, "at most 3 pending per username per server");
    assert.equal(r.body.rejected.length, 97);
    assert.ok(r.body.rejected.every((x) => /at most 3 offline sessions/.test(x.error)));
    // The extras counted as failures toward alice's lockout: during an outage even her
    // right password from that address is refused (lockout), and from anywhere once
    // LOCKOUT_USER_MAX is passed.
    const locked = await t.login("alice", USERS.alice, { ip: "198.51.100.9" });
    assert.deepEqual([locked.body.decision, locked.body.source], ["deny", "lockout"]);
    // Re-verification judges only the 3 recorded: the oracle answers 3 guesses, not 100.
    t.origin.mode = "up";
    const before = t.origin.requests.length;
    await t.edge.round(minute(2)); // past the 30 s backoff of the report's own (failed) run
    const asked = t.origin.requests.slice(before).filter((q) => q.json?.username === "alice").length;
    assert.equal(asked, 3, "the origin judged 3 of the 100 guesses");
    // The right one is confirmed (not disconnected) only if it was among the first 3.
    assert.equal((await t.edge.heartbeat("se-1")).body.disconnect.length, 3);
  } finally {
    await t.close();
  }
});

test("the same admission reported twice (an agent's retry, signed afresh) is one session", async () => {
  const t = await setup();
  try {
    t.origin.mode = "down"; // kept pending, not re-verified at once
    const body = { sessions: [item("carol", USERS.carol), item("bob", USERS.bob, { client_port: 1300 })] };
    const first = await t.edge.signed("se-2", "POST", "/v1/sessions/offline", body, { ts: nowS() - 1 });
    const again = await t.edge.signed("se-2", "POST", "/v1/sessions/offline", body, { ts: nowS() });
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.recorded, first.body.recorded);
    assert.equal((await t.sessions()).length, 2);
  } finally {
    await t.close();
  }
});

test("per-server cap: at most 1000 offline sessions pending on one server", async () => {
  const t = await setup();
  try {
    t.origin.mode = "down"; // nothing gets re-verified meanwhile
    let recorded = 0;
    for (let batch = 0; batch < 11; batch++) {
      const sessions = Array.from({ length: 100 }, (_, i) => item(`user-${batch}-${i}`, "pw", { client_port: 1000 + i }));
      const r = await t.edge.signed("se-1", "POST", "/v1/sessions/offline", { sessions });
      assert.equal(r.status, 200);
      recorded += r.body.recorded.length;
      if (batch === 10) assert.ok(r.body.rejected.every((x) => /1000 offline sessions per server/.test(x.error)));
    }
    assert.equal(recorded, 1000);
    const other = await t.edge.signed("se-2", "POST", "/v1/sessions/offline", { sessions: [item("x", "pw")] });
    assert.equal(other.body.recorded.length, 1, "another server has its own cap");
  } finally {
    await t.close();
  }
});
