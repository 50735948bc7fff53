import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge, minute } from "./harness.mjs";
import { startCloudflare } from "./fakes.mjs";

const status = async (edge, id) => (await edge.json(`/v1/servers/${id}`)).body.status;

test("hysteresis: up after UP_AFTER good minutes, down after DOWN_AFTER bad ones", async () => {
  const edge = await startEdge();
  const base = Date.now();
  try {
    await edge.registerServer("se-1");
    await edge.heartbeat("se-1");
    await edge.round(minute(0, base));
    assert.equal(await status(edge, "se-1"), "down", "one good minute is not enough");
    // The same minute again, twice: still one minute.
    await edge.round(minute(0, base));
    await edge.round(new Date(minute(0, base).getTime() + 30_000));
    assert.equal(await status(edge, "se-1"), "down", "rounds in one minute count once");
    await edge.round(minute(1, base));
    assert.equal(await status(edge, "se-1"), "up");

    // Heartbeats stop: from minute 3 on they are older than 90 s.
    await edge.round(minute(3, base));
    await edge.round(minute(4, base));
    assert.equal(await status(edge, "se-1"), "up", "two bad minutes are not enough");
    const loadWhileStale = (await edge.json("/v1/servers/se-1")).body.load;
    assert.equal(loadWhileStale, null, "load is unknown once heartbeats stop");
    await edge.round(minute(5, base));
    assert.equal(await status(edge, "se-1"), "down");
  } finally {
    await edge.close();
  }
});

test("a late round for an older minute changes nothing", async () => {
  const edge = await startEdge();
  const base = Date.now();
  try {
    await edge.registerServer("se-1");
    await edge.heartbeat("se-1");
    await edge.round(minute(0, base));
    await edge.round(minute(1, base));
    assert.equal(await status(edge, "se-1"), "up");
    for (const m of [-5, -4, -3]) await edge.round(minute(m, base - 10 * 60_000));
    assert.equal(await status(edge, "se-1"), "up");
  } finally {
    await edge.close();
  }
});

test("maintenance servers are neither up nor down, and come back with their state", async () => {
  const edge = await startEdge();
  const base = Date.now();
  try {
    await edge.registerServer("se-1", { maintenance: true });
    await edge.heartbeat("se-1");
    await edge.round(minute(0, base));
    await edge.round(minute(1, base));
    assert.equal(await status(edge, "se-1"), "maintenance");
    assert.deepEqual((await edge.json("/v1/recommendations")).body.servers, []);
    const countries = (await edge.json("/v1/countries")).body.countries;
    assert.equal(countries[0].up, 0);
    await edge.registerServer("se-1", { maintenance: false });
    assert.equal(await status(edge, "se-1"), "up", "hysteresis kept observing during maintenance");
  } finally {
    await edge.close();
  }
});

test("many servers across pools are judged in one round", async () => {
  const edge = await startEdge();
  const base = Date.now();
  try {
    const countries = ["se", "de", "nl", "us", "jp"];
    for (let i = 0; i < 40; i++) {
      assert.equal((await edge.registerServer(`s-${i}`, { country: countries[i % 5] })).status, 201);
    }
    for (let i = 0; i < 40; i += 2) await edge.heartbeat(`s-${i}`);
    await edge.round(minute(0, base));
    await edge.round(minute(1, base));
    const servers = (await edge.json("/v1/servers")).body.servers;
    assert.equal(servers.length, 40);
    assert.equal(servers.filter((s) => s.status === "up").length, 20);
    assert.ok(servers.filter((s) => s.status === "up").every((s) => Number(s.id.slice(2)) % 2 === 0));
  } finally {
    await edge.close();
  }
});

test("one failing pool keeps its servers' last published state; the other pools are judged", async () => {
  const cf = await startCloudflare();
  // Real current minutes only (no round ahead of a heartbeat): one check per state change and
  // the shortest staleness, so the test waits one minute boundary and 30 s at most.
  const edge = await startEdge(
    {
      DNS_PROVIDER: "cloudflare",
      CLOUDFLARE_API_URL: cf.apiUrl,
      CLOUDFLARE_ZONE_ID: "zone123",
      CLOUDFLARE_API_TOKEN: "cf-token",
      UP_AFTER: "1",
      DOWN_AFTER: "1",
      HEARTBEAT_STALE_S: "30",
    },
    { restartable: true },
  );
  const dns = (cc) => cf.pool(`pool.prd.${cc}.example.com`).filter((r) => r.comment === "vpn-edge").map((r) => r.content).sort();
  const statuses = async () => Object.fromEntries((await edge.json("/v1/servers")).body.servers.map((s) => [s.id, s.status]));
  const observed = async () => (await edge.json("/v1/sla/current")).body.observed_minutes;
  try {
    // In each pool one server keeps beating (so no pool is frozen with nothing up) and one stops.
    const ips = { "se-1": "192.0.2.11", "se-2": "192.0.2.12", "de-1": "192.0.2.21", "de-2": "192.0.2.22" };
    for (const [id, ipv4] of Object.entries(ips)) {
      assert.equal((await edge.registerServer(id, { country: id.slice(0, 2), ipv4 })).status, 201);
      await edge.heartbeat(id);
    }
    const stoppedAt = Date.now();
    const first = new Date();
    await edge.round(first);
    assert.deepEqual(await statuses(), { "de-1": "up", "de-2": "up", "se-1": "up", "se-2": "up" });
    assert.deepEqual(dns("se"), ["192.0.2.11", "192.0.2.12"]);
    assert.deepEqual(dns("de"), ["192.0.2.21", "192.0.2.22"]);

    // Redeploy with se's pool object failing its round operation.
    await edge.restart({ bindings: { TEST_FAULTS: "pool:se" } });
    const sla = await observed();
    // se-2 and de-2 stop beating: wait until their last heartbeat is stale, in a later minute.
    const nextMinute = Math.floor(first.getTime() / 60_000) * 60_000 + 60_000;
    const until = Math.max(stoppedAt + 31_000, nextMinute + 1_000);
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
    await edge.heartbeat("se-1");
    await edge.heartbeat("de-1");
    await edge.round(new Date());

    assert.deepEqual(
      await statuses(),
      { "de-1": "up", "de-2": "down", "se-1": "up", "se-2": "up" },
      "de is judged; se's servers keep their last published state",
    );
    assert.deepEqual(dns("de"), ["192.0.2.21"], "de-2 leaves DNS");
    assert.deepEqual(dns("se"), ["192.0.2.11", "192.0.2.12"], "se's records stay");
    assert.equal(await observed(), sla + 1, "the round went on to record its SLA minute");
  } finally {
    await edge.close();
    await cf.close();
  }
});
