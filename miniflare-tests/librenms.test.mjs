import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge, minute } from "./harness.mjs";
import { startFake, waitFor } from "./fakes.mjs";

const send = (edge, body, token = "nms-token") =>
  edge.json("/v1/integrations/librenms", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

test("LibreNMS: an alert marks a server down at once; a recovery is one good observation", async () => {
  const hooks = await startFake("webhook");
  const edge = await startEdge({ LIBRENMS_TOKEN: "nms-token", ALERT_WEBHOOK_URL: hooks.url });
  try {
    const base = Date.now();
    await edge.registerServer("se-1", { hostname: "se1.vpn.example.com" });
    await edge.heartbeat("se-1");
    await edge.round(minute(0, base));
    await edge.round(minute(1, base));
    assert.equal((await edge.json("/v1/servers/se-1")).body.status, "up");

    // The API transport's body, as the README's template renders it.
    const alert = { alert_id: 17, state: 1, hostname: "SE1.vpn.example.com", severity: "critical", title: "Device down", ts: "2026-11-25 12:00:00" };
    const r = await send(edge, alert);
    assert.equal(r.status, 200);
    assert.equal(r.body.matched, true);
    assert.equal(r.body.server.status, "down");
    assert.equal((await edge.json("/v1/servers/se-1")).body.status, "down", "visible at once");
    await waitFor(() => hooks.requests.some((q) => q.json?.event === "server_down"), { what: "server_down alert" });

    const recovered = await send(edge, { ...alert, state: 0 });
    assert.equal(recovered.body.server.status, "down", "one good observation is not UP_AFTER");
    assert.equal((await send(edge, { ...alert, state: 2 })).body.ignored, true, "acknowledged: nothing to do");
    assert.equal((await send(edge, { ...alert, hostname: "switch-3.dc.example.com" })).body.matched, false);

    assert.equal((await send(edge, alert, "wrong")).status, 401);
    const bad = await send(edge, { hostname: "se1.vpn.example.com", state: 9 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /`state`/);
    assert.equal((await send(edge, "{")).status, 400);
  } finally {
    await edge.close();
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
