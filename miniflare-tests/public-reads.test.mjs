import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEdge, minute } from "./harness.mjs";

let edge;
const base = Date.now();
before(async () => {
  edge = await startEdge();
  const fleet = [
    ["se-1", { country: "se", city: "Stockholm", features: ["p2p"] }, 10],
    ["se-2", { country: "se", city: "Gothenburg", features: ["p2p", "streaming"] }, 60],
    ["se-3", { country: "se", city: "Stockholm", features: [] }, 90],
    ["de-1", { country: "de", city: "Berlin", features: ["streaming"] }, 30],
    ["de-2", { country: "de", city: "Berlin", features: [] }, 100],
    ["us-1", { country: "us", city: "New York", features: [] }, 0],
  ];
  for (const [id, o] of fleet) assert.equal((await edge.registerServer(id, o)).status, 201);
  for (const [id, , clients] of fleet) if (id !== "us-1") await edge.heartbeat(id, { clients });
  await edge.round(minute(0, base));
  await edge.round(minute(1, base));
});
after(async () => edge.close());

test("servers list with filters", async () => {
  const all = await edge.json("/v1/servers");
  assert.equal(all.status, 200);
  assert.equal(all.body.servers.length, 6);
  assert.ok(all.body.generated_at);
  const ids = async (q) => (await edge.json(`/v1/servers?${q}`)).body.servers.map((s) => s.id);
  assert.deepEqual(await ids("country=se"), ["se-1", "se-2", "se-3"]);
  assert.deepEqual(await ids("country=se&city=stockholm"), ["se-1", "se-3"]);
  assert.deepEqual(await ids("feature=streaming"), ["de-1", "se-2"]);
  assert.deepEqual(await ids("status=down"), ["us-1"]);
  assert.deepEqual(await ids("city=New%20York"), ["us-1"]);
  for (const [q, field] of [["country=sweden", "country"], ["status=sideways", "status"], ["feature=%2F", "feature"]]) {
    const r = await edge.json(`/v1/servers?${q}`);
    assert.equal(r.status, 400, q);
    assert.match(r.body.error.message, new RegExp("`" + field + "`"));
  }
});

test("one server, or 404", async () => {
  const r = await edge.json("/v1/servers/de-1");
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body).sort(), ["capacity", "city", "clients", "country", "features", "hostname", "id", "ipv4", "ipv6", "last_seen", "latitude", "load", "longitude", "status"]);
  assert.equal(r.body.status, "up");
  assert.equal(r.body.load, 30);
  const missing = await edge.json("/v1/servers/nope");
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, "not_found");
});

test("countries summarise pools", async () => {
  const r = await edge.json("/v1/countries");
  assert.deepEqual(r.body.countries, [
    { code: "de", pool: "pool.prd.de.example.com", servers: 2, up: 2, load: 65 },
    { code: "se", pool: "pool.prd.se.example.com", servers: 3, up: 3, load: 53 },
    { code: "us", pool: "pool.prd.us.example.com", servers: 1, up: 0, load: null },
  ]);
});

test("public reads are cacheable with an ETag and answer 304", async () => {
  for (const path of ["/v1/servers?country=se", "/v1/countries", "/v1/servers/se-1", "/"]) {
    const first = await edge.fetch(path);
    await first.arrayBuffer();
    assert.equal(first.headers.get("cache-control"), "public, max-age=15", path);
    const etag = first.headers.get("etag");
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    const again = await edge.fetch(path, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304, path);
    assert.equal((await again.text()).length, 0);
    const other = await edge.fetch(path, { headers: { "if-none-match": '"stale"' } });
    assert.equal(other.status, 200);
    await other.arrayBuffer();
  }
});

test("the ETag changes when the content changes, and an old one no longer gets a 304", async () => {
  const paths = ["/v1/servers", "/v1/servers?country=se", "/v1/servers/se-3", "/v1/countries"];
  const before = {};
  for (const path of paths) {
    const r = await edge.fetch(path);
    before[path] = { etag: r.headers.get("etag"), body: await r.text() };
  }
  // An operator edit, published at once: coordinates, and a capacity that changes se-3's
  // load (90 of 200) and so Sweden's average.
  const patched = await edge.admin("PATCH", "/v1/admin/servers/se-3", { latitude: 59.33, longitude: 18.07, capacity: 200 });
  assert.equal(patched.status, 200);
  for (const path of paths) {
    const r = await edge.fetch(path, { headers: { "if-none-match": before[path].etag } });
    assert.equal(r.status, 200, `${path}: changed content must not be a 304`);
    const body = await r.text();
    assert.notEqual(body, before[path].body, path);
    const etag = r.headers.get("etag");
    assert.notEqual(etag, before[path].etag, path);
    const again = await edge.fetch(path, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304, `${path}: the new ETag is honoured`);
    await again.arrayBuffer();
  }
  const se3 = (await edge.json("/v1/servers/se-3")).body;
  assert.deepEqual([se3.latitude, se3.longitude, se3.load], [59.33, 18.07, 45]);
});

test("recommendations: only up servers with spare capacity, filters, limit", async () => {
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const r = await edge.json("/v1/recommendations?limit=10", { cf: { latitude: null, longitude: null } });
    assert.equal(r.status, 200);
    for (const s of r.body.servers) seen.add(s.id);
  }
  // de-2 is full (100/100), us-1 is down: never recommended.
  assert.deepEqual([...seen].sort(), ["de-1", "se-1", "se-2", "se-3"]);
  assert.deepEqual((await edge.json("/v1/recommendations?feature=streaming&limit=5", { cf: { latitude: null, longitude: null } })).body.servers.map((s) => s.id).sort(), ["de-1", "se-2"]);
  assert.deepEqual((await edge.json("/v1/recommendations?country=us", { cf: { latitude: null, longitude: null } })).body.servers, []);
  for (const q of ["limit=0", "limit=51", "limit=abc"]) {
    const r = await edge.json(`/v1/recommendations?${q}`);
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /`limit`/);
  }
});

test("the status page shows pools and servers", async () => {
  const res = await edge.fetch("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /text\/html/);
  const html = await res.text();
  assert.match(html, /<strong>5<\/strong> of <strong>6<\/strong> servers up/);
  assert.match(html, /pool\.prd\.se\.example\.com/);
  assert.match(html, /data-server="us-1".*class="down"/);
});
