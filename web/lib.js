// Shared helpers of the web console: the API client (the key from sessionStorage, JSON in
// and out, problems as errors), server-sent events over fetch, a DOM builder that only ever
// writes text, formatters and navigation. Every page gets these through its ctx.

const KEY_ITEM = 'sales-agent.key';

// The API key lives in this tab's sessionStorage only: never in a URL, never in
// localStorage, gone when the tab closes.
export function getKey() {
  return sessionStorage.getItem(KEY_ITEM);
}
export function setKey(key) {
  sessionStorage.setItem(KEY_ITEM, key);
}
export function clearKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

let unauthorized = () => {};
// app.js sets what a 401 does: back to the sign-in.
export function onUnauthorized(fn) {
  unauthorized = fn;
}

// The words of a problem body: each detail entry as "where: message", else its title.
export function problemText(problem, status) {
  if (problem && Array.isArray(problem.detail) && problem.detail.length) {
    return problem.detail
      .map(d => {
        const loc = Array.isArray(d.loc) ? d.loc.join('.') : d.loc || '';
        return loc ? `${loc}: ${d.msg}` : d.msg;
      })
      .join('; ');
  }
  if (problem && typeof problem.detail === 'string') return problem.detail;
  if (problem && problem.title) return `${problem.title} (${status})`;
  return `The server answered ${status}`;
}

export const OFFLINE = "The server can't be reached (stopped, or this computer is offline): try again in a moment.";
function offline() {
  const err = new Error(OFFLINE);
  err.status = 0;
  err.offline = true;
  return err;
}

// fetch with the key. body: an object (sent as JSON), or a string/Blob/File sent as is
// (give its Content-Type in headers). Returns the parsed JSON (text for other types, the
// Response itself with raw). A non-2xx throws an Error with .status and .problem; a 401
// also sends the user back to the sign-in (unless auth: false, for the sign-in's check).
export async function api(path, { method = 'GET', body, headers = {}, raw = false, signal, auth = true } = {}) {
  const hdrs = { ...headers };
  const key = getKey();
  if (key) hdrs.Authorization = `Bearer ${key}`;
  let payload;
  if (body !== undefined && body !== null) {
    const plain = typeof body === 'string' || body instanceof Blob || body instanceof ArrayBuffer;
    payload = plain ? body : JSON.stringify(body);
    if (!plain && !hdrs['Content-Type']) hdrs['Content-Type'] = 'application/json';
  }
  // the server wants every POST to say application/json, even without a body
  if (method !== 'GET' && method !== 'HEAD' && !hdrs['Content-Type']) hdrs['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers: hdrs, body: payload, signal, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    // the browser's own words ("Failed to fetch") say nothing to a user
    throw offline();
  }
  if (!res.ok) {
    let problem = null;
    try {
      problem = await res.json();
    } catch {
      problem = null;
    }
    const err = new Error(problemText(problem, res.status));
    err.status = res.status;
    err.problem = problem;
    if (res.status === 401 && auth) unauthorized(err);
    throw err;
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

// Server-sent events over fetch (EventSource cannot send the key header): calls
// onEvent(name, data, id) per event, data parsed as JSON when it is JSON. Resolves when
// the stream ends; abort with signal.
export async function stream(path, onEvent, { signal, method = 'GET', body } = {}) {
  const res = await api(path, { method, body, raw: true, signal, headers: { Accept: 'text/event-stream' } });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let name = 'message';
  let data = [];
  let id = null;
  const dispatch = () => {
    if (data.length) {
      const text = data.join('\n');
      let value = text;
      try {
        value = JSON.parse(text);
      } catch {
        value = text;
      }
      onEvent(name, value, id);
    }
    name = 'message';
    data = [];
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') dispatch();
      else if (line.startsWith(':')) continue;
      else {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? '' : line.slice(colon + 1);
        if (v.startsWith(' ')) v = v.slice(1);
        if (field === 'event') name = v;
        else if (field === 'data') data.push(v);
        else if (field === 'id') id = v;
      }
    }
  }
  dispatch();
}

// Unicode's explicit direction controls: embeddings, overrides and isolates (U+202A-U+202E,
// U+2066-U+2069). In data they are a spoof ("\u202Eevil" reads "live"; "\u202Etxt.exe"
// reads "exe.txt"), and an override left open reverses whatever follows it on the line
// (the "· tier A, 59" after a contact's name in the inbox). The console writes text
// without them; the data is not changed (a form's value shows it as stored). Natural
// right-to-left text needs none of them.
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;
export function plain(text) {
  return String(text).replace(BIDI_CONTROLS, '');
}

// Text about to leave (a draft an approver reads) must not hide its direction controls:
// the console writes none, but the recipient's mail program obeys them, so "\u202Eevil"
// the approver reads as "evil" arrives as "live". bidiControls lists the controls in text
// (their code points, in order); bidiMarked gives the text as children for h()/put() with
// each control replaced by a visible mark (<mark class="bidi-mark">U+202E RLO</mark>).
const BIDI_NAMES = { 0x202a: 'LRE', 0x202b: 'RLE', 0x202c: 'PDF', 0x202d: 'LRO', 0x202e: 'RLO',
  0x2066: 'LRI', 0x2067: 'RLI', 0x2068: 'FSI', 0x2069: 'PDI' };
export function bidiControls(text) {
  return [...String(text ?? '').matchAll(BIDI_CONTROLS)].map(m => m[0].codePointAt(0));
}
export function bidiName(cp) {
  return `U+${cp.toString(16).toUpperCase()} ${BIDI_NAMES[cp] || ''}`.trim();
}
export function bidiMarked(text) {
  const s = String(text ?? '');
  const out = [];
  let last = 0;
  for (const m of s.matchAll(BIDI_CONTROLS)) {
    if (m.index > last) out.push(s.slice(last, m.index));
    const name = bidiName(m[0].codePointAt(0));
    out.push(h('mark', { class: 'bidi-mark', title: `Invisible direction control ${name}: the recipient's mail program reorders the text after it` }, name));
    last = m.index + m[0].length;
  }
  if (last < s.length) out.push(s.slice(last));
  return out;
}

// A DOM element: attrs set attributes (on* functions become listeners, class, dataset,
// style as an object through the CSSOM: CSP forbids style attributes); children are
// nodes or text (always textContent: data never goes through innerHTML); text and
// attribute values are written without direction controls (plain).
export function h(tag, attrs, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : plain(v));
  }
  put(el, ...children);
  return el;
}

// Appends children to el as h() does: null, undefined and false are skipped (the DOM's
// own append would write them as the words "null" and "undefined"), arrays flattened,
// anything else written as text. Use put/fill, never el.append/replaceChildren, with
// children that may be absent.
export function put(el, ...children) {
  const add = c => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) c.forEach(add);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(plain(c)));
  };
  children.forEach(add);
  return el;
}
// Replaces el's children with these (skipped and flattened as put does).
export function fill(el, ...children) {
  el.replaceChildren();
  return put(el, ...children);
}

const dateOpts = { dateStyle: 'medium', timeStyle: 'short' };

// Formatters: dates in the viewer's zone or a given IANA zone, numbers, money.
export const fmt = {
  zone() {
    return Intl.DateTimeFormat().resolvedOptions().timeZone;
  },
  date(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : new Intl.DateTimeFormat(undefined, dateOpts).format(d);
  },
  dateIn(iso, timeZone) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    try {
      // dateStyle cannot be combined with timeZoneName: the parts are named instead
      return new Intl.DateTimeFormat(undefined, {
        weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit',
        timeZone, timeZoneName: 'short',
      }).format(d);
    } catch {
      return fmt.date(iso);
    }
  },
  number(n) {
    return n === null || n === undefined || n === '' ? '—' : new Intl.NumberFormat().format(Number(n));
  },
  money(n, currency = 'USD') {
    if (n === null || n === undefined || n === '') return '—';
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency, notation: 'compact', maximumFractionDigits: 1 }).format(Number(n));
    } catch {
      return `${fmt.number(n)} ${currency}`;
    }
  },
};

// Goes to a route ("#/leads/ID"); the same route again renders it again.
export function nav(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

// A status message for everyone: shown, and read out by screen readers (aria-live); gone
// after a few seconds and at every navigation (clearStatus), so it never stays over a page.
const STATUS_MS = 6000;
let statusFrame = 0;
let statusTimer = 0;
export function announce(text) {
  const el = document.getElementById('status');
  if (!el) return;
  clearStatus();
  // a new node so the same message twice is announced twice
  statusFrame = requestAnimationFrame(() => {
    statusFrame = 0;
    el.textContent = plain(text);
    statusTimer = setTimeout(clearStatus, STATUS_MS);
  });
}
export function clearStatus() {
  cancelAnimationFrame(statusFrame);
  clearTimeout(statusTimer);
  statusFrame = 0;
  statusTimer = 0;
  const el = document.getElementById('status');
  if (el) el.textContent = '';
}

// Whether a page's module is in this build: 'ok', 'missing' (404) or 'offline' (no answer).
export async function probePage(module) {
  try {
    const res = await fetch(`/assets/pages/${module}.js`, { cache: 'no-store', credentials: 'omit' });
    return res.status === 404 ? 'missing' : 'ok';
  } catch {
    return 'offline';
  }
}
