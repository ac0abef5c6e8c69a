// Runs: the pipeline runs of every instance (GET /api/runs), newest first, filtered by
// status, a page at a time, refreshed every few seconds while the page is open; each
// opens its page (#/runs/{id}). A lead's run starts from its page or POST /api/runs.
import { put, fill } from '../lib.js';

const PAGE = 25;
const REFRESH_MS = 3000;
const STATUSES = ['queued', 'running', 'awaiting_approval', 'done', 'failed', 'cancelled'];
const state = { status: '', offset: 0 }; // kept while the tab lives

export function statusLabel(s) {
  return s === 'awaiting_approval' ? 'awaiting approval' : s;
}

export async function render(root, ctx) {
  const { api, h, fmt, announce } = ctx;
  const select = h('select', { id: 'runs-status', name: 'status' },
    h('option', { value: '' }, 'Any'),
    STATUSES.map(s => h('option', { value: s, selected: s === state.status }, statusLabel(s))));
  const form = h('form', { class: 'card row', role: 'search', 'aria-label': 'Filter runs' },
    h('div', {}, h('label', { for: 'runs-status' }, 'Status'), select),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Apply')));
  const error = h('p', { class: 'error', role: 'alert' });
  const summary = h('p', { id: 'runs-summary', class: 'muted' });
  const tbody = h('tbody');
  const prev = h('button', { type: 'button', onclick: () => go(state.offset - PAGE) }, 'Previous page');
  const next = h('button', { type: 'button', onclick: () => go(state.offset + PAGE) }, 'Next page');
  put(root,
    h('h1', {}, 'Runs'),
    h('p', { class: 'muted' }, 'Background pipeline runs, newest first; the list refreshes itself.'),
    form, error, summary,
    h('div', { class: 'table-wrap' }, h('table', { id: 'runs-table', 'aria-describedby': 'runs-summary' },
      h('thead', {}, h('tr', {}, ...['Company', 'Status', 'Started', 'Updated', 'Run'].map(t => h('th', { scope: 'col' }, t)))),
      tbody)),
    h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, next));

  form.addEventListener('submit', ev => {
    ev.preventDefault();
    state.status = select.value;
    go(0, true);
  });

  let lastStatuses = '';
  async function load(announceIt) {
    const p = new URLSearchParams({ limit: String(PAGE), offset: String(state.offset) });
    if (state.status) p.set('status', state.status);
    let page;
    try {
      page = await api(`/api/runs?${p}`);
    } catch (e) {
      error.textContent = `Could not read the runs: ${e.message}`;
      return;
    }
    error.textContent = '';
    // redraw only when something changed, so focus and screen readers are not disturbed
    const sig = page.items.map(r => `${r.run_id}:${r.status}:${r.updated_at}`).join(',') + `|${page.total}`;
    if (sig === lastStatuses) return;
    lastStatuses = sig;
    fill(tbody, ...page.items.map(r => h('tr', { dataset: { runId: r.run_id, status: r.status } },
      h('td', {}, h('a', { href: `#/runs/${encodeURIComponent(r.run_id)}` }, r.company_name || '(no company name)')),
      h('td', {}, h('span', { class: `badge run-${r.status}` }, statusLabel(r.status)),
        r.error ? h('span', { class: 'muted run-error' }, ` ${r.error}`) : null),
      h('td', {}, fmt.date(r.created_at)),
      h('td', {}, fmt.date(r.updated_at)),
      h('td', {}, h('code', { title: r.run_id }, r.run_id.slice(0, 8))))));
    if (!page.items.length) {
      put(tbody, h('tr', {}, h('td', { colspan: '5', class: 'muted' },
        state.status ? `No ${statusLabel(state.status)} runs.` : 'No runs yet.')));
    }
    const first = page.total ? state.offset + 1 : 0;
    summary.textContent = `${fmt.number(page.total)} run${page.total === 1 ? '' : 's'}` +
      (page.total ? `, showing ${first}-${state.offset + page.items.length}` : '');
    prev.disabled = state.offset === 0;
    next.disabled = state.offset + page.items.length >= page.total;
    if (announceIt) announce(summary.textContent);
  }

  function go(offset, announceIt = false) {
    state.offset = Math.max(0, offset);
    lastStatuses = '';
    return load(announceIt);
  }

  await load(false);
  const timer = setInterval(() => {
    if (!document.hidden) load(false);
  }, REFRESH_MS);
  return () => clearInterval(timer);
}
