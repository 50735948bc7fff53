import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge, ADMIN_TOKEN, minute } from "./harness.mjs";
import { startFake, waitFor } from "./fakes.mjs";

const at = (iso) => new Date(iso);

test("rounds are recorded per minute: twice in a minute counts once; month boundaries split", async () => {
  const edge = await startEdge();
  try {
    // One server that never sends a heartbeat: every round it fails, so every minute is down.
    await edge.registerServer("se-1");
    await edge.round(at("2026-10-31T23:58:00Z"));
    await edge.round(at("2026-10-31T23:59:00Z"));
    await edge.round(at("2026-10-31T23:59:00Z"));
    await edge.round(at("2026-10-31T23:59:40Z"));
    await edge.round(at("2026-11-01T00:00:05Z"));

    const oct = await edge.json("/v1/sla/2026-10");
    assert.equal(oct.status, 200);
    assert.equal(oct.body.month, "2026-10");
    assert.equal(oct.body.minutes, 44_640);
    assert.equal(oct.body.observed_minutes, 2);
    assert.equal(oct.body.downtime_minutes, 2);
    assert.equal(oct.body.unknown_minutes, 44_638);
    assert.equal(oct.body.allowance_minutes, 223.2);
    assert.equal(oct.body.credit_minutes, 0);
    assert.equal(oct.body.credit.status, "pending");
    assert.equal(oct.headers.get("cache-control"), "public, max-age=15");

    const nov = await edge.json("/v1/sla/2026-11");
    assert.equal(nov.body.observed_minutes, 1);
    assert.equal(nov.body.downtime_minutes, 1);
  } finally {
    await edge.close();
  }
});

test("the SLA judges raw checks, not hysteresis; maintenance and empty fleets are not downtime", async () => {
  const edge = await startEdge();
  try {
    // Rounds at the real current minute and after it (never before the heartbeat: a round
    // for a minute that ended before a heartbeat arrived does not count it).
    const base = Date.now();
    const month = new Date(minute(0, base)).toISOString().slice(0, 7);
    await edge.round(minute(-1, base)); // no server registered: unknown
    await edge.registerServer("se-1");
    await edge.heartbeat("se-1");
    await edge.round(minute(0, base)); // passes, though hysteresis still says down
    await edge.registerServer("se-1", { maintenance: true });
    await edge.round(minute(1, base));
    const r = (await edge.json(`/v1/sla/${month}`)).body;
    assert.equal(r.observed_minutes, 3);
    assert.equal(r.downtime_minutes, 0);
    assert.equal(r.maintenance_minutes, 1);
  } finally {
    await edge.close();
  }
});

test("months are validated; a month without data is all unknown; current is month-to-date", async () => {
  const edge = await startEdge();
  try {
    for (const m of ["2026-13", "26-01", "1999-12", "2099-01", "abc"]) {
      const r = await edge.json(`/v1/sla/${m}`);
      assert.equal(r.status, 400, m);
      assert.match(r.body.error.message, /`month`/);
    }
    const empty = (await edge.json("/v1/sla/2025-02")).body;
    assert.equal(empty.minutes, 40_320);
    assert.equal(empty.unknown_minutes, 40_320);
    assert.equal(empty.observed_minutes, 0);
    assert.equal(empty.availability_pct, 100);

    const current = (await edge.json("/v1/sla/current")).body;
    const now = new Date();
    assert.equal(current.month, `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`);
    assert.equal(current.credit.status, "not_due");
    assert.ok(current.elapsed_minutes > 0 && current.elapsed_minutes <= current.minutes);
  } finally {
    await edge.close();
  }
});

test("a credit API answering 500, 500, 200 gets exactly three identical calls; nothing after", async () => {
  const billing = await startFake("billing");
  billing.answer({ status: 500, raw: "upstream sad" }, { status: 500, raw: "still sad" }, { status: 201, body: { ok: true } });
  const edge = await startEdge({ CREDIT_API_URL: `${billing.url}/credits`, CREDIT_API_TOKEN: "billing-token", CREDIT_RETRY_BASE_S: "1" });
  try {
    await edge.registerServer("se-1");
    // 220 down minutes in September 2026 (30 days: allowance 216) → excess 4 → credit 8.
    const start = Date.parse("2026-09-10T00:00:00Z");
    for (let i = 0; i < 220; i++) await edge.round(new Date(start + i * 60_000));

    const before = (await edge.json("/v1/sla/2026-09")).body;
    assert.equal(before.downtime_minutes, 220);
    assert.equal(before.credit_minutes, 8);

    await edge.dailyCredits(at("2026-11-25T00:05:00Z"));
    const issued = await waitFor(async () => {
      const r = (await edge.json("/v1/sla/2026-09")).body;
      return r.credit.status === "issued" && r;
    }, { what: "credit issued" });
    assert.equal(issued.credit.attempts, 3);
    assert.ok(issued.credit.issued_at);

    assert.equal(billing.requests.length, 3);
    for (const r of billing.requests) {
      assert.equal(r.method, "POST");
      assert.equal(r.url, "/credits");
      assert.equal(r.headers.authorization, "Bearer billing-token");
      assert.equal(r.headers["idempotency-key"], "sla-2026-09");
      assert.deepEqual(r.json, { month: "2026-09", credit_minutes: 8, downtime_minutes: 220, availability_pct: 99.491 });
    }

    // Months without downtime (August, October) were issued without a call.
    assert.equal((await edge.json("/v1/sla/2026-10")).body.credit.status, "issued");
    assert.equal((await edge.json("/v1/sla/2026-08")).body.credit.status, "issued");

    // A restart of the daily cron, and an operator's trigger, send nothing more.
    await edge.dailyCredits(at("2026-11-26T00:05:00Z"));
    const byHand = await edge.admin("POST", "/v1/admin/sla/2026-09/credit");
    assert.equal(byHand.status, 200);
    assert.equal(byHand.body.credit.status, "issued");
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(billing.requests.length, 3);
  } finally {
    await edge.close();
    await billing.close();
  }
});

test("a credit the billing API rejects is marked failed; the operator's trigger retries it", async () => {
  const billing = await startFake("billing");
  billing.answer({ status: 401, body: { error: "bad token" } });
  const edge = await startEdge({ CREDIT_API_URL: billing.url, CREDIT_API_TOKEN: "wrong", CREDIT_RETRY_BASE_S: "1" });
  try {
    await edge.registerServer("se-1");
    const start = Date.parse("2026-10-01T00:00:00Z");
    for (let i = 0; i < 230; i++) await edge.round(new Date(start + i * 60_000));
    await edge.dailyCredits(at("2026-11-25T00:05:00Z"));
    const failed = await waitFor(async () => {
      const r = (await edge.json("/v1/sla/2026-10")).body;
      return r.credit.status === "failed" && r;
    }, { what: "credit failed" });
    assert.match(failed.credit.last_error, /HTTP 401/);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(billing.requests.length, 1, "a rejected credit is not retried by itself");

    billing.answer({ status: 200, body: {} });
    const retry = await edge.admin("POST", "/v1/admin/sla/2026-10/credit");
    assert.equal(retry.status, 200);
    assert.equal(retry.body.credit.status, "issued");
    assert.equal(billing.requests.length, 2);
    assert.equal(billing.requests[1].json.credit_minutes, 2 * Math.ceil(230 - 223.2));
  } finally {
    await edge.close();
    await billing.close();
  }
});

test("the credit trigger needs the admin token and a closed month", async () => {
  const edge = await startEdge();
  try {
    assert.equal((await edge.admin("POST", "/v1/admin/sla/2026-09/credit", undefined, "nope")).status, 401);
    const now = new Date();
    const current = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
    const open = await edge.admin("POST", `/v1/admin/sla/${current}/credit`);
    assert.equal(open.status, 409);
    assert.equal(open.body.error.code, "month_not_closed");
    assert.equal((await edge.admin("POST", "/v1/admin/sla/2026-13/credit")).status, 400);
  } finally {
    await edge.close();
  }
});

test("a credit API that hangs past the timeout is retried, with the same key, until it answers", async () => {
  const billing = await startFake("billing");
  billing.answer({ hang: true }, { status: 200, body: { ok: true } });
  const edge = await startEdge({ CREDIT_API_URL: billing.url, CREDIT_API_TOKEN: "t", CREDIT_RETRY_BASE_S: "1" });
  try {
    await edge.registerServer("se-1");
    const start = Date.parse("2026-10-01T00:00:00Z");
    for (let i = 0; i < 225; i++) await edge.round(new Date(start + i * 60_000));
    await edge.dailyCredits(at("2026-11-25T00:05:00Z"));
    const pending = (await edge.json("/v1/sla/2026-10")).body.credit;
    assert.deepEqual([pending.status, pending.attempts, pending.last_error], ["pending", 1, "timeout"]);
    const issued = await waitFor(async () => {
      const r = (await edge.json("/v1/sla/2026-10")).body;
      return r.credit.status === "issued" && r;
    }, { what: "credit issued after the timeout" });
    assert.equal(issued.credit.attempts, 2);
    assert.equal(billing.requests.length, 2);
    assert.deepEqual(billing.requests.map((r) => r.headers["idempotency-key"]), ["sla-2026-10", "sla-2026-10"]);
  } finally {
    await edge.close();
    await billing.close();
  }
});
