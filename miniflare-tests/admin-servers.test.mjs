import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEdge, server, ADMIN_TOKEN } from "./harness.mjs";

let edge;
before(async () => (edge = await startEdge()));
after(async () => edge.close());

test("register, update, move country, delete", async () => {
  const created = await edge.registerServer("se-1", { ipv6: "2001:db8::1", features: ["streaming", "p2p"] });
  assert.equal(created.status, 201);
  assert.equal(created.body.status, "down", "a new server starts down");
  assert.deepEqual(created.body.features, ["p2p", "streaming"]);
  assert.equal(created.body.ipv6, "2001:db8::1");

  const updated = await edge.registerServer("se-1", { capacity: 500 });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.capacity, 500);
  assert.equal((await edge.json("/v1/servers/se-1")).body.capacity, 500, "visible at once");

  const moved = await edge.registerServer("se-1", { country: "de", city: "Berlin" });
  assert.equal(moved.status, 200);
  const list = await edge.json("/v1/servers");
  assert.deepEqual(list.body.servers.map((s) => [s.id, s.country]), [["se-1", "de"]]);
  const countries = await edge.json("/v1/countries");
  assert.deepEqual(countries.body.countries.map((c) => c.code), ["de"]);

  const del = await edge.admin("DELETE", "/v1/admin/servers/se-1");
  assert.equal(del.status, 204);
  assert.equal((await edge.json("/v1/servers/se-1")).status, 404);
  assert.equal((await edge.admin("DELETE", "/v1/admin/servers/se-1")).status, 404);
  await edge.round();
  assert.equal((await edge.json("/v1/servers")).body.servers.length, 0, "a round does not resurrect it");
});

test("bearer token is required and compared exactly", async () => {
  for (const token of ["", "wrong", ADMIN_TOKEN + "x", ADMIN_TOKEN.slice(0, -1)]) {
    const r = await edge.admin("PUT", "/v1/admin/servers/x-1", server("x-1"), token);
    assert.equal(r.status, 401, `token ${JSON.stringify(token)}`);
    assert.equal(r.body.error.code, "unauthorized");
  }
  const none = await edge.json("/v1/admin/servers/x-1", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(server("x-1")),
  });
  assert.equal(none.status, 401);
  assert.equal((await edge.admin("DELETE", "/v1/admin/servers/x-1", undefined, "nope")).status, 401);
});

test("every field is validated and named", async () => {
  const cases = [
    ["hostname", { hostname: "not a host" }],
    ["hostname", { hostname: 7 }],
    ["ipv4", { ipv4: "10.0.0.300" }],
    ["ipv4", { ipv4: undefined }],
    ["ipv6", { ipv6: "2001:db8::zz" }],
    ["country", { country: "SE" }],
    ["country", { country: "swe" }],
    ["country", { country: "zz" }],
    ["country", { country: "uk" }],
    ["ipv4", { ipv4: "127.0.0.1" }],
    ["ipv4", { ipv4: "0.0.0.0" }],
    ["ipv4", { ipv4: "224.0.0.1" }],
    ["ipv4", { ipv4: "169.254.10.1" }],
    ["ipv4", { ipv4: "255.255.255.255" }],
    ["ipv6", { ipv6: "::1" }],
    ["ipv6", { ipv6: "fe80::1" }],
    ["ipv6", { ipv6: "ff02::1" }],
    ["latitude", { latitude: 90.01, longitude: 0 }],
    ["longitude", { latitude: 0, longitude: -180.5 }],
    ["longitude", { latitude: 59.3 }],
    ["latitude", { longitude: 18.1 }],
    ["latitude", { latitude: "59.3", longitude: 18.1 }],
    ["city", { city: "" }],
    ["capacity", { capacity: 0 }],
    ["capacity", { capacity: -5 }],
    ["capacity", { capacity: "100" }],
    ["features", { features: "p2p" }],
    ["features", { features: ["P2P!"] }],
    ["probe.kind", { probe: { kind: "ping" } }],
    ["probe.port", { probe: { kind: "tcp", port: 0 } }],
    ["probe.url", { probe: { kind: "http" } }],
    ["probe.url", { probe: { kind: "http", url: "file:///etc/passwd" } }],
    ["maintenance", { maintenance: "yes" }],
  ];
  for (const [field, patch] of cases) {
    const body = server("v-1", patch);
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete body[k];
    const r = await edge.admin("PUT", "/v1/admin/servers/v-1", body);
    assert.equal(r.status, 400, `${field}: ${JSON.stringify(patch)}`);
    assert.equal(r.body.error.code, "invalid_field");
    assert.match(r.body.error.message, new RegExp("`" + field.replace(".", "\\.") + "`"), JSON.stringify(r.body));
  }
  const badId = await edge.admin("PUT", "/v1/admin/servers/Bad_Id", server("x"));
  assert.equal(badId.status, 400);
  assert.match(badId.body.error.message, /`id`/);
  assert.equal((await edge.json("/v1/servers/v-1")).status, 404, "nothing half-registered");
});

test("malformed JSON 400, wrong content type 415, oversized 413", async () => {
  const malformed = await edge.admin("PUT", "/v1/admin/servers/m-1", "{not json");
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error.code, "malformed_json");

  const array = await edge.admin("PUT", "/v1/admin/servers/m-1", "[1,2]");
  assert.equal(array.status, 400);

  const wrongType = await edge.json("/v1/admin/servers/m-1", {
    method: "PUT",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "text/plain" },
    body: JSON.stringify(server("m-1")),
  });
  assert.equal(wrongType.status, 415);
  assert.equal(wrongType.body.error.code, "unsupported_media_type");

  const big = server("m-1", { city: "x".repeat(17 * 1024) });
  const tooLarge = await edge.admin("PUT", "/v1/admin/servers/m-1", big);
  assert.equal(tooLarge.status, 413);
  assert.equal(tooLarge.body.error.code, "payload_too_large");
});

test("GET /v1/admin/servers[/{id}]: the full registration plus live state", async () => {
  const reg = server("g-1", { probe: { kind: "tcp", port: 443 }, maintenance: true, latitude: 59.3293, longitude: 18.0686, ipv6: "2001:db8::9" });
  assert.equal((await edge.admin("PUT", "/v1/admin/servers/g-1", reg)).status, 201);
  assert.equal((await edge.registerServer("g-2", { country: "de", city: "Berlin" })).status, 201);
  const one = await edge.admin("GET", "/v1/admin/servers/g-1");
  assert.equal(one.status, 200);
  const { id, live, ...registration } = one.body;
  assert.equal(id, "g-1");
  assert.deepEqual(registration, { ...reg, features: ["p2p"] }, "exactly what was registered, probe and maintenance included");
  assert.equal(live.status, "maintenance");
  assert.equal(live.health, "down");
  assert.equal(live.load, null);
  for (const k of ["clients", "capacity", "last_seen", "last_check_passed"]) assert.ok(k in live, k);

  // What GET shows can be sent back as a PUT unchanged.
  assert.equal((await edge.admin("PUT", "/v1/admin/servers/g-1", registration)).status, 200);
  assert.deepEqual((await edge.admin("GET", "/v1/admin/servers/g-1")).body, one.body);

  const list = await edge.admin("GET", "/v1/admin/servers");
  assert.equal(list.status, 200);
  const ids = list.body.servers.map((s) => s.id);
  assert.ok(ids.includes("g-1") && ids.includes("g-2"), ids.join());
  assert.deepEqual(ids, [...ids].sort());
  assert.deepEqual(list.body.servers.find((s) => s.id === "g-2").country, "de");
  assert.deepEqual(list.body.servers.find((s) => s.id === "g-1").probe, { kind: "tcp", port: 443 });

  assert.equal((await edge.admin("GET", "/v1/admin/servers/nope")).status, 404);
  assert.equal((await edge.admin("GET", "/v1/admin/servers", undefined, "wrong")).status, 401);
  assert.equal((await edge.admin("GET", "/v1/admin/servers/g-1", undefined, "wrong")).status, 401);
  for (const id of ["g-1", "g-2"]) await edge.admin("DELETE", `/v1/admin/servers/${id}`);
});

/** `v` with every object's keys in sorted order (serde_json's `Value` maps). */
function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

test("admin reads keep their exact bytes: one server in field order, the list with every key sorted", async () => {
  const reg = server("b-1", { probe: { kind: "tcp", port: 443 }, latitude: 59.3293, longitude: 18.0686, ipv6: "2001:db8::9" });
  assert.equal((await edge.admin("PUT", "/v1/admin/servers/b-1", reg)).status, 201);
  assert.equal((await edge.registerServer("b-2", { country: "de", city: "Berlin" })).status, 201);
  const text = async (pathname) => {
    const r = await edge.fetch(pathname, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.headers.get("cache-control"), "no-store");
    return r.text();
  };
  // One server: `id`, the registration's keys sorted (a JSON object), then `live` in its
  // fields' order.
  const one = await text("/v1/admin/servers/b-1");
  const { id, live, ...registration } = JSON.parse(one);
  const liveOrder = ["status", "health", "load", "clients", "capacity", "last_seen", "last_check_passed", "cpu", "bandwidth_mbps", "version"];
  assert.deepEqual(Object.keys(live), liveOrder);
  assert.equal(one, JSON.stringify({ id, ...sortKeys(registration), live }));
  // The list: `{"servers":[..]}` by id, every object's keys sorted, `live`'s too.
  const list = await text("/v1/admin/servers");
  const servers = JSON.parse(list).servers;
  assert.deepEqual(servers.map((s) => s.id), [...servers.map((s) => s.id)].sort());
  assert.equal(list, JSON.stringify(sortKeys({ servers })));
  assert.deepEqual(servers.find((s) => s.id === "b-1"), JSON.parse(one));
  for (const id of ["b-1", "b-2"]) await edge.admin("DELETE", `/v1/admin/servers/${id}`);
});

function patch(id, body, contentType = "application/merge-patch+json", token = ADMIN_TOKEN) {
  return edge.json(`/v1/admin/servers/${id}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${token}`, "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

test("PATCH is a JSON merge patch validated like PUT", async () => {
  const reg = server("p-1", { probe: { kind: "tcp", port: 1194 }, ipv6: "2001:db8::5" });
  assert.equal((await edge.admin("PUT", "/v1/admin/servers/p-1", reg)).status, 201);
  const get = async () => (await edge.admin("GET", "/v1/admin/servers/p-1")).body;
  const before = await get();

  const m = await patch("p-1", { maintenance: true });
  assert.equal(m.status, 200, JSON.stringify(m.body));
  assert.equal(m.body.maintenance, true);
  assert.deepEqual({ ...m.body, maintenance: false, live: null }, { ...before, live: null }, "nothing else changed");
  assert.equal((await edge.json("/v1/servers/p-1")).body.status, "maintenance", "public at once");

  // application/json works too; nested objects merge; null removes an optional field.
  const j = await patch("p-1", { probe: { port: 1195 }, ipv6: null, latitude: 59.33, longitude: 18.07 }, "application/json");
  assert.equal(j.status, 200);
  assert.deepEqual(j.body.probe, { kind: "tcp", port: 1195 });
  assert.equal(j.body.ipv6, null);
  assert.deepEqual([j.body.latitude, j.body.longitude], [59.33, 18.07]);
  const pub = (await edge.json("/v1/servers/p-1")).body;
  assert.deepEqual([pub.latitude, pub.longitude, pub.ipv6], [59.33, 18.07, null]);

  // Same validation as PUT, field named, nothing changed.
  const snapshot = await get();
  for (const [body, field] of [
    [{ country: "zz" }, "country"],
    [{ hostname: null }, "hostname"],
    [{ ipv4: "127.0.0.1" }, "ipv4"],
    [{ latitude: null }, "latitude"],
    [{ latitude: 100 }, "latitude"],
    [{ capacity: 0 }, "capacity"],
    [{ probe: { kind: "http" } }, "probe.url"],
  ]) {
    const r = await patch("p-1", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.error.message, new RegExp("`" + field.replace(".", "\\.") + "`"), JSON.stringify(r.body));
  }
  assert.deepEqual({ ...(await get()), live: null }, { ...snapshot, live: null }, "a refused patch changes nothing");

  // Moving country through PATCH moves the pool.
  const moved = await patch("p-1", { country: "de", city: "Berlin" });
  assert.equal(moved.status, 200);
  assert.equal((await edge.json("/v1/servers/p-1")).body.country, "de");
  assert.equal((await get()).country, "de");

  assert.equal((await patch("p-1", "[1]")).status, 400);
  assert.equal((await patch("p-1", "{nope")).body.error.code, "malformed_json");
  assert.equal((await patch("p-1", { maintenance: false }, "text/plain")).status, 415);
  assert.equal((await patch("nope", { maintenance: true })).status, 404);
  assert.equal((await patch("p-1", { maintenance: true }, undefined, "wrong")).status, 401);
  await edge.admin("DELETE", "/v1/admin/servers/p-1");
});

test("private and documentation addresses only with ALLOW_PRIVATE_ADDRESSES", async () => {
  const strict = await startEdge({ ALLOW_PRIVATE_ADDRESSES: "false" });
  try {
    for (const [field, o] of [
      ["ipv4", { ipv4: "10.1.2.3" }],
      ["ipv4", { ipv4: "192.168.1.10" }],
      ["ipv4", { ipv4: "198.51.100.7" }],
      ["ipv6", { ipv4: "185.65.134.10", ipv6: "fd00::1" }],
      ["ipv6", { ipv4: "185.65.134.10", ipv6: "2001:db8::1" }],
    ]) {
      const r = await strict.registerServer("a-1", o);
      assert.equal(r.status, 400, JSON.stringify(o));
      assert.match(r.body.error.message, new RegExp("`" + field + "`.*ALLOW_PRIVATE_ADDRESSES"), JSON.stringify(r.body));
    }
    const ok = await strict.registerServer("a-1", { ipv4: "185.65.134.10", ipv6: "2a03:1b20::10" });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  } finally {
    await strict.close();
  }
  // The harness sets it: documentation and private addresses pass, loopback still does not.
  assert.equal((await edge.registerServer("a-2", { ipv4: "10.1.2.3", ipv6: "fd00::1" })).status, 201);
  assert.equal((await edge.registerServer("a-3", { ipv4: "127.0.0.1" })).status, 400);
  await edge.admin("DELETE", "/v1/admin/servers/a-2");
});

test("/healthz and the DNS admin routes agree on whether DNS is on", async () => {
  const dnsState = async (e) => {
    const h = (await e.json("/healthz")).body.features.find((f) => f.feature === "dns");
    const plan = await e.admin("GET", "/v1/admin/dns/plan");
    const apply = await e.admin("POST", "/v1/admin/dns/apply");
    return { h, plan, apply };
  };
  // DNS_PROVIDER unset (none), and set but incomplete: off everywhere, saying why.
  for (const [bindings, missing] of [
    [{}, ["DNS_PROVIDER"]],
    [{ DNS_PROVIDER: "cloudflare", CLOUDFLARE_ZONE_ID: "z" }, ["CLOUDFLARE_API_TOKEN"]],
  ]) {
    const e = await startEdge(bindings);
    try {
      const { h, plan, apply } = await dnsState(e);
      assert.equal(h.enabled, false, JSON.stringify(bindings));
      assert.deepEqual(h.missing, missing);
      assert.equal(plan.status, 409);
      assert.equal(plan.body.error.code, "dns_disabled");
      assert.equal(apply.body.error.code, "dns_disabled");
    } finally {
      await e.close();
    }
  }
  // Complete settings: on everywhere (the provider is unreachable, so the plan reports it).
  const on = await startEdge({ DNS_PROVIDER: "powerdns", POWERDNS_API_URL: "http://127.0.0.1:9", POWERDNS_API_KEY: "k" });
  try {
    const { h, plan } = await dnsState(on);
    assert.equal(h.enabled, true);
    assert.equal(plan.status, 200, JSON.stringify(plan.body));
    assert.equal(plan.body.report.provider, "powerdns");
  } finally {
    await on.close();
  }
});
