// Agent Inbox's calls, as raw HTTP (fetch), against our Agent Server API: a BDR thread is
// found interrupted with a HumanInterrupt, and resumed with command.resume set to a
// one-element [HumanResponse] list of each of Agent Inbox's types (response, ignore,
// accept; and our older spelling respond). The approval record of /api/approvals shows
// the same decision, by the key's principal, and a decision through one path makes the
// other answer 409 instead of running the workflow twice.
// Usage: node check_agent_inbox.mjs BASE_URL API_KEY [REVIEWER]
import assert from "node:assert/strict";

const [base, apiKey, reviewer] = process.argv.slice(2);
if (!base || !apiKey) {
  console.error("usage: node check_agent_inbox.mjs BASE_URL API_KEY [REVIEWER]");
  process.exit(2);
}

async function call(method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { "x-api-key": apiKey, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try {
    json = text.trim() ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

function lead(name, email) {
  return {
    company_name: "Quorvianta Software",
    industry: "SaaS",
    company_size: "201-500",
    annual_revenue: 42000000,
    country: "US",
    website: "https://www.quorvianta.io",
    contact_info: { name, title: "VP of Sales", email },
    signals: ["requested_demo", "hiring_sales"],
  };
}

// A thread stopped at the BDR approval, with its pending approval's id.
async function interrupted(name, email) {
  const t = await call("POST", "/threads", { metadata: { inbox: "sales" } });
  assert.equal(t.status, 200, t.text);
  const id = t.json.thread_id;
  const w = await call("POST", `/threads/${id}/runs/wait`, {
    assistant_id: "pipeline",
    input: lead(name, email),
  });
  assert.equal(w.status, 200, w.text);
  assert.equal(w.json.__interrupt__.length, 1, w.text.slice(0, 300));
  // what the inbox lists: the thread, interrupted, with its HumanInterrupt
  const listed = await call("POST", "/threads/search", {
    status: "interrupted",
    metadata: { graph_id: "pipeline" },
    limit: 100,
    offset: 0,
  });
  assert.equal(listed.status, 200, listed.text);
  const found = listed.json.find((t) => t.thread_id === id);
  assert.ok(found, "the inbox finds the thread by its graph");
  assert.equal(found.metadata.inbox, "sales");
  const th = await call("GET", `/threads/${id}`);
  assert.equal(th.json.status, "interrupted");
  const [ints] = Object.values(th.json.interrupts);
  const req = ints[0].value[0];
  assert.equal(req.action_request.action, "send_outreach");
  assert.equal(req.action_request.args.to, email);
  for (const flag of ["allow_accept", "allow_edit", "allow_respond", "allow_ignore"])
    assert.equal(req.config[flag], true, flag);
  assert.equal(typeof req.description, "string");
  const list = await call("GET", "/api/approvals?status=pending&limit=100");
  const approval = list.json.items.find((a) => a.thread_id === id);
  assert.ok(approval, "the pending approval of the thread");
  assert.equal(approval.interrupt_id, ints[0].id);
  return { id, approval: approval.id };
}

// the inbox first checks the deployment, without credentials
{
  const info = await fetch(`${base}/info`);
  assert.equal(info.status, 200);
  assert.equal((await info.json()).flags.assistants, true);
}

async function approval(id) {
  const a = await call("GET", `/api/approvals/${id}`);
  assert.equal(a.status, 200, a.text);
  return a.json;
}

function checkReviewer(a) {
  assert.equal(typeof a.reviewer, "string");
  assert.ok(a.reviewer.length > 0);
  if (reviewer) assert.equal(a.reviewer, reviewer);
}

// response: runs.create, then the run joined
{
  const { id, approval: aid } = await interrupted("Jordan Reyes", "jordan.reyes@quorvianta.io");
  const run = await call("POST", `/threads/${id}/runs`, {
    assistant_id: "pipeline",
    command: { resume: [{ type: "response", args: "Please call her instead of e-mailing." }] },
  });
  assert.equal(run.status, 200, run.text);
  assert.equal(run.headers.get("content-location"), `/threads/${id}/runs/${run.json.run_id}`);
  const joined = await call("GET", `/threads/${id}/runs/${run.json.run_id}/join`);
  assert.equal(joined.status, 200);
  assert.equal(joined.json.bdr_decision.status, "returned");
  assert.equal(joined.json.bdr_decision.note, "Please call her instead of e-mailing.");
  const a = await approval(aid);
  assert.equal(a.status, "responded");
  assert.equal(a.response.type, "response");
  assert.equal(a.response.args, "Please call her instead of e-mailing.");
  checkReviewer(a);
  // the other path: decided already
  const again = await call("POST", `/api/approvals/${aid}`, { type: "accept" });
  assert.equal(again.status, 409, again.text);
  assert.equal(again.json.detail[0].type, "already_decided");
  assert.equal((await approval(aid)).status, "responded");
}

// ignore: streamed with stream_mode "events" as the inbox streams
{
  const { id, approval: aid } = await interrupted("Casey Lin", "casey.lin@quorvianta.io");
  const res = await fetch(`${base}/threads/${id}/runs/stream`, {
    method: "POST",
    headers: { "x-api-key": apiKey, "content-type": "application/json" },
    body: JSON.stringify({
      assistant_id: "pipeline",
      command: { resume: [{ type: "ignore", args: null }] },
      stream_mode: "events",
    }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/event-stream/);
  const names = [...(await res.text()).matchAll(/^event: (.*)$/gm)].map((m) => m[1]);
  assert.equal(names[0], "metadata");
  assert.equal(names[names.length - 1], "end");
  assert.ok(!names.includes("error"), names.join(","));
  const st = await call("GET", `/threads/${id}/state`);
  assert.equal(st.json.values.bdr_decision.status, "ignored");
  assert.deepEqual(st.json.next, []);
  const a = await approval(aid);
  assert.equal(a.status, "ignored");
  checkReviewer(a);
}

// accept, then the same answer through the other path: nothing runs twice
{
  const { id, approval: aid } = await interrupted("Riley Chen", "riley.chen@quorvianta.io");
  const w = await call("POST", `/threads/${id}/runs/wait`, {
    assistant_id: "pipeline",
    command: { resume: [{ type: "accept", args: null }] },
  });
  assert.equal(w.status, 200, w.text);
  assert.equal(w.json.bdr_decision.status, "approved");
  assert.equal((await approval(aid)).status, "accepted");
  const dup = await call("POST", `/api/approvals/${aid}`, { type: "accept" });
  assert.equal(dup.status, 200, dup.text); // the same answer: harmless, and nothing ran
  assert.equal(dup.json.duplicate, true);
  assert.equal(dup.json.run, null);
  const other = await call("POST", `/api/approvals/${aid}`, { type: "ignore" });
  assert.equal(other.status, 409);
}

// decided through /api/approvals first: the inbox's resume is 409
{
  const { id, approval: aid } = await interrupted("Morgan Diaz", "morgan.diaz@quorvianta.io");
  const d = await call("POST", `/api/approvals/${aid}`, { type: "accept" });
  assert.equal(d.status, 200, d.text);
  const late = await call("POST", `/threads/${id}/runs/wait`, {
    assistant_id: "pipeline",
    command: { resume: [{ type: "ignore", args: null }] },
  });
  assert.equal(late.status, 409, late.text);
  assert.equal((await approval(aid)).status, "accepted");
  const st = await call("GET", `/threads/${id}/state`);
  assert.equal(st.json.values.bdr_decision.status, "approved");
}

// edit as the inbox sends it: every arg back, the objects as JSON text, one changed
{
  const { id, approval: aid } = await interrupted("Alex Kim", "alex.kim@quorvianta.io");
  const th = await call("GET", `/threads/${id}`);
  const req = Object.values(th.json.interrupts)[0][0].value[0];
  const args = Object.fromEntries(
    Object.entries(req.action_request.args).map(([k, v]) => [
      k,
      typeof v === "string" ? v : JSON.stringify(v, null),
    ]),
  );
  args.subject = "Alex, a quick question";
  const w = await call("POST", `/threads/${id}/runs/wait`, {
    assistant_id: "pipeline",
    command: { resume: [{ type: "edit", args: { action: req.action_request.action, args } }] },
  });
  assert.equal(w.status, 200, w.text);
  assert.equal(w.json.bdr_decision.status, "approved");
  assert.equal(w.json.bdr_draft.subject, "Alex, a quick question");
  const a = await approval(aid);
  assert.equal(a.status, "edited");
  assert.deepEqual(
    a.changes.map((c) => c.field),
    ["subject"],
  );
}

// "respond", our first spelling, still works; a bad HumanResponse is 422 naming the field
{
  const { id, approval: aid } = await interrupted("Sam Patel", "sam.patel@quorvianta.io");
  const bad = await call("POST", `/threads/${id}/runs/wait`, {
    assistant_id: "pipeline",
    command: { resume: [{ type: "approve" }] },
  });
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.json.detail[0].loc, ["body", "command", "resume", 0, "type"]);
  const two = await call("POST", `/threads/${id}/runs/wait`, {
    assistant_id: "pipeline",
    command: { resume: [{ type: "accept" }, { type: "ignore" }] },
  });
  assert.equal(two.status, 422);
  assert.equal((await approval(aid)).status, "pending");
  const w = await call("POST", `/threads/${id}/runs/wait`, {
    assistant_id: "pipeline",
    command: { resume: [{ type: "respond", args: "Wait for the trade show." }] },
  });
  assert.equal(w.status, 200, w.text);
  assert.equal(w.json.bdr_decision.status, "returned");
  assert.equal((await approval(aid)).status, "responded");
}
console.log("agent-inbox: response, ignore, accept, respond resumes; approvals in step; 409 across paths: ok");
