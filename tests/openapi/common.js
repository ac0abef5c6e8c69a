// Shared by validate.js and check_responses.js: reading the response logs the integration
// tests wrote (tests/integration/harness.c, SA_RESPONSE_LOG) and the document among them.
"use strict";
const fs = require("fs");
const path = require("path");

// Every record of every *.jsonl file in dir, each with its file name.
function readLogs(dir) {
  const records = [];
  for (const name of fs.readdirSync(dir).filter(n => n.endsWith(".jsonl")).sort()) {
    const lines = fs.readFileSync(path.join(dir, name), "utf8").split("\n");
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      try {
        records.push({ ...JSON.parse(line), file: name, line: i + 1 });
      } catch (e) {
        throw new Error(`${name}:${i + 1}: not JSON: ${e.message}`);
      }
    });
  }
  return records;
}

// The body of the first 200 GET /openapi.json recorded in dir, parsed.
function documentFrom(dir) {
  for (const r of readLogs(dir)) {
    if (r.method === "GET" && r.path === "/openapi.json" && r.status === 200)
      return JSON.parse(r.body);
  }
  throw new Error(`no 200 GET /openapi.json recorded in ${dir} (does test_api_openapi run?)`);
}

module.exports = { readLogs, documentFrom };
