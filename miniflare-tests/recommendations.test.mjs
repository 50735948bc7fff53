// Recommendations against the built wasm: the weighted first draw, the order after it,
// the client's position (query and request.cf), unknown-load servers, bad coordinates.
//
// Statistical checks: each count must lie within 4.5 binomial standard deviations of its
// expectation (sqrt(n·p·(1−p))); a correct implementation fails one such bound with
// probability below 1e-5, and every wrong one named next to a check misses it by far more.
//
// Miniflare fills request.cf with Austin, Texas when a request sets none, and merges a
// partial cf over those defaults, so every request here states its cf explicitly and
// "no position in the metadata" is NO_CF (latitude and longitude null).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startEdge } from "./harness.mjs";

const OSLO = { lat: 59.9139, lon: 10.7522 };
const AUSTIN_CF = { latitude: "30.27130", longitude: "-97.74260" };
const NO_CF = { latitude: null, longitude: null };
const PLACES = {
  stockholm: [59.3293, 18.0686],
  tokyo: [35.6762, 139.6503],
  newyork: [40.7128, -74.006],
  sydney: [-33.8688, 151.2093],
};

let edge;
let probeTarget;
before(async () => {
  probeTarget = http.createServer((req, res) => res.end("ok"));
  await new Promise((r) => probeTarget.listen(0, "127.0.0.1", r));
  edge = await startEdge({ UP_AFTER: "1" });
  const reg = async (id, o) => assert.equal((await edge.registerServer(id, o)).status, 201, id);
  // Capacities differ, so "spare capacity" (capacity − clients) and "free percent"
  // (100 − load) give different weights; loads are not in id order.
  const weighted = [
    ["w-a", 400, 200], // load 50, spare 200
    ["w-b", 100, 10], // load 10, spare 90
    ["w-c", 200, 150], // load 75, spare 50
    ["w-d", 100, 40], // load 40, spare 60
  ];
  for (const [id, capacity] of weighted) await reg(id, { country: "de", city: "Berlin", capacity });
  // Three equal Stockholm servers, a fourth there at twice their load (still inside the
  // band), a full one in Oslo itself, and empty servers far away.
  const geo = [
    ["sto-1", "se", "stockholm", 20, 0],
    ["sto-2", "se", "stockholm", 20, 0],
    ["sto-3", "se", "stockholm", 20, 0],
    ["sto-4", "se", "stockholm", 40, 0],
    ["osl-full", "no", null, 100, 0],
    ["tyo-1", "jp", "tokyo", 0, 0],
    ["nyc-1", "us", "newyork", 0, 0],
    ["syd-1", "au", "sydney", 0, 0],
  ];
  for (const [id, country, place, , d] of geo) {
    const [latitude, longitude] = place ? PLACES[place] : [OSLO.lat, OSLO.lon];
    await reg(id, { country, city: place ?? "Oslo", capacity: 100, latitude: latitude + d, longitude });
  }
  // Up by their http probe, but no agent: load unknown.
  for (const id of ["u-1", "u-2", "u-3", "u-4"]) {
    await reg(id, { country: "nl", city: "Amsterdam", probe: { kind: "http", url: `http://127.0.0.1:${probeTarget.address().port}/` } });
  }
  for (const [id, , clients] of weighted) await edge.heartbeat(id, { clients });
  for (const [id, , , clients] of geo) await edge.heartbeat(id, { clients });
  // A round at the real current minute, after the heartbeats (UP_AFTER=1).
  await edge.round(new Date());
  const up = (await edge.json("/v1/servers?status=up")).body.servers.map((s) => s.id);
  assert.equal(up.length, 16, JSON.stringify(up));
});
after(async () => {
  await edge.close();
  probeTarget.close();
});

function rec(query, cf = NO_CF) {
  return edge.json(`/v1/recommendations?${query}`, { cf });
}

function within(count, n, p, label) {
  const sd = Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(count - n * p) <= 4.5 * sd, `${label}: ${count} of ${n}, expected ${(n * p).toFixed(0)} ± ${(4.5 * sd).toFixed(0)}`);
}

test("the first pick is drawn in proportion to spare capacity; the rest follow by load", async () => {
  const n = 2000;
  const counts = {};
  const byLoad = ["w-b", "w-d", "w-a", "w-c"]; // loads 10, 40, 50, 75
  for (let i = 0; i < n; i++) {
    const r = await rec("country=de&limit=4");
    assert.equal(r.status, 200);
    const ids = r.body.servers.map((s) => s.id);
    counts[ids[0]] = (counts[ids[0]] ?? 0) + 1;
    assert.deepEqual(ids.slice(1), byLoad.filter((id) => id !== ids[0]), "after the pick, by load");
    assert.ok(r.body.servers.every((s) => !("distance_km" in s)), "no position, no distance");
  }
  // Spare 200 : 90 : 50 : 60 of 400. Uniform (0.25 each), free-percent weighting
  // (0.22/0.40/0.11/0.27) and always-least-loaded all fail these bounds.
  within(counts["w-a"] ?? 0, n, 200 / 400, "w-a");
  within(counts["w-b"] ?? 0, n, 90 / 400, "w-b");
  within(counts["w-c"] ?? 0, n, 50 / 400, "w-c");
  within(counts["w-d"] ?? 0, n, 60 / 400, "w-d");
});

test("Oslo never gets Tokyo, New York or Sydney and spreads over the Stockholm servers", async () => {
  const n = 600;
  const counts = {};
  for (let i = 0; i < n; i++) {
    const r = await rec(`lat=${OSLO.lat}&lon=${OSLO.lon}&limit=3`);
    assert.equal(r.status, 200);
    const ids = r.body.servers.map((s) => s.id);
    assert.ok(ids.every((id) => /^sto-/.test(id)), `only Stockholm servers, never a far one or the full one: ${ids}`);
    for (const s of r.body.servers) assert.equal(s.distance_km, 416, JSON.stringify(s));
    counts[ids[0]] = (counts[ids[0]] ?? 0) + 1;
  }
  // Scores (README "Recommendations"): sto-1..3 4.16 + 4 = 8.16, sto-4 4.16 + 8 = 12.16, so
  // sto-4 is inside the band with 1 of its 5 points. Weights 80×5 each and 60×1: shares
  // 400/1260 = 31.7 % each and 60/1260 = 4.8 %. "Always the best" gives sto-4 nothing;
  // "always the nearest" (ties by id) gives sto-1 everything.
  for (const id of ["sto-1", "sto-2", "sto-3"]) within(counts[id] ?? 0, n, 400 / 1260, id);
  within(counts["sto-4"] ?? 0, n, 60 / 1260, "sto-4");
  // With limit 8 the far ones follow by score: New York (5,915 km) before Tokyo and Sydney.
  const all = (await rec(`lat=${OSLO.lat}&lon=${OSLO.lon}&limit=8`)).body.servers.map((s) => s.id);
  assert.deepEqual(all.slice(4, 7), ["nyc-1", "tyo-1", "syd-1"]);
  assert.ok(!all.includes("osl-full"), "a nearby full server is never recommended");
});

test("the position comes from request.cf when the query has none, and the query wins", async () => {
  const osloCf = { latitude: String(OSLO.lat), longitude: String(OSLO.lon) };
  const tokyoCf = { latitude: "35.6762", longitude: "139.6503" };
  for (let i = 0; i < 50; i++) {
    const fromCf = await rec("limit=1", osloCf);
    assert.match(fromCf.body.servers[0].id, /^sto-/, "Oslo from cf");
    const tokyo = await rec("limit=1", tokyoCf);
    assert.equal(tokyo.body.servers[0].id, "tyo-1");
    assert.equal(tokyo.body.servers[0].distance_km, 0);
    const queryWins = await rec(`lat=${OSLO.lat}&lon=${OSLO.lon}&limit=1`, tokyoCf);
    assert.match(queryWins.body.servers[0].id, /^sto-/, "the app's own position beats the metadata");
  }
  // Miniflare's default cf (Austin) is a position too: New York is nearest.
  assert.equal((await rec("limit=1", AUSTIN_CF)).body.servers[0].id, "nyc-1");
  // Without any position there is no distance, and far servers are drawn by spare capacity.
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const r = await rec("limit=1", NO_CF);
    assert.ok(!("distance_km" in r.body.servers[0]));
    seen.add(r.body.servers[0].id);
  }
  assert.ok(seen.has("tyo-1") || seen.has("nyc-1") || seen.has("syd-1"), [...seen].join());
});

test("servers of unknown load are drawn at random, never in a fixed order", async () => {
  const n = 800;
  const counts = {};
  for (let i = 0; i < n; i++) {
    const r = await rec("country=nl&limit=4");
    const s = r.body.servers;
    assert.equal(s.length, 4);
    assert.ok(s.every((x) => x.load === null && x.status === "up"));
    counts[s[0].id] = (counts[s[0].id] ?? 0) + 1;
  }
  // A quarter each; the old id order gave u-1 every time.
  for (const id of ["u-1", "u-2", "u-3", "u-4"]) within(counts[id] ?? 0, n, 1 / 4, id);
  // With a position they still spread (none has coordinates: all equally far).
  const withPos = {};
  for (let i = 0; i < 400; i++) {
    const id = (await rec(`country=nl&limit=1&lat=${OSLO.lat}&lon=${OSLO.lon}`)).body.servers[0].id;
    withPos[id] = (withPos[id] ?? 0) + 1;
  }
  for (const id of ["u-1", "u-2", "u-3", "u-4"]) within(withPos[id] ?? 0, 400, 1 / 4, `${id} with a position`);
});

test("bad coordinates are 400s naming lat or lon", async () => {
  const cases = [
    ["lat=91&lon=0", "lat"],
    ["lat=-90.5&lon=0", "lat"],
    ["lat=abc&lon=0", "lat"],
    ["lat=NaN&lon=0", "lat"],
    ["lat=0&lon=180.01", "lon"],
    ["lat=0&lon=Infinity", "lon"],
    ["lat=59.9", "lon"],
    ["lon=10.7", "lat"],
    ["lat=&lon=10", "lat"],
  ];
  for (const [q, field] of cases) {
    const r = await rec(q, AUSTIN_CF);
    assert.equal(r.status, 400, q);
    assert.equal(r.body.error.code, "invalid_field");
    assert.match(r.body.error.message, new RegExp("`" + field + "`"), q);
  }
});
