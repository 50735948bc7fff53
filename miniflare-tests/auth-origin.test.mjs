// Issue 10.1 and 10.8 as the attacks that worked: an origin's 4xx opened the door (the
// edge took it for an outage), and an edge without an origin admitted everyone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startFake } from "./fakes.mjs";
import { setup, USERS, waitFor } from "./auth-setup.mjs";

const pair = (r) => [r.body.decision, r.body.source];

test("attack: a password over 128 characters (origin 422) is denied, never provisional, and opens no breaker", async () => {
  const t = await setup();
  try {
    const long = "x".repeat(129);
    for (let i = 0; i < 4; i++) {
      const r = await t.login(`stranger${i}`, long);
      assert.deepEqual(pair(r), ["deny", "origin"], `attempt ${i}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.reason, "origin_refused");
    }
    assert.equal(t.origin.requests.length, 4, "every attempt reached the origin: no breaker opened");
    // An unknown user right after is judged by the origin, not admitted provisionally.
    assert.deepEqual(pair(await t.login("mallory", "short-guess")), ["deny", "origin"]);
    assert.equal(t.origin.requests.length, 5);
    assert.deepEqual((await t.edge.admin("GET", "/v1/admin/sessions")).body.sessions, [], "nothing recorded");
  } finally {
    await t.close();
  }
});

test("attack: an origin that rate-limits (429) denies, and other users are still judged by it", async () => {
  const t = await setup({}, { origin: { rateLimit: { max: 3, windowMs: 60_000 } } });
  try {
    for (let i = 0; i < 3; i++) assert.deepEqual(pair(await t.login("bob", `guess-${i}`)), ["deny", "origin"]);
    for (let i = 0; i < 3; i++) {
      const r = await t.login("bob", `guess-more-${i}`);
      assert.deepEqual(pair(r), ["deny", "origin"], "a 429 is the origin's answer, not an outage");
    }
    assert.deepEqual(pair(await t.login("bob", USERS.bob)), ["deny", "origin"], "rate-limited by the origin: denied");
    assert.deepEqual(pair(await t.login("carol", USERS.carol)), ["allow", "origin"], "no breaker: carol is judged");
    assert.equal(t.origin.requests.length, 8);
  } finally {
    await t.close();
  }
});

for (const mode of ["401", "403", "302"]) {
  test(`an origin answering ${mode} (the edge's token or URL is wrong): deny, alert origin_misconfigured, /healthz says so`, async () => {
    const hook = await startFake("webhook");
    const t = await setup({ ALERT_WEBHOOK_URL: `${hook.url}/hook` });
    try {
      assert.equal((await t.edge.json("/healthz")).body.status, "ok");
      t.origin.mode = mode;
      for (let i = 0; i < 3; i++) {
        const r = await t.login("alice", USERS.alice);
        assert.deepEqual(pair(r), ["deny", "origin"]);
        assert.equal(r.body.reason, "origin_token_rejected");
      }
      assert.equal(t.origin.requests.length, 3, "not an outage: no breaker");
      const alert = await waitFor(() => hook.requests.find((r) => r.json?.event === "origin_misconfigured"), { what: "alert" });
      assert.ok(!JSON.stringify(alert.json).includes("origin-token"), "the token is never sent");
      assert.equal(hook.requests.filter((r) => r.json?.event === "origin_misconfigured").length, 1, "one alert, not one per login");
      const h = await waitFor(async () => {
        const r = await t.edge.json("/healthz");
        return r.body.status === "misconfigured" && r;
      }, { what: "healthz misconfigured" });
      assert.deepEqual(h.body.problems.map((p) => p.name), ["ORIGIN_API_TOKEN"]);
      assert.ok(!JSON.stringify(h.body).includes("origin-token"));
      // Fixed: the next judged login clears it.
      t.origin.mode = "up";
      assert.deepEqual(pair(await t.login("alice", USERS.alice)), ["allow", "origin"]);
      await waitFor(async () => (await t.edge.json("/healthz")).body.status === "ok", { what: "healthz ok again" });
    } finally {
      await t.close();
      await hook.close();
    }
  });
}

for (const [what, extra] of [
  ["ORIGIN_AUTH_URL", { ORIGIN_AUTH_URL: "" }],
  ["ORIGIN_API_TOKEN", { ORIGIN_API_TOKEN: "" }],
  ["ORIGIN_AUTH_URL", { ORIGIN_AUTH_URL: "not-a-url" }],
]) {
  test(`attack: without a usable ${what}, every login is denied (auth_not_configured) and /healthz is misconfigured`, async () => {
    const t = await setup(extra);
    try {
      for (const [u, p] of [["alice", USERS.alice], ["mallory", "anything"]]) {
        const r = await t.login(u, p);
        assert.equal(r.status, 200);
        assert.deepEqual([...pair(r), r.body.reason], ["deny", "policy", "auth_not_configured"]);
      }
      assert.equal(t.origin.requests.length, 0);
      assert.deepEqual((await t.edge.admin("GET", "/v1/admin/sessions")).body.sessions, [], "nothing admitted");
      const h = await t.edge.json("/healthz");
      assert.equal(h.body.status, "misconfigured");
      assert.ok(h.body.problems.some((p) => p.name === what), JSON.stringify(h.body.problems));
    } finally {
      await t.close();
    }
  });
}
