// Every route's declared access, enforced by the Worker's dispatch (README "API"): the rows
// are read from the core's route table (shared/src/route.rs, `ROUTES`), so a route added
// there is tested here without editing this file.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { ADMIN_TOKEN, startEdge } from "./harness.mjs";

const LIBRENMS_TOKEN = "test-librenms-token-0123456789";

function routeTable() {
  const src = fs.readFileSync(new URL("../shared/src/route.rs", import.meta.url), "utf8");
  const table = src.slice(src.indexOf("pub const ROUTES"), src.indexOf("];", src.indexOf("pub const ROUTES")));
  const rows = [...table.matchAll(/spec\(\s*"([A-Z]+)",\s*"([^"]+)",\s*(Public|Admin|Nms|Server\(\w+\)|OwnServer\(\w+\))/g)].map(
    ([, method, pattern, access]) => ({
      method,
      pattern,
      access: access.replace(/\(.*/, ""),
      path: pattern.replace("{id}", "se-1").replace("{month}", "2026-01"),
    }),
  );
  // Every row of the table was understood (a row this parser misses would go untested).
  assert.equal(rows.length, (table.match(/\bspec\(/g) ?? []).length);
  assert.ok(rows.length >= 20, `only ${rows.length} routes parsed`);
  return rows;
}

const ROWS = routeTable();

async function edgeWithServers() {
  const edge = await startEdge({ LIBRENMS_TOKEN });
  for (const id of ["se-1", "se-2"]) {
    const r = await edge.registerServer(id);
    assert.ok(r.status === 201, `register ${id}: ${r.status}`);
  }
  return edge;
}

function bodyInit(method, headers = {}) {
  return method === "GET" || method === "DELETE"
    ? { method, headers }
    : { method, headers: { "content-type": "application/json", ...headers }, body: "{}" };
}

test("every admin and LibreNMS route refuses a missing or wrong token, and the other secret", async () => {
  const edge = await edgeWithServers();
  try {
    const guarded = ROWS.filter((r) => r.access === "Admin" || r.access === "Nms");
    assert.ok(guarded.length >= 10);
    for (const row of guarded) {
      const right = row.access === "Admin" ? ADMIN_TOKEN : LIBRENMS_TOKEN;
      const other = row.access === "Admin" ? LIBRENMS_TOKEN : ADMIN_TOKEN;
      for (const [what, headers] of [
        ["no token", {}],
        ["wrong token", { authorization: `Bearer ${right}x` }],
        ["the other secret", { authorization: `Bearer ${other}` }],
        ["not a bearer", { authorization: right }],
      ]) {
        const r = await edge.json(row.path, bodyInit(row.method, headers));
        assert.equal(r.status, 401, `${row.method} ${row.pattern} with ${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, "unauthorized");
      }
    }
    // Nothing a refused request asked for happened: se-1 is still registered.
    assert.equal((await edge.json("/v1/servers/se-1")).status, 200);
  } finally {
    await edge.close();
  }
});

test("every server route refuses an unsigned request, a bearer token and a bad signature", async () => {
  const edge = await edgeWithServers();
  try {
    const signed = ROWS.filter((r) => r.access === "Server" || r.access === "OwnServer");
    assert.ok(signed.length >= 5);
    for (const row of signed) {
      const unsigned = await edge.json(row.path, bodyInit(row.method));
      assert.equal(unsigned.status, 401, `${row.method} ${row.pattern} unsigned`);
      assert.equal(unsigned.body.error.code, "unauthorized");
      const bearer = await edge.json(row.path, bodyInit(row.method, { authorization: `Bearer ${ADMIN_TOKEN}` }));
      assert.equal(bearer.status, 401, `${row.method} ${row.pattern} with the admin token`);
      const forged = await edge.signed("se-1", row.method, row.path, {}, { signAs: "se-2" });
      assert.equal(forged.status, 401, `${row.method} ${row.pattern} signed with another server's key`);
      if (row.access === "OwnServer") {
        // Signed, but by another server than the path's {id}.
        const other = await edge.signed("se-2", row.method, row.path, {});
        assert.equal(other.status, 403, `${row.method} ${row.pattern} signed by se-2`);
        assert.equal(other.body.error.code, "forbidden");
      }
    }
  } finally {
    await edge.close();
  }
});

test("admin routes refuse a server's valid signature; public routes need nothing", async () => {
  const edge = await edgeWithServers();
  try {
    for (const row of ROWS.filter((r) => r.access === "Admin")) {
      const r = await edge.signed("se-1", row.method, row.path, row.method === "GET" ? undefined : {});
      assert.equal(r.status, 401, `${row.method} ${row.pattern} signed by a server`);
    }
    for (const row of ROWS.filter((r) => r.access === "Public")) {
      const r = await edge.fetch(row.path, { method: row.method });
      assert.ok(r.status === 200, `${row.method} ${row.pattern}: ${r.status}`);
    }
  } finally {
    await edge.close();
  }
});
