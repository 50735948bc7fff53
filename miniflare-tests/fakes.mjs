// Fakes of the outside world (billing, origin, DNS provider, webhooks): real HTTP servers
// on loopback that record what they receive and answer from a script, including the
// ways real services fail (5xx, 429, garbage, hanging past a timeout, refused).
import http from "node:http";

export async function startFake(name = "fake") {
  const fake = {
    name,
    requests: [],
    /** Queue of scripted answers; when empty, `fallback` answers. */
    script: [],
    fallback: { status: 200, body: {} },
    server: null,
    url: "",
    answer(...steps) {
      this.script.push(...steps);
      return this;
    },
    async close() {
      this.server.closeAllConnections?.();
      await new Promise((r) => this.server.close(r));
    },
  };
  fake.server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let json = null;
      try {
        json = raw ? JSON.parse(raw) : null;
      } catch {}
      const record = { method: req.method, url: req.url, headers: req.headers, raw, json };
      fake.requests.push(record);
      let step = fake.script.length ? fake.script.shift() : fake.fallback;
      if (typeof step === "function") step = step(record);
      if (step.hang) return; // never answers: the caller's timeout must fire
      if (step.destroy) return req.socket.destroy();
      const body = step.raw ?? (step.body === undefined ? "" : JSON.stringify(step.body));
      res.writeHead(step.status ?? 200, { "content-type": step.contentType ?? "application/json", ...(step.headers ?? {}) });
      res.end(body);
    });
  });
  await new Promise((r) => fake.server.listen(0, "127.0.0.1", r));
  fake.url = `http://127.0.0.1:${fake.server.address().port}`;
  return fake;
}

/** A loopback port that refuses connections (bound, then closed). */
export async function refusedUrl() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

export async function waitFor(check, { timeoutMs = 15_000, intervalMs = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The provider's website as an auth origin, answering everything a real one can:
 * `200 {"valid"}` for a judged login; `401` for a wrong bearer token; `422` for a request
 * it refuses to judge (a password over 128 characters, a missing field); `429` with
 * `Retry-After` once a username has `rateLimit.max` failed logins within
 * `rateLimit.windowMs`. `users` maps username → password. `mode` switches how it fails as
 * a whole: "up", "500", "502", "garbage" (200 with HTML), "novalid" (200 without `valid`),
 * "hang" (never answers), "down" (connection reset), "401"/"403" (token revoked),
 * "302" (moved). `broken` is a set of usernames it answers 500 for (a bug on one account).
 */
export async function startOrigin(users, token = "origin-token", { rateLimit = null } = {}) {
  const origin = await startFake("origin");
  origin.users = users;
  origin.mode = "up";
  origin.broken = new Set();
  origin.token = token;
  origin.rateLimit = rateLimit;
  const failures = new Map();
  origin.fallback = (req) => {
    switch (origin.mode) {
      case "500":
        return { status: 500, raw: "Internal Server Error", contentType: "text/plain" };
      case "502":
        return { status: 502, raw: "<html>Bad Gateway</html>", contentType: "text/html" };
      case "garbage":
        return { status: 200, raw: "<html>maintenance</html>", contentType: "text/html" };
      case "novalid":
        return { status: 200, body: { ok: true } };
      case "hang":
        return { hang: true };
      case "down":
        return { destroy: true };
      case "401":
        return { status: 401, body: { error: "invalid api token" } };
      case "403":
        return { status: 403, body: { error: "token lacks scope vpn:auth" } };
      case "302":
        return { status: 302, headers: { location: "https://example.com/login" }, raw: "" };
    }
    if (req.headers.authorization !== `Bearer ${origin.token}`) return { status: 401, body: { error: "invalid api token" } };
    const { username, password } = req.json ?? {};
    if (typeof username !== "string" || typeof password !== "string") {
      return { status: 422, body: { error: "username and password are required" } };
    }
    if (password.length > 128) return { status: 422, body: { error: "password: at most 128 characters" } };
    if (origin.broken.has(username)) return { status: 500, raw: "Internal Server Error", contentType: "text/plain" };
    const now = Date.now();
    if (origin.rateLimit) {
      const recent = (failures.get(username) ?? []).filter((t) => now - t < origin.rateLimit.windowMs);
      failures.set(username, recent);
      if (recent.length >= origin.rateLimit.max) {
        return { status: 429, headers: { "retry-after": "60" }, body: { error: "too many attempts" } };
      }
    }
    const valid = Object.hasOwn(origin.users, username) && origin.users[username] === password;
    if (!valid && origin.rateLimit) failures.get(username).push(now);
    return { status: 200, body: { valid } };
  };
  return origin;
}

/**
 * A fake of Cloudflare's API v4 DNS records endpoints for one zone: checks the bearer
 * token, paginates (at most `pageSize` per page whatever `per_page` asks), filters by
 * `comment.exact`, applies batches all or nothing, and can be scripted to answer 429/5xx.
 */
export async function startCloudflare({ zoneId = "zone123", token = "cf-token", pageSize = 10 } = {}) {
  const cf = await startFake("cloudflare");
  cf.records = [];
  cf.batches = [];
  let next = 1;
  const env = (result, extra = {}) => ({ success: true, errors: [], messages: [], result, ...extra });
  const fail = (status, code, message) => ({ status, body: { success: false, errors: [{ code, message }], messages: [], result: null } });
  cf.add = (r) => cf.records.push({ id: (next++).toString(16).padStart(32, "0"), proxied: false, ttl: 60, comment: null, ...r });
  cf.fallback = (req) => {
    if (req.headers.authorization !== `Bearer ${token}`) return fail(403, 10000, "Authentication error");
    const url = new URL(req.url, "http://x");
    const base = `/client/v4/zones/${zoneId}/dns_records`;
    if (req.method === "GET" && url.pathname === base) {
      let rs = cf.records;
      const comment = url.searchParams.get("comment.exact");
      if (comment !== null) rs = rs.filter((r) => (r.comment ?? "").toLowerCase() === comment.toLowerCase());
      const name = url.searchParams.get("name.exact");
      if (name !== null) rs = rs.filter((r) => r.name === name);
      const per = Math.min(Number(url.searchParams.get("per_page") ?? 100), pageSize);
      const page = Number(url.searchParams.get("page") ?? 1);
      const total_pages = Math.max(1, Math.ceil(rs.length / per));
      return { status: 200, body: env(rs.slice((page - 1) * per, page * per), { result_info: { page, per_page: per, count: Math.min(per, rs.length), total_count: rs.length, total_pages } }) };
    }
    if (req.method === "POST" && url.pathname === `${base}/batch`) {
      const b = req.json;
      if (!b || typeof b !== "object") return fail(400, 9207, "Request body is invalid");
      // All or nothing: validate everything first.
      for (const d of b.deletes ?? []) if (!cf.records.some((r) => r.id === d.id)) return fail(404, 81044, "Record does not exist.");
      // A PATCH (or PUT) of an id the zone does not have fails the whole batch, as the real API does.
      for (const p of [...(b.patches ?? []), ...(b.puts ?? [])]) if (!cf.records.some((r) => r.id === p.id)) return fail(404, 81044, "Record does not exist.");
      for (const p of b.posts ?? []) {
        if (!["A", "AAAA"].includes(p.type) || !p.name || !p.content || typeof p.ttl !== "number") return fail(400, 9000, "invalid record");
        if (cf.records.some((r) => r.type === p.type && r.name === p.name && r.content === p.content)) return fail(400, 81058, "An identical record already exists.");
      }
      cf.batches.push(b);
      cf.records = cf.records.filter((r) => !(b.deletes ?? []).some((d) => d.id === r.id));
      for (const p of b.patches ?? []) Object.assign(cf.records.find((r) => r.id === p.id) ?? {}, p);
      for (const p of b.posts ?? []) cf.add({ ...p });
      return { status: 200, body: env({ deletes: b.deletes ?? [], patches: b.patches ?? [], puts: [], posts: b.posts ?? [] }) };
    }
    return fail(404, 7003, "Could not route");
  };
  cf.apiUrl = `${cf.url}/client/v4`;
  cf.pool = (name) => cf.records.filter((r) => r.name === name);
  return cf;
}

/**
 * A VPN server's http health endpoint, as the probers see it: answers 200, or 503 to the
 * regions in `failFrom` (by `X-Edge-Probe-Region`); `hang` leaves every probe unanswered.
 * Records each probe (region, user agent, when it arrived and when it was answered).
 */
export async function startVpnHealth() {
  // `byProber`: per prober object (X-Edge-Prober), probes open now and the most at once.
  const s = { failFrom: new Set(), hang: false, seen: [], inFlight: 0, maxInFlight: 0, byProber: {} };
  s.server = http.createServer((req, res) => {
    const region = req.headers["x-edge-probe-region"];
    const prober = req.headers["x-edge-prober"];
    const probe = { region, prober, path: req.url, ua: req.headers["user-agent"], at: Date.now(), closedAt: null };
    s.seen.push(probe);
    s.inFlight += 1;
    s.maxInFlight = Math.max(s.maxInFlight, s.inFlight);
    const p = (s.byProber[prober] ??= { inFlight: 0, max: 0 });
    p.inFlight += 1;
    p.max = Math.max(p.max, p.inFlight);
    res.on("close", () => {
      s.inFlight -= 1;
      p.inFlight -= 1;
      probe.closedAt = Date.now();
    });
    if (s.hang) return;
    res.writeHead(s.failFrom.has(region) ? 503 : 200).end();
  });
  await new Promise((r) => s.server.listen(0, "127.0.0.1", r));
  s.url = `http://127.0.0.1:${s.server.address().port}/health`;
  s.close = async () => {
    s.server.closeAllConnections();
    await new Promise((r) => s.server.close(r));
  };
  return s;
}
