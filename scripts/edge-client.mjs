// A small client for the edge's HTTP API, shared by the demo, the benchmark and the
// Miniflare harness: server request signing exactly as the README specifies ("Signed by a server").
import crypto from "node:crypto";

export function serverKey(serverId, fleetSecret) {
  return crypto.createHmac("sha256", fleetSecret).update(serverId).digest();
}

export function signature(serverId, method, target, body, ts, fleetSecret) {
  const bodyHash = crypto.createHash("sha256").update(body ?? "").digest("hex");
  return crypto
    .createHmac("sha256", serverKey(serverId, fleetSecret))
    .update(`${ts}\n${method}\n${target}\n${bodyHash}`)
    .digest("hex");
}

/** Headers for a signed request with body `raw` (a string). */
export function signedHeaders(serverId, method, target, raw, ts, fleetSecret) {
  return {
    "content-type": "application/json",
    "x-edge-server": serverId,
    "x-edge-timestamp": String(ts),
    "x-edge-signature": signature(serverId, method, target, raw, ts, fleetSecret),
  };
}

/** Heartbeat timestamps must strictly increase per server. */
export class TimestampClock {
  constructor() {
    this.last = {};
  }
  next(serverId) {
    const ts = Math.max(Math.floor(Date.now() / 1000), (this.last[serverId] ?? 0) + 1);
    this.last[serverId] = ts;
    return ts;
  }
}
