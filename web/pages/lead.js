// One lead (#/leads/{id}): its data, the score's factors as bars, what enrichment found,
// its timeline (GET /api/leads/{id}/timeline) and links to its conversations.
import { put, fill, plain } from '../lib.js';

function latest(executions, pick) {
  for (const e of executions || []) {
    const v = pick(e);
    if (v) return v;
  }
  return null;
}

export async function render(root, ctx) {
  const { api, h, fmt, params } = ctx;
  const id = params.id;
  let lead;
  try {
    lead = await api(`/api/leads/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e.status === 401) return undefined;
    put(root, h('h1', {}, 'Lead'), h('p', { class: 'error', role: 'alert' },
      e.status === 404 || e.status === 422 ? 'There is no such lead.' : e.message),
    h('p', {}, h('a', { href: '#/leads' }, 'Back to the leads')));
    return undefined;
  }
  const c = lead.contact_info || {};
  const q = lead.qualification || {};
  const fact = (k, v) => (v === null || v === undefined || v === '' ? null : [h('dt', {}, k), h('dd', {}, v)]);
  const link = url => (/^https?:\/\//i.test(url) ? h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, url) : url);

  // the BDR step drafts outreach and stops at an approval: the inbox then has it
  const canWrite = ctx.principal?.scopes?.some(x => x === 'write' || x === 'admin');
  const draftNote = h('span', { class: 'muted', 'aria-live': 'polite' });
  // one draft at a time: while one waits in the inbox, a link to it instead of the button
  let waiting = false;
  if (canWrite) {
    try {
      const pending = await api('/api/approvals?status=pending&limit=500');
      waiting = (pending.items || []).some(a => a.lead_id === lead.id);
    } catch (e) {
      if (e.status === 401) return undefined;
    }
  }
  const draft = canWrite && !waiting ? h('button', { type: 'button', id: 'draft-outreach' }, 'Draft outreach (to the inbox)') : null;
  draft?.addEventListener('click', async () => {
    draft.disabled = true;
    draftNote.textContent = ' Drafting…';
    try {
      await api('/api/langgraph/invoke', { method: 'POST', body: { agent_type: 'bdr', lead_id: lead.id } });
      ctx.announce('Drafted: the approval waits in the inbox.');
      ctx.nav('#/inbox');
    } catch (e) {
      if (e.status === 401) return;
      // the server's one-draft rule: this lead has a draft waiting, or a run making one
      const d = e.status === 409 && Array.isArray(e.problem?.detail) ? e.problem.detail.find(x => x.type === 'draft_pending') : null;
      if (d) {
        draft.remove();
        const where = d.ctx?.run_id
          ? h('a', { href: `#/runs/${encodeURIComponent(d.ctx.run_id)}` }, 'Follow the run')
          : h('a', { href: '#/inbox' }, 'Open the inbox');
        fill(draftNote, ' ', d.msg, ' ', where, '.');
        draftNote.id = 'draft-refused';
        where.focus(); // the button it replaces had focus
        return;
      }
      draft.disabled = false;
      draftNote.textContent = plain(` ${e.message}`);
    }
  });
  put(root,
    h('p', {}, h('a', { href: '#/leads' }, '← Leads')),
    h('h1', {}, lead.company_name, ' ', q.tier ? h('span', { class: `badge tier-${q.tier}` }, `Tier ${q.tier}`) : null),
    draft ? h('p', {}, draft, draftNote) : null,
    waiting ? h('p', { class: 'note', id: 'draft-waiting' }, 'A draft for this lead is waiting in the ', h('a', { href: '#/inbox' }, 'inbox'), '.') : null,
    h('section', { class: 'card', 'aria-labelledby': 'lead-data' },
      h('h2', { id: 'lead-data' }, 'Lead'),
      h('dl', { class: 'facts' },
        fact('Contact', c.name), fact('Title', c.title), fact('E-mail', c.email), fact('Phone', c.phone),
        fact('LinkedIn', c.linkedin_url ? link(c.linkedin_url) : null),
        fact('Website', lead.website ? link(lead.website) : null), fact('Industry', lead.industry),
        fact('Company size', lead.company_size), fact('Annual revenue', lead.annual_revenue ? fmt.money(lead.annual_revenue, lead.data?.revenue_currency || 'USD') : null),
        fact('Country', lead.country), fact('Signals', Array.isArray(lead.data?.signals) ? lead.data.signals.join(', ') : null),
        fact('Notes', lead.data?.notes), fact('Created', fmt.date(lead.created_at)), fact('Updated', fmt.date(lead.updated_at)))));

  // the score: the latest factors any execution recorded (qualification's own, or the pipeline's state)
  const factors = latest(lead.executions, e => e.output?.factors || e.output?.state?.qualification_score?.factors);
  const score = h('section', { class: 'card', 'aria-labelledby': 'lead-score-title' },
    h('h2', { id: 'lead-score-title' }, `Score ${q.score ?? '—'}/100`),
    q.reasoning ? h('p', {}, q.reasoning) : null);
  if (Array.isArray(factors) && factors.length) {
    put(score, h('ul', { class: 'bars', id: 'score-bars', 'aria-label': 'Score factors' }, factors.map(f => {
      const pct = f.max_points ? Math.round((100 * f.points) / f.max_points) : 0;
      const fill = h('span', { style: { width: `${Math.max(0, Math.min(100, pct))}%` } });
      return h('li', { title: f.detail || '' },
        h('span', {}, f.label || f.name, f.value ? h('span', { class: 'muted' }, ` · ${f.value}`) : null),
        h('span', { class: 'bar', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': String(f.max_points), 'aria-valuenow': String(f.points),
          'aria-label': `${f.label || f.name}: ${f.points} of ${f.max_points} points` }, fill),
        h('span', { class: 'bar-value' }, `${f.points}/${f.max_points}`));
    })));
  } else {
    put(score, h('p', { class: 'muted' }, 'No factors recorded: run qualification on this lead to see them.'));
  }
  put(root, score);

  const enrichment = latest(lead.executions, e => (e.agent_type === 'enrichment' ? e.output : null) || e.output?.state?.enrichment_data);
  const enr = h('section', { class: 'card', 'aria-labelledby': 'lead-enrichment' }, h('h2', { id: 'lead-enrichment' }, 'Enrichment'));
  if (enrichment && typeof enrichment === 'object') {
    const rows = [];
    const walk = (obj, prefix) => {
      for (const [k, v] of Object.entries(obj)) {
        if (rows.length > 40 || k === 'processing_time' || k === 'cache_key' || k === 'cache_hit') continue;
        const name = prefix ? `${prefix}.${k}` : k;
        if (v && typeof v === 'object' && !Array.isArray(v)) walk(v, name);
        else if (v !== null && v !== '') rows.push(fact(name.replace(/_/g, ' '), Array.isArray(v) ? v.map(x => (typeof x === 'object' ? JSON.stringify(x) : x)).join(', ') : String(v)));
      }
    };
    walk(enrichment, '');
    put(enr, h('dl', { class: 'facts' }, rows));
  } else {
    put(enr, h('p', { class: 'muted' }, 'Not enriched yet (the pipeline or the enrichment agent fills this in).'));
  }
  put(root, enr);

  const threads = [...new Set((lead.executions || []).filter(e => e.agent_type === 'conversation').map(e => e.thread_id))];
  put(root, h('section', { class: 'card', 'aria-labelledby': 'lead-conv' }, h('h2', { id: 'lead-conv' }, 'Conversations'),
    threads.length
      ? h('ul', {}, threads.map(t => h('li', {}, h('a', { href: `#/conversations/${encodeURIComponent(t)}` }, `Conversation ${t}`))))
      : h('p', { class: 'muted' }, 'No conversation with this lead yet.')));

  const tl = h('section', { class: 'card', 'aria-labelledby': 'lead-timeline' }, h('h2', { id: 'lead-timeline' }, 'Timeline'));
  put(root, tl);
  try {
    const t = await api(`/api/leads/${encodeURIComponent(id)}/timeline?limit=100`);
    const what = i => ({
      execution: `${i.agent_type} run: ${i.status}`,
      approval: `approval: ${i.status}`,
      outbox: `${i.outbox_kind === 'followup' ? 'follow-up' : i.outbox_kind}: ${i.status}`,
      meeting: `meeting: ${i.status}`,
      audit: `${i.action} by ${i.principal}`,
    }[i.kind] || i.kind);
    put(tl, t.items.length
      ? h('ol', { class: 'timeline', id: 'timeline' }, t.items.map(i => h('li', {}, h('time', { datetime: i.at }, fmt.date(i.at)), ' · ', what(i))))
      : h('p', { class: 'muted' }, 'Nothing yet.'));
  } catch (e) {
    if (e.status !== 401) put(tl, h('p', { class: 'error' }, e.message));
  }
  return undefined;
}
