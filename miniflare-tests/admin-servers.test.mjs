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
