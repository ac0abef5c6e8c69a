// Conversations: the server keeps no list of conversations (a session is found by its
// thread id), so this page opens one by thread id, lists the ones opened in this tab, and
// starts a new one as a prospect (for testing the conversation agent). A lead's page
// links to its conversations.
import { put } from '../lib.js';

const RECENT_KEY = 'sales-agent.conversations';

export function rememberConversation(threadId, note) {
  let list = [];
  try {
    list = JSON.parse(sessionStorage.getItem(RECENT_KEY) || '[]');
  } catch {
    list = [];
  }
  list = [{ id: threadId, note: note || '' }, ...list.filter(c => c.id !== threadId)].slice(0, 20);
  sessionStorage.setItem(RECENT_KEY, JSON.stringify(list));
}

function recent() {
  try {
    const list = JSON.parse(sessionStorage.getItem(RECENT_KEY) || '[]');
    return Array.isArray(list) ? list.filter(c => c && typeof c.id === 'string') : [];
  } catch {
    return [];
  }
}

const THREAD_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export async function render(root, ctx) {
  const { api, h, nav, announce } = ctx;
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
      rememberConversation(res.thread_id, input.contact?.name || text.slice(0, 60));
      announce('Conversation started');
      nav(`#/conversations/${encodeURIComponent(res.thread_id)}`);
    } catch (e) {
      startErr.textContent = `Could not send: ${e.message}`;
      startBtn.disabled = false;
    }
  });

  const list = recent();
  put(root,
    h('h1', {}, 'Conversations'),
    h('p', { class: 'muted' }, 'The server keeps no list of conversations: open one by its thread id, from a lead\'s page, or start one.'),
    h('div', { class: 'health-grid' }, openForm, startForm),
    h('section', { class: 'card', 'aria-labelledby': 'conv-recent-h' },
      h('h2', { id: 'conv-recent-h' }, 'Opened in this tab'),
      list.length
        ? h('ul', { id: 'conv-recent' }, list.map(c => h('li', {},
          h('a', { href: `#/conversations/${encodeURIComponent(c.id)}` }, c.id), c.note ? h('span', { class: 'muted' }, ` ${c.note}`) : null)))
        : h('p', { class: 'muted' }, 'None yet.')));
}
