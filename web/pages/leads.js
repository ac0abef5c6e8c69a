// Leads: the stored leads (GET /api/leads) with search (q), tier, minimum score, sort and
// pages; each opens its page (#/leads/{id}). Export downloads the same selection as CSV
// (GET /api/leads/export, fetched with the key, saved from a Blob).
import { put, fill } from '../lib.js';

const PAGE = 25;
// kept while the tab lives, so coming back from a lead finds the same list
const state = { q: '', tier: '', min_score: '', sort: '-score', offset: 0, bom: true };
const FRESH = { ...state };
// sign-out forgets the list's state: the next user starts afresh
export function reset() {
  Object.assign(state, FRESH);
}

function query(extra = {}) {
  const p = new URLSearchParams();
  if (state.q.trim()) p.set('q', state.q.trim());
  if (state.tier) p.set('tier', state.tier);
  if (state.min_score !== '') p.set('min_score', String(state.min_score));
  if (state.sort) p.set('sort', state.sort);
  for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
  return p.toString();
}

export async function render(root, ctx) {
  const { api, h, fmt, announce } = ctx;
  const select = (id, label, value, options) => [
    h('label', { for: id }, label),
    h('select', { id, name: id }, options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)))];
  const q = h('input', { id: 'lead-q', type: 'search', name: 'q', value: state.q, placeholder: 'company, contact, e-mail, industry', maxlength: '200' });
  const minScore = h('input', { id: 'lead-min', type: 'number', name: 'min_score', min: '0', max: '100', value: state.min_score, inputmode: 'numeric' });
  // Excel on Windows reads a CSV as UTF-8 only with a byte order mark
  const bom = h('input', { type: 'checkbox', id: 'export-bom', checked: state.bom });
  bom.addEventListener('change', () => { state.bom = bom.checked; });
  const form = h('form', { class: 'card filters', role: 'search', 'aria-label': 'Find leads' },
    h('div', { class: 'row' },
      h('div', {}, h('label', { for: 'lead-q' }, 'Search'), q),
      h('div', {}, ...select('lead-tier', 'Tier', state.tier, [['', 'Any'], ['A', 'A'], ['B', 'B'], ['C', 'C'], ['D', 'D']])),
      h('div', {}, h('label', { for: 'lead-min' }, 'Minimum score'), minScore),
      h('div', {}, ...select('lead-sort', 'Sort by', state.sort, [['-score', 'Score, highest first'], ['score', 'Score, lowest first'],
        ['-created_at', 'Newest first'], ['created_at', 'Oldest first'], ['company', 'Company name']])),
      h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Apply')),
      h('div', {}, h('button', { type: 'button', id: 'export', onclick: () => exportCsv() }, 'Export CSV'),
        h('label', { for: 'export-bom', class: 'inline' }, bom, ' For Excel on Windows'))));
  const error = h('p', { class: 'error', role: 'alert' });
  const summary = h('p', { id: 'leads-summary', class: 'muted', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const prev = h('button', { type: 'button', onclick: () => go(state.offset - PAGE) }, 'Previous page');
  const next = h('button', { type: 'button', onclick: () => go(state.offset + PAGE) }, 'Next page');
  put(root, h('h1', {}, 'Leads'), form, error, summary,
    h('div', { class: 'table-wrap' }, h('table', { id: 'leads-table', 'aria-describedby': 'leads-summary' },
      h('thead', {}, h('tr', {}, ...['Company', 'Contact', 'Industry', 'Tier', 'Score', 'Updated'].map(t => h('th', { scope: 'col' }, t)))),
      tbody)),
    h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, next));

  // what the form says now (the export uses it too: what is typed, not what was applied)
  const apply = () => {
    state.q = q.value;
    state.tier = form.querySelector('#lead-tier').value;
    state.min_score = minScore.value;
    state.sort = form.querySelector('#lead-sort').value;
  };
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    apply();
    go(0);
  });

  async function go(offset) {
    state.offset = Math.max(0, offset);
    error.textContent = '';
    let page;
    try {
      page = await api(`/api/leads?${query({ limit: PAGE, offset: state.offset })}`);
    } catch (e) {
      if (e.status !== 401) error.textContent = e.message;
      return;
    }
    fill(tbody, ...page.items.map(l => {
      const qn = l.qualification || {};
      return h('tr', {},
        h('td', {}, h('a', { href: `#/leads/${encodeURIComponent(l.id)}` }, l.company_name)),
        h('td', {}, [l.contact_info?.name, l.contact_info?.title].filter(Boolean).join(', ') || '—'),
        h('td', {}, l.industry || '—'),
        h('td', {}, qn.tier ? h('span', { class: `badge tier-${qn.tier}` }, qn.tier) : '—'),
        h('td', {}, qn.score ?? '—'),
        h('td', {}, fmt.date(l.updated_at)));
    }));
    if (!page.items.length) {
      const filtered = state.q.trim() || state.tier || state.min_score !== '';
      put(tbody, h('tr', {}, h('td', { colspan: '6', class: 'muted' }, filtered ? 'No lead matches.'
        : ['No leads yet: ', h('a', { href: '#/import' }, 'import a CRM export'), ' to start.'])));
    }
    const from = page.total ? state.offset + 1 : 0;
    const to = state.offset + page.items.length;
    summary.textContent = `${fmt.number(page.total)} ${page.total === 1 ? 'lead' : 'leads'}${from ? `, showing ${from}–${to}` : ''}`;
    prev.disabled = state.offset === 0;
    next.disabled = to >= page.total;
    // the summary is aria-live itself: no announce() too, or it is heard twice
  }

  async function exportCsv() {
    error.textContent = '';
    const typed = q.value !== state.q;
    apply();
    if (typed) await go(0); // the list shows what is exported
    try {
      const res = await api(`/api/leads/export?${query(state.bom ? { bom: 'true' } : {})}`, { raw: true, headers: { Accept: 'text/csv' } });
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `leads-${new Date().toISOString().slice(0, 10)}.csv` });
      put(document.body, a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      announce('The export is downloading.');
    } catch (e) {
      if (e.status !== 401) error.textContent = `Export failed: ${e.message}`;
    }
  }

  await go(state.offset);
}
