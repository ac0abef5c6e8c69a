// What the browser tests of the web console share: a real sales-agent server on a free
// port with the sample leads and a few drafts waiting for approval, an API key made with
// `sales-agent keys create`, Debian's chromium driven by playwright-core (no browser is
// downloaded), a watch on the page (console errors, requests to other origins) and
// screenshots saved under build-test/artifacts/web/.
// Usage from a test: node test_x.mjs PATH/TO/sales-agent (ctest passes the built binary).
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

export const SOURCE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

export function binaryFromArgs() {
  const bin = process.argv[2] || process.env.SA_BINARY;
  if (!bin || !existsSync(bin)) throw new Error(`usage: node ${process.argv[1]} PATH/TO/sales-agent (got ${bin})`);
  return resolve(bin);
}

// build-test/artifacts/web/ beside the binary's build directory.
export function artifactsDir(bin) {
  const dir = process.env.SA_ARTIFACTS_DIR || join(dirname(bin), 'artifacts', 'web');
  mkdirSync(dir, { recursive: true });
  return dir;
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

// Calls the server's API with a key; returns {status, json, headers}.
export async function call(srv, path, { method = 'GET', body, key = srv.adminKey, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.Authorization = `Bearer ${key}`;
  if (method !== 'GET' && !h['Content-Type']) h['Content-Type'] = 'application/json';
  const res = await fetch(`${srv.url}${path}`, {
    method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text, headers: res.headers };
}

// Starts `sales-agent serve` on a free port in a new temporary directory (SQLite, a
// Maildir), seeded with data/sample_leads.json; waits for /health; creates a key with the
// CLI (scopes read,write,approve: what a sales rep gets) and, with drafts > 0, puts that
// many BDR drafts in the inbox (the top-scored leads). Returns the server handle.
// env: more settings for this server ({MAX_BODY_BYTES: '4096'}).
export async function startServer(bin, { drafts = 3, env: more = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sa-web-'));
  const port = await freePort();
  const db = `sqlite://${dir}/db.sqlite`;
  const env = { ...process.env, MAIL_TRANSPORT: `maildir:${dir}/mail`, LOG_LEVEL: 'warn', ...more };
  const args = ['serve', '--port', String(port), '--host', '127.0.0.1', '--database-url', db,
    '--data-dir', join(SOURCE_DIR, 'data'), '--threads', '4', '--seed', join(SOURCE_DIR, 'data', 'sample_leads.json')];
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let log = '';
  child.stdout.on('data', d => (out += d));
  child.stderr.on('data', d => (log += d));
  const exited = new Promise(ok => child.on('exit', (code, signal) => ok({ code, signal })));
  const srv = { dir, port, db, url: `http://127.0.0.1:${port}`, child, exited, env, bin, log: () => log };
  // up to 60 s: a sanitized binary seeding 40 leads on a busy machine starts slowly
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${srv.url}/health`);
      if (res.status === 200 && /sa_[0-9a-f]{16}_\S+/.test(out)) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const m = /(sa_[0-9a-f]{16}_\S+)/.exec(out);
  if (!m) {
    await stopServer(srv, { quiet: true });
    throw new Error(`the server did not start:\n${out}\n${log}`);
  }
  srv.adminKey = m[1];
  const { stdout } = await run(bin, ['keys', 'create', '--name', 'kim@pipewise.example', '--scopes', 'read,write,approve', '--database-url', db], { env });
  srv.key = stdout.trim().split('\n').pop().trim();
  if (!/^sa_/.test(srv.key)) throw new Error(`keys create printed no key: ${stdout}`);
  if (drafts > 0) await makeDrafts(srv, drafts);
  return srv;
}

// Runs the BDR step on the n best leads never drafted (a lead gets one draft at a time, and
// none while a sequence to it is under way): each stops at a pending approval.
export async function makeDrafts(srv, n) {
  const before = await call(srv, '/api/approvals?status=pending&limit=500');
  const waiting = new Set((await call(srv, '/api/approvals?limit=500')).json.items.map(a => a.lead_id));
  const leads = await call(srv, `/api/leads?limit=${n + waiting.size}&sort=-score`);
  if (leads.status !== 200) throw new Error(`GET /api/leads: ${leads.status} ${leads.text}`);
  for (const lead of leads.json.items.filter(l => !waiting.has(l.id)).slice(0, n)) {
    const r = await call(srv, '/api/langgraph/invoke', { method: 'POST', body: { agent_type: 'bdr', lead_id: lead.id } });
    if (r.status !== 200) throw new Error(`bdr on ${lead.company_name}: ${r.status} ${r.text}`);
  }
  const pending = await call(srv, '/api/approvals?status=pending&limit=500');
  if (pending.json.count < before.json.count + n) throw new Error(`expected ${n} more pending approvals, got ${pending.json.count - before.json.count}`);
}

// SIGTERM, then waits; fails (throws) when the server did not exit 0: a sanitizer's
// report (a leak) makes it exit non-zero. Removes the directory.
export async function stopServer(srv, { quiet = false } = {}) {
  if (srv.child.exitCode === null) srv.child.kill('SIGTERM');
  const timer = setTimeout(() => srv.child.kill('SIGKILL'), 60000);
  const { code, signal } = await srv.exited;
  clearTimeout(timer);
  rmSync(srv.dir, { recursive: true, force: true });
  if (!quiet && code !== 0) throw new Error(`the server exited with ${code ?? signal}:\n${srv.log().slice(-4000)}`);
}

// Debian's chromium, headless; root needs --no-sandbox.
export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

// Watches a page: console errors, uncaught exceptions, failed requests and requests to
// any origin but the server's. Read watch.problems() at the end.
export function watch(page, srv) {
  const errors = [];
  const foreign = [];
  page.on('console', msg => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', e => errors.push(`page error: ${e.message}`));
  page.on('request', req => {
    const u = req.url();
    if (u.startsWith('data:')) return;
    if (new URL(u).origin !== srv.url) foreign.push(u);
  });
  return { errors, foreign };
}

// The form controls on the page that have no accessible name (no <label>, aria-label or
// aria-labelledby): each as "tag#id". Every control must have one.
export async function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter(el => el.type !== 'hidden')
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby') &&
      !(el.tagName === 'BUTTON' && el.textContent.trim()))
    .map(el => `${el.tagName.toLowerCase()}#${el.id}`));
}

export async function screenshot(page, bin, name) {
  const file = join(artifactsDir(bin), `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Signs in through the form.
export async function signIn(page, srv, key = srv.key) {
  await page.goto(`${srv.url}/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// Runs named steps in order, printing each; any failure stops the server and exits 1
// (with onFail, e.g. a screenshot of the page as it was, called first).
export async function steps(list, finish, onFail) {
  let passed = 0;
  let failed = 0;
  try {
    for (const [name, fn] of list) {
      try {
        await fn();
        passed++;
        console.log(`ok - ${name}`);
      } catch (e) {
        failed++;
        console.log(`not ok - ${name}\n${e.stack || e}`);
        if (onFail) await onFail(name).catch(() => {});
        break;
      }
    }
  } finally {
    try {
      await finish();
    } catch (e) {
      failed++;
      console.log(`not ok - teardown\n${e.stack || e}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

export { readFileSync };

// The words "null" or "undefined" on screen: what the DOM's append writes for a missing
// child. Returns the offending lines of the page's visible text ([] when clean).
export async function nullWords(page) {
  const text = await page.locator('body').innerText();
  return text.split('\n').filter(l => /\b(null|undefined|NaN)\b/.test(l));
}

// Records what the page's live regions (aria-live, role status or alert) say, from now on:
// each region's text after every change, for heardTwice. Call again after a page load.
export async function watchLive(page) {
  await page.evaluate(() => {
    const ids = new WeakMap();
    let n = 0;
    window.__live = [];
    const SEL = '[aria-live], [role="status"], [role="alert"]';
    const note = r => {
      if (!ids.has(r)) ids.set(r, ++n);
      const text = r.textContent.trim();
      if (text) window.__live.push({ region: ids.get(r), text });
    };
    new MutationObserver(muts => {
      for (const m of muts) {
        const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
        const r = el?.closest(SEL);
        if (r) note(r);
        for (const a of m.addedNodes) if (a.nodeType === 1) [a, ...a.querySelectorAll(SEL)].filter(x => x.matches(SEL)).forEach(note);
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
}

// The messages two different live regions said (one's words within the other's, final dots
// and spaces aside) since watchLive: a screen reader hears each of them twice. [] when none.
export async function heardTwice(page) {
  // what was set in this frame is announced in the next (lib.js announce): let it land
  await page.evaluate(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0)))));
  return page.evaluate(() => {
    const norm = t => t.replace(/[.\s]+$/, '');
    const seen = window.__live || [];
    const twice = [];
    for (let i = 0; i < seen.length; i++) {
      for (let j = i + 1; j < seen.length; j++) {
        const a = norm(seen[i].text), b = norm(seen[j].text);
        if (seen[i].region !== seen[j].region && a && b && (a.includes(b) || b.includes(a))) twice.push(`${a} | ${b}`);
      }
    }
    return [...new Set(twice)];
  });
}
