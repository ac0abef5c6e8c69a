// The official LangGraph JS SDK (@langchain/langgraph-sdk, pinned in package.json), its
// calls unchanged, against our Agent Server API: threads, a streamed pipeline run up to the
// BDR approval's interrupt, the interrupt read from the thread's state, resumed with Agent
// Inbox's one-element [HumanResponse] list (edit on one thread, accept on another), the
// history, background runs joined, a stateless runs.wait, and errors the SDK throws with
// our status. Usage: node check_langgraph_sdk.mjs BASE_URL API_KEY
// (tests/integration/test_api_agentserver.c starts the server and runs this.)
import assert from "node:assert/strict";
import { Client } from "@langchain/langgraph-sdk";

const [apiUrl, apiKey] = process.argv.slice(2);
if (!apiUrl || !apiKey) {
  console.error("usage: node check_langgraph_sdk.mjs BASE_URL API_KEY");
  process.exit(2);
}
const client = new Client({ apiUrl, apiKey });

// A strong lead: the pipeline drafts outreach to the contact and stops for approval.
function lead(name, email) {
  return {
    company_name: "Quorvianta Software",
    industry: "SaaS",
    company_size: "201-500",
    annual_revenue: 42000000,
    country: "US",
    website: "https://www.quorvianta.io",
    contact_info: { name, title: "VP of Sales", email, phone: "(415) 555-0132" },
    signals: ["requested_demo", "hiring_sales", "recent_funding"],
  };
}

async function collect(iterable) {
  const events = [];
  for await (const chunk of iterable) events.push(chunk);
  return events;
}

function interruptOf(updates) {
  const hit = updates.find((e) => e.event === "updates" && e.data.__interrupt__);
  return hit && hit.data.__interrupt__;
}

// assistants
const found = await client.assistants.search({ graphId: "pipeline" });
assert.equal(found.length, 1);
assert.equal(found[0].assistant_id, "pipeline");
const all = await client.assistants.search({ limit: 100 });
assert.ok(all.some((a) => a.graph_id === "bdr"), "every agent is an assistant");
assert.equal((await client.assistants.get("qualification")).graph_id, "qualification");

// a thread, then a streamed pipeline run that stops at the BDR approval
const thread = await client.threads.create({ metadata: { source: "sdk-check" } });
assert.match(thread.thread_id, /^[0-9a-f-]{36}$/);
assert.equal(thread.status, "idle");
assert.equal(thread.metadata.source, "sdk-check");
let created;
const events = await collect(
  client.runs.stream(thread.thread_id, "pipeline", {
    input: lead("Maya Okafor", "maya.okafor@quorvianta.io"),
    streamMode: ["values", "updates"],
    onRunCreated: (meta) => (created = meta),
  }),
);
assert.equal(events[0].event, "metadata", "metadata comes first");
assert.match(events[0].data.run_id, /^[0-9a-f-]{36}$/);
assert.equal(created.run_id, events[0].data.run_id, "Content-Location names the run");
assert.equal(created.thread_id, thread.thread_id);
const names = events.map((e) => e.event);
assert.ok(names.includes("values") && names.includes("updates"), names.join(","));
assert.equal(names[names.length - 1], "end");
assert.ok(!names.includes("error"), JSON.stringify(events.find((e) => e.event === "error")));
const steps = events.filter((e) => e.event === "updates").flatMap((e) => Object.keys(e.data));
for (const node of ["enrichment", "qualification", "marketing", "bdr"])
  assert.ok(steps.includes(node), `updates of ${node}: ${steps}`);
const pending = interruptOf(events);
assert.equal(pending.length, 1);
assert.equal(pending[0].value[0].action_request.action, "send_outreach");
assert.equal(pending[0].value[0].config.allow_edit, true);
const lastValues = events.filter((e) => e.event === "values").pop().data;
assert.equal(lastValues.__interrupt__[0].id, pending[0].id);

// the interrupt as the thread shows it
const state = await client.threads.getState(thread.thread_id);
assert.deepEqual(state.next, ["bdr_approval"]);
assert.equal(state.tasks[0].name, "bdr_approval");
assert.equal(state.tasks[0].interrupts[0].id, pending[0].id);
assert.equal(state.checkpoint.thread_id, thread.thread_id);
assert.equal((await client.threads.get(thread.thread_id)).status, "interrupted");
const waiting = await client.threads.search({ status: "interrupted", metadata: { source: "sdk-check" } });
assert.deepEqual(
  waiting.map((t) => t.thread_id),
  [thread.thread_id],
);

// resumed with an edit, Agent Inbox's shape: a one-element list
const resumed = await collect(
  client.runs.stream(thread.thread_id, "pipeline", {
    command: {
      resume: [
        {
          type: "edit",
          args: { action: "send_outreach", args: { subject: "Quick question, Maya" } },
        },
      ],
    },
    streamMode: "updates",
  }),
);
assert.equal(resumed[0].event, "metadata");
assert.equal(resumed[resumed.length - 1].event, "end");
assert.ok(!resumed.some((e) => e.event === "error"), JSON.stringify(resumed));
const sendStep = resumed.find((e) => e.event === "updates" && e.data.bdr_send);
assert.ok(sendStep, "the outreach step ran");
const after = await client.threads.getState(thread.thread_id);
assert.deepEqual(after.next, []);
assert.equal(after.values.bdr_decision.status, "approved");
assert.equal(after.values.bdr_decision.type, "edit");
assert.equal(after.values.bdr_draft.subject, "Quick question, Maya");
assert.equal((await client.threads.get(thread.thread_id)).status, "idle");
assert.equal((await client.threads.search({ status: "interrupted", metadata: { source: "sdk-check" } })).length, 0);
assert.ok((await client.threads.search({ status: "idle", limit: 100 })).some((t) => t.thread_id === thread.thread_id));

// a second resume finds nothing to answer: the SDK throws with our 409
await assert.rejects(
  client.runs.wait(thread.thread_id, "pipeline", {
    command: { resume: [{ type: "accept", args: null }] },
  }),
  (e) => e.status === 409,
);

// a state update (the key has the approve scope a pipeline thread's state needs)
const updated = await client.threads.updateState(thread.thread_id, {
  values: { current_agent: "reviewed-by-sdk-check" },
});
assert.match(updated.checkpoint.checkpoint_id, /.+/);
const reread = await client.threads.getState(thread.thread_id);
assert.equal(reread.values.current_agent, "reviewed-by-sdk-check");
assert.equal(reread.checkpoint.checkpoint_id, updated.checkpoint.checkpoint_id);

// the history, newest first: the finished state, then the approval's
const history = await client.threads.getHistory(thread.thread_id, { limit: 50 });
assert.ok(history.length >= 6, `history of ${history.length}`);
assert.deepEqual(history[0].next, []);
assert.ok(history.some((s) => s.next.includes("bdr_approval") && s.tasks[0].interrupts.length));
assert.equal((await client.threads.getHistory(thread.thread_id, { limit: 2 })).length, 2);
// a past state, by checkpoint id and by checkpoint object: the approval's
const asked = history.find((h) => h.next.includes("bdr_approval"));
const past = await client.threads.getState(thread.thread_id, asked.checkpoint.checkpoint_id);
assert.deepEqual(past.next, ["bdr_approval"]);
assert.equal(past.tasks[0].interrupts[0].id, pending[0].id);
const pastByObject = await client.threads.getState(thread.thread_id, {
  checkpoint_id: asked.checkpoint.checkpoint_id,
  checkpoint_ns: "",
});
assert.equal(pastByObject.checkpoint.checkpoint_id, asked.checkpoint.checkpoint_id);
await assert.rejects(
  client.threads.getState(thread.thread_id, "no-such-checkpoint"),
  (e) => e.status === 404,
);

// runs.wait up to the interrupt, then an accept
const t2 = await client.threads.create();
const waited = await client.runs.wait(t2.thread_id, "pipeline", {
  input: lead("Devon Price", "devon.price@quorvianta.io"),
});
assert.equal(waited.__interrupt__.length, 1, JSON.stringify(waited).slice(0, 300));
assert.equal(waited.__interrupt__[0].value[0].action_request.args.to, "devon.price@quorvianta.io");
const accepted = await client.runs.wait(t2.thread_id, "pipeline", {
  command: { resume: [{ type: "accept", args: null }] },
});
assert.equal(accepted.__interrupt__, undefined);
assert.equal(accepted.bdr_decision.status, "approved");
assert.equal(accepted.bdr_decision.type, "accept");
const runs = await client.runs.list(t2.thread_id);
assert.deepEqual(
  runs.map((r) => r.status),
  ["success", "interrupted"],
);

// a background run, read and joined
const t3 = await client.threads.create();
const run = await client.runs.create(t3.thread_id, "qualification", {
  input: lead("Maya Okafor", "maya.okafor@quorvianta.io"),
});
assert.equal(run.thread_id, t3.thread_id);
assert.equal(run.assistant_id, "qualification");
const joined = await client.runs.join(t3.thread_id, run.run_id);
assert.equal(joined.tier, "A");
assert.equal((await client.runs.get(t3.thread_id, run.run_id)).status, "success");
const replay = await collect(client.runs.joinStream(t3.thread_id, run.run_id));
assert.equal(replay[0].event, "metadata");
assert.equal(replay[0].data.run_id, run.run_id);
// runs.cancel is a POST with no body (and no Content-Type); with wait it waits for the
// run's end. This run ended: 409 (the SDK throws with our status, not a 415)
await assert.rejects(client.runs.cancel(t3.thread_id, run.run_id, true), (e) => e.status === 409);
await assert.rejects(client.runs.cancel(t3.thread_id, run.run_id), (e) => e.status === 409);

// stateless
const scored = await client.runs.wait(null, "qualification", {
  input: lead("Maya Okafor", "maya.okafor@quorvianta.io"),
});
assert.equal(scored.tier, "A");
const streamed = await collect(
  client.runs.stream(null, "qualification", {
    input: lead("Maya Okafor", "maya.okafor@quorvianta.io"),
    streamMode: "updates",
  }),
);
assert.equal(streamed[1].event, "updates");
assert.equal(streamed[1].data.qualification.tier, "A");

// a conversation turn, a thread of the conversation graph
const turn = await client.runs.wait(null, "conversation", {
  input: { message: "Hi there, Dana from Northwind here", contact: { name: "Dana Reyes" } },
});
assert.equal(turn.intent, "greeting");

// errors the SDK throws with our status
await assert.rejects(client.runs.wait(null, "no-such-graph", { input: {} }), (e) => e.status === 404);
await assert.rejects(client.assistants.get("no-such-graph"), (e) => e.status === 404);
await assert.rejects(client.threads.getState("no-such-thread"), (e) => e.status === 404);
await assert.rejects(
  client.threads.create({ threadId: thread.thread_id }),
  (e) => e.status === 409,
);
await assert.rejects(
  client.runs.wait(t3.thread_id, "pipeline", { input: { company_name: 7 } }),
  (e) => e.status === 422,
);
console.log("langgraph-sdk: assistants, threads, streamed run, interrupt, edit and accept resumes, history, join, stateless wait, errors: ok");
