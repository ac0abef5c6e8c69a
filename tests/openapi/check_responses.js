// Checks every response the integration suite received (tests/integration/harness.c writes
// them to one JSON-lines file per test program) against the OpenAPI document: the status is
// one the operation documents, the content type is the documented one, and the body
// validates against its schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses it). A request
// that matches no operation (an unknown path, a wrong method) must be answered with a
// documented problem status and a body that is a Problem. Any mismatch fails.
// Usage: node check_responses.js RESPONSE_LOG_DIR
"use strict";
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");
const { readLogs, documentFrom } = require("./common");

const DOC_ID = "https://sales-agent.local/openapi.json";

// JSON pointer escaping of one key.
const esc = k => k.replace(/~/g, "~0").replace(/\//g, "~1");

// The router's rule (src/http/router.c): segments match literally, {name} matches one
// non-empty segment; the first template in table order that matches wins.
function matches(template, p) {
  const t = template.split("/"), s = p.split("/");
  if (t.length !== s.length) return false;
  return t.every((seg, i) => (/^\{.+\}$/.test(seg) ? s[i].length > 0 : seg === s[i]));
}

// The path as the server routes it: decoded, trailing slashes removed; null when it does not
// decode (the server answers 400 then).
function routedPath(raw) {
  let p = raw.split("?")[0];
  try {
    p = decodeURIComponent(p);
  } catch (e) {
    return null;
  }
  while (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  return p;
}

function findOperation(doc, method, p) {
  if (p === null) return { kind: "none" };
  const m = method === "HEAD" ? "get" : method.toLowerCase();
  let pathFound = false;
  for (const [template, item] of Object.entries(doc.paths)) {
    if (!matches(template, p)) continue;
    if (item[m]) return { kind: "op", template, method: m, op: item[m] };
    pathFound = true;
  }
  return { kind: pathFound ? "bad_method" : "no_route" };
}

const mediaType = ct => (ct || "").split(";")[0].trim().toLowerCase();

function resolveResponse(doc, r) {
  return r.$ref ? doc.components.responses[r.$ref.split("/").pop()] : r;
}

// "event: x" / "data: JSON" / ": comment" lines, events separated by blank lines.
function checkEventStream(body) {
  const errors = [];
  let events = 0;
  for (const line of body.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const m = /^(event|data|id|retry): ?(.*)$/.exec(line);
    if (!m) {
      errors.push(`not an SSE line: ${line.slice(0, 80)}`);
      continue;
    }
    if (m[1] === "event") events++;
    if (m[1] === "data") {
      try {
        JSON.parse(m[2]);
      } catch (e) {
        errors.push(`data is not JSON: ${m[2].slice(0, 80)}`);
      }
    }
  }
  if (events === 0 && body.length > 0) errors.push("no event in the stream");
  return errors;
}

function main() {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: node check_responses.js RESPONSE_LOG_DIR");
  const doc = documentFrom(dir);
  const records = readLogs(dir);
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ ...doc, $id: DOC_ID });
  const compiled = new Map();
  const validator = pointer => {
    if (!compiled.has(pointer)) compiled.set(pointer, ajv.compile({ $ref: DOC_ID + "#" + pointer }));
    return compiled.get(pointer);
  };
  // A request no operation takes may get any problem status some operation documents.
  const problemStatuses = new Set();
  for (const item of Object.values(doc.paths))
    for (const op of Object.values(item))
      for (const [code, r] of Object.entries(op.responses))
        if (r.$ref) problemStatuses.add(code);
  problemStatuses.add("405");
  problemStatuses.add("404");

  const failures = new Map(); // one line per distinct failure, with a count and an example
  const fail = (rec, what) => {
    const f = failures.get(what) || { n: 0, example: `${rec.file}:${rec.line} ${rec.method} ${rec.path}` };
    f.n++;
    failures.set(what, f);
  };
  const covered = new Set();
  for (const rec of records) {
    const status = String(rec.status);
    const type = mediaType(rec.content_type);
    const found = findOperation(doc, rec.method, routedPath(rec.path));
    let schemaPointer = null;
    let where;
    if (found.kind === "op") {
      where = `${found.method.toUpperCase()} ${found.template}`;
      covered.add(where);
      const r = found.op.responses[status];
      if (!r) {
        fail(rec, `${where}: status ${status} is not documented`);
        continue;
      }
      const content = resolveResponse(doc, r).content || {};
      if (!content[type]) {
        fail(rec, `${where} ${status}: content type "${type}" is not one of ${Object.keys(content).join(", ")}`);
        continue;
      }
      const respKey = r.$ref ? null : status;
      schemaPointer = r.$ref
        ? `/components/responses/${esc(r.$ref.split("/").pop())}/content/${esc(type)}/schema`
        : `/paths/${esc(found.template)}/${found.method}/responses/${respKey}/content/${esc(type)}/schema`;
    } else {
      where = `(no operation: ${found.kind}) ${rec.method}`;
      // OPTIONS on any path the API serves: the server's generic answer (204, Allow, and
      // the CORS preflight headers for an allowed origin; docs/security.md), empty
      if (rec.method === "OPTIONS" && found.kind === "bad_method" && status === "204") {
        if (rec.body) fail(rec, `${where}: 204 with a body`);
        continue;
      }
      if (!problemStatuses.has(status) || type !== "application/problem+json") {
        fail(rec, `${where}: ${status} ${type} is not a documented problem`);
        continue;
      }
      schemaPointer = "/components/schemas/Problem";
    }
    if (rec.method === "HEAD") continue; // no body
    if (rec.body_invalid_utf8) {
      fail(rec, `${where} ${status}: the body is not UTF-8`);
      continue;
    }
    let body = rec.body;
    if (type === "text/event-stream") {
      for (const e of checkEventStream(body)) fail(rec, `${where} ${status}: ${e}`);
      continue;
    }
    if (type === "application/json" || type.endsWith("+json")) {
      try {
        body = JSON.parse(body);
      } catch (e) {
        fail(rec, `${where} ${status}: body is not JSON`);
        continue;
      }
      if (type === "application/problem+json" && body.status !== rec.status)
        fail(rec, `${where} ${status}: the problem's status is ${body.status}`);
    }
    const validate = validator(schemaPointer);
    if (!validate(body)) {
      for (const e of validate.errors.slice(0, 5))
        fail(rec, `${where} ${status}: body${e.instancePath.replace(/\/\d+/g, "/*")} ${e.message}` +
                  (e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ""));
    }
  }
  const all = Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.keys(item).map(m => `${m.toUpperCase()} ${p}`));
  console.log(`${records.length} responses checked from ${dir}; ${covered.size} of ${all.length} operations exercised`);
  const unexercised = all.filter(o => !covered.has(o));
  if (unexercised.length) console.log(`not exercised by the suite: ${unexercised.join(", ")}`);
  if (failures.size) {
    for (const [what, f] of failures) console.error(`FAIL ${what}  [${f.n}x, e.g. ${f.example}]`);
    console.error(`${failures.size} kinds of response do not match /openapi.json`);
    process.exit(1);
  }
  if (records.length === 0) {
    console.error("no responses recorded");
    process.exit(1);
  }
}

try {
  main();
} catch (e) {
  console.error(`check_responses: ${e.message}`);
  process.exit(1);
}
