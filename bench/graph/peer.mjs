// LangGraph.js peer for the sales-agent state-graph engine benchmark.
//
// Runs three workloads ("linear", "fanout", "linear_sqlite") and prints one
// JSON line per workload on stdout; every other diagnostic goes to stderr.
//
//   node peer.mjs                 # all workloads, each in a fresh child process
//   node peer.mjs linear fanout   # only these, in this process, in this order
//
// Env: BENCH_GRAPH_N (measured invocations, default 2000), BENCH_GRAPH_WARMUP
// (default 200), BENCH_GRAPH_DUMP=1 (print one thread's stored checkpoints to
// stderr).
//
// Each workload runs in its own process by default so that peak_rss_kb
// (process.resourceUsage().maxRSS, a process-lifetime high-water mark) belongs
// to that workload alone.

import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import {
  Annotation,
  StateGraph,
  MemorySaver,
  START,
  END,
} from "@langchain/langgraph";

const require = createRequire(import.meta.url);
const LG_VERSION = require("@langchain/langgraph/package.json").version;
const ENGINE = "langgraph.js";
const WORKLOADS = ["linear", "fanout", "linear_sqlite"];

const N = intEnv("BENCH_GRAPH_N", 2000);
const WARMUP = intEnv("BENCH_GRAPH_WARMUP", 200);
const DUMP = process.env.BENCH_GRAPH_DUMP === "1";

function intEnv(name, dflt) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`peer: ${name} must be a positive integer (got ${raw})`);
    process.exit(2);
  }
  return v;
}

function log(...a) {
  console.error("peer:", ...a);
}

function fail(msg) {
  console.error(`peer: FAIL: ${msg}`);
  process.exit(1);
}

// ---------------------------------------------------------------- graphs --

const lastValue = () => Annotation();

const LinearState = Annotation.Root({
  lead_id: lastValue(),
  company: lastValue(),
  score: lastValue(),
  tier: lastValue(),
  step: lastValue(),
  industry: lastValue(),
  size: lastValue(),
  notes: lastValue(),
  flags: lastValue(), // string[], last value wins (no reducer)
  done: lastValue(),
});

const linearInput = () => ({
  lead_id: "lead-0001",
  company: "acme corp",
  score: 0,
  tier: "",
  step: 0,
  industry: "",
  size: 0,
  notes: "inbound demo request",
  flags: ["inbound", "demo"],
  done: false,
});

function buildLinear(checkpointer) {
  return new StateGraph(LinearState)
    .addNode("n1", (s) => ({ step: s.step + 1, company: s.company.toUpperCase() }))
    .addNode("n2", (s) => ({ step: s.step + 1, score: 42 }))
    .addNode("n3", (s) => ({ step: s.step + 1, tier: "A" }))
    .addNode("n4", (s) => ({ step: s.step + 1, industry: "SaaS" }))
    .addNode("n5", (s) => ({ step: s.step + 1, size: 250 }))
    .addNode("n6", (s) => ({ step: s.step + 1, done: true }))
    .addEdge(START, "n1")
    .addEdge("n1", "n2")
    .addEdge("n2", "n3")
    .addEdge("n3", "n4")
    .addEdge("n4", "n5")
    .addEdge("n5", "n6")
    .addEdge("n6", END)
    .compile({ checkpointer });
}

function checkLinear(out) {
  const bad = [];
  if (out.step !== 6) bad.push(`step=${out.step}`);
  if (out.done !== true) bad.push(`done=${out.done}`);
  if (out.company !== "ACME CORP") bad.push(`company=${out.company}`);
  if (out.score !== 42) bad.push(`score=${out.score}`);
  if (out.tier !== "A") bad.push(`tier=${out.tier}`);
  if (out.industry !== "SaaS") bad.push(`industry=${out.industry}`);
  if (out.size !== 250) bad.push(`size=${out.size}`);
  if (out.lead_id !== "lead-0001") bad.push(`lead_id=${out.lead_id}`);
  if (out.notes !== "inbound demo request") bad.push(`notes=${out.notes}`);
  if (JSON.stringify(out.flags) !== '["inbound","demo"]') bad.push(`flags=${JSON.stringify(out.flags)}`);
  return bad;
}

const FanoutState = Annotation.Root({
  results: Annotation({
    reducer: (a, b) => a.concat(b),
    default: () => [],
  }),
  input: lastValue(),
  joined: lastValue(),
});

const fanoutInput = () => ({ input: "" });

function buildFanout(checkpointer) {
  return new StateGraph(FanoutState)
    .addNode("split", () => ({ input: "x" }))
    .addNode("p1", () => ({ results: ["p1"] }))
    .addNode("p2", () => ({ results: ["p2"] }))
    .addNode("p3", () => ({ results: ["p3"] }))
    .addNode("join", (s) => ({ joined: s.results.length }))
    .addEdge(START, "split")
    .addEdge("split", "p1")
    .addEdge("split", "p2")
    .addEdge("split", "p3")
    .addEdge(["p1", "p2", "p3"], "join")
    .addEdge("join", END)
    .compile({ checkpointer });
}

function checkFanout(out) {
  const bad = [];
  if (out.joined !== 3) bad.push(`joined=${out.joined}`);
  if (!Array.isArray(out.results) || out.results.length !== 3) {
    bad.push(`results=${JSON.stringify(out.results)}`);
  } else if ([...out.results].sort().join(",") !== "p1,p2,p3") {
    bad.push(`results=${JSON.stringify(out.results)}`);
  }
  if (out.input !== "x") bad.push(`input=${out.input}`);
  return bad;
}

// ------------------------------------------------- checkpoint accounting --

const byteLen = (v) =>
  v == null ? 0 : typeof v === "string" ? Buffer.byteLength(v) : v.byteLength;

// MemorySaver layout (@langchain/langgraph-checkpoint dist/memory.js):
//   storage[thread_id][checkpoint_ns][checkpoint_id] =
//       [serializedCheckpoint, serializedMetadata, parentCheckpointId]
//   writes[JSON.stringify([thread_id, checkpoint_ns, checkpoint_id])]["task,idx"] =
//       [taskId, channel, serializedValue, taskPath]
// Serialized values are Uint8Array (JSON bytes) from serde.dumpsTyped.
function memoryFootprint(saver, threadId) {
  let bytes = 0;
  let checkpoints = 0;
  let writes = 0;
  const namespaces = saver.storage[threadId] ?? {};
  for (const ns of Object.keys(namespaces)) {
    for (const [cp, md] of Object.values(namespaces[ns])) {
      bytes += byteLen(cp) + byteLen(md);
      checkpoints += 1;
    }
  }
  for (const key of Object.keys(saver.writes)) {
    if (JSON.parse(key)[0] !== threadId) continue;
    for (const rec of Object.values(saver.writes[key])) {
      bytes += byteLen(rec[2]);
      writes += 1;
    }
  }
  return { bytes, checkpoints, writes };
}

function memoryDump(saver, threadId) {
  const dec = new TextDecoder();
  const namespaces = saver.storage[threadId] ?? {};
  for (const ns of Object.keys(namespaces)) {
    for (const id of Object.keys(namespaces[ns]).sort()) {
      const [cp, md] = namespaces[ns][id];
      console.error(`--- checkpoint ${id} (${byteLen(cp)} + ${byteLen(md)} bytes)`);
      console.error("    checkpoint:", dec.decode(cp));
      console.error("    metadata:  ", dec.decode(md));
      const w = saver.writes[JSON.stringify([threadId, ns, id])];
      for (const rec of Object.values(w ?? {})) {
        console.error(`    write ${rec[1]} (${byteLen(rec[2])} bytes):`, dec.decode(rec[2]));
      }
    }
  }
}

// SqliteSaver layout (@langchain/langgraph-checkpoint-sqlite dist/index.js):
//   checkpoints(thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id,
//               type, checkpoint BLOB, metadata BLOB)
//   writes(thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel,
//          type, value BLOB)
function sqliteFootprint(saver, threadId) {
  const cp = saver.db
    .prepare(
      `SELECT count(*) AS n,
              coalesce(sum(length(CAST(checkpoint AS BLOB)) + length(CAST(metadata AS BLOB))), 0) AS b
         FROM checkpoints WHERE thread_id = ?`,
    )
    .get(threadId);
  const wr = saver.db
    .prepare(
      `SELECT count(*) AS n, coalesce(sum(length(CAST(value AS BLOB))), 0) AS b
         FROM writes WHERE thread_id = ?`,
    )
    .get(threadId);
  return { bytes: cp.b + wr.b, checkpoints: cp.n, writes: wr.n };
}

function sqliteDump(saver, threadId) {
  const rows = saver.db
    .prepare(
      `SELECT checkpoint_id, typeof(checkpoint) AS t, CAST(checkpoint AS TEXT) AS c,
              CAST(metadata AS TEXT) AS m
         FROM checkpoints WHERE thread_id = ? ORDER BY checkpoint_id`,
    )
    .all(threadId);
  for (const r of rows) {
    console.error(`--- checkpoint ${r.checkpoint_id} (${r.t})`);
    console.error("    checkpoint:", r.c);
    console.error("    metadata:  ", r.m);
  }
}

// ------------------------------------------------------------- workloads --

async function makeSqliteSaver() {
  let SqliteSaver;
  try {
    ({ SqliteSaver } = await import("@langchain/langgraph-checkpoint-sqlite"));
  } catch (e) {
    return { skipped: `@langchain/langgraph-checkpoint-sqlite not loadable: ${e.message.split("\n")[0]}` };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lg-peer-"));
  const file = path.join(dir, "checkpoints.sqlite");
  const saver = SqliteSaver.fromConnString(file);
  // setup() (run lazily by the saver) sets journal_mode=WAL itself; call it
  // now so the pragmas can be reported before the run.
  saver.setup();
  const jm = saver.db.pragma("journal_mode", { simple: true });
  const sync = saver.db.pragma("synchronous", { simple: true });
  log(`linear_sqlite: db=${file} journal_mode=${jm} synchronous=${sync}`);
  const cleanup = () => {
    try {
      saver.db.close();
    } catch {}
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { saver, cleanup };
}

const SPECS = {
  linear: async () => {
    const saver = new MemorySaver();
    return {
      graph: buildLinear(saver),
      input: linearInput,
      check: checkLinear,
      footprint: (tid) => memoryFootprint(saver, tid),
      dump: (tid) => memoryDump(saver, tid),
    };
  },
  fanout: async () => {
    const saver = new MemorySaver();
    return {
      graph: buildFanout(saver),
      input: fanoutInput,
      check: checkFanout,
      footprint: (tid) => memoryFootprint(saver, tid),
      dump: (tid) => memoryDump(saver, tid),
    };
  },
  linear_sqlite: async () => {
    const s = await makeSqliteSaver();
    if (s.skipped) return s;
    return {
      graph: buildLinear(s.saver),
      input: linearInput,
      check: checkLinear,
      footprint: (tid) => sqliteFootprint(s.saver, tid),
      dump: (tid) => sqliteDump(s.saver, tid),
      cleanup: s.cleanup,
    };
  },
};

function percentile(sorted, p) {
  // nearest-rank
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function median(sorted) {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

const round1 = (x) => Math.round(x * 10) / 10;

async function runWorkload(name) {
  const spec = await SPECS[name]();
  if (spec.skipped) {
    log(`${name}: skipped: ${spec.skipped}`);
    return { workload: name, engine: ENGINE, skipped: spec.skipped };
  }
  const { graph, input, check, footprint, dump } = spec;
  const runTag = `${process.pid}-${Date.now().toString(36)}`;
  let seq = 0;
  const nextThread = () => `${name}-${runTag}-${seq++}`;

  // Correctness check on one invocation before anything is timed.
  const out = await graph.invoke(input(), { configurable: { thread_id: nextThread() } });
  const bad = check(out);
  if (bad.length) fail(`${name}: unexpected final state: ${bad.join(", ")} (got ${JSON.stringify(out)})`);
  log(`${name}: final state ok: ${JSON.stringify(out)}`);

  for (let i = 0; i < WARMUP; i++) {
    await graph.invoke(input(), { configurable: { thread_id: nextThread() } });
  }

  const ns = new Array(N);
  let lastThread;
  for (let i = 0; i < N; i++) {
    const tid = nextThread();
    const init = input();
    const cfg = { configurable: { thread_id: tid } };
    const t0 = process.hrtime.bigint();
    await graph.invoke(init, cfg);
    const t1 = process.hrtime.bigint();
    ns[i] = Number(t1 - t0);
    lastThread = tid;
  }
  const peakRssKb = process.resourceUsage().maxRSS;

  const us = ns.map((x) => x / 1000).sort((a, b) => a - b);
  const totalS = ns.reduce((a, b) => a + b, 0) / 1e9;
  const fp = await footprint(lastThread);
  log(
    `${name}: thread ${lastThread}: ${fp.checkpoints} checkpoints, ` +
      `${fp.writes} pending writes, ${fp.bytes} bytes; min_us=${round1(us[0])} max_us=${round1(us[us.length - 1])}`,
  );
  if (DUMP) dump(lastThread);
  spec.cleanup?.();

  return {
    workload: name,
    engine: ENGINE,
    version: LG_VERSION,
    n: N,
    median_us: round1(median(us)),
    p99_us: round1(percentile(us, 99)),
    inv_per_s: round1(N / totalS),
    peak_rss_kb: peakRssKb,
    checkpoint_bytes_per_thread: fp.bytes,
    checkpoints_per_thread: fp.checkpoints,
  };
}

// ------------------------------------------------------------------ main --

async function main() {
  const args = process.argv.slice(2);
  for (const a of args) {
    if (!WORKLOADS.includes(a)) {
      console.error(`peer: unknown workload "${a}" (known: ${WORKLOADS.join(", ")})`);
      process.exit(2);
    }
  }
  if (args.length) {
    log(`langgraph ${LG_VERSION}, node ${process.version}, n=${N}, warmup=${WARMUP}`);
    for (const w of args) {
      const res = await runWorkload(w);
      process.stdout.write(JSON.stringify(res) + "\n");
    }
    return;
  }
  // Default: one fresh process per workload (clean maxRSS per workload).
  const self = fileURLToPath(import.meta.url);
  let rc = 0;
  for (const w of WORKLOADS) {
    const r = spawnSync(process.execPath, [self, w], {
      stdio: ["ignore", "pipe", "inherit"],
      encoding: "utf8",
      env: process.env,
    });
    if (r.stdout) process.stdout.write(r.stdout);
    if (r.status !== 0) {
      console.error(`peer: workload ${w} failed (exit ${r.status ?? r.signal})`);
      rc = 1;
    }
  }
  process.exit(rc);
}

main().catch((e) => {
  console.error("peer: error:", e?.stack ?? e);
  process.exit(1);
});
