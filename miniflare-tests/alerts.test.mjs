import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge, minute } from "./harness.mjs";
import { startFake, startOrigin, waitFor } from "./fakes.mjs";

const SESSION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

test("origin down and up are announced once each", async () => {
  const hooks = await startFake("webhook");
  const origin = await startOrigin({ alice: "pw" });
  const edge = await startEdge({
    ORIGIN_AUTH_URL: origin.url,
    ORIGIN_API_TOKEN: "origin-token",
    ORIGIN_TIMEOUT_MS: "300",
    CRED_PEPPER: "p",
    SESSION_KEY,
    ALERT_WEBHOOK_URL: hooks.url,
  });
  try {
    await edge.registerServer("se-1");
    const login = () => edge.auth("se-1", { username: "alice", password: "pw", client_ip: "192.0.2.7", client_port: 4000 });
    origin.mode = "500";
    for (let i = 0; i < 4; i++) await login();
    await waitFor(() => hooks.requests.some((r) => r.json?.event === "origin_down"), { what: "origin_down" });
    origin.mode = "up";
    await edge.round(minute(0));
    await waitFor(() => hooks.requests.some((r) => r.json?.event === "origin_up"), { what: "origin_up" });
    await edge.round(minute(1));
    await new Promise((r) => setTimeout(r, 200));
    const events = hooks.requests.map((r) => r.json?.event).filter((e) => e?.startsWith("origin"));
    assert.deepEqual(events, ["origin_down", "origin_up"]);
    // The probe the round sent carries no real user's credentials.
    assert.ok(origin.requests.some((r) => r.json?.username === "vpn-edge-health-probe"));
  } finally {
    await edge.close();
    await origin.close();
    await hooks.close();
  }
});

test("a webhook that never answers does not stop the round", async () => {
  const hooks = await startFake("webhook");
  hooks.fallback = { hang: true };
  const edge = await startEdge({ ALERT_WEBHOOK_URL: hooks.url });
  try {
    const base = Date.now();
    await edge.registerServer("se-1");
    await edge.heartbeat("se-1");
    await edge.round(minute(0, base));
    const started = Date.now();
    // se-1 comes up: an alert to a hanging webhook. Miniflare's scheduled() resolves only
    // once waitUntil settles (the alert's 5 s timeout), so watch the round's effects while
    // it is still pending: they must all be there well before the webhook gives up.
    let settled = 0;
    const round = edge.round(minute(1, base)).then(() => (settled = Date.now()));
    await waitFor(async () => (await edge.json("/v1/servers/se-1")).body.status === "up", { intervalMs: 50, what: "se-1 up" });
    const upAfter = Date.now() - started;
    assert.ok(upAfter < 4_000, `the round published after ${upAfter} ms`);
    assert.equal(settled, 0, "the alert was still hanging when the round's work was done");
    await round;
    assert.ok(settled - started >= 4_500, `the alert's timeout (5 s) ran out after ${settled - started} ms`);
    await waitFor(() => hooks.requests.length > 0, { what: "the alert attempt" });
    assert.equal((await edge.json("/v1/sla/current")).body.observed_minutes >= 1, true);
  } finally {
    await edge.close();
    await hooks.close();
  }
});
