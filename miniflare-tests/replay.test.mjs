// Replays of state-changing signed requests, tried as an attacker who captured one would:
// each is accepted once per signature (`401 replayed` after), the memory survives a
// restart of the runtime, and it forgets signatures once the clock window refuses them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge, sign } from "./harness.mjs";
import { waitFor } from "./fakes.mjs";

const SESSION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const now = () => Math.floor(Date.now() / 1000);

async function setup(opts = {}) {
  // No origin configured: offline admissions stay pending, so the ledger can be counted.
  const edge = await startEdge({ SESSION_KEY }, opts);
  await edge.registerServer("se-1");
  await edge.registerServer("se-2");
  return edge;
}

/** One captured request: the exact bytes and headers, to send again as they were. */
function capture(serverId, target, body, ts = now()) {
  const raw = JSON.stringify(body);
  return {
    target,
    raw,
    headers: {
      "content-type": "application/json",
      "x-edge-server": serverId,
      "x-edge-timestamp": String(ts),
      "x-edge-signature": sign(serverId, "POST", target, raw, ts),
    },
  };
}

const send = (edge, c, headers = {}) => edge.json(c.target, { method: "POST", headers: { ...c.headers, ...headers }, body: c.raw });
const pending = async (edge) => (await edge.admin("GET", "/v1/admin/sessions")).body.sessions;

function offlineReport() {
  const admitted = now() - 60;
  return {
    sessions: [
      { username: "carol", password: "carol-guess", client_ip: "198.51.100.9", client_port: 1234, admitted_at: admitted },
      { username: "dave", password: "dave-guess", client_ip: "198.51.100.10", client_port: 1235, admitted_at: admitted },
    ],
  };
}

test("a replayed offline report is refused and records nothing twice", async () => {
  const edge = await setup();
  try {
    const c = capture("se-1", "/v1/sessions/offline", offlineReport());
    const first = await send(edge, c);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.recorded.length, 2);
    assert.equal((await pending(edge)).length, 2);

    for (const [what, headers] of [
      ["the same bytes", {}],
      ["the signature in upper case", { "x-edge-signature": c.headers["x-edge-signature"].toUpperCase() }],
      ["the signature padded", { "x-edge-signature": ` ${c.headers["x-edge-signature"]} ` }],
      ["the timestamp zero-padded", { "x-edge-timestamp": "0" + c.headers["x-edge-timestamp"] }],
    ]) {
      const again = await send(edge, c, headers);
      assert.equal(again.status, 401, what);
      assert.equal(again.body.error.code, "replayed", what);
    }
    assert.equal((await pending(edge)).length, 2, "the replays recorded nothing");

    // The server itself signs afresh (a new timestamp) and is served. (Other admissions: the
    // same ones again would be the same sessions, their ids deriving from the admission.)
    const other = offlineReport();
    for (const s of other.sessions) s.admitted_at -= 5;
    const fresh = await send(edge, capture("se-1", "/v1/sessions/offline", other, now() + 1));
    assert.equal(fresh.status, 200);
    assert.equal((await pending(edge)).length, 4);
  } finally {
    await edge.close();
  }
});

test("a replayed session end and disconnect ack are refused", async () => {
  const edge = await setup();
  try {
    const ids = (await send(edge, capture("se-1", "/v1/sessions/offline", offlineReport()))).body.recorded.map((r) => r.session_id);
    const end = capture("se-1", "/v1/sessions/end", { session_id: ids[0] });
    assert.deepEqual((await send(edge, end)).body, { ended: true });
    const replayedEnd = await send(edge, end);
    assert.equal(replayedEnd.status, 401);
    assert.equal(replayedEnd.body.error.code, "replayed");

    const ack = capture("se-1", "/v1/servers/se-1/disconnects/ack", { session_ids: [ids[1]] });
    assert.equal((await send(edge, ack)).status, 200);
    const replayedAck = await send(edge, ack);
    assert.equal(replayedAck.status, 401);
    assert.equal(replayedAck.body.error.code, "replayed");

    // Signatures are the signer's: the same body signed by another server is its own request.
    const other = await send(edge, capture("se-2", "/v1/sessions/end", { session_id: ids[0] }));
    assert.equal(other.status, 200);
  } finally {
    await edge.close();
  }
});

test("two copies of one request sent at once: exactly one is accepted", async () => {
  const edge = await setup();
  try {
    const c = capture("se-1", "/v1/sessions/offline", offlineReport());
    const answers = await Promise.all([send(edge, c), send(edge, c), send(edge, c)]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401, 401]);
    assert.equal((await pending(edge)).length, 2);
  } finally {
    await edge.close();
  }
});

test("the memory of used signatures survives a restart of the runtime", async () => {
  const edge = await setup({ restartable: true });
  try {
    const c = capture("se-1", "/v1/sessions/offline", offlineReport());
    assert.equal((await send(edge, c)).status, 200);
    // A new runtime over the same storage: every object starts with empty memory.
    await edge.restart();
    const again = await send(edge, c);
    assert.equal(again.status, 401);
    assert.equal(again.body.error.code, "replayed");
    assert.equal((await pending(edge)).length, 2);
  } finally {
    await edge.close();
  }
});

test("used signatures are forgotten once the clock window refuses them", async () => {
  const edge = await setup();
  try {
    const ns = await edge.mf.getDurableObjectNamespace("REPLAY");
    const guard = ns.get(ns.idFromName("se-1"));
    const remembered = async () => (await (await guard.fetch("https://do/size", { method: "POST", body: "{}" })).json()).remembered;

    // Signed 115 s ago: still inside the window, remembered for the 10 s margin past it.
    const old = now() - 115;
    for (let i = 0; i < 5; i++) {
      const r = await send(edge, capture("se-1", "/v1/sessions/end", { session_id: "a".repeat(32) + i }, old));
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    assert.equal(await remembered(), 5);
    // Nothing else happens on this server; its object's alarm deletes them all.
    await waitFor(async () => (await remembered()) === 0, { timeoutMs: 40_000, intervalMs: 500, what: "forgotten signatures" });
    // By then the old signature is refused for its timestamp anyway.
    const late = await send(edge, capture("se-1", "/v1/sessions/end", { session_id: "a".repeat(32) + 0 }, old));
    assert.equal(late.status, 401);
    assert.equal(late.body.error.code, "unauthorized");
  } finally {
    await edge.close();
  }
});

test("without FLEET_SECRET every server route answers 503 not_configured", async () => {
  const edge = await startEdge({ FLEET_SECRET: "", SESSION_KEY });
  try {
    for (const [target, body] of [
      ["/v1/auth", { username: "u", password: "p", client_ip: "203.0.113.5", client_port: 1 }],
      ["/v1/servers/se-1/heartbeat", { clients: 1 }],
      ["/v1/servers/se-1/disconnects/ack", { session_ids: [] }],
      ["/v1/sessions/end", { session_id: "a".repeat(32) }],
      ["/v1/sessions/offline", offlineReport()],
    ]) {
      // Signed with the secret the servers were provisioned with: still nothing to check it against.
      const r = await send(edge, capture("se-1", target, body));
      assert.equal(r.status, 503, target);
      assert.equal(r.body.error.code, "not_configured", target);
      assert.match(r.body.error.message, /FLEET_SECRET/);
    }
    const health = (await edge.json("/healthz")).body;
    assert.deepEqual(health.features.find((f) => f.feature === "server_api"), { feature: "server_api", enabled: false, missing: ["FLEET_SECRET"] });
  } finally {
    await edge.close();
  }
});
