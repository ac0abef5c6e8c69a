// Inbox: the BDR workflow's pending approvals (GET /api/approvals?status=pending), each with
// its draft e-mail and follow-ups, the proposed meeting in the prospect's time and the
// viewer's, and the lead's score, tier and reasoning. Answered with an Agent Inbox
// HumanResponse (POST /api/approvals/{id}): accept, edit, respond or ignore. Keyboard: j/k
// move, a accept, e edit, r respond, i ignore (accept and ignore ask to confirm: Enter).
// The list refreshes itself every REFRESH_MS while the page is visible (and at once when it
// becomes visible again): new drafts are added and ones answered elsewhere leave, without
// moving focus or touching the draft being read or edited.
import { put, fill, plain, bidiControls, bidiName, bidiMarked } from '../lib.js';

const KEYS = [['j', 'next'], ['k', 'previous'], ['a', 'accept'], ['e', 'edit'], ['r', 'respond'], ['i', 'ignore']];
const SHORTCUTS_ITEM = 'sales-agent.shortcuts'; // "off" when the user turned them off
const DECISIONS = { accepted: 'Accepted', edited: 'Edited and sent', responded: 'Responded (nothing sent)', ignored: 'Ignored', superseded: 'Replaced by a newer run (nothing sent)' };

const PENDING_MAX = 500; // the API's largest page: beyond it, "500+ pending"
const REFRESH_MS = 12000;

export async function render(root, ctx) {
  const { api, h, fmt, announce, principal } = ctx;
  const leads = new Map(); // lead_id -> lead (or null when it could not be read)
  let items = [];
  let cur = 0;
  let mode = 'view'; // view, edit, respond, confirm-accept, confirm-ignore
  let busy = false;
  let more = false; // the server has more pending than the list holds

  const list = h('ul', { class: 'queue', id: 'queue', 'aria-label': 'Pending approvals' });
  const detail = h('section', { class: 'card', id: 'approval', 'aria-label': 'Selected approval', tabindex: '-1' });
  const decidedBody = h('tbody');
  const error = h('p', { class: 'error', role: 'alert' });
  const count = h('span', { class: 'muted', id: 'pending-count' });
  // single-key shortcuts can be turned off (WCAG 2.1.4), remembered for this tab
  let shortcutsOn = sessionStorage.getItem(SHORTCUTS_ITEM) !== 'off';
  const toggle = h('input', { type: 'checkbox', id: 'shortcuts-on', checked: shortcutsOn });
  toggle.addEventListener('change', () => {
    shortcutsOn = toggle.checked;
    sessionStorage.setItem(SHORTCUTS_ITEM, shortcutsOn ? 'on' : 'off');
    announce(shortcutsOn ? 'Single-key shortcuts on' : 'Single-key shortcuts off');
  });
  put(root,
    h('h1', {}, 'Inbox ', count),
    h('div', { class: 'shortcuts', id: 'shortcuts' },
      h('label', { for: 'shortcuts-on', class: 'inline' }, toggle, ' Single-key shortcuts'),
      h('p', { class: 'shortcut-keys' }, 'Keyboard: ',
        KEYS.map(([k, what], i) => [i ? ', ' : '', h('kbd', {}, k), ` ${what}`]),
        '; accept and ignore ask to confirm (', h('kbd', {}, 'Enter'), ', or ', h('kbd', {}, 'Esc'), ' to cancel).')),
    error,
    h('div', { class: 'inbox' }, h('div', {}, list), detail),
    h('h2', { id: 'decided-title' }, 'Decided recently'),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'decided', 'aria-labelledby': 'decided-title' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Lead'), h('th', { scope: 'col' }, 'Decision'),
          h('th', { scope: 'col' }, 'Decided by'), h('th', { scope: 'col' }, 'When'))),
        decidedBody)));

  const argsOf = a => a.request?.action_request?.args || {};
  const messagesOf = a => {
    const args = argsOf(a);
    if (Array.isArray(args.messages) && args.messages.length) return args.messages;
    return [{ index: 0, kind: 'email', day: 0, subject: args.subject, body: args.body }];
  };
  const companyOf = a => leads.get(a.lead_id)?.company_name || argsOf(a).to || a.lead_id || 'Unknown lead';

  async function loadLead(id) {
    if (!id || leads.has(id)) return;
    try {
      leads.set(id, await api(`/api/leads/${encodeURIComponent(id)}`));
    } catch (e) {
      if (e.status === 401) throw e;
      leads.set(id, null);
    }
  }

  // Redraws the list; a button that had focus is replaced by the same draft's new one,
  // focused, so a refresh never moves the keyboard.
  function drawList() {
    const focused = list.contains(document.activeElement) ? document.activeElement.closest('li')?.dataset.id : null;
    fill(list);
    count.textContent = `(${more && items.length >= PENDING_MAX ? `${PENDING_MAX}+` : items.length} pending)`;
    if (!items.length) {
      put(list, h('li', { class: 'muted' }, h('p', { class: 'help' }, 'Empty.')));
      return;
    }
    items.forEach((a, i) => {
      const lead = leads.get(a.lead_id);
      const q = lead?.qualification || {};
      put(list, h('li', { class: i === cur ? 'current' : null, dataset: { id: a.id } },
        h('button', { type: 'button', 'aria-current': i === cur ? 'true' : null, onclick: () => select(i, true, true) },
          h('span', { class: 'q-company' }, companyOf(a)),
          h('span', { class: 'q-sub' }, [lead?.contact_info?.name || argsOf(a).to || '',
            q.tier ? ` · tier ${q.tier}, ${q.score}` : ''].join('')))));
    });
    if (focused) list.querySelector(`li[data-id="${CSS.escape(focused)}"] button`)?.focus({ preventScroll: true });
  }

  function meetingBlock(m) {
    if (!m || !m.start) return null;
    const viewerZone = fmt.zone();
    return h('div', { class: 'meeting' },
      h('h3', {}, 'Proposed meeting'),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Their time'), h('dd', { id: 'meeting-theirs' }, m.timezone ? `${fmt.dateIn(m.start, m.timezone)} (${m.timezone})` : (m.local || fmt.date(m.start))),
        h('dt', {}, 'Your time'), h('dd', { id: 'meeting-yours' }, fmt.dateIn(m.start, viewerZone), viewerZone.includes('/') ? ` (${viewerZone})` : ''),
        m.summary ? [h('dt', {}, 'Subject'), h('dd', {}, m.summary)] : null,
        m.hold_until ? [h('dt', {}, 'Held until'), h('dd', {}, fmt.dateIn(m.hold_until, viewerZone))] : null));
  }

  function leadBlock(a) {
    const lead = leads.get(a.lead_id);
    if (!lead) return h('p', { class: 'muted' }, 'The lead could not be read.');
    const q = lead.qualification || {};
    const c = lead.contact_info || {};
    return h('div', { class: 'lead-summary' },
      h('p', {},
        q.tier ? h('span', { class: `badge tier-${q.tier}`, 'aria-label': `Tier ${q.tier}` }, `Tier ${q.tier}`) : null,
        ' ', h('strong', { id: 'lead-score' }, q.score !== undefined ? `Score ${q.score}/100` : 'Not scored'),
        ' · ', [c.name, c.title].filter(Boolean).join(', '),
        ' · ', h('a', { href: `#/leads/${encodeURIComponent(lead.id)}` }, 'Open the lead')),
      q.reasoning ? h('p', { class: 'reasoning' }, q.reasoning) : null);
  }

  // the first e-mail open, the follow-ups folded (a summary with their subject and day)
  function messagesView(a) {
    return messagesOf(a).map(m => {
      const head = [m.index === 0 ? 'First e-mail' : `Follow-up ${m.index}`, h('span', { class: 'muted' }, ` · day ${m.day ?? 0}`)];
      const subject = h('p', {}, h('span', { class: 'muted' }, 'Subject: '), h('span', { class: 'msg-subject' }, ...bidiMarked(m.subject || '')));
      const body = h('div', { class: 'draft' }, ...bidiMarked(m.body || ''));
      if (m.index === 0) return h('article', { class: 'message' }, h('p', { class: 'msg-head' }, ...head), subject, body);
      return h('details', { class: 'message more' }, h('summary', { class: 'msg-head' }, ...head, ': ', ...bidiMarked(m.subject || '')), subject, body);
    });
  }

  // A draft holding direction controls (U+202A-U+202E, U+2066-U+2069) reads one way here
  // (the console writes none) and another in the recipient's mail program, which obeys
  // them: "\u202Eevil" arrives as "live". The approver is told, and each is marked where
  // it is in the messages (bidiMarked); the edit form's fields hold them as stored.
  function bidiWarning(a) {
    const found = messagesOf(a).flatMap(m => [...bidiControls(m.subject), ...bidiControls(m.body)]);
    if (!found.length) return null;
    const names = [...new Set(found.map(bidiName))].join(', ');
    return h('p', { class: 'bidi-warning', id: 'bidi-warning', role: 'note' },
      h('strong', {}, `This draft holds ${found.length} invisible direction control${found.length === 1 ? '' : 's'} (${names}).`),
      ' The recipient\'s mail program obeys them, so the text after one may arrive reversed or reordered, not as shown here. Each is marked where it is below; edit them out, or ignore the draft unless you expect right-to-left text.');
  }

  const canApprove = (principal?.scopes || []).some(x => x === 'approve' || x === 'admin');
  function actionButtons() {
    if (!canApprove) return h('p', { class: 'note', id: 'cannot-approve' }, 'Your key can read the drafts but not answer them: that needs the approve scope.');
    const b = (key, label, fn, cls) => h('button', { type: 'button', class: cls, 'aria-keyshortcuts': key, onclick: fn },
      label, ' ', h('kbd', { 'aria-hidden': 'true' }, key));
    return h('div', { class: 'actions', role: 'group', 'aria-label': 'Answer' },
      b('a', 'Accept and send', () => setMode('confirm-accept'), 'primary'),
      b('e', 'Edit', () => setMode('edit')),
      b('r', 'Respond with a note', () => setMode('respond')),
      b('i', 'Ignore', () => setMode('confirm-ignore'), 'danger'));
  }

  function confirmView(what) {
    const yes = h('button', { type: 'button', class: what === 'accept' ? 'primary' : 'danger', id: 'confirm' },
      what === 'accept' ? 'Yes, send it' : 'Yes, ignore it');
    const no = h('button', { type: 'button', onclick: () => setMode('view') }, 'Cancel');
    yes.addEventListener('click', () => decide(what === 'accept' ? { type: 'accept' } : { type: 'ignore' }));
    const box = h('div', { class: 'card confirm', role: 'group', 'aria-label': 'Confirm' },
      h('p', {}, what === 'accept'
        ? 'Send the e-mail and schedule its follow-ups as drafted?'
        : 'Ignore this draft? Nothing is sent and the run ends.'),
      h('div', { class: 'actions' }, yes, no));
    setTimeout(() => yes.focus(), 0);
    return box;
  }

  function editView(a) {
    const msgs = messagesOf(a);
    const fields = msgs.map(m => {
      const sid = `edit-subject-${m.index}`, bid = `edit-body-${m.index}`;
      const subject = h('input', { type: 'text', id: sid, value: m.subject || '', maxlength: '200', required: true });
      // Enter in a subject would send the e-mail at once: only the Send button sends
      subject.addEventListener('keydown', ev => {
        if (ev.key === 'Enter') ev.preventDefault();
      });
      const body = h('textarea', { id: bid, rows: '8', required: true });
      body.value = m.body || '';
      // a follow-up can be dropped from the sequence (the first e-mail cannot: ignore instead)
      const drop = m.index === 0 ? null : h('input', { type: 'checkbox', id: `edit-drop-${m.index}`, class: 'drop' });
      const el = h('fieldset', { class: 'edit-msg' },
        h('legend', {}, m.index === 0 ? 'First e-mail' : `Follow-up ${m.index} (day ${m.day ?? 0})`),
        drop ? h('label', { for: drop.id, class: 'inline drop-label' }, drop, ' Drop this follow-up (it is not sent)') : null,
        h('label', { for: sid }, 'Subject'), subject,
        h('label', { for: bid }, 'Body'), body);
      drop?.addEventListener('change', () => {
        subject.disabled = body.disabled = drop.checked;
        el.classList.toggle('dropped', drop.checked);
      });
      return { m, subject, body, drop, el };
    });
    const form = h('form', { class: 'edit', 'aria-label': 'Edit the messages' },
      h('p', { class: 'help' }, 'Change the subject or body of any message, or drop a follow-up, then press Send edited (',
        h('kbd', {}, 'Esc'), ' cancels).'),
      fields.map(f => f.el),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Send edited'),
        h('button', { type: 'button', onclick: () => setMode('view') }, 'Cancel')));
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      const args = {};
      const changed = [];
      for (const f of fields) {
        if (f.drop?.checked) {
          changed.push({ index: f.m.index, drop: true });
          continue;
        }
        const s = f.subject.value.trim(), b = f.body.value;
        const ds = s !== (f.m.subject || ''), db = b !== (f.m.body || '');
        if (!ds && !db) continue;
        if (f.m.index === 0) {
          if (ds) args.subject = s;
          if (db) args.body = b;
        } else {
          const e = { index: f.m.index };
          if (ds) e.subject = s;
          if (db) e.body = b;
          changed.push(e);
        }
      }
      if (changed.length) args.messages = changed;
      if (!Object.keys(args).length) {
        announce('Nothing was changed: accept it instead, or change a message.');
        return;
      }
      decide({ type: 'edit', args: { action: a.request?.action_request?.action || 'send_outreach', args } });
    });
    setTimeout(() => fields[0]?.subject.focus(), 0);
    return form;
  }

  function respondView() {
    const note = h('textarea', { id: 'respond-note', rows: '4', required: true });
    const form = h('form', { class: 'respond', 'aria-label': 'Respond with a note' },
      h('label', { for: 'respond-note' }, 'Note (nothing is sent to the prospect)'), note,
      h('p', { class: 'help' }, h('kbd', {}, 'Ctrl'), '+', h('kbd', {}, 'Enter'), ' records it, ', h('kbd', {}, 'Esc'), ' cancels.'),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Record the note'),
        h('button', { type: 'button', onclick: () => setMode('view') }, 'Cancel')));
    const submit = () => {
      const text = note.value.trim();
      if (!text) {
        announce('Write a note first.');
        note.focus();
        return;
      }
      decide({ type: 'respond', args: text });
    };
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      submit();
    });
    note.addEventListener('keydown', ev => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        submit();
      }
    });
    setTimeout(() => note.focus(), 0);
    return form;
  }

  const posText = a => `To ${argsOf(a).to || '—'} · drafted ${fmt.date(a.created_at)} · ${cur + 1} of ${items.length}`;
  function drawDetail() {
    fill(detail);
    const a = items[cur];
    if (!a) {
      put(detail, h('p', {}, 'No approval is pending. Drafts appear here when the pipeline reaches the BDR step.'));
      return;
    }
    const args = argsOf(a);
    put(detail,
      h('h2', { id: 'approval-title' }, companyOf(a)),
      h('p', { class: 'muted', id: 'approval-pos' }, posText(a)),
      leadBlock(a),
      meetingBlock(args.meeting),
      bidiWarning(a));
    if (mode === 'edit') put(detail, editView(a));
    else if (mode === 'respond') put(detail, respondView());
    else {
      if (mode === 'confirm-accept') put(detail, confirmView('accept'));
      else if (mode === 'confirm-ignore') put(detail, confirmView('ignore'));
      else put(detail, actionButtons());
      put(detail, h('h3', {}, `Messages (${messagesOf(a).length})`), ...messagesView(a));
    }
  }

  function setMode(m) {
    if (!items[cur] || busy) return;
    mode = m;
    drawDetail();
    if (m === 'view') detail.querySelector('.actions button')?.focus();
  }

  // tapped: on a phone (the detail below the whole list) the detail is shown and focused
  async function select(i, focus, tapped = false) {
    if (!items.length) return;
    cur = Math.max(0, Math.min(items.length - 1, i));
    mode = 'view';
    const a = items[cur];
    await loadLead(a.lead_id);
    drawList();
    drawDetail();
    if (tapped && window.matchMedia('(max-width: 760px)').matches) {
      detail.focus({ preventScroll: true });
      detail.scrollIntoView({ block: 'start' });
    } else if (focus) list.querySelectorAll('button')[cur]?.focus();
    announce(`${cur + 1} of ${items.length}: ${companyOf(a)}`);
  }

  async function decide(response) {
    const a = items[cur];
    if (!a || busy) return;
    busy = true;
    error.textContent = '';
    let what;
    try {
      // the server records the key's own name as the reviewer
      await api(`/api/approvals/${encodeURIComponent(a.id)}`, { method: 'POST', body: response });
      what = { accept: 'Accepted: the e-mail is queued', edit: 'Edited and sent', respond: 'Note recorded', ignore: 'Ignored' }[response.type];
    } catch (e) {
      busy = false;
      if (e.status === 401) return;
      if (e.status !== 409) {
        // the alert is read out itself: announcing the same words too said them twice
        error.textContent = `The answer was not recorded: ${e.message}`;
        return;
      }
      // a colleague answered it first: it is no longer this inbox's to answer
      let now = null;
      try {
        now = await api(`/api/approvals/${encodeURIComponent(a.id)}`);
      } catch {
        now = null;
      }
      if (now?.status === 'superseded') {
        // the lead's thread was started over by a newer run: its own draft is the one to answer
        what = 'This draft was replaced by a newer run for the lead; nothing was sent and your answer was not recorded';
      } else {
        const verb = { accepted: 'accepted', edited: 'edited and sent', responded: 'answered with a note', ignored: 'ignored' }[now?.status] || 'answered';
        what = `Already ${verb} by ${now?.reviewer || 'someone else'}; your answer was not recorded`;
      }
      error.textContent = plain(`${what} (${companyOf(a)}).`);
      what = null; // said by the alert: the status below only counts what is left
    }
    busy = false;
    const i = items.indexOf(a);
    if (i >= 0) items.splice(i, 1);
    mode = 'view';
    if (cur >= items.length) cur = Math.max(0, items.length - 1);
    if (items[cur]) await loadLead(items[cur].lead_id);
    drawList();
    drawDetail();
    announce(what ? `${what} (${companyOf(a)}). ${items.length} pending.` : `${items.length} pending.`);
    (list.querySelectorAll('button')[cur] || detail).focus?.();
    loadDecided();
  }

  async function loadDecided() {
    let lists;
    try {
      // by status: however many are pending, the decided ones are found
      lists = await Promise.all(Object.keys(DECISIONS).map(st => api(`/api/approvals?status=${st}&limit=20`)));
    } catch (e) {
      if (e.status !== 401) fill(decidedBody, h('tr', {}, h('td', { colspan: '4' }, e.message)));
      return;
    }
    const decided = lists.flatMap(l => l.items || [])
      .sort((x, y) => String(y.decided_at || '').localeCompare(String(x.decided_at || ''))).slice(0, 20);
    try {
      await Promise.all(decided.map(a => loadLead(a.lead_id)));
    } catch {
      return; // only a 401 comes here (loadLead keeps the rest): back at the sign-in already
    }
    fill(decidedBody, ...(decided.length ? decided.map(a => h('tr', {},
      h('td', {}, companyOf(a)),
      h('td', {}, DECISIONS[a.status] || a.status, a.response?.type === 'respond' && typeof a.response.args === 'string'
        ? h('span', { class: 'muted' }, `: ${a.response.args}`) : null),
      h('td', {}, a.reviewer || '—'),
      h('td', {}, fmt.date(a.decided_at)))) : [h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'Nothing decided yet.'))]));
  }

  function onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (!shortcutsOn && ev.key !== 'Escape') return;
    const t = ev.target;
    const typing = t instanceof HTMLElement && (t.isContentEditable || ['TEXTAREA', 'SELECT'].includes(t.tagName) ||
      (t.tagName === 'INPUT' && !['checkbox', 'radio', 'button', 'submit'].includes(t.type)));
    if (ev.key === 'Escape' && mode !== 'view') {
      ev.preventDefault();
      setMode('view');
      announce('Cancelled');
      return;
    }
    if (typing || busy) return;
    const act = {
      j: () => select(cur + 1, true), k: () => select(cur - 1, true),
      a: () => setMode('confirm-accept'), e: () => setMode('edit'), r: () => setMode('respond'), i: () => setMode('confirm-ignore'),
    }[ev.key];
    if (!act || mode === 'edit' || mode === 'respond' || (!canApprove && ev.key !== 'j' && ev.key !== 'k')) return;
    ev.preventDefault();
    act();
  }

  // New drafts join the list and drafts answered elsewhere leave it; the one on screen
  // stays (an edit in progress is never lost: answering it later says who answered first),
  // and so do the selection and focus.
  let refreshing = false;
  async function refresh() {
    if (refreshing || busy || document.hidden) return;
    refreshing = true;
    try {
      const res = await api(`/api/approvals?status=pending&limit=${PENDING_MAX}`);
      const fresh = res.items || [];
      const known = new Set(items.map(a => a.id));
      const still = new Set(fresh.map(a => a.id));
      const shown = items[cur];
      const added = fresh.filter(a => !known.has(a.id));
      const gone = items.filter(a => !still.has(a.id) && a !== shown);
      if (!added.length && !gone.length) return;
      await Promise.all(added.slice(0, 50).map(a => loadLead(a.lead_id)));
      if (busy) return; // an answer went out meanwhile: the next round sees it
      // the server's order (newest first), keeping the shown draft where the server put it
      // or, answered elsewhere, where it was
      const mine = new Map(items.map(a => [a.id, a])); // the drafts on screen stay the same objects
      const next = fresh.map(a => mine.get(a.id) || a);
      if (shown && !still.has(shown.id)) next.splice(Math.min(cur, next.length), 0, shown);
      items = next;
      more = fresh.length >= PENDING_MAX;
      cur = shown ? items.indexOf(shown) : 0;
      drawList();
      if (!shown) drawDetail();
      else {
        const pos = document.getElementById('approval-pos');
        if (pos) pos.textContent = posText(shown);
      }
      if (added.length) announce(`${added.length} new draft${added.length === 1 ? '' : 's'} in the inbox; ${fresh.length} pending.`);
      if (gone.length) loadDecided(); // answered elsewhere: listed with who answered
    } catch (e) {
      if (e.status === 401) return; // back at the sign-in already
      // a missed refresh is retried at the next one
    } finally {
      refreshing = false;
    }
  }
  const onVisible = () => {
    if (!document.hidden) refresh();
  };

  // the keys work from the first draw on (a fast user, a test); until the list is in,
  // there is nothing for them to act on
  document.addEventListener('keydown', onKey);
  try {
    const res = await api(`/api/approvals?status=pending&limit=${PENDING_MAX}`);
    items = res.items || [];
    more = items.length >= PENDING_MAX;
    await Promise.all(items.slice(0, 50).map(a => loadLead(a.lead_id)));
    drawList();
    drawDetail();
    if (items.length) await select(0, false);
  } catch (e) {
    document.removeEventListener('keydown', onKey);
    throw e;
  }
  loadDecided();
  const timer = setInterval(refresh, REFRESH_MS);
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
    document.removeEventListener('keydown', onKey);
  };
}
