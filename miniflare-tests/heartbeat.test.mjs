import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEdge } from "./harness.mjs";

let edge;
before(async () => {
  edge = await startEdge();
  await edge.registerServer("se-1");
  await edge.registerServer("se-2");
});
after(async () => edge.close());

const now = () => Math.floor(Date.now() / 1000);

test("a correctly signed heartbeat is accepted and updates load", async () => {
  const r = await edge.heartbeat("se-1", { clients: 40, capacity: 80, cpu: 12.5, bandwidth_mbps: 300, version: "2.6.9" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, "down");
  assert.deepEqual(r.body.disconnect, []);
  await edge.round();
  const s = (await edge.json("/v1/servers/se-1")).body;
  assert.equal(s.clients, 40);
  assert.equal(s.capacity, 80);
  assert.equal(s.load, 50);
  assert.ok(s.last_seen);
});

test("bad signatures, unknown servers and clock skew are 401", async () => {
  const target = "/v1/servers/se-1/heartbeat";
  const body = { clients: 1 };
  const cases = [
    ["wrong secret", { secret: "not-the-fleet-secret" }],
    ["signed by another server's key", { signAs: "se-2" }],
    ["garbage signature", { signature: "zz" }],
    // 125, not 121: the Worker reads its clock a moment after the test, and a second tick
    // between them would put 121 inside the 120 s window (the core pins the exact edge).
    ["old timestamp", { ts: now() - 125 }],
    ["future timestamp", { ts: now() + 125 }],
  ];
  for (const [name, opts] of cases) {
    const r = await edge.signed("se-1", "POST", target, body, opts);
    assert.equal(r.status, 401, name);
    assert.equal(typeof r.body.error.message, "string");
  }
  const unknown = await edge.signed("zz-9", "POST", "/v1/servers/zz-9/heartbeat", body);
  assert.equal(unknown.status, 401);
  assert.match(unknown.body.error.message, /not registered/);

  const unsigned = await edge.json(target, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.equal(unsigned.status, 401);
  assert.match(unsigned.body.error.message, /X-Edge-Server/);

  // Tampering with the body after signing.
  const ts = now() + 5;
  const good = await import("./harness.mjs").then((h) => h.sign("se-1", "POST", target, '{"clients":1}', ts));
  const tampered = await edge.json(target, {
    method: "POST",
    headers: { "content-type": "application/json", "x-edge-server": "se-1", "x-edge-timestamp": String(ts), "x-edge-signature": good },
    body: '{"clients":9}',
  });
  assert.equal(tampered.status, 401);
});

test("a server acting on another server's path is 403", async () => {
  const r = await edge.signed("se-1", "POST", "/v1/servers/se-2/heartbeat", { clients: 1 });
  assert.equal(r.status, 403);
});

test("a replayed or older heartbeat cannot keep a server alive", async () => {
  const ts = now() + 30;
  assert.equal((await edge.heartbeat("se-2", { clients: 1 }, { ts })).status, 200);
  const replay = await edge.heartbeat("se-2", { clients: 1 }, { ts });
  assert.equal(replay.status, 401);
  assert.equal(replay.body.error.code, "replayed");
  assert.equal((await edge.heartbeat("se-2", { clients: 1 }, { ts: ts - 1 })).status, 401);
  assert.equal((await edge.heartbeat("se-2", { clients: 1 }, { ts: ts + 1 })).status, 200);
});

test("heartbeat bodies are validated with the field named", async () => {
  const cases = [
    ["clients", {}],
    ["clients", { clients: -1 }],
    ["clients", { clients: "5" }],
    ["capacity", { clients: 1, capacity: 0 }],
    ["cpu", { clients: 1, cpu: 101 }],
    ["bandwidth_mbps", { clients: 1, bandwidth_mbps: -3 }],
    ["version", { clients: 1, version: "x".repeat(65) }],
  ];
  let ts = now() + 60;
  for (const [field, body] of cases) {
    ts += 1;
    const r = await edge.heartbeat("se-1", body, { ts });
    assert.equal(r.status, 400, `${field}: ${JSON.stringify(body)}`);
    assert.match(r.body.error.message, new RegExp("`" + field + "`"));
  }
  ts += 1;
  const bad = await edge.signed("se-1", "POST", "/v1/servers/se-1/heartbeat", "{oops", { ts });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, "malformed_json");
  const big = await edge.signed("se-1", "POST", "/v1/servers/se-1/heartbeat", JSON.stringify({ clients: 1, pad: "x".repeat(17000) }), { ts: ts + 1 });
  assert.equal(big.status, 413);
  const textType = await edge.signed("se-1", "POST", "/v1/servers/se-1/heartbeat", "{}", { ts: ts + 2, headers: { "content-type": "text/plain" } });
  assert.equal(textType.status, 415);
});

test("a deleted server's signature no longer works", async () => {
  await edge.registerServer("se-3");
  assert.equal((await edge.heartbeat("se-3")).status, 200);
  assert.equal((await edge.admin("DELETE", "/v1/admin/servers/se-3")).status, 204);
  const r = await edge.heartbeat("se-3");
  assert.equal(r.status, 401);
});

test("a heartbeat's capacity cannot outbid the registered one in the recommendation draw", async () => {
  // Its own edge: UP_AFTER 1, so one round at the real current minute brings both up.
  const e = await startEdge({ UP_AFTER: "1" });
  try {
    await e.registerServer("se-a", { capacity: 100 });
    await e.registerServer("se-b", { capacity: 100 });
    // The attack: claim a million slots. se-a has 10 spare of its registered 100, se-b 90.
    assert.equal((await e.heartbeat("se-a", { clients: 90, capacity: 1000000 })).status, 200);
    assert.equal((await e.heartbeat("se-b", { clients: 10 })).status, 200);
    await e.round(new Date());
    const a = (await e.json("/v1/servers/se-a")).body;
    assert.deepEqual([a.status, a.capacity, a.load], ["up", 100, 90], "the public view shows the effective capacity");
    assert.equal((await e.json("/v1/servers/se-b")).body.status, "up");

    // First pick weighted by spare capacity: se-a with p = 10/100. Over 200 draws that is
    // 20 expected (sd 4.2); at most 50 allows seven sd. Before, se-a was first in 200 of 200.
    let first = 0;
    for (let i = 0; i < 200; i++) {
      // No client position (Miniflare would otherwise fill in Austin's): the spare-capacity draw.
      const r = await e.json("/v1/recommendations?country=se&limit=2", { cf: { latitude: null, longitude: null } });
      assert.equal(r.status, 200);
      if (r.body.servers[0].id === "se-a") first += 1;
    }
    assert.ok(first <= 50, `se-a was first in ${first} of 200 draws`);
    assert.ok(first >= 3, `se-a, with spare capacity, is still drawn (${first} of 200)`);
  } finally {
    await e.close();
  }
});
