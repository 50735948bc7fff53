// The demo behind scripts/dev: registers a demo fleet through the admin API, keeps most
// of it alive with signed heartbeats, fires the cron round every minute (wrangler dev
// does not), and prints what to try. Runs until interrupted.
import { signedHeaders, TimestampClock } from "./edge-client.mjs";

const EDGE = process.env.EDGE_URL ?? "http://127.0.0.1:8787";
const ADMIN = process.env.ADMIN_TOKEN;
const FLEET_SECRET = process.env.FLEET_SECRET;

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

for (const [id, country, city, ipv4, features, capacity, extra = {}] of FLEET) {
  await admin("PUT", `/v1/admin/servers/${id}`, {
    hostname: `${id}.vpn.example.com`, ipv4, country, city, capacity, features,
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
  curl -s ${EDGE}/v1/servers/se-sto-01
  open ${EDGE}/ (status page)
  curl -s -X PUT ${EDGE}/v1/admin/servers/se-sto-03 -H 'authorization: Bearer ${ADMIN}' \\
       -H 'content-type: application/json' \\
       -d '{"hostname":"se-sto-03.vpn.example.com","ipv4":"198.51.100.14","country":"se","city":"Stockholm","capacity":200,"features":[],"probe":{"kind":"heartbeat"}}'
  FLEET_SECRET=${FLEET_SECRET} scripts/server-key se-sto-01
  EDGE_URL=${EDGE} EDGE_SERVER_ID=se-sto-01 EDGE_SERVER_KEY=$(FLEET_SECRET=${FLEET_SECRET} scripts/server-key se-sto-01) \\
       scripts/signed-request POST /v1/servers/se-sto-01/heartbeat '{"clients":42}'

Ctrl-C stops the edge. State persists in .wrangler/ between runs.
`);

setInterval(beat, 20_000);
setInterval(round, 60_000);
