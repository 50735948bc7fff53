// Errors raised inside a Durable Object reach the HTTP edge with their status and code
// (README, "Errors"): `ApiError.code` is one serde enum on both sides of the Worker↔object
// hop, so no code is lost to a hand-kept list on the way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge } from "./harness.mjs";

const now = () => Math.floor(Date.now() / 1000);

test("SessionLedger: offline admissions without SESSION_KEY are 503 not_configured", async () => {
  // No SESSION_KEY: the ledger cannot seal the passwords it must keep for re-verification.
  const edge = await startEdge({});
  try {
    assert.equal((await edge.registerServer("se-1")).status, 201);
    const r = await edge.signed("se-1", "POST", "/v1/sessions/offline", {
      sessions: [{ username: "carol", password: "pw", client_ip: "198.51.100.9", client_port: 1234, admitted_at: now() - 60 }],
    });
    assert.equal(r.status, 503, JSON.stringify(r.body));
    assert.equal(r.body.error.code, "not_configured");
    assert.match(r.body.error.message, /SESSION_KEY/);
    assert.doesNotMatch(JSON.stringify(r.body), /"pw"/);
  } finally {
    await edge.close();
  }
});

test("PoolRegistry: a heartbeat not newer than the last is 401 replayed from inside the pool", async () => {
  const edge = await startEdge({});
  try {
    assert.equal((await edge.registerServer("se-1")).status, 201);
    const ts = now();
    assert.equal((await edge.heartbeat("se-1", { clients: 1 }, { ts })).status, 200);
    const older = await edge.heartbeat("se-1", { clients: 1 }, { ts: ts - 1 });
    assert.equal(older.status, 401, JSON.stringify(older.body));
    assert.equal(older.body.error.code, "replayed");
    assert.match(older.body.error.message, /not newer/);
  } finally {
    await edge.close();
  }
});

test("FleetIndex speaks its op enum: {op: countries} answers the sorted countries; an unknown op is an error body", async () => {
  const edge = await startEdge({});
  try {
    assert.equal((await edge.registerServer("se-1")).status, 201);
    assert.equal((await edge.registerServer("de-1", { country: "de" })).status, 201);
    const ns = await edge.mf.getDurableObjectNamespace("FLEET_INDEX");
    const index = ns.get(ns.idFromName("fleet"));
    const ask = async (body) => {
      const res = await index.fetch("https://do/", { method: "POST", body: JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    };
    assert.deepEqual(await ask({ op: "countries" }), { status: 200, body: ["de", "se"] });
    assert.deepEqual(await ask({ op: "get", id: "de-1" }), { status: 200, body: { country: "de" } });
    const unknown = await ask({ op: "drop_everything" });
    assert.equal(unknown.status, 500);
    assert.equal(unknown.body.error.code, "internal");
  } finally {
    await edge.close();
  }
});
