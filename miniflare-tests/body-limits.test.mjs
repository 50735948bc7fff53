// Bodies are bounded while they stream: a chunked upload of 64 MiB, unsigned, signed, to
// the admin API and to the LibreNMS integration, is refused (401 before a byte is read,
// or 413 once it passes 16 KiB) and workerd's memory stays flat. Before, every body was
// read in full first: 64 MiB grew workerd by about 260 MB before the 413.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { startEdge, sign, ADMIN_TOKEN, BASE } from "./harness.mjs";
import { workerdPids, measureGrowth } from "../scripts/workerd-memory.mjs";

const MiB = 1024 * 1024;
const UPLOAD = 64 * MiB;
/**
 * Growth allowed while one upload runs: well under the 64 MiB body, which the old code grew
 * by about four times; above workerd's own RSS noise on a loaded machine (25 MiB seen once).
 */
const FLAT = 40 * MiB;
const LIBRENMS_TOKEN = "test-librenms-token";

let edge;
before(async () => {
  edge = await startEdge({ LIBRENMS_TOKEN });
  await edge.registerServer("se-1");
});
after(async () => edge.close());

/** A chunked body of `total` bytes in 64 KiB pieces, generated as it is pulled. */
function chunkedBody(total, fill = 0x20) {
  const piece = new Uint8Array(64 * 1024).fill(fill);
  let sent = 0;
  const stream = new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const n = Math.min(piece.length, total - sent);
      controller.enqueue(n === piece.length ? piece : piece.subarray(0, n));
      sent += n;
    },
  });
  return { stream, sent: () => sent };
}

/**
 * Sends `total` bytes chunked and samples workerd's RSS while it runs. workerd answers
 * without draining the rest and closes the connection, so the client sees either the answer
 * or, when its next write meets the closed socket first, a reset: both are a refusal.
 */
async function upload(pathname, headers, { method = "POST", total = UPLOAD } = {}) {
  const pids = workerdPids(process.pid);
  assert.ok(pids.length > 0, "workerd found among this process's children");
  const body = chunkedBody(total);
  const { result, growth } = await measureGrowth(pids, async () => {
    try {
      const res = await edge.mf.dispatchFetch(BASE + pathname, { method, headers, body: body.stream, duplex: "half" });
      return { status: res.status, answer: await res.json() };
    } catch (e) {
      if (["ECONNRESET", "EPIPE"].includes(e.cause?.code)) return { status: "reset", answer: null };
      throw e;
    }
  });
  return { ...result, growth, sent: body.sent() };
}

/** Refused: the expected status or a reset, the client could not push the whole body, memory flat. */
function refused(r, status, what) {
  assert.ok(r.status === status || r.status === "reset", `${what}: ${r.status} ${JSON.stringify(r.answer)}`);
  assert.ok(r.sent < UPLOAD, `${what}: the edge read the whole ${UPLOAD / MiB} MiB`);
  assert.ok(r.growth < FLAT, `${what}: ${grew(r)}`);
}

const grew = (r) => `workerd grew by ${(r.growth / MiB).toFixed(1)} MiB`;

test("a 64 MiB chunked POST without a signature is refused before its body is read", async () => {
  const r = await upload("/v1/sessions/offline", { "content-type": "application/json" });
  refused(r, 401, "unsigned");
  if (r.answer) assert.match(r.answer.error.message, /X-Edge-Server/);
});

test("a 64 MiB chunked POST with good signature headers gets 413 past 16 KiB, memory flat", async () => {
  // The signature really is over the whole body: a registered server misbehaving.
  const ts = Math.floor(Date.now() / 1000);
  const hash = crypto.createHash("sha256");
  const piece = Buffer.alloc(64 * 1024, 0x20);
  for (let i = 0; i < UPLOAD / piece.length; i++) hash.update(piece);
  const key = crypto.createHmac("sha256", "test-fleet-secret-0123456789").update("se-1").digest();
  const signature = crypto
    .createHmac("sha256", key)
    .update(`${ts}\nPOST\n/v1/sessions/offline\n${hash.digest("hex")}`)
    .digest("hex");
  const r = await upload("/v1/sessions/offline", {
    "content-type": "application/json",
    "x-edge-server": "se-1",
    "x-edge-timestamp": String(ts),
    "x-edge-signature": signature,
  });
  refused(r, 413, "signed");
  if (r.answer) assert.equal(r.answer.error.code, "payload_too_large");
});

test("the admin API and the LibreNMS integration read bounded too", async () => {
  for (const [pathname, method, token] of [
    ["/v1/admin/servers/se-9", "PUT", ADMIN_TOKEN],
    ["/v1/integrations/librenms", "POST", LIBRENMS_TOKEN],
  ]) {
    const r = await upload(pathname, { "content-type": "application/json", authorization: `Bearer ${token}` }, { method });
    refused(r, 413, pathname);
    // Without the token nothing is read at all.
    const anon = await upload(pathname, { "content-type": "application/json" }, { method });
    refused(anon, 401, `${pathname} without a token`);
  }
});

test("exactly 16 KiB chunked is read; one byte more is 413", async () => {
  const send = async (n) => {
    // A JSON object padded to n bytes, sent in 1 KiB chunks without a Content-Length.
    const text = `{"pad":"${"x".repeat(n - 10)}"}`;
    assert.equal(Buffer.byteLength(text), n);
    const bytes = new TextEncoder().encode(text);
    let at = 0;
    const stream = new ReadableStream({
      pull(c) {
        if (at >= bytes.length) return c.close();
        c.enqueue(bytes.subarray(at, at + 1024));
        at += 1024;
      },
    });
    const headers = { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` };
    const res = await edge.mf.dispatchFetch(BASE + "/v1/admin/servers/se-8", { method: "PUT", headers, body: stream, duplex: "half" });
    return { status: res.status, body: await res.json() };
  };
  const fits = await send(16 * 1024);
  assert.equal(fits.status, 400, JSON.stringify(fits.body));
  assert.equal(fits.body.error.code, "invalid_field");
  const over = await send(16 * 1024 + 1);
  assert.equal(over.status, 413);
});
