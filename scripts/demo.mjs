// The demo behind scripts/dev: a demo origin (the provider's website, with demo users and
// a switch to take it down), a demo billing API and alert sink, a demo fleet registered
// through the admin API and kept alive with signed heartbeats, the cron round every
// minute (wrangler dev does not run crons), and what to try. Runs until interrupted.
import http from "node:http";
import { signedHeaders, TimestampClock } from "./edge-client.mjs";

const EDGE = process.env.EDGE_URL ?? "http://127.0.0.1:8787";
const ADMIN = process.env.ADMIN_TOKEN;
const FLEET_SECRET = process.env.FLEET_SECRET;
const DEMO_PORT = Number(process.env.DEMO_PORT ?? 8790);
const ORIGIN_TOKEN = process.env.ORIGIN_API_TOKEN;

// Demo users of the provider's website.
const USERS = { alice: "alice-demo-pw", bob: "bob-demo-pw", carol: "carol-demo-pw" };
let originUp = true;

// The demo outside world on one port: origin auth, billing, alert sink, and the switch.
http
  .createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      const send = (status, body) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.url === "/api/vpn/auth" && req.method === "POST") {
        if (!originUp) return req.socket.destroy(); // a dead website: connection reset
        if (req.headers.authorization !== `Bearer ${ORIGIN_TOKEN}`) return send(401, { error: "bad token" });
        let body = {};
        try {
          body = JSON.parse(raw);
        } catch {}
        return send(200, { valid: Object.hasOwn(USERS, body.username) && USERS[body.username] === body.password });
      }
      if (req.url === "/demo/origin/down" && req.method === "POST") {
        originUp = false;
        console.log("[demo] origin is DOWN: logins fall back to the cache / provisional admission");
        return send(200, { origin: "down" });
      }
      if (req.url === "/demo/origin/up" && req.method === "POST") {
        originUp = true;
        console.log("[demo] origin is UP: the next round re-verifies degraded admissions");
        return send(200, { origin: "up" });
      }
      if (req.url === "/api/billing/sla-credit") {
        console.log(`[demo] billing received SLA credit ${raw} (Idempotency-Key ${req.headers["idempotency-key"]})`);
        return send(200, { ok: true });
      }
      if (req.url === "/hooks/alerts") {
        console.log(`[demo] alert: ${raw}`);
        return send(200, { ok: true });
      }
      send(404, { error: "not found" });
    });
  })
  .listen(DEMO_PORT, "127.0.0.1");

// Ten servers in four countries; two never send heartbeats (so the demo shows "down"),
// and one is in maintenance.
const FLEET = [
  ["se-sto-01", "se", "Stockholm", "198.51.100.11", ["p2p", "streaming"], 250],
  ["se-sto-02", "se", "Stockholm", "198.51.100.12", ["p2p"], 250],
  ["se-got-01", "se", "Gothenburg", "198.51.100.13", [], 150],
  ["de-ber-01", "de", "Berlin", "203.0.113.21", ["streaming"], 300],
  ["de-fra-01", "de", "Frankfurt", "203.0.113.22", ["p2p"], 300],
  ["de-fra-02", "de", "Frankfurt", "203.0.113.23", [], 300, { silent: true }],
  ["nl-ams-01", "nl", "Amsterdam", "192.0.2.31", ["p2p", "streaming"], 400],
  ["nl-ams-02", "nl", "Amsterdam", "192.0.2.32", [], 400, { maintenance: true }],
  ["us-nyc-01", "us", "New York", "192.0.2.41", ["streaming"], 500],
  ["us-lax-01", "us", "Los Angeles", "192.0.2.42", [], 500, { silent: true }],
];

async function admin(method, path, body) {
  const res = await fetch(EDGE + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res;
}

const clock = new TimestampClock();
async function heartbeat(id, clients, capacity) {
  const path = `/v1/servers/${id}/heartbeat`;
  const body = JSON.stringify({ clients, capacity, cpu: Math.round((clients / capacity) * 90), version: "2.6.9" });
  const headers = signedHeaders(id, "POST", path, body, clock.next(id), FLEET_SECRET);
  await fetch(EDGE + path, { method: "POST", headers, body }).then((r) => r.arrayBuffer());
}

async function round() {
  await fetch(`${EDGE}/__scheduled?cron=*+*+*+*+*`).then((r) => r.arrayBuffer());
}

// Where each demo city is, so recommendations can score distance (`?lat=&lon=`).
const PLACES = {
  Stockholm: [59.3293, 18.0686], Gothenburg: [57.7089, 11.9746], Berlin: [52.52, 13.405],
  Frankfurt: [50.1109, 8.6821], Amsterdam: [52.3676, 4.9041], "New York": [40.7128, -74.006],
  "Los Angeles": [34.0522, -118.2437],
};
for (const [id, country, city, ipv4, features, capacity, extra = {}] of FLEET) {
  const [latitude, longitude] = PLACES[city];
  await admin("PUT", `/v1/admin/servers/${id}`, {
    hostname: `${id}.vpn.example.com`, ipv4, country, city, capacity, features, latitude, longitude,
    probe: { kind: "heartbeat" }, maintenance: Boolean(extra.maintenance),
  });
}

const beat = async () => {
  for (const [id, , , , , capacity, extra = {}] of FLEET) {
    if (extra.silent) continue;
    const clients = Math.floor(capacity * (0.1 + 0.7 * Math.random()));
    await heartbeat(id, clients, capacity).catch((e) => console.error(`heartbeat ${id}: ${e.message}`));
  }
};
await beat();
await round();

console.log(`
vpn-edge is running on ${EDGE} with a demo fleet of ${FLEET.length} servers in 4 countries.
Servers turn "up" after two good minutes (UP_AFTER=2); the demo fires a round every minute.

  curl -s ${EDGE}/healthz
  curl -s ${EDGE}/v1/countries
  curl -s '${EDGE}/v1/servers?country=se'
  curl -s '${EDGE}/v1/recommendations?country=de&limit=2'
  curl -s '${EDGE}/v1/recommendations?lat=59.91&lon=10.75&limit=3'     (a client in Oslo)
  curl -s ${EDGE}/v1/admin/servers/se-sto-01 -H 'authorization: Bearer ${ADMIN}'
  curl -s -X PATCH ${EDGE}/v1/admin/servers/se-sto-01 -H 'authorization: Bearer ${ADMIN}' \
       -H 'content-type: application/merge-patch+json' -d '{"maintenance":true}'
  curl -s ${EDGE}/v1/servers/se-sto-01
  open ${EDGE}/ (status page)
  curl -s -X PUT ${EDGE}/v1/admin/servers/se-sto-03 -H 'authorization: Bearer ${ADMIN}' \\
       -H 'content-type: application/json' \\
       -d '{"hostname":"se-sto-03.vpn.example.com","ipv4":"198.51.100.14","country":"se","city":"Stockholm","capacity":200,"features":[],"probe":{"kind":"heartbeat"}}'
  FLEET_SECRET=${FLEET_SECRET} scripts/server-key se-sto-01
  export EDGE_URL=${EDGE} EDGE_SERVER_ID=se-sto-01 EDGE_SERVER_KEY=$(FLEET_SECRET=${FLEET_SECRET} scripts/server-key se-sto-01)
  scripts/signed-request POST /v1/servers/se-sto-01/heartbeat '{"clients":42}'

The fail-open cycle (demo users: ${Object.entries(USERS).map(([u, p]) => `${u}/${p}`).join(", ")}):
  echo '{"username":"alice","password":"alice-demo-pw","client_ip":"203.0.113.7","client_port":50001}' | scripts/signed-request POST /v1/auth -
        # allowed by the origin, and now cached
  curl -s -X POST http://127.0.0.1:${DEMO_PORT}/demo/origin/down
  echo '{"username":"alice","password":"alice-demo-pw","client_ip":"203.0.113.7","client_port":50002}' | scripts/signed-request POST /v1/auth -
        # source "cache"
  echo '{"username":"mallory","password":"made-up","client_ip":"203.0.113.8","client_port":50003}' | scripts/signed-request POST /v1/auth -
        # source "provisional"
  curl -s ${EDGE}/v1/admin/sessions -H 'authorization: Bearer ${ADMIN}'
  curl -s -X POST http://127.0.0.1:${DEMO_PORT}/demo/origin/up
        # within a minute the round re-verifies: mallory lands on se-sto-01's disconnect list
  scripts/signed-request POST /v1/servers/se-sto-01/heartbeat '{"clients":42}'

Ctrl-C stops the edge. State persists in .wrangler/ between runs.
`);

setInterval(beat, 20_000);
setInterval(round, 60_000);
