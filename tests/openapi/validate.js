// Validates the server's OpenAPI document with @apidevtools/swagger-parser (the OpenAPI 3.1
// schema, every $ref resolved) plus the rules we hold it to: each operation has an
// operationId, a security list, a 4xx problem response and only problem+json errors.
// Usage: node validate.js RESPONSE_LOG_DIR   (the document comes from test_api_openapi's log)
"use strict";
const SwaggerParser = require("@apidevtools/swagger-parser");
const { documentFrom } = require("./common");

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
