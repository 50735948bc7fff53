import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge, minute } from "./harness.mjs";

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
