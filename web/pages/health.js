// Health and metrics: each backend's check (GET /health: with a read key it lists them),
// circuit breakers, the run queue and the outbox (from /metrics, parsed here), agent
// latencies (GET /api/agents/status, and quantiles from the agent_processing_seconds
// histogram), the score distribution of the leads (GET /api/leads totals per score band,
// drawn as an SVG histogram) and the model's tokens and cost (/metrics). Refreshed every
// few seconds while the page is open.
import { put, fill } from '../lib.js';

const REFRESH_MS = 10000;
const BREAKER = ['closed', 'open', 'half-open'];

// Prometheus text format 0.0.4 -> [{name, labels: {..}, value}] (comments skipped).
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let l;
    while ((l = re.exec(m[2] || '')) !== null) labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

// A quantile from cumulative histogram buckets [{le, count}] (Prometheus'
// histogram_quantile: linear within the bucket).
export function quantile(q, buckets) {
  const b = [...buckets].sort((x, y) => x.le - y.le);
  const total = b.length ? b[b.length - 1].count : 0;
  if (!total) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const { le, count } of b) {
    if (count >= rank) {
      if (le === Infinity) return prevLe;
      return prevLe + (le - prevLe) * ((rank - prevCount) / Math.max(count - prevCount, 1e-9));
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

function ms(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const v = seconds * 1000;
  return v < 1 ? `${v.toFixed(3)} ms` : v < 100 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
}

export async function render(root, ctx) {
  const { api, h, fmt, announce } = ctx;
  const overall = h('p', { id: 'health-overall', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const updated = h('p', { class: 'muted', id: 'health-updated' });
  const sec = (id, title, ...body) => h('section', { class: id === 'sec-backends' || id === 'sec-outbox' ? 'card wide' : 'card', 'aria-labelledby': `${id}-h`, id },
    h('h2', { id: `${id}-h` }, title), ...body);
  const backends = h('tbody', { id: 'health-backends' });
  const breakers = h('div', { id: 'health-breakers' });
  const queue = h('p', { class: 'big-number', id: 'health-queue' }, '—');
  const outbox = h('div', { id: 'health-outbox' });
  const agents = h('tbody', { id: 'health-agents' });
  const scores = h('div', { id: 'health-scores' });
  const llm = h('div', { id: 'health-llm' });
  const refreshBtn = h('button', { type: 'button', onclick: () => load(true) }, 'Refresh now');
  put(root,
    h('h1', {}, 'Health and metrics'),
    overall, h('div', { class: 'actions' }, refreshBtn), updated,
    h('div', { class: 'health-grid' },
      sec('sec-backends', 'Backends',
        h('div', { class: 'table-wrap' }, h('table', {},
          h('thead', {}, h('tr', {}, ...['Check', 'Status', 'Backend', 'Latency', 'Detail'].map(t => h('th', { scope: 'col' }, t)))),
          backends))),
      sec('sec-breakers', 'Circuit breakers', breakers),
      sec('sec-queue', 'Run queue', queue, h('p', { class: 'muted' }, 'Pipeline runs queued or running (every instance\'s).')),
      sec('sec-outbox', 'Outbox', outbox),
      sec('sec-scores', 'Score distribution', scores),
      sec('sec-llm', 'Model tokens and cost', llm)),
    sec('sec-agents', 'Agents',
      h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col' }, 'Agent'), h('th', { scope: 'col' }, 'State'),
          ...['Invocations', 'Errors', 'Average', 'Last', 'p50', 'p95'].map(t => h('th', { scope: 'col', class: 'num' }, t)))),
        agents)),
      h('p', { class: 'muted' }, 'Average and last from the agents\' counters; p50 and p95 from the latency histogram since the server started.')));

  async function loadHealth() {
    let body;
    try {
      body = await api('/health');
    } catch (e) {
      // 503: degraded, the body still says which check failed
      body = e.problem && e.problem.status ? e.problem : null;
      if (!body) {
        overall.textContent = `The server could not be reached: ${e.message}`;
        return;
      }
    }
    const word = body.status === 'healthy' ? 'Healthy' : body.status === 'degraded' ? 'Degraded' : String(body.status);
    const text = `${word}${body.version ? ` · version ${body.version}` : ''}${body.uptime_s ? ` · up ${Math.round(body.uptime_s)} s` : ''}`;
    if (overall.textContent !== text) overall.textContent = text;
    overall.setAttribute('class', body.status === 'healthy' ? 'check-ok' : 'check-fail');
    const list = body.backends || {};
    const names = Object.keys(list);
    fill(backends, ...names.map(n => {
      const b = list[n];
      return h('tr', { dataset: { backend: n, status: b.status } },
        h('th', { scope: 'row' }, n),
        h('td', { class: b.status === 'ok' ? 'check-ok' : 'check-fail' }, b.status === 'ok' ? 'ok' : 'failing'),
        h('td', {}, b.backend || '—'),
        h('td', { class: 'num' }, b.latency_ms === undefined ? '—' : `${Number(b.latency_ms).toFixed(1)} ms`),
        h('td', {}, b.detail || ''));
    }));
    if (!names.length) {
      put(backends, h('tr', {}, h('td', { colspan: '5', class: 'muted' },
        'The server shows each backend to a key with the read scope only.')));
    }
  }

  function byName(samples, name) {
    return samples.filter(s => s.name === name);
  }

  function loadMetrics(samples) {
    // circuit breakers
    const br = byName(samples, 'circuit_breaker_state');
    fill(breakers, br.length
      ? h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Provider'), h('th', { scope: 'col' }, 'State'))),
        h('tbody', {}, ...br.map(s => {
          const word = BREAKER[s.value] || String(s.value);
          return h('tr', { dataset: { provider: s.labels.provider } }, h('th', { scope: 'row' }, s.labels.provider),
            h('td', { class: `breaker-${word}` }, word));
        })))
      : h('p', { class: 'muted' }, 'No breaker yet: they appear with the services that have one (LLM, enrichment, CRM, SMTP).'));
    // queue
    const q = byName(samples, 'run_queue_depth')[0];
    queue.textContent = q ? fmt.number(q.value) : '—';
    // outbox
    const ob = byName(samples, 'outbox_items');
    const statuses = ['queued', 'sending', 'sent', 'failed', 'cancelled'];
    const channels = [...new Set(ob.map(s => s.labels.channel))].sort();
    fill(outbox, ob.length
      ? h('div', { class: 'table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Channel'), ...statuses.map(s => h('th', { scope: 'col', class: 'num' }, s)))),
        h('tbody', {}, ...channels.map(c => h('tr', { dataset: { channel: c } }, h('th', { scope: 'row' }, c === 'crm' ? 'CRM pushes' : 'E-mail'),
          ...statuses.map(st => {
            const s = ob.find(x => x.labels.channel === c && x.labels.status === st);
            return h('td', { class: 'num' }, fmt.number(s ? s.value : 0));
          }))))))
      : h('p', { class: 'muted' }, 'The outbox counts are not available.'));
    // llm
    const tokens = byName(samples, 'llm_tokens_total');
    const cost = byName(samples, 'llm_cost_usd_total');
    if (!tokens.length && !cost.length) {
      fill(llm, h('p', { class: 'muted' }, 'No model is configured (LLM_PROVIDER=none): the agents use their rules alone.'));
    } else {
      const models = [...new Set([...tokens, ...cost].map(s => `${s.labels.provider} ${s.labels.model}`))].sort();
      const sum = (list, model, kind) => list.filter(s => `${s.labels.provider} ${s.labels.model}` === model && (!kind || s.labels.kind === kind))
        .reduce((a, s) => a + s.value, 0);
      fill(llm, h('div', { class: 'table-wrap' }, h('table', {},
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Model'), ...['Input', 'Output', 'Cached', 'Cost'].map(t => h('th', { scope: 'col', class: 'num' }, t)))),
        h('tbody', {}, ...models.map(m => h('tr', { dataset: { model: m } }, h('th', { scope: 'row' }, m),
          h('td', { class: 'num' }, fmt.number(sum(tokens, m, 'input'))),
          h('td', { class: 'num' }, fmt.number(sum(tokens, m, 'output'))),
          h('td', { class: 'num' }, fmt.number(sum(tokens, m, 'cached_input'))),
          h('td', { class: 'num' }, `$${sum(cost, m).toFixed(4)}`)))))));
    }
  }

  function latencyQuantiles(samples) {
    const out = {};
    for (const s of byName(samples, 'agent_processing_seconds_bucket')) {
      const t = s.labels.agent_type;
      (out[t] ||= []).push({ le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), count: s.value });
    }
    return out;
  }

  async function loadAgents(samples) {
    let st;
    try {
      st = await api('/api/agents/status');
    } catch (e) {
      fill(agents, h('tr', {}, h('td', { colspan: '8', class: 'error' }, `Could not read the agents: ${e.message}`)));
      return;
    }
    const qs = latencyQuantiles(samples);
    fill(agents, ...st.agents.map(a => h('tr', { dataset: { agent: a.agent_type } },
      h('th', { scope: 'row' }, a.agent_type),
      h('td', {}, a.available === false ? 'not available' : a.state),
      h('td', { class: 'num' }, fmt.number(a.invocations)),
      h('td', { class: 'num' }, fmt.number(a.errors)),
      h('td', { class: 'num' }, a.invocations ? ms(a.avg_latency_ms / 1000) : '—'),
      h('td', { class: 'num' }, a.invocations ? ms(a.last_latency_ms / 1000) : '—'),
      h('td', { class: 'num' }, ms(qs[a.agent_type] ? quantile(0.5, qs[a.agent_type]) : null)),
      h('td', { class: 'num' }, ms(qs[a.agent_type] ? quantile(0.95, qs[a.agent_type]) : null)))));
  }

  // Leads per score band from the list's totals: leads with score >= k, k = 0, 10, ..., 100.
  async function loadScores() {
    let totals;
    try {
      const ks = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
      totals = await Promise.all(ks.map(k => api(`/api/leads?limit=1&min_score=${k}`).then(p => p.total)));
      totals.push(0);
    } catch (e) {
      fill(scores, h('p', { class: 'error' }, `Could not read the leads: ${e.message}`));
      return;
    }
    const bands = [];
    for (let i = 0; i < 10; i++) {
      // the last band holds 90-100
      const n = i === 9 ? totals[9] : totals[i] - totals[i + 1];
      bands.push({ label: i === 9 ? '90-100' : `${i * 10}-${i * 10 + 9}`, n });
    }
    const scored = totals[0];
    if (!scored) {
      fill(scores, h('p', { class: 'muted' }, 'No scored leads yet.'));
      return;
    }
    const W = 360;
    const H = 170;
    const bw = W / bands.length;
    const top = Math.max(...bands.map(b => b.n), 1);
    const svg = h('svg:svg', { class: 'histogram', viewBox: `0 0 ${W} ${H + 34}`, role: 'img', 'aria-labelledby': 'scores-title scores-desc' },
      h('svg:title', { id: 'scores-title' }, 'Leads per score band'),
      h('svg:desc', { id: 'scores-desc' }, bands.map(b => `${b.label}: ${b.n}`).join(', ')),
      h('svg:line', { x1: '0', y1: String(H), x2: String(W), y2: String(H), class: 'axis' }),
      ...bands.flatMap((b, i) => {
        const bh = Math.round((b.n / top) * (H - 16));
        const x = i * bw + 3;
        return [
          h('svg:rect', { x: String(x), y: String(H - bh), width: String(bw - 6), height: String(bh), class: 'hbar', dataset: { band: b.label, n: String(b.n) } }),
          h('svg:text', { x: String(x + (bw - 6) / 2), y: String(H - bh - 3), 'text-anchor': 'middle', class: 'hbar-count' }, String(b.n)),
          h('svg:text', { x: String(x + (bw - 6) / 2), y: String(H + 14), 'text-anchor': 'middle', class: 'hbar-label' }, b.label),
        ];
      }));
    fill(scores, svg, h('p', { class: 'muted' }, `${fmt.number(scored)} scored leads by score (0-100).`));
  }

  async function load(announceIt) {
    let samples = [];
    try {
      samples = parseMetrics(await api('/metrics'));
    } catch (e) {
      samples = [];
      fill(llm, h('p', { class: 'error' }, `Could not read /metrics: ${e.message}`));
    }
    await Promise.all([loadHealth(), loadAgents(samples), loadScores()]);
    loadMetrics(samples);
    updated.textContent = `Updated ${fmt.date(new Date().toISOString())}; refreshes every ${REFRESH_MS / 1000} s.`;
    if (announceIt) announce(`Health refreshed: ${overall.textContent}`);
  }

  await load(false);
  const timer = setInterval(() => {
    if (!document.hidden) load(false);
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
