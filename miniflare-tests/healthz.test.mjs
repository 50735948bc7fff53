import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge } from "./harness.mjs";

test("healthz reports ok and which features are enabled", async () => {
  const edge = await startEdge({ ORIGIN_AUTH_URL: "https://origin.example/auth", ORIGIN_API_TOKEN: "t" });
  try {
    const r = await edge.json("/healthz");
    assert.equal(r.status, 200);
    assert.equal(r.body.status, "ok");
    const admin = r.body.features.find((f) => f.feature === "admin_api");
    assert.equal(admin.enabled, true);
    const auth = r.body.features.find((f) => f.feature === "auth");
    assert.deepEqual(auth.missing, []);
  } finally {
    await edge.close();
  }
});

test("healthz: without an origin, auth is closed and the edge is misconfigured", async () => {
  const edge = await startEdge();
  try {
    const r = await edge.json("/healthz");
    assert.equal(r.body.status, "misconfigured");
    assert.deepEqual(r.body.problems.map((p) => p.name), ["ORIGIN_AUTH_URL", "ORIGIN_API_TOKEN"]);
    const auth = r.body.features.find((f) => f.feature === "auth");
    assert.deepEqual(auth.missing, ["ORIGIN_AUTH_URL", "ORIGIN_API_TOKEN"]);
  } finally {
    await edge.close();
  }
});

test("healthz names a malformed secret without revealing it", async () => {
  const edge = await startEdge({ SESSION_KEY: "dG9vLXNob3J0LXNlY3JldA==", DOWN_AFTER: "lots" });
  try {
    const r = await edge.json("/healthz");
    assert.equal(r.body.status, "misconfigured");
    assert.deepEqual(r.body.problems.map((p) => p.name).sort(), ["DOWN_AFTER", "ORIGIN_API_TOKEN", "ORIGIN_AUTH_URL", "SESSION_KEY"]);
    const text = JSON.stringify(r.body);
    assert.ok(!text.includes("dG9vLXNob3J0LXNlY3JldA=="));
    assert.ok(!text.includes("test-admin-token"));
    assert.ok(!text.includes("test-fleet-secret"));
  } finally {
    await edge.close();
  }
});

test("a missing ADMIN_TOKEN disables only the admin API, and says so", async () => {
  const edge = await startEdge({ ADMIN_TOKEN: "" });
  try {
    const r = await edge.registerServer("se-1");
    assert.equal(r.status, 503);
    assert.equal(r.body.error.code, "not_configured");
    assert.match(r.body.error.message, /ADMIN_TOKEN/);
    assert.equal((await edge.json("/v1/servers")).status, 200);
  } finally {
    await edge.close();
  }
});
