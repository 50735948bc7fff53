import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge, minute, assertSortedCompactJson } from "./harness.mjs";
import { startCloudflare, startFake } from "./fakes.mjs";

const POOL = "pool.prd.se.example.com";

async function setup(extra = {}) {
  const cf = await startCloudflare();
  const hooks = await startFake("webhook");
  const edge = await startEdge({
    DNS_PROVIDER: "cloudflare",
    CLOUDFLARE_API_URL: cf.apiUrl,
    CLOUDFLARE_ZONE_ID: "zone123",
    CLOUDFLARE_API_TOKEN: "cf-token",
    ALERT_WEBHOOK_URL: `${hooks.url}/alerts`,
    ...extra,
  });
  const close = async () => {
    await edge.close();
    await cf.close();
    await hooks.close();
  };
  return { cf, hooks, edge, close };
}

const contents = (cf, type = "A") => cf.pool(POOL).filter((r) => r.type === type && r.comment === "vpn-edge").map((r) => r.content).sort();

test("Cloudflare: pools follow the up servers, owned records only, one batch per changed pool", async () => {
  const { cf, hooks, edge, close } = await setup();
  try {
    // Someone else's record at the pool name, and 25 owned records elsewhere (pagination).
    cf.add({ type: "A", name: POOL, content: "192.0.2.250", comment: "managed by hand" });
    for (let i = 0; i < 25; i++) cf.add({ type: "A", name: `other-${i}.example.com`, content: `198.18.0.${i}`, comment: "vpn-edge" });
    // The servers are probed over HTTP; the fake answers 503 for the ones we "kill".
    const dead = new Set();
    hooks.fallback = (req) => (req.url.startsWith("/probe/") && dead.has(req.url.slice(7)) ? { status: 503, raw: "down" } : { status: 200, body: {} });
    const probe = (id) => ({ kind: "http", url: `${hooks.url}/probe/${id}` });
    await edge.registerServer("se-1", { ipv4: "192.0.2.1", ipv6: "2001:db8::1", probe: probe("se-1") });
    await edge.registerServer("se-2", { ipv4: "192.0.2.2", probe: probe("se-2") });
    await edge.registerServer("se-3", { ipv4: "192.0.2.3", probe: probe("se-3") });

    const plan = await edge.admin("GET", "/v1/admin/dns/plan");
    assert.equal(plan.status, 200);
    assert.equal(plan.body.report.pools[0].frozen, true, "nothing is up yet: frozen");
    assertSortedCompactJson(plan.text); // the plan's bytes, as json! wrote them

    const base = Date.now();
    await edge.round(minute(0, base));
    await edge.round(minute(1, base));
    assert.deepEqual(contents(cf), ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
    assert.deepEqual(contents(cf, "AAAA"), ["2001:db8::1"]);
    assert.ok(cf.pool(POOL).filter((r) => r.comment === "vpn-edge").every((r) => r.ttl === 60 && r.proxied === false));
    assert.equal(cf.batches.length, 1, "one request for the changed pool");
    const lists = cf.requests.filter((r) => r.method === "GET");
    assert.ok(lists.some((r) => r.url.includes("page=3")), "paginated through every page");
    // The round lists its own records; before creating, it looks at the pool name itself.
    assert.ok(lists.every((r) => r.url.includes("comment.exact=vpn-edge") || r.url.includes(`name.exact=${POOL}`)));
    assert.ok(lists.some((r) => r.url.includes(`name.exact=${POOL}`)));

    dead.add("se-3");
    await edge.round(minute(2, base));
    await edge.round(minute(3, base));
    assert.ok(contents(cf).includes("192.0.2.3"), "two failed minutes keep it (DOWN_AFTER=3)");
    await edge.round(minute(4, base));
    assert.deepEqual(contents(cf), ["192.0.2.1", "192.0.2.2"]);
    assert.equal(cf.pool(POOL).filter((r) => r.comment === "managed by hand").length, 1, "the unowned record is untouched");
    assert.equal(cf.records.filter((r) => r.name.startsWith("other-")).length, 25);

    await new Promise((r) => setTimeout(r, 300));
    const events = hooks.requests.filter((r) => r.url === "/alerts").map((r) => `${r.json.event}:${r.json.server_id ?? ""}`);
    assert.ok(events.includes("server_up:se-1"), events.join(" "));
    assert.ok(events.includes("server_down:se-3"), events.join(" "));
    assert.ok(events.includes("pool_unfrozen:"), events.join(" "));
    assert.ok(hooks.requests.filter((r) => r.url === "/alerts").every((r) => typeof r.json.text === "string"));
  } finally {
    await close();
  }
});

test("Cloudflare: 429 and 5xx leave the records as they were and the next round applies", async () => {
  const { cf, edge, close } = await setup();
  try {
    const base = Date.now();
    await edge.registerServer("se-1", { ipv4: "192.0.2.1" });
    await edge.heartbeat("se-1");
    await edge.round(minute(0, base));
    // The next two batches fail: a 429 with Retry-After, then a 502 with an HTML body.
    const realFallback = cf.fallback;
    let failures = 2;
    cf.fallback = (req) => {
      if (req.method === "POST" && failures > 0) {
        failures -= 1;
        return failures === 1
          ? { status: 429, headers: { "retry-after": "7" }, body: { success: false, errors: [{ code: 971, message: "Please wait" }] } }
          : { status: 502, raw: "<html>bad gateway</html>", contentType: "text/html" };
      }
      return realFallback(req);
    };
    await edge.round(minute(1, base));
    assert.deepEqual(contents(cf), [], "429: nothing applied");
    await edge.round(minute(2, base));
    assert.deepEqual(contents(cf), [], "502: nothing applied");
    await edge.heartbeat("se-1");
    await edge.round(minute(3, base));
    assert.deepEqual(contents(cf), ["192.0.2.1"], "applied on the next round");
  } finally {
    await close();
  }
});

test("Cloudflare: a provider that hangs past its 10 s timeout or answers garbage changes nothing; the next round applies", async () => {
  const { cf, edge, close } = await setup();
  try {
    const base = Date.now();
    await edge.registerServer("se-1", { ipv4: "192.0.2.1" });
    await edge.heartbeat("se-1");
    await edge.round(minute(0, base));
    const realFallback = cf.fallback;
    const steps = ["hang", "garbage-list"];
    cf.fallback = (req) => {
      if (steps[0] === "hang" && req.method === "POST") return steps.shift() && { hang: true };
      if (steps[0] === "garbage-list" && req.method === "GET") return steps.shift() && { status: 200, raw: "<html>maintenance</html>", contentType: "text/html" };
      return realFallback(req);
    };
    const t = Date.now();
    await edge.round(minute(1, base));
    const took = Date.now() - t;
    assert.ok(took >= 9_000 && took < 20_000, `the round gave up on the hanging batch after ${took} ms`);
    assert.deepEqual(contents(cf), [], "timeout: nothing applied");
    await edge.round(minute(2, base));
    assert.deepEqual(contents(cf), [], "a garbage list: nothing planned, nothing applied");
    assert.deepEqual(steps, []);
    await edge.heartbeat("se-1");
    await edge.round(minute(3, base));
    assert.deepEqual(contents(cf), ["192.0.2.1"], "applied on the next round");
    assert.equal(cf.batches.length, 1, "exactly one batch went through");
  } finally {
    await close();
  }
});

test("Cloudflare: the deletion cap, and apply?force=true overriding it", async () => {
  const { cf, edge, close } = await setup({ MAX_DELETE_PCT: "30" });
  try {
    for (let i = 1; i <= 10; i++) cf.add({ type: "A", name: POOL, content: `192.0.2.${100 + i}`, comment: "vpn-edge" });
    const base = Date.now();
    await edge.registerServer("se-1", { ipv4: "192.0.2.1" });
    await edge.heartbeat("se-1");
    await edge.round(minute(0, base));
    await edge.round(minute(1, base));
    // 11 owned records then, 10 unwanted: 30 % of 10 = 3 deleted per round.
    assert.equal(contents(cf).length, 11 - 3);
    const plan = await edge.admin("GET", "/v1/admin/dns/plan");
    assert.equal(plan.body.report.pools[0].deletes, 2);
    assert.equal(plan.body.report.pools[0].deferred_deletes, 5);
    assert.equal((await edge.admin("POST", "/v1/admin/dns/apply?force=maybe")).status, 400);
    assert.equal((await edge.admin("POST", "/v1/admin/dns/apply", undefined, "nope")).status, 401);
    const forced = await edge.admin("POST", "/v1/admin/dns/apply?force=true");
    assert.equal(forced.status, 200, JSON.stringify(forced.body));
    assert.deepEqual(contents(cf), ["192.0.2.1"]);
  } finally {
    await close();
  }
});

test("Cloudflare: a wrong token is reported, never applied; DNS off answers 409", async () => {
  const { cf, edge, close } = await setup({ CLOUDFLARE_API_TOKEN: "wrong" });
  try {
    const r = await edge.admin("POST", "/v1/admin/dns/apply");
    assert.equal(r.status, 502);
    assert.equal(r.body.error.code, "dns_provider_failed");
    assert.match(r.body.error.message, /HTTP 403/);
    assert.equal(r.body.report.provider, "cloudflare");
    assert.equal(cf.batches.length, 0);
  } finally {
    await close();
  }
  const off = await startEdge();
  try {
    const r = await off.admin("GET", "/v1/admin/dns/plan");
    assert.equal(r.status, 409);
    assert.equal(r.body.error.code, "dns_disabled");
  } finally {
    await off.close();
  }
});

test("Cloudflare: an address someone else already publishes is left to them, not duplicated", async () => {
  const { cf, edge, close } = await setup();
  try {
    cf.add({ type: "A", name: POOL, content: "192.0.2.2", comment: "managed by hand" });
    const base = Date.now();
    await edge.registerServer("se-1", { ipv4: "192.0.2.1" });
    await edge.registerServer("se-2", { ipv4: "192.0.2.2" });
    for (const id of ["se-1", "se-2"]) await edge.heartbeat(id);
    await edge.round(minute(0, base));
    await edge.round(minute(1, base));
    assert.equal(cf.batches.length, 1, "the batch went through (no identical-record error)");
    assert.deepEqual(cf.pool(POOL).map((r) => `${r.content}:${r.comment}`).sort(), ["192.0.2.1:vpn-edge", "192.0.2.2:managed by hand"]);
  } finally {
    await close();
  }
});
