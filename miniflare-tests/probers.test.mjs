// The probers' alarm loop (README "Probers") at PROBE_INTERVAL_S=1 with three regions:
// no cron is fired unless a test says so. Fake VPN servers answer the http probe per
// region (X-Edge-Probe-Region), so a test can fail a server from some regions only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge } from "./harness.mjs";
import { startCloudflare, startVpnHealth, waitFor } from "./fakes.mjs";

const POOL = "pool.prd.se.example.com";

async function setup(extra = {}, opts = {}) {
  const cf = await startCloudflare();
  const edge = await startEdge({
    PROBE_MODE: "alarms",
    PROBE_INTERVAL_S: "1",
    DNS_PROVIDER: "cloudflare",
    CLOUDFLARE_ZONE_ID: "zone123",
    CLOUDFLARE_API_TOKEN: "cf-token",
    CLOUDFLARE_API_URL: cf.apiUrl,
    ...extra,
  }, opts);
  const servers = {};
  for (const [id, ip] of [["se-1", "198.51.100.1"], ["se-2", "198.51.100.2"], ["se-3", "198.51.100.3"]]) {
    servers[id] = await startVpnHealth();
    servers[id].ip = ip;
  }
  const close = async () => {
    await edge.close();
    for (const s of Object.values(servers)) await s.close();
    await cf.close();
  };
  return { cf, edge, servers, close };
}

const inDns = (cf) => cf.pool(POOL).map((r) => r.content).sort();
const register = (edge, servers) =>
  Promise.all(
    Object.entries(servers).map(([id, s]) => edge.registerServer(id, { ipv4: s.ip, probe: { kind: "http", url: s.url } })),
  );

test("servers enter DNS from alarm-driven checks, no cron fired; probes carry the region and user agent", async () => {
  const { cf, edge, servers, close } = await setup();
  try {
    await register(edge, servers);
    await waitFor(() => inDns(cf).length === 3, { timeoutMs: 20_000, what: "three servers in DNS" });
    assert.deepEqual(inDns(cf), ["198.51.100.1", "198.51.100.2", "198.51.100.3"]);
    const regions = new Set(servers["se-1"].seen.map((s) => s.region));
    assert.deepEqual([...regions].sort(), ["apac", "enam", "weur"]);
    assert.match(servers["se-1"].seen[0].ua, /^vpn-edge-probe\/\d+\.\d+\.\d+$/);
    const view = (await edge.json("/v1/servers/se-1")).body;
    assert.equal(view.status, "up");
    assert.deepEqual(view.checks, { apac: "pass", enam: "pass", weur: "pass" });
    assert.ok(Date.parse(view.checked_at) > Date.now() - 60_000, "time of the last cycle");
  } finally {
    await close();
  }
});

test("one failing region of three keeps a server up and in DNS; two take it out within seconds; it returns", async () => {
  const { cf, edge, servers, close } = await setup();
  try {
    await register(edge, servers);
    await waitFor(() => inDns(cf).length === 3, { timeoutMs: 20_000, what: "three servers in DNS" });
    servers["se-1"].failFrom = new Set(["weur"]);
    // Six cycles: DOWN_AFTER (3) would have been reached twice over had weur alone counted.
    await new Promise((r) => setTimeout(r, 6_000));
    assert.equal(inDns(cf).length, 3, "one region of three cannot take a server out");
    const view = (await edge.json("/v1/servers/se-1")).body;
    assert.equal(view.status, "up");

    servers["se-1"].failFrom = new Set(["weur", "enam"]);
    const failedAt = Date.now();
    await waitFor(() => !inDns(cf).includes("198.51.100.1"), { timeoutMs: 15_000, what: "se-1 out of DNS" });
    const took = Date.now() - failedAt;
    assert.ok(took < 15_000, `left DNS after ${took} ms`);
    assert.deepEqual(inDns(cf), ["198.51.100.2", "198.51.100.3"]);
    const down = (await edge.json("/v1/servers/se-1")).body;
    assert.equal(down.status, "down");
    assert.equal(down.checks.weur, "fail");
    assert.equal(down.checks.enam, "fail");
    assert.equal(down.checks.apac, "pass");

    servers["se-1"].failFrom = new Set();
    await waitFor(() => inDns(cf).includes("198.51.100.1"), { timeoutMs: 15_000, what: "se-1 back in DNS" });
  } finally {
    await close();
  }
});

test("a region that cannot probe abstains: with one of the two voters failing a server, it stays", async () => {
  // apac abstains every cycle; weur fails se-1. Were apac's abstention counted as a failed
  // vote, two of three would take se-1 out; among the two voters it is a tie, not a majority.
  const { cf, edge, servers, close } = await setup({ PROBER_FAULT: "apac:abstain" });
  try {
    await register(edge, servers);
    await waitFor(() => inDns(cf).length === 3, { timeoutMs: 20_000, what: "three servers in DNS" });
    assert.ok(!servers["se-1"].seen.some((s) => s.region === "apac"), "apac never probed");
    servers["se-1"].failFrom = new Set(["weur"]);
    await new Promise((r) => setTimeout(r, 6_000));
    assert.equal(inDns(cf).length, 3);
    const view = (await edge.json("/v1/servers/se-1")).body;
    assert.equal(view.status, "up");
    assert.equal(view.checks.apac, undefined, "an abstaining region has no verdict");
    // With enam failing too, the two voters agree.
    servers["se-1"].failFrom = new Set(["weur", "enam"]);
    await waitFor(() => !inDns(cf).includes("198.51.100.1"), { timeoutMs: 15_000, what: "se-1 out of DNS" });
  } finally {
    await close();
  }
});

test("the cron watchdog arms probers that are not running", async () => {
  // Heartbeat-kind servers do not start the probers at registration; only the watchdog does.
  const { cf, edge, close } = await setup();
  try {
    await edge.registerServer("hb-1", { ipv4: "198.51.100.9" });
    await edge.heartbeat("hb-1");
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal((await edge.json("/v1/servers/hb-1")).body.status, "down", "nothing judged without probers");
    await edge.round(new Date());
    // From here on, no cron: the alarms judge the heartbeat server every cycle.
    await waitFor(async () => (await edge.json("/v1/servers/hb-1")).body.status === "up", { timeoutMs: 15_000, what: "hb-1 up" });
    await waitFor(() => inDns(cf).includes("198.51.100.9"), { timeoutMs: 15_000, what: "hb-1 in DNS" });
  } finally {
    await close();
  }
});

test("prober and pool state survive a runtime restart: judged state, votes and the alarm loop", async () => {
  const { cf, edge, servers, close } = await setup({}, { restartable: true });
  try {
    await register(edge, servers);
    await waitFor(() => inDns(cf).length === 3, { timeoutMs: 20_000, what: "three servers in DNS" });
    const allUp = async () => (await edge.json("/v1/servers")).body.servers.every((s) => s.status === "up");
    await waitFor(allUp, { what: "public reads show them up" });
    await edge.restart();
    // Nothing in memory survived: the state comes from storage.
    const view = (await edge.json("/v1/servers/se-1")).body;
    assert.equal(view.status, "up");
    assert.deepEqual(view.checks, { apac: "pass", enam: "pass", weur: "pass" });
    // The alarm loop and its targets were stored: without any cron call, a failure from two
    // regions still takes se-1 out, and counts from where the stored hysteresis was.
    servers["se-1"].failFrom = new Set(["weur", "apac"]);
    await waitFor(() => !inDns(cf).includes("198.51.100.1"), { timeoutMs: 15_000, what: "se-1 out of DNS after restart" });
    const down = (await edge.json("/v1/servers/se-1")).body;
    assert.equal(down.status, "down");
    assert.deepEqual(down.checks, { apac: "fail", enam: "pass", weur: "fail" });
    assert.equal(edge.restarts, 1);
  } finally {
    await close();
  }
});

test("six probes at a time per prober, each cut off by the probe timeout (3/4 of the interval)", async () => {
  // One region, so one prober's window is seen alone; every server's endpoint never answers.
  const { edge, servers, close } = await setup({ PROBE_REGIONS: "weur", PROBE_INTERVAL_S: "2" });
  const extra = [];
  try {
    const hung = servers["se-1"];
    hung.hang = true;
    for (let i = 0; i < 12; i++) {
      await edge.registerServer(`hang-${i}`, { ipv4: `198.51.100.${100 + i}`, probe: { kind: "http", url: hung.url } });
    }
    await waitFor(() => hung.seen.filter((p) => p.closedAt).length >= 12, { timeoutMs: 20_000, what: "twelve probes cut off" });
    assert.equal(hung.maxInFlight, 6, "never more than six connections at once");
    const durations = hung.seen.filter((p) => p.closedAt).map((p) => p.closedAt - p.at);
    // Timeout 1,500 ms at a 2 s interval; generous bounds for a loaded machine.
    for (const d of durations) assert.ok(d >= 1_300 && d < 4_000, `probe cut off after ${d} ms`);
    const view = (await edge.json("/v1/servers/hang-0")).body;
    assert.equal(view.status, "down");
  } finally {
    for (const s of extra) await s.close();
    await close();
  }
});
