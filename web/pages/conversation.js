// A conversation (#/conversations/{thread_id}): its session (GET
// /api/conversations/{thread_id}: stage, turns, language, consent, linked lead), the
// messages of the thread (GET /api/threads/{id}/state) with each turn's intent, stage and
// confidence (the confidence from the turn's checkpoint, GET /api/threads/{id}/history),
// and two forms: send a message as the prospect (a turn of the conversation agent, for
// testing) and reply as a person (POST /api/conversations/{id}/reply: recorded on the
// thread, not sent).
import { put, fill } from '../lib.js';

function pct(x) {
  return typeof x === 'number' ? `${Math.round(x * 100)}%` : '—';
}

export async function render(root, ctx) {
  const { api, h, fmt, announce, params, principal } = ctx;
  const id = params.id;
  const enc = encodeURIComponent(id);
  const sessionBox = h('dl', { class: 'facts', id: 'conv-session' });
  const turns = h('ol', { class: 'turns', id: 'conv-turns', 'aria-label': 'Messages, oldest first' });
  const error = h('p', { class: 'error', role: 'alert', id: 'conv-error' });
  put(root, h('p', {}, h('a', { href: '#/conversations' }, 'Conversations')),
    h('h1', {}, 'Conversation ', h('code', {}, id)), error);

  let session;
  try {
    session = await api(`/api/conversations/${enc}`);
  } catch (e) {
    error.textContent = e.status === 404 ? `There is no conversation ${id}: unknown, or silent longer than the session's life.`
      : e.status === 422 ? `${id} is not a thread id.` : e.status === 501 ? 'The conversation agent is not available on this server.'
        : `Could not read the conversation: ${e.message}`;
    return undefined;
  }

  const prospectMsg = h('textarea', { id: 'conv-prospect-msg', name: 'prospect_message', required: true, maxlength: '5000' });
  const prospectBtn = h('button', { type: 'submit' }, 'Send as the prospect');
  const prospectErr = h('p', { class: 'error', role: 'alert' });
  const prospectForm = h('form', { class: 'card send-form', 'aria-labelledby': 'conv-prospect-h' },
    h('h2', { id: 'conv-prospect-h' }, 'Send as the prospect'),
    h('p', { class: 'help' }, 'For testing: the conversation agent answers it as a new turn.'),
    h('label', { for: 'conv-prospect-msg' }, 'Prospect\'s message'), prospectMsg,
    h('div', { class: 'actions' }, prospectBtn), prospectErr);
  const humanMsg = h('textarea', { id: 'conv-human-msg', name: 'reply', required: true, maxlength: '5000', 'aria-describedby': 'conv-human-help' });
  const humanBtn = h('button', { type: 'submit', class: 'primary' }, 'Record my reply');
  const humanErr = h('p', { class: 'error', role: 'alert' });
  const humanForm = h('form', { class: 'card send-form', 'aria-labelledby': 'conv-human-h' },
    h('h2', { id: 'conv-human-h' }, 'Reply as a person'),
    h('p', { id: 'conv-human-help', class: 'help' },
      `Recorded on the thread as ${principal?.name || 'you'}, for the record and the agent's next turn. It is not sent: write to the prospect from your mail client.`),
    h('label', { for: 'conv-human-msg' }, 'Your reply'), humanMsg,
    h('div', { class: 'actions' }, humanBtn), humanErr);

  put(root,
    h('section', { class: 'card', 'aria-labelledby': 'conv-session-h' }, h('h2', { id: 'conv-session-h' }, 'Session'), sessionBox),
    h('section', { class: 'card', 'aria-labelledby': 'conv-turns-h' }, h('h2', { id: 'conv-turns-h' }, 'Messages'), turns),
    h('div', { class: 'health-grid' }, humanForm, prospectForm));

  function drawSession(s) {
    const row = (k, v) => [h('dt', {}, k), h('dd', {}, v)];
    fill(sessionBox,
      ...row('Stage', s.stage ? `${s.stage}${s.previous_stage ? ` (was ${s.previous_stage})` : ''}` : '—'),
      ...row('Turns', fmt.number(s.turns)),
      ...row('Last intent', s.last_intent ? `${s.last_intent} (${pct(s.last_confidence)})` : '—'),
      ...row('Language', s.language || '—'),
      ...row('Do not contact', s.do_not_contact ? 'yes: the prospect opted out' : 'no'),
      ...row('Lead', s.lead_id ? h('a', { href: `#/leads/${encodeURIComponent(s.lead_id)}` }, 'the linked lead') : 'none linked'),
      ...row('Last activity', fmt.date(s.updated_at)),
      ...row('Forgotten after', fmt.date(s.expires_at)));
  }

  async function load() {
    const [s, st, hist] = await Promise.all([
      api(`/api/conversations/${enc}`),
      api(`/api/threads/${enc}/state`),
      api(`/api/threads/${enc}/history?limit=1000`).catch(() => ({ history: [] })),
    ]);
    session = s;
    drawSession(s);
    // each turn's confidence: the checkpoint its understand step wrote
    const conf = new Map();
    for (const c of hist.history || []) {
      if (c.metadata?.writes?.understand && c.values?.last_intent) conf.set(c.values.turn, c.values.last_intent.confidence);
    }
    const msgs = st.values?.messages || [];
    let turn = 0;
    fill(turns, ...msgs.map(m => {
      if (m.role === 'user') {
        turn++;
        return h('li', { class: 'turn turn-prospect', dataset: { role: 'prospect', turn: String(turn) } },
          h('div', { class: 'turn-meta' }, h('span', {}, `Prospect · turn ${turn}`)),
          h('div', { class: 'turn-text' }, m.content || ''));
      }
      if (m.source === 'human') {
        return h('li', { class: 'turn turn-human', dataset: { role: 'human' } },
          h('div', { class: 'turn-meta' }, h('span', {}, `${m.author || 'A person'} (not sent)`), m.at ? h('span', {}, fmt.date(m.at)) : null),
          h('div', { class: 'turn-text' }, m.content || ''));
      }
      return h('li', { class: 'turn turn-agent', dataset: { role: 'agent', turn: String(turn), intent: m.intent || '' } },
        h('div', { class: 'turn-meta' },
          h('span', {}, 'Agent'),
          h('span', {}, `intent: ${m.intent || '—'}`),
          h('span', {}, `stage: ${m.stage || '—'}`),
          h('span', {}, `confidence: ${pct(conf.get(turn))}`)),
        h('div', { class: 'turn-text' }, m.content || '(no automatic reply: left to a person)'));
    }));
    if (!msgs.length) put(turns, h('li', { class: 'muted' }, 'No messages.'));
  }

  async function submit(btn, errEl, textarea, fn, done) {
    errEl.textContent = '';
    const text = textarea.value.trim();
    if (!text) {
      errEl.textContent = 'Write a message first.';
      textarea.focus();
      return;
    }
    btn.disabled = true;
    try {
      await fn(text);
      textarea.value = '';
      await load();
      announce(done);
    } catch (e) {
      errEl.textContent = `Could not send: ${e.message}`;
    } finally {
      btn.disabled = false;
    }
  }
  prospectForm.addEventListener('submit', ev => {
    ev.preventDefault();
    submit(prospectBtn, prospectErr, prospectMsg,
      text => api('/api/langgraph/invoke', { method: 'POST', body: { agent_type: 'conversation', thread_id: id, input: { message: text } } }),
      'The agent answered');
  });
  humanForm.addEventListener('submit', ev => {
    ev.preventDefault();
    submit(humanBtn, humanErr, humanMsg,
      text => api(`/api/conversations/${enc}/reply`, { method: 'POST', body: { message: text } }),
      'Your reply is recorded on the thread');
  });

  try {
    await load();
  } catch (e) {
    error.textContent = `Could not read the messages: ${e.message}`;
  }
  return undefined;
}
