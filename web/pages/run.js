// A run (#/runs/{run_id}): its status, the pipeline's graph with the node that runs now
// highlighted, updated live from the run's event stream (GET /api/runs/{id}/stream, SSE
// over fetch), the events as they come, the final state, and Cancel (POST
// /api/runs/{id}/cancel) while it is queued or running. A run that finished in another
// process has no events left: its thread's checkpoints (GET
// /api/threads/{thread_id}/history) say which nodes ran.
import { put, fill } from '../lib.js';
import { drawGraph, successors, nodeLabel } from './run-graph.js';
import { statusLabel } from './runs.js';

const ACTIVE = new Set(['queued', 'running']);
const MAX_EVENTS = 200;

export async function render(root, ctx) {
  const { api, stream, h, fmt, params } = ctx;
  const id = params.id;
  const abort = new AbortController();
  let run;
  try {
    run = await api(`/api/runs/${encodeURIComponent(id)}`);
  } catch (e) {
    put(root, h('h1', {}, 'Run'), h('p', { class: 'error', role: 'alert' },
      e.status === 404 || e.status === 422 ? `There is no run ${id}.` : `Could not read the run: ${e.message}`),
    h('p', {}, h('a', { href: '#/runs' }, 'All runs')));
    return undefined;
  }
  let graph;
  try {
    graph = await api('/api/agents/pipeline/graph');
  } catch (e) {
    graph = null;
    put(root, h('p', { class: 'error', role: 'alert' }, `The pipeline's graph could not be read: ${e.message}`));
  }
  const company = run.input?.company_name || run.output?.state?.lead_data?.company_name || 'a lead';

  // ---- the page ----
  const status = h('span', { id: 'run-status', class: `badge run-${run.status}`, dataset: { status: run.status } }, statusLabel(run.status));
  const now = h('p', { id: 'run-now', class: 'run-now', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const cancelBtn = h('button', { type: 'button', id: 'run-cancel', class: 'danger', onclick: cancel }, 'Cancel run');
  const actionMsg = h('p', { class: 'muted', role: 'status' });
  const steps = h('ol', { class: 'run-steps', id: 'run-steps', 'aria-label': 'Steps and their status' });
  const events = h('ol', { class: 'run-events', id: 'run-events', reversed: true });
  const stateBox = h('pre', { class: 'run-state', id: 'run-state', tabindex: '0' });
  const errorBox = h('p', { class: 'error', id: 'run-error' });
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, 'Run'), h('dd', {}, h('code', {}, run.run_id)),
    h('dt', {}, 'Lead'), h('dd', {}, run.lead_id ? h('a', { href: `#/leads/${encodeURIComponent(run.lead_id)}` }, company) : company),
    h('dt', {}, 'Thread'), h('dd', {}, h('code', {}, run.thread_id)),
    h('dt', {}, 'Started'), h('dd', {}, fmt.date(run.created_at)),
    h('dt', {}, 'Updated'), h('dd', { id: 'run-updated' }, fmt.date(run.updated_at)));
  const svg = graph ? drawGraph(h, graph, `The pipeline's graph for this run on ${company}`) : null;
  put(root,
    h('p', {}, h('a', { href: '#/runs' }, 'All runs')),
    h('h1', {}, `Run on ${company} `, status),
    h('div', { class: 'run-layout' },
      h('section', { class: 'card run-graph-card', 'aria-labelledby': 'run-graph-h' },
        h('h2', { id: 'run-graph-h' }, 'Graph'),
        now,
        svg,
        h('p', { class: 'legend muted' },
          h('span', { class: 'key key-current' }, 'running'), ' ',
          h('span', { class: 'key key-done' }, 'done'), ' ',
          h('span', { class: 'key key-candidate' }, 'may run next'), ' ',
          h('span', { class: 'key key-waiting' }, 'waiting for a person'), ' ',
          h('span', { class: 'key key-pending' }, 'not run'),
          ' Dashed arrows are decided by the state (a lead\'s tier).'),
        h('h3', {}, 'Steps'), steps),
      h('section', { class: 'card', 'aria-labelledby': 'run-info-h' },
        h('h2', { id: 'run-info-h' }, 'Run'),
        facts, errorBox,
        h('div', { class: 'actions' }, cancelBtn), actionMsg,
        h('h2', {}, 'Events'),
        h('p', { class: 'muted' }, 'Newest first, as the run sends them.'),
        events,
        h('details', { class: 'more' }, h('summary', {}, 'State'), stateBox))));

  // ---- node statuses ----
  const nodeStatus = new Map(graph ? graph.nodes.map(n => [n.id, 'pending']) : []);
  function paint() {
    if (!graph) return;
    for (const g of svg.querySelectorAll('g.node')) {
      const s = nodeStatus.get(g.dataset.node) || 'pending';
      g.dataset.status = s;
      g.setAttribute('class', `node ${g.classList.contains('terminal') ? 'terminal ' : ''}node-${s}`);
    }
    fill(steps, ...graph.nodes.filter(n => n.type !== 'schema').map(n => {
      const s = nodeStatus.get(n.id);
      return h('li', { class: `step-${s}`, dataset: { node: n.id, status: s } },
        h('span', { class: 'step-name' }, nodeLabel(n.id)), ': ', stepWords(s));
    }));
    const current = [...nodeStatus].filter(([, s]) => s === 'current').map(([n]) => nodeLabel(n));
    const waiting = [...nodeStatus].filter(([, s]) => s === 'waiting').map(([n]) => nodeLabel(n));
    const text = current.length ? `Running: ${current.join(', ')}`
      : waiting.length ? `Waiting for a person at: ${waiting.join(', ')}`
        : ACTIVE.has(run.status) ? 'Starting…' : `The run is ${statusLabel(run.status)}.`;
    if (now.textContent !== text) now.textContent = text;
  }
  function stepWords(s) {
    return { pending: 'not run', current: 'running', candidate: 'may run next', done: 'done', waiting: 'waiting for a person', failed: 'failed' }[s] || s;
  }
  // After node finished: what runs next. One static successor runs now; conditional
  // ones are candidates until one of them reports.
  function advance(node) {
    if (!graph) return;
    for (const [n, s] of nodeStatus) if (s === 'candidate') nodeStatus.set(n, 'pending');
    const { fixed, maybe } = successors(graph, node);
    const next = fixed.filter(n => n !== '__end__');
    if (fixed.includes('__end__')) nodeStatus.set('__end__', 'done');
    for (const n of next) if (nodeStatus.get(n) !== 'done') nodeStatus.set(n, 'current');
    for (const n of maybe) if (n !== '__end__' && nodeStatus.get(n) === 'pending') nodeStatus.set(n, 'candidate');
  }
  function finished(node) {
    if (!nodeStatus.has(node)) return;
    nodeStatus.set(node, 'done');
    advance(node);
  }

  // ---- events ----
  let seen = 0;
  function logEvent(name, text) {
    seen++;
    events.prepend(h('li', {}, h('span', { class: 'ev-name' }, name), ' ', h('span', { class: 'ev-text' }, text)));
    while (events.children.length > MAX_EVENTS) events.lastChild.remove();
  }
  function summarize(data) {
    const s = JSON.stringify(data);
    return s.length > 160 ? `${s.slice(0, 157)}…` : s;
  }
  function setStatus(s) {
    run.status = s;
    status.textContent = statusLabel(s);
    status.dataset.status = s;
    status.setAttribute('class', `badge run-${s}`);
    cancelBtn.disabled = !ACTIVE.has(s);
  }
  function onEvent(name, data) {
    if (name === 'metadata') {
      logEvent('started', `thread ${data.thread_id || run.thread_id}`);
      if (run.status === 'queued') setStatus('running');
      if (graph && ![...nodeStatus.values()].some(s => s !== 'pending')) {
        nodeStatus.set('__start__', 'done');
        advance('__start__');
      }
    } else if (name === 'updates' && data && typeof data === 'object') {
      if (run.status === 'queued') setStatus('running');
      for (const node of Object.keys(data)) {
        if (node === '__interrupt__') {
          for (const [n, s] of nodeStatus) if (s === 'current') nodeStatus.set(n, 'waiting');
          logEvent('interrupt', 'waiting for a person (an approval in the inbox)');
        } else {
          finished(node);
          logEvent(nodeLabel(node), summarize(data[node]));
        }
      }
    } else if (name === 'custom') {
      logEvent('progress', data && data.agent ? `${data.agent}: ${data.status}` : summarize(data));
    } else if (name === 'result') {
      if (data && data.status) setStatus(data.status);
      if (data && data.error) errorBox.textContent = `Error: ${data.error}`;
      if (data && data.output) stateBox.textContent = JSON.stringify(data.output, null, 2);
      settle();
      logEvent('result', statusLabel(run.status));
    } else if (name === 'end') {
      logEvent('end', 'the stream ended');
    } else if (name !== 'messages') {
      logEvent(name, summarize(data));
    }
    paint();
  }
  // A finished run: nothing runs any more; a node that was running when the run stopped
  // is what it stopped at.
  function settle() {
    for (const [n, s] of nodeStatus) {
      if (s === 'candidate') nodeStatus.set(n, 'pending');
      if (s === 'current') nodeStatus.set(n, run.status === 'awaiting_approval' ? 'waiting' : run.status === 'failed' ? 'failed' : 'pending');
    }
    cancelBtn.disabled = true;
  }

  async function refresh() {
    try {
      run = { ...run, ...(await api(`/api/runs/${encodeURIComponent(id)}`)) };
    } catch {
      return;
    }
    setStatus(run.status);
    document.getElementById('run-updated')?.replaceChildren(fmt.date(run.updated_at));
    if (run.error) errorBox.textContent = `Error: ${run.error}`;
    if (run.output) stateBox.textContent = JSON.stringify(run.output, null, 2);
  }

  // Nodes that ran, from the thread's checkpoints (a run whose events are gone).
  async function fromHistory() {
    if (!graph) return;
    let hist;
    try {
      hist = await api(`/api/threads/${encodeURIComponent(run.thread_id)}/history?limit=100`);
    } catch {
      return;
    }
    for (const c of [...(hist.history || [])].reverse()) {
      for (const node of Object.keys(c.metadata?.writes || {})) if (nodeStatus.has(node)) finished(node);
    }
    settle();
    paint();
  }

  async function cancel() {
    cancelBtn.disabled = true;
    actionMsg.textContent = '';
    try {
      await api(`/api/runs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
      // actionMsg is a status region itself: announcing too said it twice
      actionMsg.textContent = 'Cancelling: the run stops before its next step.';
    } catch (e) {
      actionMsg.textContent = e.status === 409 ? 'The run has finished: there is nothing to cancel.' : `Could not cancel: ${e.message}`;
      cancelBtn.disabled = !ACTIVE.has(run.status);
    }
  }

  setStatus(run.status);
  if (run.output) stateBox.textContent = JSON.stringify(run.output, null, 2);
  if (run.error) errorBox.textContent = `Error: ${run.error}`;
  paint();
  (async () => {
    try {
      await stream(`/api/runs/${encodeURIComponent(id)}/stream`, onEvent, { signal: abort.signal });
    } catch (e) {
      if (abort.signal.aborted) return;
      logEvent('stream', `closed: ${e.message}`);
    }
    if (abort.signal.aborted) return;
    await refresh();
    if (!seen || ![...nodeStatus.values()].some(s => s === 'done')) await fromHistory();
    else {
      settle();
      paint();
    }
    // the end is read out by #run-now (a live region): no announce() of it too
  })();
  return () => abort.abort();
}
