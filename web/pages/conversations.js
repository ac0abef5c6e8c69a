// Conversations: the recent ones, last turn first (GET /api/conversations: the lead or
// company, contact, stage, last intent, turns and time; a page at a time), a form to open
// one by thread id, and one to start a new one as a prospect (for testing the conversation
// agent). A lead's page links to its conversations.
import { put, fill } from '../lib.js';

const PAGE = 25;

const THREAD_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export async function render(root, ctx) {
  const { api, h, nav, announce, fmt } = ctx;
  const openErr = h('p', { class: 'error', id: 'conv-open-error', role: 'alert' });
  const threadInput = h('input', { id: 'conv-thread', name: 'thread_id', type: 'text', required: true, maxlength: '128',
    autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'conv-thread-help conv-open-error' });
  const openForm = h('form', { class: 'card', 'aria-labelledby': 'conv-open-h' },
    h('h2', { id: 'conv-open-h' }, 'Open a conversation'),
    h('label', { for: 'conv-thread' }, 'Thread id'), threadInput,
    h('p', { id: 'conv-thread-help', class: 'help' }, 'The thread_id an invoke of the conversation agent answered, or one from a lead\'s page.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Open')), openErr);
  openForm.addEventListener('submit', ev => {
    ev.preventDefault();
    const id = threadInput.value.trim();
    if (!THREAD_RE.test(id)) {
      openErr.textContent = 'A thread id has 1-128 letters, digits, - _ . or :.';
      threadInput.focus();
      return;
    }
    nav(`#/conversations/${encodeURIComponent(id)}`);
  });

  const startErr = h('p', { class: 'error', id: 'conv-start-error', role: 'alert' });
  const name = h('input', { id: 'conv-name', name: 'name', type: 'text', maxlength: '200', autocomplete: 'off' });
  const email = h('input', { id: 'conv-email', name: 'email', type: 'email', maxlength: '254', autocomplete: 'off',
    'aria-describedby': 'conv-email-help' });
  const message = h('textarea', { id: 'conv-message', name: 'message', required: true, maxlength: '5000' });
  const startBtn = h('button', { type: 'submit', class: 'primary' }, 'Send as the prospect');
  const startForm = h('form', { class: 'card send-form', 'aria-labelledby': 'conv-start-h' },
    h('h2', { id: 'conv-start-h' }, 'Start a conversation as a prospect'),
    h('p', { class: 'help' }, 'For trying the conversation agent: the message goes to it as if a prospect wrote it.'),
    h('div', { class: 'row' },
      h('div', {}, h('label', { for: 'conv-name' }, 'Prospect\'s name (optional)'), name),
      h('div', {}, h('label', { for: 'conv-email' }, 'Prospect\'s e-mail (optional)'), email)),
    h('p', { id: 'conv-email-help', class: 'help' }, 'An e-mail of a stored lead links the conversation to that lead.'),
    h('label', { for: 'conv-message' }, 'Message'), message,
    h('div', { class: 'actions' }, startBtn), startErr);
  startForm.addEventListener('submit', async ev => {
    ev.preventDefault();
    startErr.textContent = '';
    const text = message.value.trim();
    if (!text) {
      startErr.textContent = 'Write the prospect\'s message.';
      message.focus();
      return;
    }
    const input = { message: text };
    if (name.value.trim() || email.value.trim()) {
      input.contact = {};
      if (name.value.trim()) input.contact.name = name.value.trim();
      if (email.value.trim()) input.contact.email = email.value.trim();
    }
    startBtn.disabled = true;
    try {
      const res = await api('/api/langgraph/invoke', { method: 'POST', body: { agent_type: 'conversation', input } });
      announce('Conversation started');
      nav(`#/conversations/${encodeURIComponent(res.thread_id)}`);
    } catch (e) {
      startErr.textContent = `Could not send: ${e.message}`;
      startBtn.disabled = false;
    }
  });

  const listErr = h('p', { class: 'error', role: 'alert', id: 'conv-list-error' });
  const tbody = h('tbody');
  const more = h('button', { type: 'button', id: 'conv-more', hidden: true }, 'Older conversations');
  const empty = h('p', { class: 'muted', id: 'conv-none', hidden: true }, 'No conversation yet: start one below, or wait for a prospect\'s reply.');
  let cursor = null;
  const row = c => h('tr', { dataset: { thread: c.thread_id } },
    h('td', {}, h('a', { href: `#/conversations/${encodeURIComponent(c.thread_id)}` }, c.company_name || c.contact_name || 'Unnamed prospect'),
      c.lead_id ? [' ', h('a', { href: `#/leads/${encodeURIComponent(c.lead_id)}`, class: 'muted' }, '(lead)')] : null),
    h('td', {}, c.contact_name || '—'),
    h('td', {}, c.stage ? c.stage.replace(/_/g, ' ') : '—'),
    h('td', {}, c.last_intent ? c.last_intent.replace(/_/g, ' ') : '—'),
    h('td', {}, String(c.turns ?? 0)),
    h('td', {}, h('time', { datetime: c.updated_at }, fmt.date(c.updated_at))));
  async function loadPage(first) {
    const p = new URLSearchParams({ limit: String(PAGE) });
    if (!first && cursor) p.set('cursor', cursor);
    let page;
    try {
      page = await api(`/api/conversations?${p}`);
    } catch (e) {
      if (e.status !== 401) listErr.textContent = `Could not read the conversations: ${e.message}`;
      return;
    }
    listErr.textContent = '';
    if (first) fill(tbody);
    put(tbody, page.items.map(row));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    empty.hidden = tbody.children.length > 0;
    if (!first) announce(`${page.items.length} older conversations shown`);
  }
  more.addEventListener('click', () => loadPage(false));

  put(root,
    h('h1', {}, 'Conversations'),
    h('section', { class: 'card wide', 'aria-labelledby': 'conv-list-h' },
      h('h2', { id: 'conv-list-h' }, 'Recent conversations'),
      h('p', { class: 'muted' }, 'Last turn first.'),
      listErr, empty,
      h('div', { class: 'table-wrap' }, h('table', { id: 'conv-list', 'aria-labelledby': 'conv-list-h' },
        h('thead', {}, h('tr', {}, ...['Lead or company', 'Contact', 'Stage', 'Last intent', 'Turns', 'Last turn'].map(t => h('th', { scope: 'col' }, t)))),
        tbody)),
      h('div', { class: 'actions' }, more)),
    h('div', { class: 'health-grid' }, openForm, startForm));
  await loadPage(true);
}
