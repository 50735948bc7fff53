import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startFake, refusedUrl, waitFor } from "./fakes.mjs";

// The OpenVPN hooks and the agent of scripts/openvpn, driven directly the way OpenVPN and
// systemd run them (environment, credentials file, auth_control_file), against a fake edge
// that answers what a broken network or a misconfigured edge answers, and a fake OpenVPN
// management interface that records every command it is sent. Each test is an attack or a
// fault that used to work. Runs as root (to run hooks as `nobody`, as OpenVPN does after
// `user nobody`). VPN_EDGE_HOOKS=<dir> runs the same tests against another copy of the
// scripts (how the old ones were shown to fail).
const SRC = process.env.VPN_EDGE_HOOKS ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../scripts/openvpn");
const NOBODY = 65534;

let dir, hooks, edge, refused;

function writeConf(file, edgeUrl, extra = {}) {
  const vars = {
    EDGE_URL: edgeUrl,
    EDGE_SERVER_ID: "vpn-1",
    EDGE_SERVER_KEY: "11".repeat(32),
    EDGE_TIMEOUT_S: "1",
    EDGE_FAIL_OPEN: "open",
    EDGE_STATE_DIR: path.join(path.dirname(file), "state"),
    EDGE_MGMT_SOCKET: path.join(path.dirname(file), "mgmt.sock"),
    // No syslog here: every line goes to stderr, where the tests read it.
    EDGE_SYSLOG_SOCKET: path.join(path.dirname(file), "no-syslog"),
    ...extra,
  };
  fs.writeFileSync(file, Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o644 });
}

/** A fresh server directory (conf, state, control files), world-traversable for `nobody`. */
function server(edgeUrl, extra) {
  const d = fs.mkdtempSync(path.join(dir, "srv-"));
  fs.chmodSync(d, 0o755);
  const conf = path.join(d, "vpn-edge.conf");
  writeConf(conf, edgeUrl, extra);
  return { dir: d, conf, state: path.join(d, "state") };
}

function run(cmd, args, env, { uid, gid, timeoutMs = 20_000 } = {}) {
  const argv = uid === undefined ? [cmd, ...args] : ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", cmd, ...args];
  return new Promise((resolve) => {
    const started = Date.now();
    const p = spawn(argv[0], argv.slice(1), { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (c) => (stderr += c));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    // "exit", not "close": a detached child may keep stderr open after the script returned.
    p.on("exit", (code) => {
      clearTimeout(t);
      resolve({ code, ms: Date.now() - started, stderr: () => stderr });
    });
  });
}

/** Runs the auth hook as OpenVPN does; resolves with "1" (allow), "0" (deny) and details. */
async function auth(srv, username, password, { env = {}, uid, gid } = {}) {
  const creds = path.join(srv.dir, `creds-${Math.random().toString(16).slice(2)}`);
  fs.writeFileSync(creds, Buffer.concat([Buffer.from(username), Buffer.from("\n"), Buffer.from(password), Buffer.from("\n")]), { mode: 0o644 });
  const control = path.join(srv.dir, `acf-${Math.random().toString(16).slice(2)}`);
  fs.writeFileSync(control, "");
  fs.chmodSync(control, 0o666); // OpenVPN creates it writable by its own (unprivileged) user
  const r = await run("sh", [path.join(hooks, "auth-user-pass-verify.sh"), creds], {
    VPN_EDGE_CONF: srv.conf, untrusted_ip: "203.0.113.7", untrusted_port: "40000", auth_control_file: control, common_name: "x", ...env,
  }, { uid, gid });
  let verdict;
  if (r.code === 0) verdict = "1";
  else if (r.code === 2) {
    // Deferred: the answer arrives in the control file (OpenVPN waits hand-window for it).
    try {
      await waitFor(() => fs.readFileSync(control, "utf8") !== "", { timeoutMs: 10_000, what: "auth_control_file" });
      verdict = fs.readFileSync(control, "utf8");
    } catch {
      verdict = "timeout";
    }
  } else verdict = "0";
  return { verdict, code: r.code, stderr: r.stderr };
}

const spooled = (srv) => (fs.existsSync(path.join(srv.state, "spool")) ? fs.readdirSync(path.join(srv.state, "spool")).filter((f) => f.endsWith(".json")) : []);

/** A fake OpenVPN management interface on a unix socket that records each command line. */
async function fakeManagement(sockPath, { clients = 2, statusRows = [] } = {}) {
  const mgmt = { commands: [], server: null };
  mgmt.server = net.createServer((sock) => {
    sock.write(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n");
    let buf = "";
    sock.on("data", (c) => {
      buf += c;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i).replace(/\r$/, "");
        buf = buf.slice(i + 1);
        mgmt.commands.push(line);
        if (line === "quit") return sock.end();
        if (line === "load-stats") sock.write(`SUCCESS: nclients=${clients},bytesin=1,bytesout=2\r\n`);
        else if (line === "status 3") sock.write(`TITLE\tOpenVPN\r\n${statusRows.join("\r\n")}${statusRows.length ? "\r\n" : ""}END\r\n`);
        else sock.write(`SUCCESS: ${line.split(" ")[0]} done\r\n`);
      }
    });
    sock.on("error", () => {});
  });
  await new Promise((r) => mgmt.server.listen(sockPath, r));
  mgmt.close = () => new Promise((r) => mgmt.server.close(r));
  return mgmt;
}

const agent = (srv) => run("sh", [path.join(hooks, "vpn-edge-agent.sh"), "--once"], { VPN_EDGE_CONF: srv.conf, EDGE_MGMT_WAIT_S: "0.2" });

before(async () => {
  assert.equal(process.getuid(), 0, "the hook tests run hooks as nobody (setpriv): they need root");
  for (const bin of ["setpriv", "socat", "jq", "curl", "openssl"]) execFileSync("sh", ["-c", `command -v ${bin}`]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "vpn-edge-hooks-"));
  fs.chmodSync(dir, 0o755);
  // A copy readable by nobody (the worktree may not be).
  hooks = path.join(dir, "hooks");
  fs.mkdirSync(hooks, { mode: 0o755 });
  for (const f of fs.readdirSync(SRC)) fs.copyFileSync(path.join(SRC, f), path.join(hooks, f));
  for (const f of fs.readdirSync(hooks)) fs.chmodSync(path.join(hooks, f), 0o755);
  edge = await startFake("edge");
  refused = await refusedUrl();
});

after(async () => {
  await edge?.close();
  if (dir && !process.env.KEEP_E2E) fs.rmSync(dir, { recursive: true, force: true });
});

test("auth hook: the edge unreachable (refused, 5xx, hanging past the timeout) admits locally and spools the admission", async () => {
  const srv = server(refused);
  assert.equal((await auth(srv, "alice", "pw-1")).verdict, "1");
  edge.script = [{ status: 503, body: { error: "down" } }];
  const srv5 = server(edge.url);
  assert.equal((await auth(srv5, "bob", "pw-2")).verdict, "1");
  edge.script = [{ hang: true }];
  const srvH = server(edge.url);
  assert.equal((await auth(srvH, "carol", "pw-3")).verdict, "1");
  for (const [s, user] of [[srv, "alice"], [srv5, "bob"], [srvH, "carol"]]) {
    const items = spooled(s);
    assert.equal(items.length, 1, `${user}'s admission is spooled`);
    const item = JSON.parse(fs.readFileSync(path.join(s.state, "spool", items[0]), "utf8"));
    assert.equal(item.username, user);
    assert.equal(item.client_ip, "203.0.113.7");
  }
});

test("auth hook: an edge answer that is not 'unavailable' (3xx, 4xx, a malformed 200) denies, never admits locally", async () => {
  const answers = [
    { status: 301, headers: { location: "https://edge.example.com/v1/auth" } }, // http:// behind "Always Use HTTPS"
    { status: 302, headers: { location: "https://login.example.com/" } },
    { status: 400, body: { error: { code: "invalid_field" } } },
    { status: 401, body: { error: { code: "replayed" } } },
    { status: 429, body: { error: { code: "rate_limited" } } },
    { status: 200, raw: "<html>captive portal</html>", contentType: "text/html" },
    { status: 200, body: { decision: "allow" } }, // no session id
    { status: 200, body: { decision: "allow", session_id: "../../etc/x" } },
  ];
  for (const a of answers) {
    edge.script = [a];
    const srv = server(edge.url);
    const r = await auth(srv, "mallory", "guess");
    assert.equal(r.verdict, "0", `edge answered ${JSON.stringify(a)}: ${r.stderr()}`);
    assert.deepEqual(spooled(srv), [], "nothing spooled");
  }
});

test("auth hook: mktemp failing (hook as nobody, root-only state directory) denies instead of admitting", async () => {
  const srv = server(refused);
  fs.mkdirSync(srv.state, { mode: 0o700 }); // root-only: nobody can create anything in it
  const r = await auth(srv, "mallory", "anything", { uid: NOBODY, gid: NOBODY });
  assert.equal(r.verdict, "0", r.stderr());
  assert.match(r.stderr(), /mktemp failed/);
});

test("auth hook: a spool that cannot be written denies: no admission the edge will never hear of", async () => {
  const srv = server(refused);
  for (const d of ["", "sessions", "ends", "revoked", "tmp"]) fs.mkdirSync(path.join(srv.state, d), { recursive: true, mode: 0o777 });
  for (const d of ["", "sessions", "ends", "revoked", "tmp"]) fs.chmodSync(path.join(srv.state, d), 0o777);
  fs.mkdirSync(path.join(srv.state, "spool"), { mode: 0o755 }); // root's: nobody cannot write it
  const r = await auth(srv, "mallory", "anything", { uid: NOBODY, gid: NOBODY });
  assert.equal(r.verdict, "0", r.stderr());
  assert.deepEqual(spooled(srv), []);
});

test("auth hook: credentials the edge would refuse (U+0085, DEL, invalid UTF-8, too long) are denied, not admitted locally", async () => {
  const bad = [
    ["a\u0085b", "pw"], // NEL: a C1 control; it used to poison the whole spool report
    ["a\u007fb", "pw"],
    [Buffer.from([0x61, 0xc3, 0x28]), "pw"], // invalid UTF-8
    [Buffer.from([0xed, 0xa0, 0x80]), "pw"], // a UTF-16 surrogate
    ["x".repeat(257), "pw"],
    ["alice", "p".repeat(1025)],
    ["alice", "p\u009bw"],
  ];
  for (const [u, p] of bad) {
    const srv = server(refused);
    const r = await auth(srv, u, p);
    assert.equal(r.verdict, "0", `${JSON.stringify(u.toString())}: ${r.stderr()}`);
    assert.deepEqual(spooled(srv), []);
  }
  // The same rules admit what the edge accepts: non-ASCII text, 256 bytes, quotes.
  for (const [u, p] of [["Zoë \"the\" \\ admin", "pässwörd"], ["x".repeat(256), "p".repeat(1024)], ["😀", "😀"]]) {
    const srv = server(refused);
    assert.equal((await auth(srv, u, p)).verdict, "1", u);
    const item = JSON.parse(fs.readFileSync(path.join(srv.state, "spool", spooled(srv)[0]), "utf8"));
    assert.deepEqual([item.username, item.password], [u, p]);
  }
});

test("auth hook: a renegotiation with a valid auth-gen-token is answered locally, once the server knows the session; unknown, revoked, expired and invalid tokens are denied", async () => {
  edge.requests.length = 0;
  edge.script = [];
  edge.fallback = { status: 503, body: {} }; // an outage: every edge call is a degraded admission
  const srv = server(edge.url);
  const tok = (session_id, extra = {}) => ({ env: { session_state: "Authenticated", session_id, ...extra } });
  const token = "SESS_ID_AT_0123456789abcdefABCDEF"; // what the client sends as its password
  // A token this server knows nothing of (another server's secret, a wiped state): a real login it is.
  assert.equal((await auth(srv, "alice", token, tok("c2Vzc2lvbi1h"))).verdict, "0");
  for (const state of ["Expired", "Invalid", "AuthenticatedEmptyUser", "ExpiredEmptyUser"]) {
    assert.equal((await auth(srv, "alice", token, { env: { session_state: state, session_id: "c2Vzc2lvbi1h" } })).verdict, "0", state);
  }
  assert.deepEqual(edge.requests.map((r) => r.url), [], "none of them reached the edge");

  // mallory logs in during the outage: one degraded admission, spooled.
  assert.equal((await auth(srv, "mallory", "guess", { env: { session_state: "Initial", untrusted_port: "41000" } })).verdict, "1");
  assert.equal(spooled(srv).length, 1);
  // Her renegotiations (same address) and a reconnect from another port ride on the token.
  for (const port of ["41000", "41000", "41001"]) {
    assert.equal((await auth(srv, "mallory", token, tok("bWFsbG9yeQ", { untrusted_port: port }))).verdict, "1", port);
  }
  assert.equal(edge.requests.filter((r) => r.url === "/v1/auth").length, 1, "one /v1/auth for the login, none per renegotiation");
  assert.equal(spooled(srv).length, 1, "no new degraded admission");
  // Her session ends: a degraded session's token dies with it.
  const end = await run("sh", [path.join(hooks, "client-disconnect.sh")], { VPN_EDGE_CONF: srv.conf, trusted_ip: "203.0.113.7", trusted_port: "41001" });
  assert.equal(end.code, 0);
  assert.equal((await auth(srv, "mallory", token, tok("bWFsbG9yeQ", { untrusted_port: "41002" }))).verdict, "0");

  // alice is admitted by the origin: her token survives a disconnect (a network change).
  edge.script = [{ status: 200, body: { decision: "allow", source: "origin", session_id: "0123456789abcdef0123456789abcdef" } }];
  assert.equal((await auth(srv, "alice", "alice-pw", { env: { session_state: "Initial", untrusted_port: "42000" } })).verdict, "1");
  assert.equal((await auth(srv, "alice", token, tok("YWxpY2U", { untrusted_port: "42000" }))).verdict, "1");
  await run("sh", [path.join(hooks, "client-disconnect.sh")], { VPN_EDGE_CONF: srv.conf, trusted_ip: "203.0.113.7", trusted_port: "42000" });
  assert.equal((await auth(srv, "alice", token, tok("YWxpY2U", { untrusted_port: "42001" }))).verdict, "1");
  edge.fallback = { status: 200, body: {} };
});

test("client-disconnect: a hanging edge does not hold OpenVPN; the end is spooled and delivered by the agent later", async () => {
  const srv = server(edge.url, { EDGE_TIMEOUT_S: "3" });
  fs.mkdirSync(path.join(srv.state, "sessions"), { recursive: true });
  fs.writeFileSync(path.join(srv.state, "sessions", "203.0.113.7_40000"), "0123456789abcdef0123456789abcdef\n");
  edge.requests.length = 0;
  edge.script = [{ hang: true }];
  edge.fallback = { hang: true };
  const r = await run("sh", [path.join(hooks, "client-disconnect.sh")], { VPN_EDGE_CONF: srv.conf, trusted_ip: "203.0.113.7", trusted_port: "40000" });
  assert.equal(r.code, 0);
  // Waiting for the edge would take the curl timeout (3 s) at least.
  assert.ok(r.ms < 3_000, `client-disconnect returned after ${r.ms} ms with the edge hanging (the curl timeout is 3 s)`);
  // The detached attempt times out; the report stays spooled for the agent.
  await new Promise((res) => setTimeout(res, 3500));
  assert.equal(fs.readdirSync(path.join(srv.state, "ends")).filter((f) => f.endsWith(".json")).length, 1);
  edge.fallback = { status: 200, body: { status: "up", disconnect: [] } };
  edge.requests.length = 0;
  await agent(srv);
  const ends = edge.requests.filter((q) => q.url === "/v1/sessions/end");
  assert.deepEqual(ends.map((q) => q.json), [{ session_id: "0123456789abcdef0123456789abcdef" }]);
  assert.deepEqual(fs.readdirSync(path.join(srv.state, "ends")).filter((f) => f.endsWith(".json")), []);
});

test("agent: a disconnect item whose fields are not what the edge issues never reaches the management interface", async () => {
  const srv = server(edge.url);
  const mgmt = await fakeManagement(path.join(srv.dir, "mgmt.sock"), {
    statusRows: ["CLIENT_LIST\tbob\t198.51.100.2:5000\t10.8.0.3\t\t1\t1\t2026-11-25 18:00:00\t1\tbob\t7\t0\tAES-256-GCM"],
  });
  const evil = [
    { session_id: "s1", username: "mallory", client_ip: "1.2.3.4:1\nsignal SIGTERM", client_port: 5, reason: "invalid" },
    { session_id: "s2", username: "mallory", client_ip: "1.2.3.4", client_port: "1\nsignal SIGTERM", reason: "invalid" },
    { session_id: "s3\nsignal SIGTERM", username: "mallory", client_ip: "1.2.3.4", client_port: 1, reason: "invalid" },
    { session_id: "s4", username: "mallory", client_ip: "1.2.3.4", client_port: 70000, reason: "invalid" },
    { session_id: "s5", username: "x\nsignal SIGTERM", client_ip: "1.2.3.4 signal", client_port: 1, reason: "invalid" },
    { session_id: "ok1", username: "bob", client_ip: "198.51.100.2", client_port: 5000, reason: "invalid" },
  ];
  edge.requests.length = 0;
  edge.script = [];
  edge.fallback = (req) => (req.url.endsWith("/heartbeat") ? { status: 200, body: { status: "up", disconnect: evil } } : { status: 200, body: { removed: 1 } });
  await agent(srv);
  await mgmt.close();
  edge.fallback = { status: 200, body: {} };
  assert.ok(!mgmt.commands.some((c) => /signal|SIGTERM/.test(c)), mgmt.commands.join(" | "));
  assert.deepEqual(mgmt.commands.filter((c) => /kill/.test(c)), ["client-kill 7 HALT"], "only the valid item is killed, by its client id");
  const acks = edge.requests.filter((q) => q.url.endsWith("/disconnects/ack"));
  assert.deepEqual(acks.map((q) => q.json), [{ session_ids: ["ok1"] }]);
});

test("agent: the heartbeat says whether OpenVPN answers its management interface", async () => {
  const srv = server(edge.url);
  edge.requests.length = 0;
  edge.fallback = { status: 200, body: { status: "up", disconnect: [] } };
  const mgmt = await fakeManagement(path.join(srv.dir, "mgmt.sock"), { clients: 3 });
  await agent(srv);
  await mgmt.close(); // OpenVPN stopped: its socket is gone
  await agent(srv);
  const beats = edge.requests.filter((q) => q.url === "/v1/servers/vpn-1/heartbeat").map((q) => q.json);
  assert.deepEqual(beats, [{ clients: 3, openvpn: "ok" }, { clients: 0, openvpn: "down" }]);
});

test("agent: an offline report the edge rejects item by item is settled; one bad item no longer keeps the spool forever", async () => {
  const srv = server(refused);
  // Two local admissions while the edge was unreachable.
  assert.equal((await auth(srv, "alice", "pw-1")).verdict, "1");
  assert.equal((await auth(srv, "bob", "pw-2", { env: { untrusted_port: "40001" } })).verdict, "1");
  assert.equal(spooled(srv).length, 2);
  writeConf(srv.conf, edge.url);
  edge.requests.length = 0;
  edge.script = [];
  const offline = [
    // An outage: kept, and sent again (signed afresh) on the next pass.
    { status: 503, body: {} },
    // An edge that judges the batch as a whole names the bad item: it goes, the rest is retried.
    { status: 400, body: { error: { code: "invalid_field", message: "field sessions[1].admitted_at: is too old" } } },
    // The item-by-item answer.
    { status: 200, body: { recorded: [{ index: 0, session_id: "abcdef0123456789abcdef0123456789" }], rejected: [] } },
  ];
  edge.fallback = (req) => (req.url === "/v1/sessions/offline" ? offline.shift() : { status: 200, body: { status: "up", disconnect: [] } });
  await agent(srv);
  assert.equal(spooled(srv).length, 2, "kept on 503");
  await new Promise((r) => setTimeout(r, 1100)); // a new second: a fresh signature
  await agent(srv);
  assert.deepEqual(spooled(srv), [], "settled");
  const sent = edge.requests.filter((q) => q.url === "/v1/sessions/offline");
  assert.equal(sent.length, 3);
  assert.deepEqual(sent.map((q) => q.json.sessions.length), [2, 2, 1]);
  const sigs = sent.map((q) => q.headers["x-edge-signature"]);
  assert.equal(new Set(sigs).size, 3, "each attempt is signed afresh");
  // The recorded item's session id is kept, so its disconnect is reported.
  const kept = fs.readdirSync(path.join(srv.state, "sessions"));
  assert.equal(kept.length, 1);

  // The per-item answer: a rejected item is dropped (and logged), as is a recorded one.
  const srv2 = server(refused);
  assert.equal((await auth(srv2, "carol", "pw-3")).verdict, "1");
  assert.equal((await auth(srv2, "dave", "pw-4", { env: { untrusted_port: "40002" } })).verdict, "1");
  writeConf(srv2.conf, edge.url);
  offline.push({ status: 200, body: { recorded: [{ index: 0, session_id: "abcdef0123456789abcdef0123456780" }], rejected: [{ index: 1, error: "too many pending sessions for this user" }] } });
  const r = await agent(srv2);
  assert.deepEqual(spooled(srv2), []);
  assert.match(r.stderr(), /rejected by the edge: too many pending/);
  edge.fallback = { status: 200, body: {} };
});

test("logs go to syslog when there is one, else to stderr (OpenVPN's log); never the password", async () => {
  const srv = server(refused);
  const r = await auth(srv, "alice", "secret-pw-77");
  assert.match(r.stderr(), /auth allow user=alice client=203\.0\.113\.7:40000 source=local-fail-open/);
  assert.ok(!r.stderr().includes("secret-pw-77"));

  const sock = path.join(srv.dir, "syslog.sock");
  const syslog = spawn("socat", ["-u", `UNIX-RECV:${sock}`, "STDOUT"], { stdio: ["ignore", "pipe", "ignore"] });
  let got = "";
  syslog.stdout.on("data", (c) => (got += c));
  await waitFor(() => fs.existsSync(sock), { what: "syslog socket" });
  const srv2 = server(refused, { EDGE_SYSLOG_SOCKET: sock });
  const r2 = await auth(srv2, "bob", "secret-pw-88");
  await waitFor(() => got.includes("auth allow user=bob"), { what: "the line in syslog" });
  syslog.kill();
  assert.ok(!r2.stderr().includes("auth allow"), "not duplicated to stderr");
  assert.ok(!got.includes("secret-pw-88"));
});
