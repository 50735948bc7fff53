// LibreNMS API-transport alerts against checks at the real current time: the probers'
// alarm loop runs (2 s cycles) while alerts arrive, so the rule of README "LibreNMS" is
// exercised as it happens in production, never against rounds fired for future minutes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge, assertSortedCompactJson } from "./harness.mjs";
import { startCloudflare, startFake, startVpnHealth, waitFor } from "./fakes.mjs";

const POOL = "pool.prd.se.example.com";
const send = (edge, body, token = "nms-token") =>
  edge.json("/v1/integrations/librenms", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

test("LibreNMS: an alert (1 or 3) is a failed check of the current cycle and leaves DNS at once; a recovery is one good check", async () => {
  const hooks = await startFake("webhook");
  const cf = await startCloudflare();
  const vpn = [await startVpnHealth(), await startVpnHealth()];
  const edge = await startEdge({
    LIBRENMS_TOKEN: "nms-token",
    ALERT_WEBHOOK_URL: hooks.url,
    PROBE_MODE: "alarms",
    PROBE_INTERVAL_S: "2",
    DNS_PROVIDER: "cloudflare",
    CLOUDFLARE_ZONE_ID: "zone123",
    CLOUDFLARE_API_TOKEN: "cf-token",
    CLOUDFLARE_API_URL: cf.apiUrl,
  });
  const inDns = () => cf.pool(POOL).map((r) => r.content).sort();
  const status = async () => (await edge.json("/v1/servers/se-1")).body.status;
  try {
    await edge.registerServer("se-1", { hostname: "se1.vpn.example.com", ipv4: "198.51.100.1", probe: { kind: "http", url: vpn[0].url } });
    await edge.registerServer("se-2", { hostname: "se2.vpn.example.com", ipv4: "198.51.100.2", probe: { kind: "http", url: vpn[1].url } });
    await waitFor(() => inDns().length === 2, { timeoutMs: 20_000, what: "both servers in DNS" });

    // The API transport's body, as the README's template renders it.
    const alert = { alert_id: 17, state: 1, hostname: "SE1.vpn.example.com", severity: "critical", title: "Device down" };
    const r = await send(edge, alert);
    assert.equal(r.status, 200);
    assert.equal(r.body.matched, true);
    assert.equal(r.body.server.status, "down");
    assertSortedCompactJson(r.text); // the answer's bytes, as json! wrote them
    // Same check: DNS was reconciled before the answer, no cycle or cron in between.
    assert.deepEqual(inDns(), ["198.51.100.2"], "left DNS with the alert");
    assert.equal(await status(), "down", "visible at once");
    await waitFor(() => hooks.requests.some((q) => q.json?.event === "server_down" && q.json.server_id === "se-1"), { what: "server_down alert" });
    // The alert is one failed check, counted as DOWN_AFTER; the probes keep passing, so
    // UP_AFTER good cycles after it bring the server back.
    await waitFor(async () => (await status()) === "up", { timeoutMs: 15_000, what: "se-1 back after UP_AFTER good cycles" });
    await waitFor(() => inDns().length === 2, { what: "se-1 back in DNS" });

    // State 3 (worse) is an alert too.
    assert.equal((await send(edge, { ...alert, state: 3 })).body.server.status, "down");
    assert.deepEqual(inDns(), ["198.51.100.2"]);

    // Its own checks now fail from every region; a recovery is one good check, not UP_AFTER.
    vpn[0].failFrom = new Set(["weur", "enam", "apac"]);
    await new Promise((res) => setTimeout(res, 4_500));
    const recovered = await send(edge, { ...alert, state: 0 });
    assert.equal(recovered.body.server.status, "down", "one good check is not UP_AFTER (2)");
    await new Promise((res) => setTimeout(res, 4_500));
    assert.equal(await status(), "down", "the failing cycles after it keep it down");
    assert.deepEqual(inDns(), ["198.51.100.2"]);

    assert.equal((await send(edge, { ...alert, state: 2 })).body.ignored, true, "acknowledged: nothing to do");
    assert.equal((await send(edge, { ...alert, hostname: "switch-3.dc.example.com" })).body.matched, false);
    assert.equal((await send(edge, alert, "wrong")).status, 401);
    const bad = await send(edge, { hostname: "se1.vpn.example.com", state: 9 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /`state`/);
    assert.equal((await send(edge, "{")).status, 400);
  } finally {
    await edge.close();
    for (const v of vpn) await v.close();
    await cf.close();
    await hooks.close();
  }
});

test("LibreNMS without LIBRENMS_TOKEN is disabled, and says so", async () => {
  const edge = await startEdge();
  try {
    const r = await send(edge, { hostname: "a.example.com", state: 1 });
    assert.equal(r.status, 503);
    assert.match(r.body.error.message, /LIBRENMS_TOKEN/);
  } finally {
    await edge.close();
  }
});
