// Issue 10.5 (the /v1/auth part) and 10.6 as the attacks that worked: during an outage one
// captured signed /v1/auth with a wrong password, replayed 5 times, locked the real user
// out; so did 5 wrong passwords from anyone, even with the user's right password cached.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setup, USERS, waitFor } from "./auth-setup.mjs";

const pair = (r) => [r.body.decision, r.body.source];

async function degradedWithAlice(extra = {}) {
  const t = await setup(extra, { persist: true });
  await t.login("alice", USERS.alice);
  await waitFor(() => t.cached("alice"), { what: "alice cached" });
  t.origin.mode = "down";
  return t;
}

test("attack: a captured wrong-password request replayed 6 times gets the same answer and counts once", async () => {
  const t = await degradedWithAlice();
  try {
    const body = { username: "alice", password: "wrong-guess", client_ip: "203.0.113.50", client_port: 41000 };
    const ts = Math.floor(Date.now() / 1000);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push((await t.edge.signed("se-1", "POST", "/v1/auth", body, { ts })).body);
    assert.ok(answers.every((a) => JSON.stringify(a) === JSON.stringify(answers[0])), JSON.stringify(answers));
    assert.deepEqual([answers[0].decision, answers[0].source], ["deny", "cache"]);
    // The replays counted nothing: alice from the same address is still served.
    await t.restart(); // and the memory of it is stored, not kept by an isolate
    t.origin.mode = "down";
    for (let i = 0; i < 6; i++) await t.edge.signed("se-1", "POST", "/v1/auth", body, { ts });
    assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["allow", "cache"]);
  } finally {
    await t.close();
  }
});

test("attack: a replayed provisional admission takes one cap slot and one ledger record", async () => {
  const t = await setup({ PROVISIONAL_PER_MINUTE: "2" });
  try {
    t.origin.mode = "down";
    const body = { username: "dave", password: "dave-pw", client_ip: "203.0.113.60", client_port: 42000 };
    const ts = Math.floor(Date.now() / 1000);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await t.edge.signed("se-1", "POST", "/v1/auth", body, { ts })).body);
    assert.ok(answers.every((a) => a.source === "provisional" && a.session_id === answers[0].session_id), JSON.stringify(answers));
    assert.equal((await t.sessions()).length, 1, "recorded once");
    // The second slot of this minute is still free (unless the minute turned, which frees it too).
    assert.equal((await t.login("erin", "erin-pw")).body.source, "provisional");
    assert.equal((await t.sessions()).length, 2);
  } finally {
    await t.close();
  }
});

test("attack: 5 wrong passwords from one address lock that address only; the user's own address is still served", async () => {
  const t = await degradedWithAlice();
  try {
    const attacker = "198.51.100.66";
    for (let i = 0; i < 5; i++) assert.deepEqual(pair(await t.login("alice", `guess-${i}`, { ip: attacker })), ["deny", "cache"]);
    assert.deepEqual(pair(await t.login("alice", USERS.alice, { ip: attacker })), ["deny", "lockout"]);
    await t.restart(); // the lockout is stored
    t.origin.mode = "down";
    assert.deepEqual(pair(await t.login("alice", USERS.alice, { ip: attacker })), ["deny", "lockout"]);
    assert.deepEqual(pair(await t.login("alice", USERS.alice, { ip: "203.0.113.50" })), ["allow", "cache"]);
  } finally {
    await t.close();
  }
});

test("LOCKOUT_USER_MAX failures across addresses lock the username everywhere", async () => {
  const t = await degradedWithAlice({ LOCKOUT_USER_MAX: "8" });
  try {
    // 4 wrong from each of two addresses: neither address reaches 5, the username reaches 8.
    for (const ip of ["198.51.100.1", "198.51.100.2"]) {
      for (let i = 0; i < 4; i++) assert.deepEqual(pair(await t.login("alice", `guess-${ip}-${i}`, { ip })), ["deny", "cache"]);
    }
    assert.deepEqual(pair(await t.login("alice", USERS.alice, { ip: "203.0.113.50" })), ["deny", "lockout"]);
    assert.deepEqual(pair(await t.login("bob", USERS.bob, { ip: "203.0.113.50" })), ["allow", "provisional"], "only that username");
  } finally {
    await t.close();
  }
});
