// The console's shell: sign-in with an API key, the hash router and the navigation. Routes
// are #/name and #/name/{x}: #/inbox loads pages/inbox.js, #/leads/{id} the singular page
// pages/lead.js (runs -> run, conversations -> conversation). Each page module exports
// render(root, ctx) and may return a cleanup function, called when the user navigates away.
import { api, stream, h, put, fill, fmt, nav, announce, clearStatus, probePage, OFFLINE, getKey, setKey, clearKey, onUnauthorized } from './lib.js';

const SINGULAR = { leads: 'lead', runs: 'run', conversations: 'conversation' };
const TITLES = {
  inbox: 'Inbox', leads: 'Leads', lead: 'Lead', import: 'Import', runs: 'Runs', run: 'Run',
  conversations: 'Conversations', conversation: 'Conversation', health: 'Health',
};

// replaced by a fresh element at each navigation, so a slow page still rendering into the
// old one draws into a detached element, never over the new page
let main = document.getElementById('main');
const who = document.getElementById('who');
let principal = null;
let cleanup = null;
let seq = 0; // the latest navigation: a slower earlier one must not draw over it
let signInNote = '';

function parse(hash) {
  const m = /^#\/([a-z]+)(?:\/([^/]+))?\/?$/.exec(hash);
  if (!m) return null;
  let id;
  try {
    id = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
  } catch {
    return null;
  }
  return { name: m[1], id };
}

function runCleanup() {
  if (!cleanup) return;
  const fn = cleanup;
  cleanup = null;
  try {
    fn();
  } catch (e) {
    console.warn('cleanup failed', e);
  }
}

function renderWho() {
  fill(who);
  if (!principal) return;
  put(who,
    h('span', { class: 'who-name', title: principal.id }, `Signed in as ${principal.name || principal.id}`),
    h('span', { class: 'who-scopes' }, ` (${principal.scopes.join(', ')})`),
    h('button', { type: 'button', class: 'link', id: 'sign-out', onclick: signOut }, 'Sign out'),
  );
}

// What one user's pages kept (the leads list's filters) is not the next user's.
function forgetPages() {
  import('./pages/leads.js').then(m => m.reset?.(), () => {});
}

function signOut() {
  clearKey();
  forgetPages();
  principal = null;
  signInNote = 'Signed out: the key is no longer kept in this tab.';
  renderWho();
  route();
}

function showSignIn() {
  document.title = 'Sign in · sales-agent';
  document.body.classList.add('signed-out');
  const error = h('p', { id: 'signin-error', class: 'error', role: 'alert' });
  const input = h('input', {
    id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false',
    required: true, 'aria-describedby': 'api-key-help signin-error',
  });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    signInNote ? h('p', { class: 'note' }, signInNote) : null,
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('p', { id: 'api-key-help', class: 'help' },
      'Paste the API key your admin gave you. It is kept in this tab only and sent in a header, never in a URL. ',
      '(Running the server yourself? make run prints a key at its first start; make more with ',
      h('code', {}, 'sales-agent keys create --name you --scopes read,write,approve'), '.)'),
    button, error);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const key = input.value.trim();
    error.textContent = '';
    if (!key) {
      error.textContent = 'Enter a key.';
      input.focus();
      return;
    }
    // a key (or a token) is printable ASCII; a curly quote or an invisible space picked up
    // while copying would make the browser refuse the header, which reads as "offline"
    if (/[^\x21-\x7e]/.test(key)) {
      error.textContent = 'This key has a character no key has (a quote mark, a space or an invisible character, often picked up while copying): copy it again.';
      input.select();
      input.focus();
      return;
    }
    button.disabled = true;
    setKey(key);
    try {
      principal = await api('/api/whoami', { auth: false });
    } catch (e) {
      clearKey();
      principal = null;
      button.disabled = false;
      error.textContent = e.status === 401
        ? 'This key was refused: check that it was copied whole and is not revoked or expired.'
        : e.status === 403
          ? 'This key cannot read: the console needs a key with the read scope.'
          : `Could not check the key: ${e.message}`;
      input.select();
      input.focus();
      return;
    }
    signInNote = '';
    renderWho();
    if (!parse(location.hash)) history.replaceState(null, '', '#/inbox');
    await route();
    announce(`Signed in as ${principal.name || principal.id}`);
  });
  fill(main, form);
  input.focus();
}

function markNav(name) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function notAvailable(name) {
  fill(main,
    h('h1', {}, 'Not available'),
    h('p', {}, `The page "${name}" is not available in this build of the console.`),
    h('p', {}, h('a', { href: '#/inbox' }, 'Back to the inbox')));
}

// The server did not answer (stopped, or no network): not a broken build.
function unreachable() {
  fill(main,
    h('h1', {}, 'No connection'),
    h('p', { class: 'error', role: 'alert' }, OFFLINE),
    h('p', {}, h('button', { type: 'button', class: 'primary', id: 'retry', onclick: () => route(true) }, 'Retry')));
}

// Hides the navigation's links to pages this build does not have.
async function hideMissingPages() {
  for (const a of document.querySelectorAll('#nav a[data-page]')) {
    if ((await probePage(a.dataset.page)) === 'missing') a.closest('li').hidden = true;
  }
}

// focusMain: a navigation the user made (not the first load), after which focus moves
// to the new page's <main>.
async function route(focusMain = false) {
  const token = ++seq;
  runCleanup();
  clearStatus();
  const fresh = main.cloneNode(false);
  main.replaceWith(fresh);
  main = fresh;
  if (!getKey()) {
    markNav(null);
    showSignIn();
    return;
  }
  document.body.classList.remove('signed-out');
  if (!principal) {
    try {
      principal = await api('/api/whoami');
    } catch (e) {
      if (token !== seq) return;
      if (e.offline) unreachable();
      else if (e.status !== 401) fill(main, h('p', { class: 'error', role: 'alert' }, `Could not check the key: ${e.message}`));
      return;
    }
    if (token !== seq) return;
    renderWho();
  }
  const r = parse(location.hash);
  if (!r) {
    history.replaceState(null, '', '#/inbox');
    route();
    return;
  }
  const module = r.id === undefined ? r.name : SINGULAR[r.name] || r.name;
  markNav(r.name);
  document.title = `${TITLES[module] || r.name} · sales-agent`;
  document.getElementById('nav').classList.remove('open');
  document.getElementById('nav-toggle').setAttribute('aria-expanded', 'false');
  let page;
  try {
    page = await import(`./pages/${module}.js`);
  } catch (e) {
    if (token !== seq) return;
    console.warn(`page ${module} not loaded`, e);
    // a module that did not load: missing from the build, or the server is gone
    const why = await probePage(module);
    if (token !== seq) return;
    if (why === 'missing') notAvailable(r.name);
    else if (why === 'offline') unreachable();
    else fill(main, h('h1', {}, TITLES[module] || r.name), h('p', { class: 'error', role: 'alert' }, `This page failed to load: ${e.message}`),
      h('p', {}, h('button', { type: 'button', id: 'retry', onclick: () => location.reload() }, 'Reload the console')));
    return;
  }
  if (token !== seq) return;
  if (typeof page.render !== 'function') {
    notAvailable(r.name);
    return;
  }
  const ctx = { params: { id: r.id }, api, stream, h, nav, fmt, principal, announce };
  try {
    const done = await page.render(main, ctx);
    if (token !== seq) {
      if (typeof done === 'function') done();
      return;
    }
    cleanup = typeof done === 'function' ? done : null;
    // a screen reader hears the new page: focus moves to it, unless the page put it somewhere
    const active = document.activeElement;
    if (focusMain && (!active || active === document.body || active.closest('#nav'))) main.focus({ preventScroll: true });
  } catch (e) {
    if (token !== seq) return;
    if (e.status === 401) return; // back at the sign-in already
    if (e.offline) unreachable();
    else put(main, h('p', { class: 'error', role: 'alert' }, `This page failed: ${e.message}`));
  }
}

onUnauthorized(() => {
  clearKey();
  forgetPages();
  principal = null;
  signInNote = 'The server refused the key (revoked or expired?): sign in again.';
  renderWho();
  route();
});

const navToggle = document.getElementById('nav-toggle');
navToggle.addEventListener('click', () => {
  const navEl = document.getElementById('nav');
  const open = navEl.classList.toggle('open');
  navToggle.setAttribute('aria-expanded', String(open));
  if (open) navEl.querySelector('a[aria-current="page"], li:not([hidden]) a')?.focus();
});
// Esc closes the phone's menu, back on its button
document.getElementById('nav').addEventListener('keydown', ev => {
  if (ev.key !== 'Escape' || !ev.currentTarget.classList.contains('open')) return;
  ev.currentTarget.classList.remove('open');
  navToggle.setAttribute('aria-expanded', 'false');
  navToggle.focus();
});
// "Skip to content" must not change the hash (the router owns it)
document.getElementById('skip').addEventListener('click', ev => {
  ev.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', () => {
  if (location.hash.startsWith('#/') || !getKey()) route(true);
});
hideMissingPages();
route();
