// Validates the server's OpenAPI document with @apidevtools/swagger-parser (the OpenAPI 3.1
// schema, every $ref resolved) plus the rules we hold it to: each operation has an
// operationId, a security list, a 4xx problem response and only problem+json errors, and a
// paged operation's cursor parameter has the type of the next_cursor it is given.
// Usage: node validate.js RESPONSE_LOG_DIR   (the document comes from test_api_openapi's log)
"use strict";
const SwaggerParser = require("@apidevtools/swagger-parser");
const { documentFrom } = require("./common");

// A "#/components/..." reference's target (anything else as it is).
function resolve(doc, v) {
  while (v && typeof v.$ref === "string" && v.$ref.startsWith("#/")) {
    v = v.$ref.slice(2).split("/").reduce((o, k) => (o ? o[k] : undefined), doc);
  }
  return v;
}

// A paged operation's cursor query parameter takes what its 200 response's next_cursor
// gave: the two must have one type (null aside: it ends the pages).
function cursorMismatch(doc, where, op) {
  const param = (op.parameters || []).map(p => resolve(doc, p))
    .find(p => p && p.in === "query" && p.name === "cursor");
  const ok = resolve(doc, op.responses["200"]);
  const body = ok && ok.content && ok.content["application/json"];
  const schema = resolve(doc, body && body.schema);
  const next = schema && schema.properties && resolve(doc, schema.properties.next_cursor);
  if (!param || !next) return [];
  const types = t => [].concat(t || []).filter(x => x !== "null").sort().join("|");
  const pt = types(resolve(doc, param.schema).type), nt = types(next.type);
  return pt === nt ? [] : [`${where}: the cursor parameter is ${pt}, next_cursor is ${nt}`];
}

async function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: node validate.js RESPONSE_LOG_DIR");
  const doc = documentFrom(dir);
  if (!/^3\.1\./.test(doc.openapi)) throw new Error(`openapi is ${doc.openapi}, not 3.1.x`);
  // validate() dereferences in place: give it a copy.
  await SwaggerParser.validate(JSON.parse(JSON.stringify(doc)));
  const problems = [];
  let ops = 0;
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      ops++;
      const where = `${method.toUpperCase()} ${p}`;
      if (!op.operationId) problems.push(`${where}: no operationId`);
      if (!Array.isArray(op.security)) problems.push(`${where}: no security list`);
      for (const [code, r] of Object.entries(op.responses)) {
        const ref = r.$ref && doc.components.responses[r.$ref.split("/").pop()];
        const content = (ref || r).content || {};
        if (Number(code) >= 400 && !content["application/problem+json"] && !(code === "503" && p === "/health"))
          problems.push(`${where}: ${code} is not a problem+json response`);
      }
      if (!op.responses["400"]) problems.push(`${where}: no 400 response`);
      problems.push(...cursorMismatch(doc, where, op));
    }
  }
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(`openapi.json ${doc.openapi} valid: ${ops} operations, ` +
              `${Object.keys(doc.components.schemas).length} schemas`);
}

main().catch(e => {
  console.error(`openapi.json invalid: ${e.message}`);
  process.exit(1);
});
