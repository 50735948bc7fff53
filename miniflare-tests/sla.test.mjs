import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startEdge, ADMIN_TOKEN, minute } from "./harness.mjs";
import { startFake, waitFor } from "./fakes.mjs";

const at = (iso) => new Date(iso);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `n` down minutes (a server that never sends a heartbeat fails every round) from `iso`. */
async function downMinutes(edge, iso, n) {
  const start = Date.parse(iso);
  for (let i = 0; i < n; i++) await edge.round(new Date(start + i * 60_000));
}

async function creditOf(edge, month) {
  return (await edge.json(`/v1/sla/${month}`)).body.credit;
}

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
    assert.equal(oct.body.measurement, "measured");
    assert.equal(oct.body.coverage_pct, 0.004, "2 of 44,640 minutes measured");
    assert.equal(oct.body.credit.status, "pending");
    assert.equal(oct.headers.get("cache-control"), "public, max-age=15");
    assert.equal(oct.headers.get("x-content-type-options"), "nosniff");

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
    const res = await edge.fetch(`/v1/sla/${month}`);
    const raw = await res.text();
    const r = JSON.parse(raw);
    assert.equal(r.observed_minutes, 3);
    assert.equal(r.downtime_minutes, 0);
    assert.equal(r.maintenance_minutes, 1);
    // Always a number with a decimal point, whether or not there was downtime.
    assert.match(raw, /"availability_pct":100\.0,/);
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
    // Before the first recorded minute: not measured, no availability figure, no credit.
    const empty = await edge.json("/v1/sla/2025-02");
    assert.equal(empty.body.minutes, 40_320);
    assert.equal(empty.body.unknown_minutes, 40_320);
    assert.equal(empty.body.observed_minutes, 0);
    assert.equal(empty.body.measurement, "not_measured");
    assert.equal(empty.body.coverage_pct, 0);
    assert.equal(empty.body.availability_pct, null);
    assert.equal(empty.body.credit, null);

    await edge.round(new Date());
    const current = (await edge.json("/v1/sla/current")).body;
    const now = new Date();
    assert.equal(current.month, `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, "0")}`);
    assert.equal(current.credit.status, "not_due");
    assert.equal(current.observed_minutes, 1);
    assert.ok(current.elapsed_minutes > 0 && current.elapsed_minutes <= current.minutes);
    assert.equal(current.coverage_pct, Math.round((1 / current.elapsed_minutes) * 100_000) / 1000);
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
    await downMinutes(edge, "2026-09-10T00:00:00Z", 220);
    await edge.round(at("2026-10-05T00:00:00Z")); // October: one down minute, within the allowance

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
      assert.equal(r.raw, '{"month":"2026-09","credit_minutes":8,"downtime_minutes":220,"availability_pct":99.491}');
    }

    // October (measured, within the allowance) was issued without a call; August, before
    // the first recorded minute, is not measured and has no credit at all.
    assert.equal((await creditOf(edge, "2026-10")).status, "issued");
    assert.equal(await creditOf(edge, "2026-08"), null);

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

test("a credit the billing API rejects is marked failed; its words reach only the operator; the trigger retries it", async () => {
  const billing = await startFake("billing");
  const secretish = "invalid api key sk_live_51HqLyjWDarjtT1zdp7dc for account acct_1032D82eZvKYlo2C";
  billing.answer({ status: 401, body: { error: secretish } });
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
    assert.deepEqual(failed.credit, { status: "failed", attempts: 1, issued_at: null });

    // The public report (JSON and the cached copy) never carries the billing API's words.
    for (const pathname of ["/v1/sla/2026-10", "/v1/sla/2026-10?x=1"]) {
      const res = await edge.fetch(pathname);
      const raw = await res.text();
      assert.ok(!raw.includes("sk_live") && !raw.includes("acct_") && !raw.includes("last_error"), raw);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    }
    // The operator's view has them, behind the admin token.
    assert.equal((await edge.admin("GET", "/v1/admin/sla/2026-10", undefined, "nope")).status, 401);
    const op = await edge.admin("GET", "/v1/admin/sla/2026-10");
    assert.equal(op.status, 200);
    assert.equal(op.headers.get("cache-control"), "no-store");
    assert.match(op.body.credit.last_error, /^HTTP 401: .*sk_live_51HqLyjWDarjtT1zdp7dc/);
    assert.equal(op.body.credit.request_body, billing.requests[0].raw);
    assert.equal(op.body.downtime_minutes, 230);

    await sleep(1500);
    assert.equal(billing.requests.length, 1, "a rejected credit is not retried by itself");

    // Late rounds for October arrive before the operator fixes the token and re-sends: the
    // re-send carries exactly the first attempt's bytes under the same key.
    await downMinutes(edge, "2026-10-20T00:00:00Z", 5);
    assert.equal((await edge.json("/v1/sla/2026-10")).body.downtime_minutes, 235);
    billing.answer({ status: 200, body: {} });
    const retry = await edge.admin("POST", "/v1/admin/sla/2026-10/credit");
    assert.equal(retry.status, 200);
    assert.equal(retry.body.credit.status, "issued");
    assert.equal(billing.requests.length, 2);
    assert.equal(billing.requests[1].json.credit_minutes, 2 * Math.ceil(230 - 223.2));
    assert.equal(billing.requests[1].raw, billing.requests[0].raw);
    assert.equal(billing.requests[1].headers["idempotency-key"], "sla-2026-10");
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
    const pending = (await edge.admin("GET", "/v1/admin/sla/2026-10")).body.credit;
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

test("late rounds between attempts, and a restart: every retry sends the first attempt's bytes", async () => {
  const billing = await startFake("billing");
  billing.answer({ status: 503, raw: "busy" });
  const bindings = { CREDIT_API_URL: billing.url, CREDIT_API_TOKEN: "t", CREDIT_RETRY_BASE_S: "8" };
  const edge = await startEdge(bindings, { restartable: true });
  try {
    await edge.registerServer("se-1");
    await downMinutes(edge, "2026-09-10T00:00:00Z", 220);
    await edge.dailyCredits(at("2026-11-25T00:05:00Z"));
    assert.equal(billing.requests.length, 1);
    const first = billing.requests[0].raw;
    assert.equal(first, '{"month":"2026-09","credit_minutes":8,"downtime_minutes":220,"availability_pct":99.491}');

    // The runtime restarts (an eviction, a deploy): memory is gone, storage is not.
    await edge.restart();
    // Late rounds for the closed month arrive before the retry.
    await downMinutes(edge, "2026-09-20T00:00:00Z", 10);
    const now = (await edge.json("/v1/sla/2026-09")).body;
    assert.deepEqual([now.downtime_minutes, now.availability_pct], [230, 99.468]);
    assert.equal(billing.requests.length, 1, "the late rounds are in before the retry");

    // The retry comes from the month's alarm, which the restart kept (no cron is fired).
    await waitFor(async () => (await creditOf(edge, "2026-09")).status === "issued", { what: "credit issued", timeoutMs: 20_000 });
    assert.equal(billing.requests.length, 2);
    assert.equal(billing.requests[1].raw, first, "byte for byte the first attempt's body");
    assert.deepEqual(billing.requests.map((r) => r.headers["idempotency-key"]), ["sla-2026-09", "sla-2026-09"]);
    const op = await edge.admin("GET", "/v1/admin/sla/2026-09");
    assert.equal(op.body.credit.request_body, first);
    assert.equal(op.body.credit.attempts, 2);
  } finally {
    await edge.close();
    await billing.close();
  }
});

test("408, 429 (Retry-After), a reset connection and 500 are retried by the alarm, backing off from CREDIT_RETRY_BASE_S to the cap", async () => {
  const billing = await startFake("billing");
  const times = [];
  const stamp = (answer) => () => (times.push(Date.now()), answer);
  billing.answer(
    stamp({ status: 408, raw: "Request Timeout", contentType: "text/plain" }),
    stamp({ status: 429, headers: { "retry-after": "3" }, body: { error: { type: "rate_limit", message: "Too many requests" } } }),
    stamp({ destroy: true }),
    stamp({ status: 500, body: { error: "internal" } }),
    stamp({ status: 200, body: { id: "cr_1" } }),
  );
  const edge = await startEdge({
    CREDIT_API_URL: billing.url, CREDIT_API_TOKEN: "t", CREDIT_RETRY_BASE_S: "1", CREDIT_RETRY_MAX_S: "4",
  });
  try {
    await edge.registerServer("se-1");
    await downMinutes(edge, "2026-10-01T00:00:00Z", 225);
    await edge.dailyCredits(at("2026-11-25T00:05:00Z"));
    const after408 = await edge.admin("GET", "/v1/admin/sla/2026-10");
    assert.deepEqual([after408.body.credit.status, after408.body.credit.attempts], ["pending", 1]);
    assert.match(after408.body.credit.last_error, /^HTTP 408/);
    assert.ok(after408.body.credit.next_attempt_at);
    await waitFor(async () => (await creditOf(edge, "2026-10")).status === "issued", { what: "credit issued", timeoutMs: 30_000 });
    assert.equal(billing.requests.length, 5);
    assert.equal(new Set(billing.requests.map((r) => r.raw)).size, 1, "the same bytes every time");
    assert.ok(billing.requests.every((r) => r.headers["idempotency-key"] === "sla-2026-10"));
    assert.equal((await creditOf(edge, "2026-10")).attempts, 5);

    // Delays: 1 s (base), 3 s (Retry-After over the 2 s backoff), 4 s (doubled), 4 s (capped,
    // not 8). Generous upper bounds: an alarm may fire late, never early.
    const gaps = times.slice(1).map((t, i) => (t - times[i]) / 1000);
    const bounds = [[0.9, 2.5], [2.9, 4.5], [3.9, 5.5], [3.9, 5.9]];
    gaps.forEach((g, i) => assert.ok(g >= bounds[i][0] && g <= bounds[i][1], `gap ${i + 1} was ${g.toFixed(2)} s, want ${bounds[i]}: ${gaps}`));
    await sleep(1500);
    assert.equal(billing.requests.length, 5, "nothing after the 2xx");
  } finally {
    await edge.close();
    await billing.close();
  }
});

test("corrupt stored credit state is reported and left as it is, never reset to a fresh pending", async () => {
  const billing = await startFake("billing");
  billing.answer({ status: 503, raw: "busy" });
  const persist = fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-sla-"));
  const bindings = { CREDIT_API_URL: billing.url, CREDIT_API_TOKEN: "t", CREDIT_RETRY_BASE_S: "3600" };
  let edge = await startEdge(bindings, { persist });
  try {
    await edge.registerServer("se-1");
    await downMinutes(edge, "2026-09-10T00:00:00Z", 220);
    await edge.dailyCredits(at("2026-11-25T00:05:00Z"));
    assert.equal(billing.requests.length, 1);
    await edge.close();

    // The disk under the ledger goes bad: the stored credit state is no longer JSON.
    const files = [];
    const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith(".sqlite") && files.push(path.join(d, e.name))));
    walk(persist);
    const sql = (file, q) => execFileSync("sqlite3", [file, q], { encoding: "utf8" }).trim();
    const ledger = files.find((f) => { try { return sql(f, "SELECT v FROM meta WHERE k = 'month'") === "2026-09"; } catch { return false; } });
    assert.ok(ledger, `no ledger of 2026-09 among ${files.length} files`);
    sql(ledger, "UPDATE meta SET v = '{\"status\":\"pend' WHERE k = 'credit'");

    edge = await startEdge(bindings, { persist });
    const report = await edge.json("/v1/sla/2026-09");
    assert.equal(report.status, 500);
    assert.match(report.body.error.message, /stored credit state of 2026-09 is unreadable; it was left as it is/);
    const byHand = await edge.admin("POST", "/v1/admin/sla/2026-09/credit");
    assert.equal(byHand.status, 500);
    await edge.dailyCredits(at("2026-11-26T00:05:00Z"));
    await sleep(300);
    assert.equal(billing.requests.length, 1, "nothing is sent from a state that cannot be read");
    await edge.close();
    edge = null;
    assert.equal(sql(ledger, "SELECT v FROM meta WHERE k = 'credit'"), '{"status":"pend', "left exactly as it was");
  } finally {
    await edge?.close();
    await billing.close();
    fs.rmSync(persist, { recursive: true, force: true });
  }
});

/**
 * Recorded cycles: a prober's report of one cycle to a country's pool (the same call the
 * probers make), judged at once with one expected region. `results`: server id → passed,
 * `null` to abstain; heartbeat-kind servers are judged from their heartbeats whatever it says.
 */
async function reportCycle(edge, country, cycle, results, lenMs = 15_000) {
  const ns = await edge.mf.getDurableObjectNamespace("POOLS");
  const res = await ns.get(ns.idFromName(country)).fetch("https://do/", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ op: "report", region: "weur", slice: 0, cycle, len_ms: lenMs, expected: ["weur"], results, now_ms: Date.now() }),
  });
  assert.equal(res.status, 200, await res.text());
}

const monthOf = (minuteNo) => new Date(minuteNo * 60_000).toISOString().slice(0, 7);

test("at check resolution a down cycle counts its length, not a whole minute: pools add up; re-recorded, restarted, still a quarter", async () => {
  const edge = await startEdge({ PROBE_MODE: "alarms", PROBE_REGIONS: "weur" }, { restartable: true });
  try {
    // Two pools, one server each; their probe URLs are dead, but only the recorded votes
    // below count: their cycles lie ahead of anything the real probers report.
    const dead = { kind: "http", url: "http://127.0.0.1:9/health" };
    await edge.registerServer("se-1", { probe: dead });
    await edge.registerServer("de-1", { country: "de", probe: dead });
    let m = Math.floor(Date.now() / 60_000) + 10;
    if (monthOf(m) !== monthOf(m + 3)) m += 15; // keep the minutes in one month
    // 15 s cycles of minute m. se-1 fails in cycles 1 and 2, de-1 only in cycle 2: cycle 1
    // had a passing server in de, so only cycle 2 is down for the fleet.
    const se = [true, false, false, true];
    const de = [true, true, false, true];
    for (let i = 0; i < 4; i++) {
      await reportCycle(edge, "se", m * 60_000 + i * 15_000, { "se-1": se[i] });
      await reportCycle(edge, "de", m * 60_000 + i * 15_000, { "de-1": de[i] });
    }
    // The watchdog round two minutes on records m (and m + 1, without a cycle: unknown).
    await edge.round(new Date((m + 2) * 60_000));
    const month = monthOf(m);
    const read = async () => {
      const res = await edge.fetch(`/v1/sla/${month}`);
      const raw = await res.text();
      return { raw, r: JSON.parse(raw) };
    };
    let { raw, r } = await read();
    assert.match(raw, /"downtime_minutes":0\.25,/, "exactly a quarter of a minute, written as 0.25");
    assert.equal(r.downtime_minutes, 0.25);
    assert.equal(r.observed_minutes, 2);
    assert.equal(r.maintenance_minutes, 0);

    // The next round records m again (its window is the last three minutes): no double count.
    await edge.round(new Date((m + 3) * 60_000));
    // The ledger keeps units, not a memory: a restart reads the same.
    await edge.restart();
    ({ raw, r } = await read());
    assert.match(raw, /"downtime_minutes":0\.25,/);
    assert.equal(r.observed_minutes, 3, "m, m + 1 and m + 2");
  } finally {
    await edge.close();
  }
});

test("a ledger written before check resolution reads as it was counted; a new fractional minute adds to it; the status page shows it", async () => {
  // A day in the past, within the status page's 90 days, away from midnight.
  const now = Date.now();
  const dayStart = Math.floor(now / 86_400_000) * 86_400_000;
  const base = (now - dayStart > 11 * 3_600_000 ? dayStart : dayStart - 86_400_000) + 10 * 3_600_000;
  const m0 = base / 60_000;
  const month = monthOf(m0);
  const day = new Date(base).toISOString().slice(0, 10);
  const edge = await startEdge({}, { restartable: true });
  try {
    // The previous release, cron mode: a server that never beats fails three rounds.
    await edge.registerServer("se-1");
    for (let i = 0; i < 3; i++) await edge.round(new Date((m0 + i) * 60_000));
    assert.equal((await edge.json(`/v1/sla/${month}`)).body.downtime_minutes, 3);
    await edge.stop();

    // Make the month's ledger what that release wrote: no down units column at all.
    const files = [];
    const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith(".sqlite") && files.push(path.join(d, e.name))));
    walk(edge.persist);
    const sql = (file, q) => execFileSync("sqlite3", [file, q], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const ledger = files.find((f) => { try { return sql(f, "SELECT v FROM meta WHERE k = 'month'") === month; } catch { return false; } });
    assert.ok(ledger, `no ledger of ${month} among ${files.length} files`);
    sql(ledger, "ALTER TABLE minutes DROP COLUMN down_units");
    assert.equal(sql(ledger, "SELECT group_concat(name) FROM pragma_table_info('minutes')"), "minute,state,total,passed,maintenance");
    assert.equal(sql(ledger, "SELECT group_concat(state) FROM minutes"), "down,down,down");

    // The upgrade, with the probers on: old rows are whole minutes, as they were counted.
    await edge.restart({ bindings: { PROBE_MODE: "alarms", PROBE_REGIONS: "weur" } });
    const before = await edge.json(`/v1/sla/${month}`);
    assert.equal(before.status, 200);
    assert.equal(before.body.downtime_minutes, 3);

    // One 15 s cycle later that day in which nothing passed (se-1 never sent a heartbeat),
    // recorded by the watchdog round two minutes on.
    const m = m0 + 10;
    await reportCycle(edge, "se", m * 60_000 + 30_000, {});
    await edge.round(new Date((m + 2) * 60_000));
    await edge.restart();
    const res = await edge.fetch(`/v1/sla/${month}`);
    const raw = await res.text();
    assert.match(raw, /"downtime_minutes":3\.25,/);
    assert.equal(JSON.parse(raw).observed_minutes, 5, "three old rows, m and the unknown m + 1");

    // The day's bar on the status page: the same digits as the API.
    const html = await (await edge.fetch("/")).text();
    const bar = html.match(new RegExp(`data-day="${day}" aria-label="([^"]*)"`));
    assert.ok(bar, `no bar for ${day}`);
    assert.match(bar[1], /: 35\.00 % available, 3\.25 min down, measured for 5 of 1,440 min$/);

    // On disk: the old rows kept no units; the new ones have theirs.
    await edge.stop();
    const rows = "SELECT group_concat(u) FROM (SELECT coalesce(down_units, 'none') AS u FROM minutes ORDER BY minute)";
    assert.equal(sql(ledger, rows), "none,none,none,25000,0");
  } finally {
    await edge.close();
  }
});
