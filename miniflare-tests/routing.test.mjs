import { test } from "node:test";
import assert from "node:assert/strict";
import { startEdge } from "./harness.mjs";

test("unknown routes are 404 and wrong methods 405 with Allow, in the error shape", async () => {
  const edge = await startEdge();
  try {
    const notFound = await edge.json("/v1/nothing-here");
    assert.equal(notFound.status, 404);
    assert.equal(notFound.body.error.code, "not_found");

    for (const [method, path, allow] of [
      ["POST", "/v1/servers", "GET, HEAD"],
      ["DELETE", "/v1/countries", "GET, HEAD"],
      ["GET", "/v1/auth", "POST"],
      ["GET", "/v1/servers/se-1/heartbeat", "POST"],
      ["POST", "/v1/admin/servers/se-1", "GET, HEAD, PUT, PATCH, DELETE"],
      ["PUT", "/v1/admin/servers", "GET, HEAD"],
    ]) {
      const r = await edge.json(path, { method });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.headers.get("allow"), allow);
      assert.equal(r.body.error.code, "method_not_allowed");
    }
  } finally {
    await edge.close();
  }
});
