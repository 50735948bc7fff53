// The probers' alarm loop (README "Probers") at PROBE_INTERVAL_S=1 with three regions:
// no cron is fired unless a test says so. Fake VPN servers answer the http probe per
// region (X-Edge-Probe-Region), so a test can fail a server from some regions only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { startEdge } from "./harness.mjs";
import { startCloudflare, startVpnHealth, waitFor } from "./fakes.mjs";

const POOL = "pool.prd.se.example.com";

async function setup(extra = {}, opts = {}, count = 3) {
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
  for (let i = 1; i <= count; i++) {
    servers[`se-${i}`] = await startVpnHealth();
    servers[`se-${i}`].ip = `198.51.100.${i}`;
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
  // One region; every server's endpoint never answers. At 2 s a slice holds 6 servers (one
  // 1.5 s timeout fits in 3/4 of the interval), so the 12 are probed by two probers.
  const { edge, servers, close } = await setup({ PROBE_REGIONS: "weur", PROBE_INTERVAL_S: "2" });
  const extra = [];
  try {
    const hung = servers["se-1"];
    hung.hang = true;
    for (let i = 0; i < 12; i++) {
      await edge.registerServer(`hang-${i}`, { ipv4: `198.51.100.${100 + i}`, probe: { kind: "http", url: hung.url } });
    }
    const both = () => hung.byProber["prober-weur-se-0"]?.max === 6 && hung.byProber["prober-weur-se-1"]?.max === 6;
    await waitFor(() => hung.seen.filter((p) => p.closedAt).length >= 24 && both(), { timeoutMs: 20_000, what: "two slices' probes cut off" });
    for (const [name, p] of Object.entries(hung.byProber)) assert.ok(p.max <= 6, `${name}: ${p.max} at once`);
    assert.deepEqual(Object.keys(hung.byProber).sort(), ["prober-weur-se-0", "prober-weur-se-1"]);
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

test("a slice of twelve at 14 s: six at a time in a sliding window, each cut off by its 5 s timeout", async () => {
  // At 14 s two 5 s timeouts fit in 3/4 of the interval: one prober holds all 12 servers
  // and only the window keeps it at six connections.
  const { edge, servers, close } = await setup({ PROBE_REGIONS: "weur", PROBE_INTERVAL_S: "14" });
  try {
    const hung = servers["se-1"];
    hung.hang = true;
    for (let i = 0; i < 12; i++) {
      await edge.registerServer(`hang-${i}`, { ipv4: `198.51.100.${100 + i}`, probe: { kind: "http", url: hung.url } });
    }
    await waitFor(() => hung.seen.filter((p) => p.closedAt).length >= 12, { timeoutMs: 45_000, intervalMs: 200, what: "a cycle's twelve probes cut off" });
    assert.deepEqual(Object.keys(hung.byProber), ["prober-weur-se-0"], "one slice");
    assert.equal(hung.byProber["prober-weur-se-0"].max, 6, "never more than six connections at once");
    const cycle = hung.seen.slice(0, 12);
    // Cut off by the 5 s timeout: not before it, and not seconds after it (slack for load).
    for (const p of cycle) assert.ok(p.closedAt - p.at >= 4_500 && p.closedAt - p.at < 10_000, `probe cut off after ${p.closedAt - p.at} ms`);
    // How long the slice's cycle takes is a speed figure: scripts/bench-probes.mjs measures
    // it ("one slice's bound"), not this test on a machine of unknown load.
  } finally {
    await close();
  }
});

// Slices (README "Probers"): at PROBE_INTERVAL_S=1 one prober holds 6 servers (one 750 ms
// timeout in 3/4 of the interval), so nine servers of one pool are two slices per region:
// se-1..se-5 (slice 0) and se-6..se-9 (slice 1), in id order.
const SLICE0 = ["se-1", "se-2", "se-3", "se-4", "se-5"];
const SLICE1 = ["se-6", "se-7", "se-8", "se-9"];
const probersOf = (server, since) => [...new Set(server.seen.filter((p) => p.at >= since).map((p) => p.prober))].sort();

test("a pool larger than one prober's slice: one prober per region and slice, the pool joins their votes (restart between steps)", async () => {
  const { cf, edge, servers, close } = await setup({}, { restartable: true }, 9);
  try {
    await register(edge, servers);
    await waitFor(() => inDns(cf).length === 9, { timeoutMs: 20_000, what: "nine servers in DNS" });
    const since = Date.now() + 1_500;
    await waitFor(() => Object.values(servers).every((s) => s.seen.filter((p) => p.at >= since).length >= 6), {
      timeoutMs: 10_000, what: "two more cycles probed",
    });
    // Each server is probed by exactly one prober per region: the one of its slice.
    for (const id of SLICE0) assert.deepEqual(probersOf(servers[id], since), ["prober-apac-se-0", "prober-enam-se-0", "prober-weur-se-0"], id);
    for (const id of SLICE1) assert.deepEqual(probersOf(servers[id], since), ["prober-apac-se-1", "prober-enam-se-1", "prober-weur-se-1"], id);
    assert.deepEqual((await edge.json("/v1/servers/se-9")).body.checks, { apac: "pass", enam: "pass", weur: "pass" });

    await edge.restart();
    // After the restart (memory gone), without any cron: a failure from two regions in
    // slice 1 and one in slice 0 is judged by majority over the joined slices.
    servers["se-9"].failFrom = new Set(["weur", "enam"]);
    servers["se-2"].failFrom = new Set(["apac", "enam"]);
    servers["se-1"].failFrom = new Set(["weur"]);
    await waitFor(() => !inDns(cf).includes("198.51.100.9") && !inDns(cf).includes("198.51.100.2"), {
      timeoutMs: 15_000, what: "se-9 and se-2 out of DNS after restart",
    });
    assert.deepEqual((await edge.json("/v1/servers/se-9")).body.checks, { apac: "pass", enam: "fail", weur: "fail" });
    assert.deepEqual((await edge.json("/v1/servers/se-2")).body.checks, { apac: "fail", enam: "fail", weur: "pass" });
    const se1 = (await edge.json("/v1/servers/se-1")).body;
    assert.equal(se1.status, "up", "one region of three cannot take a server out");
    assert.equal(inDns(cf).length, 7);
  } finally {
    await close();
  }
});

test("a slice that cannot probe makes its servers' region abstain, not fail; the other slice still votes", async () => {
  const { cf, edge, servers, close } = await setup({ PROBER_FAULT: "weur-se-1:abstain" }, {}, 9);
  try {
    await register(edge, servers);
    await waitFor(() => inDns(cf).length === 9, { timeoutMs: 20_000, what: "nine servers in DNS" });
    const since = Date.now() + 1_500;
    await new Promise((r) => setTimeout(r, 3_000));
    for (const id of SLICE1) {
      assert.deepEqual(probersOf(servers[id], since), ["prober-apac-se-1", "prober-enam-se-1"], `${id}: weur's slice 1 never probes`);
      assert.deepEqual((await edge.json(`/v1/servers/${id}`)).body.checks, { apac: "pass", enam: "pass" }, id);
    }
    for (const id of SLICE0) {
      assert.deepEqual((await edge.json(`/v1/servers/${id}`)).body.checks, { apac: "pass", enam: "pass", weur: "pass" }, id);
    }
    // One of se-9's two voters fails it: a tie, not a majority (counted as a failed vote,
    // weur's abstention would have made it two of three).
    servers["se-9"].failFrom = new Set(["enam"]);
    await new Promise((r) => setTimeout(r, 6_000));
    assert.ok(inDns(cf).includes("198.51.100.9"));
    assert.equal((await edge.json("/v1/servers/se-9")).body.status, "up");
    servers["se-9"].failFrom = new Set(["enam", "apac"]);
    await waitFor(() => !inDns(cf).includes("198.51.100.9"), { timeoutMs: 15_000, what: "se-9 out of DNS" });
  } finally {
    await close();
  }
});

test("when the pool shrinks to one slice, the surplus slice's probers stop and slice 0 probes everything", async () => {
  const { cf, edge, servers, close } = await setup({}, {}, 9);
  try {
    await register(edge, servers);
    await waitFor(() => inDns(cf).length === 9, { timeoutMs: 20_000, what: "nine servers in DNS" });
    for (const id of ["se-7", "se-8", "se-9"]) {
      const res = await edge.admin("DELETE", `/v1/admin/servers/${id}`);
      assert.equal(res.status, 204);
    }
    // A surplus slice learns it at its next report; a cron round (the watchdog) must not
    // bring it back either.
    await new Promise((r) => setTimeout(r, 2_500));
    await edge.round(new Date());
    const since = Date.now() + 500;
    await new Promise((r) => setTimeout(r, 4_000));
    const late = Object.values(servers).flatMap((s) => s.seen.filter((p) => p.at >= since && p.prober.endsWith("-se-1")));
    assert.deepEqual(late, [], "no probe from a slice-1 prober");
    for (const id of ["se-1", "se-2", "se-3", "se-4", "se-5", "se-6"]) {
      assert.deepEqual(probersOf(servers[id], since), ["prober-apac-se-0", "prober-enam-se-0", "prober-weur-se-0"], id);
    }
  } finally {
    await close();
  }
});

test("a wake that throws keeps the loop on the grid (the next alarm is set first); the region votes again once the fault is gone", async () => {
  // PROBER_FAULT=weur:throw: weur's wakes probe, then throw before reporting. No cron is
  // fired in this test: only alarms run, so nothing but the prober's own alarm wakes weur.
  const { cf, edge, servers, close } = await setup({}, { restartable: true });
  try {
    await register(edge, servers);
    await waitFor(() => inDns(cf).length === 3, { timeoutMs: 20_000, what: "three servers in DNS" });
    // se-1 fails from weur and enam: only with weur's vote is that a majority.
    servers["se-1"].failFrom = new Set(["weur", "enam"]);
    await edge.restart({ bindings: { PROBER_FAULT: "weur:throw" } });
    const from = Date.now() + 1_000;
    await new Promise((r) => setTimeout(r, 9_000));
    const to = Date.now();
    // Every wake throws, yet weur wakes each cycle (1 s): the alarm it set before throwing.
    // Had it set its alarm after the work, only the runtime's retries (2 s, 4 s, 8 s, …)
    // would wake it: 3 cycles of these 8.
    const cycles = new Set(servers["se-1"].seen.filter((p) => p.region === "weur" && p.at >= from && p.at < to).map((p) => Math.floor(p.at / 1000)));
    assert.ok(cycles.size >= 5, `weur probed in ${cycles.size} of 8 cycles while throwing`);
    assert.ok(inDns(cf).includes("198.51.100.1"), "weur's report never arrives: it abstains, enam against apac is a tie");
    assert.equal((await edge.admin("GET", "/v1/admin/servers/se-1")).body.live.status, "up");
    // Fault gone (a redeploy with the var removed), still no cron: weur votes again and its
    // vote takes se-1 out.
    await edge.restart({ bindings: { PROBER_FAULT: "" } });
    await waitFor(() => !inDns(cf).includes("198.51.100.1"), { timeoutMs: 10_000, what: "se-1 out of DNS with weur's vote" });
    // The public view is the fleet snapshot, written after the DNS change: wait for it too.
    const voted = { apac: "pass", enam: "fail", weur: "fail" };
    let seen;
    await waitFor(async () => isDeepStrictEqual((seen = (await edge.json("/v1/servers/se-1")).body.checks), voted), {
      timeoutMs: 3_000,
      what: "the public view showing weur's vote",
    }).catch((e) => assert.fail(`${e.message}: ${JSON.stringify(seen)}`));
  } finally {
    await close();
  }
});
