import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startEdge, minute } from "./harness.mjs";
import { startFake, waitFor } from "./fakes.mjs";

// A real PowerDNS authoritative server (Debian's pdns-server with the SQLite backend, API
// on loopback), reconciled by the edge and asked with dig. scripts/setup installs them;
// a missing one fails the test instead of skipping it.
const run = promisify(execFile);
const PDNS = "/usr/sbin/pdns_server";
const SCHEMA = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql";
const KEY = "pdns-test-key";
const POOL = "pool.prd.se.example.com";

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

let dir, pdns, dnsPort, apiPort;
before(async () => {
  for (const f of [PDNS, SCHEMA, "/usr/bin/dig", "/usr/bin/sqlite3"]) assert.ok(fs.existsSync(f), `${f} is missing: run scripts/setup`);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-pdns-"));
  await run("sh", ["-c", `sqlite3 "${dir}/pdns.sqlite3" < ${SCHEMA}`]);
  [dnsPort, apiPort] = [await freePort(), await freePort()];
  pdns = spawn(PDNS, [
    "--no-config", "--daemon=no", "--guardian=no", "--disable-syslog", "--launch=gsqlite3",
    `--gsqlite3-database=${dir}/pdns.sqlite3`, "--local-address=127.0.0.1", `--local-port=${dnsPort}`,
    `--socket-dir=${dir}`, "--api=yes", `--api-key=${KEY}`, "--webserver=yes", "--webserver-address=127.0.0.1",
    `--webserver-port=${apiPort}`, "--webserver-allow-from=127.0.0.1",
  ], { stdio: "ignore" });
  const api = `http://127.0.0.1:${apiPort}/api/v1/servers/localhost`;
  await waitFor(async () => (await fetch(api, { headers: { "X-API-Key": KEY } }).catch(() => null))?.ok, { what: "PowerDNS API" });
  const zone = await fetch(`${api}/zones`, {
    method: "POST",
    headers: { "X-API-Key": KEY, "content-type": "application/json" },
    body: JSON.stringify({ name: "example.com.", kind: "Native", nameservers: ["ns1.example.com."] }),
  });
  assert.ok(zone.ok, `zone create: ${zone.status}`);
});
after(async () => {
  pdns?.kill("SIGTERM");
  await new Promise((r) => (pdns?.exitCode !== null ? r() : pdns.once("exit", r)));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function dig(type = "A", pool = POOL) {
  const { stdout } = await run("dig", ["@127.0.0.1", "-p", String(dnsPort), pool, type, "+noall", "+answer", "+time=2", "+tries=1"]);
  return stdout.trim().split("\n").filter(Boolean).map((l) => l.split(/\s+/)).map((f) => ({ ttl: Number(f[1]), addr: f[4] }));
}
const addrs = async (type, pool = POOL) => (await dig(type, pool)).map((r) => r.addr).sort();

/** A fake VPN server: something listening on a loopback port, which the tcp probe checks. */
async function vpnServer() {
  const s = net.createServer((c) => c.end());
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const port = s.address().port;
  return {
    port,
    async kill() {
      await new Promise((r) => s.close(r));
    },
    async revive() {
      await new Promise((r) => s.listen(port, "127.0.0.1", r));
    },
  };
}

test("PowerDNS: a dead server leaves the pool after DOWN_AFTER rounds and returns after UP_AFTER; an all-dead pool freezes", async () => {
  const hooks = await startFake("webhook");
  const edge = await startEdge({
    DNS_PROVIDER: "powerdns",
    POWERDNS_API_URL: `http://127.0.0.1:${apiPort}`,
    POWERDNS_API_KEY: KEY,
    DNS_ZONE: "example.com",
    ALERT_WEBHOOK_URL: `${hooks.url}/alerts`,
  });
  const servers = [await vpnServer(), await vpnServer(), await vpnServer()];
  try {
    for (const [i, s] of servers.entries()) {
      const r = await edge.registerServer(`se-${i + 1}`, {
        hostname: "localhost",
        ipv4: `198.51.100.${11 + i}`,
        ...(i === 0 ? { ipv6: "fd00::11" } : {}),
        probe: { kind: "tcp", port: s.port },
      });
      assert.equal(r.status, 201);
    }
    const base = Date.now();
    let m = 0;
    const round = () => edge.round(minute(m++, base));

    await round();
    assert.deepEqual(await addrs("A"), [], "one good minute: still down, nothing published");
    await round();
    assert.deepEqual(await addrs("A"), ["198.51.100.11", "198.51.100.12", "198.51.100.13"]);
    assert.deepEqual(await addrs("AAAA"), ["fd00::11"]);
    assert.ok((await dig("A")).every((r) => r.ttl === 60), "TTL 60");

    await servers[1].kill();
    await round();
    await round();
    assert.deepEqual(await addrs("A"), ["198.51.100.11", "198.51.100.12", "198.51.100.13"], "two failed minutes: kept");
    await round();
    assert.deepEqual(await addrs("A"), ["198.51.100.11", "198.51.100.13"], "DOWN_AFTER=3: removed");

    await servers[1].revive();
    await round();
    assert.deepEqual(await addrs("A"), ["198.51.100.11", "198.51.100.13"]);
    await round();
    assert.deepEqual(await addrs("A"), ["198.51.100.11", "198.51.100.12", "198.51.100.13"], "UP_AFTER=2: back");

    for (const s of servers) await s.kill();
    for (let i = 0; i < 5; i++) await round();
    const statuses = (await edge.json("/v1/servers")).body.servers.map((s) => s.status);
    assert.deepEqual(statuses, ["down", "down", "down"]);
    assert.deepEqual(await addrs("A"), ["198.51.100.11", "198.51.100.12", "198.51.100.13"], "frozen as it was");
    assert.deepEqual(await addrs("AAAA"), ["fd00::11"]);
    await waitFor(() => hooks.requests.some((r) => r.json?.event === "pool_frozen"), { what: "pool_frozen alert" });
    const frozen = hooks.requests.find((r) => r.json?.event === "pool_frozen").json;
    assert.match(frozen.text, /pool\.prd\.se\.example\.com/);
    assert.ok(hooks.requests.some((r) => r.json?.event === "server_down" && r.json.server_id === "se-2"));

    // The frozen set is kept in KV: a corrupt copy guesses no alert and is replaced by the truth.
    // (The pool was frozen once already, before any server first came up.)
    const count = (event) => hooks.requests.filter((r) => r.json?.event === event).length;
    const announced = [count("pool_frozen"), count("pool_unfrozen")];
    const fleet = await edge.mf.getKVNamespace("FLEET");
    await fleet.put("dns-frozen", "{not json");
    await round();
    assert.deepEqual(JSON.parse(await fleet.get("dns-frozen")), ["pool.prd.se.example.com"]);
    // Thawed once a server is up again; each transition announced once, however many rounds.
    await servers[0].revive();
    for (let i = 0; i < 3; i++) await round();
    assert.deepEqual(await addrs("A"), ["198.51.100.11"]);
    await waitFor(() => hooks.requests.some((r) => r.json?.event === "pool_unfrozen"), { what: "pool_unfrozen alert" });
    assert.deepEqual(JSON.parse(await fleet.get("dns-frozen")), []);
    assert.deepEqual([count("pool_frozen"), count("pool_unfrozen")], [announced[0], announced[1] + 1]);
  } finally {
    for (const s of servers) await s.kill().catch(() => {});
    await edge.close();
    await hooks.close();
  }
});

test("PowerDNS with the probers' alarm loop at 1 s: a dead server leaves the pool within seconds and returns, no cron fired", async () => {
  const NL = "pool.prd.nl.example.com";
  const hooks = await startFake("webhook");
  const edge = await startEdge({
    PROBE_MODE: "alarms",
    PROBE_INTERVAL_S: "1",
    DNS_PROVIDER: "powerdns",
    POWERDNS_API_URL: `http://127.0.0.1:${apiPort}`,
    POWERDNS_API_KEY: KEY,
    DNS_ZONE: "example.com",
    ALERT_WEBHOOK_URL: `${hooks.url}/alerts`,
  });
  const servers = [await vpnServer(), await vpnServer(), await vpnServer()];
  try {
    for (const [i, s] of servers.entries()) {
      const r = await edge.registerServer(`nl-${i + 1}`, {
        hostname: "localhost",
        country: "nl",
        ipv4: `198.51.100.${21 + i}`,
        probe: { kind: "tcp", port: s.port },
      });
      assert.equal(r.status, 201);
    }
    const all = ["198.51.100.21", "198.51.100.22", "198.51.100.23"];
    await waitFor(async () => (await addrs("A", NL)).length === 3, { timeoutMs: 20_000, what: "three servers in the pool" });
    assert.deepEqual(await addrs("A", NL), all);
    assert.ok((await dig("A", NL)).every((r) => r.ttl === 60), "TTL 60");

    await servers[1].kill();
    const killed = Date.now();
    await waitFor(async () => !(await addrs("A", NL)).includes("198.51.100.22"), { timeoutMs: 15_000, what: "nl-2 out of the pool" });
    const took = Date.now() - killed;
    assert.deepEqual(await addrs("A", NL), ["198.51.100.21", "198.51.100.23"], `removed after ${took} ms`);
    await waitFor(() => hooks.requests.some((r) => r.json?.event === "server_down" && r.json.server_id === "nl-2"), { what: "server_down alert" });

    await servers[1].revive();
    await waitFor(async () => (await addrs("A", NL)).length === 3, { timeoutMs: 15_000, what: "nl-2 back in the pool" });
    assert.deepEqual(await addrs("A", NL), all);
  } finally {
    for (const s of servers) await s.kill().catch(() => {});
    await edge.close();
    await hooks.close();
  }
});
