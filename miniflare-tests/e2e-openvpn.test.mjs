import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startEdge, serverKey, minute } from "./harness.mjs";
import { startOrigin, refusedUrl, waitFor } from "./fakes.mjs";

// End to end with the real thing: Debian's OpenVPN server and clients on loopback (tun
// devices, as root), the hook scripts and agent of scripts/openvpn, the management
// interface, and the built edge. A missing prerequisite fails the test; it never skips.
const HOOKS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../scripts/openvpn");
const USERS = { alice: "alice-pw-1", bob: "bob-pw-2" };
const SESSION_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

let dir, origin, edge, server, conf, port, refused;
const clients = [];

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
}

function writeConf(edgeUrl) {
  fs.writeFileSync(
    conf,
    [
      `EDGE_URL=${edgeUrl}`,
      "EDGE_SERVER_ID=vpn-1",
      `EDGE_SERVER_KEY=${serverKey("vpn-1").toString("hex")}`,
      "EDGE_TIMEOUT_S=3",
      "EDGE_FAIL_OPEN=open",
      `EDGE_STATE_DIR=${dir}/state`,
      `EDGE_MGMT_SOCKET=${dir}/mgmt.sock`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
}

async function freeUdpPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

function pki() {
  const o = (args) => sh("openssl", args, { cwd: dir });
  o(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=vpn-edge test CA", "-keyout", "ca.key", "-out", "ca.crt"]);
  o(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=vpn-1", "-keyout", "server.key", "-out", "server.csr"]);
  fs.writeFileSync(path.join(dir, "server.ext"), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\n");
  o(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.crt"]);
}

function mgmt(command) {
  return sh("sh", ["-c", `{ printf '%s\\n' "$1"; sleep 0.5; printf 'quit\\n'; } | socat -t 3 - UNIX-CONNECT:"$2"`, "mgmt", command, `${dir}/mgmt.sock`]);
}

function agentOnce() {
  return sh("sh", [`${HOOKS}/vpn-edge-agent.sh`, "--once"], { env: { ...process.env, VPN_EDGE_CONF: conf } });
}

/** Start a real OpenVPN client; resolves with its log path and process. */
function connect(name, username, password) {
  const creds = path.join(dir, `${name}.creds`);
  fs.writeFileSync(creds, `${username}\n${password}\n`, { mode: 0o600 });
  const log = path.join(dir, `${name}.log`);
  const proc = spawn("openvpn", [
    "--client", "--dev", `vpnec${clients.length}`, "--dev-type", "tun", "--proto", "udp4", "--remote", "127.0.0.1", String(port),
    "--nobind", "--ca", path.join(dir, "ca.crt"), "--remote-cert-tls", "server", "--auth-user-pass", creds, "--auth-nocache",
    "--auth-retry", "none", "--ifconfig-noexec", "--route-noexec", "--pull-filter", "ignore", "route-gateway",
    "--connect-retry-max", "1", "--verb", "3", "--log", log,
  ], { stdio: "ignore" });
  const c = { name, log, proc, text: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "") };
  clients.push(c);
  return c;
}

const connected = (c) => waitFor(() => c.text().includes("Initialization Sequence Completed"), { timeoutMs: 30_000, what: `${c.name} connected` });

before(async () => {
  assert.equal(process.getuid(), 0, "the OpenVPN end-to-end test needs root (tun devices)");
  assert.ok(fs.existsSync("/dev/net/tun"), "/dev/net/tun is missing");
  for (const bin of ["openvpn", "openssl", "socat", "jq", "curl"]) sh("sh", ["-c", `command -v ${bin}`]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-ovpn-"));
  conf = path.join(dir, "vpn-edge.conf");
  pki();
  origin = await startOrigin({ ...USERS });
  edge = await startEdge(
    { ORIGIN_AUTH_URL: origin.url, ORIGIN_API_TOKEN: "origin-token", ORIGIN_TIMEOUT_MS: "500", CRED_PEPPER: "p", SESSION_KEY },
    { listen: true },
  );
  assert.equal((await edge.registerServer("vpn-1", { hostname: "vpn-1.example.com" })).status, 201);
  writeConf(edge.url);
  refused = await refusedUrl();
  port = await freeUdpPort();
  server = spawn("openvpn", [
    "--mode", "server", "--tls-server", "--dev", "vpnes0", "--dev-type", "tun", "--proto", "udp4", "--local", "127.0.0.1",
    "--port", String(port), "--topology", "subnet", "--server", "10.89.0.0", "255.255.255.0",
    "--ca", path.join(dir, "ca.crt"), "--cert", path.join(dir, "server.crt"), "--key", path.join(dir, "server.key"), "--dh", "none",
    "--verify-client-cert", "none", "--username-as-common-name", "--duplicate-cn", "--keepalive", "10", "60",
    "--script-security", "2", "--tmp-dir", "/dev/shm", "--setenv", "VPN_EDGE_CONF", conf,
    "--auth-user-pass-verify", `${HOOKS}/auth-user-pass-verify.sh`, "via-file",
    "--client-disconnect", `${HOOKS}/client-disconnect.sh`,
    "--management", path.join(dir, "mgmt.sock"), "unix", "--verb", "3", "--log", path.join(dir, "server.log"),
  ], { stdio: "ignore" });
  await waitFor(() => fs.existsSync(path.join(dir, "server.log")) && fs.readFileSync(path.join(dir, "server.log"), "utf8").includes("Initialization Sequence Completed"), {
    timeoutMs: 20_000,
    what: "OpenVPN server up",
  });
});

after(async () => {
  for (const c of clients) c.proc.kill("SIGTERM");
  server?.kill("SIGTERM");
  await Promise.all([...clients.map((c) => c.proc), server].filter(Boolean).map((p) => (p.exitCode !== null || p.signalCode ? null : new Promise((r) => p.once("exit", r)))));
  await edge?.close();
  await origin?.close();
  if (dir && !process.env.KEEP_E2E) fs.rmSync(dir, { recursive: true, force: true });
  if (process.env.KEEP_E2E) console.log("kept", dir);
});

let alice;
// A heartbeat the test itself sent; the agent's next one must be signed later than it.
let lastHeartbeatTs = 0;
test("OpenVPN: a valid user connects; a wrong password gets AUTH_FAILED", async () => {
  alice = connect("alice", "alice", USERS.alice);
  await connected(alice);
  const wrong = connect("wrong", "bob", "not-bobs-password");
  await waitFor(() => wrong.text().includes("AUTH_FAILED"), { timeoutMs: 30_000, what: "AUTH_FAILED" });
  assert.ok(!wrong.text().includes("Initialization Sequence Completed"));
  assert.match(mgmt("status 3"), /CLIENT_LIST\talice\t/);
  // The agent's heartbeat reports the live client count from the management interface.
  agentOnce();
  await edge.round(minute(0));
  assert.equal((await edge.json("/v1/servers/vpn-1")).body.clients, 1);
  // No password in the server's log.
  assert.ok(!fs.readFileSync(path.join(dir, "server.log"), "utf8").includes(USERS.alice));
});

test("OpenVPN: origin down admits an impostor provisionally; origin back, the agent disconnects exactly that client", async () => {
  origin.mode = "down";
  const mallory = connect("mallory", "mallory", "i-made-this-up");
  await connected(mallory);
  assert.match(mgmt("status 3"), /CLIENT_LIST\tmallory\t/);
  const pending = (await edge.admin("GET", "/v1/admin/sessions")).body.sessions;
  assert.deepEqual(pending.map((s) => [s.username, s.source]), [["mallory", "provisional"]]);

  origin.mode = "up";
  await edge.round(minute(1));
  agentOnce();
  await waitFor(() => !/CLIENT_LIST\tmallory\t/.test(mgmt("status 3")), { timeoutMs: 20_000, what: "mallory disconnected" });
  assert.match(mgmt("status 3"), /CLIENT_LIST\talice\t/, "the valid user stays connected");
  // Acked: the list is empty on the next heartbeat.
  lastHeartbeatTs = Math.floor(Date.now() / 1000) + 2;
  const hb = await edge.heartbeat("vpn-1", { clients: 1 }, { ts: lastHeartbeatTs });
  assert.deepEqual(hb.body.disconnect, []);
  // The server's kill reaches the client (explicit exit notification): it is gone, not idle.
  await waitFor(() => mallory.proc.exitCode !== null || mallory.proc.signalCode !== null, { timeoutMs: 20_000, what: "mallory's client exiting" });
  assert.match(mallory.text(), /process exiting/);
  assert.ok(alice.proc.exitCode === null, "alice's client is still running");
});

test("OpenVPN: with the edge unreachable, a user is admitted locally and the admission reaches the ledger later", async () => {
  origin.mode = "down"; // keep the reported admission pending, so the ledger shows it
  writeConf(refused);
  const bob = connect("bob", "bob", USERS.bob);
  await connected(bob);
  const spooled = fs.readdirSync(path.join(dir, "state/spool"));
  assert.equal(spooled.length, 1);
  writeConf(edge.url);
  await waitFor(() => Date.now() / 1000 > lastHeartbeatTs + 1, { what: "a newer heartbeat second" });
  agentOnce();
  assert.deepEqual(fs.readdirSync(path.join(dir, "state/spool")), [], "reported and removed from the spool");
  const pending = (await edge.admin("GET", "/v1/admin/sessions")).body.sessions;
  assert.ok(pending.some((s) => s.username === "bob" && s.source === "offline" && s.server_id === "vpn-1"), JSON.stringify(pending));
  origin.mode = "up";
});
