// The web console in a real browser (Debian's chromium through playwright-core) against a
// real server with the sample leads and three drafts waiting: the console's headers (CSP),
// sign-in with a wrong key and a right one, the inbox answered with the keyboard alone
// (an edited subject that GET /api/outbox then shows), a lead found by search with its
// score bars, a CSV export from a CRM imported with its report, the inbox on a phone, no
// request to another origin and no console error. Screenshots go to
// build-test/artifacts/web/; with SA_UPDATE_DOCS=1 the inbox's is also docs/console.png.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { binaryFromArgs, startServer, stopServer, launch, watch, screenshot, signIn, steps, call, unlabelled, SOURCE_DIR } from './lib.mjs';

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
    assert.deepEqual(await unlabelled(page), [], 'the sign-in form is labelled');
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
    assert.equal(await page.locator('#queue li button[aria-current="true"] .q-company').innerText(), second);
    await page.keyboard.press('k');
    await page.locator('#approval-title').filter({ hasText: first }).waitFor();
    await page.keyboard.press('e');
    await page.locator('#edit-subject-0:focus').waitFor();
    assert.deepEqual(await unlabelled(page), [], 'every control of the inbox and its editor has a label');
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
  ['a lead is found by search and opened: its score bars, timeline and export', async () => {
    await page.getByRole('link', { name: 'Leads', exact: true }).click();
    await page.locator('#leads-summary').filter({ hasText: /\d+ leads/ }).waitFor();
    await page.getByLabel('Search').fill('quorvianta');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.locator('#leads-summary').filter({ hasText: /^1 leads/ }).waitFor();
    assert.deepEqual(await unlabelled(page), [], 'every control of the leads page has a label');
    assert.equal(await page.locator('#leads-table tbody tr').count(), 1);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const csv = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    assert.equal(lines.length, 2, `the export has the header and the one lead found: ${csv.slice(0, 300)}`);
    assert.match(lines[1], /Quorvianta Software/);
    await page.getByRole('link', { name: 'Quorvianta Software' }).click();
    await page.getByRole('heading', { level: 1, name: /Quorvianta Software/ }).waitFor();
    const bars = page.locator('#score-bars li');
    await bars.first().waitFor();
    assert.ok(await bars.count() >= 4, 'one bar per factor');
    const widths = await page.locator('#score-bars .bar > span').evaluateAll(els => els.map(e => e.getBoundingClientRect().width));
    assert.ok(widths.some(x => x > 10), `bars drawn: ${widths}`);
    const meter = page.locator('#score-bars [role="meter"]').first();
    assert.match(await meter.getAttribute('aria-label'), /\d+ of \d+ points/);
    await page.locator('#timeline li').first().waitFor();
    await screenshot(page, bin, 'lead');
    // drafting from the lead's page puts a new approval in the inbox
    await page.getByRole('button', { name: 'Draft outreach (to the inbox)' }).click();
    await page.locator('#pending-count').filter({ hasText: '(2 pending)' }).waitFor();
    assert.equal(await page.locator('#queue li .q-company').filter({ hasText: 'Quorvianta Software' }).count(), 1);
  }],
  ['a CRM export with two bad rows: the column preview, then the report by row', async () => {
    await page.getByRole('link', { name: 'Import', exact: true }).click();
    await page.getByLabel('CSV file').setInputFiles(join(SOURCE_DIR, 'tests', 'web', 'data', 'hubspot-export.csv'));
    const mapping = page.locator('#mapping tbody tr');
    await mapping.first().waitFor();
    assert.equal(await mapping.count(), 13);
    assert.deepEqual(await unlabelled(page), [], 'every control of the import page has a label');
    assert.match(await mapping.filter({ hasText: 'Company Name' }).innerText(), /company_name/);
    assert.match(await mapping.filter({ hasText: 'Job Title' }).innerText(), /contact_info\.title/);
    assert.match(await mapping.filter({ hasText: 'Lead Source' }).innerText(), /kept on the lead as lead_source/);
    const before = (await call(srv, '/api/leads?limit=1')).json.total;
    await page.getByRole('button', { name: /^Import hubspot-export\.csv/ }).click();
    await page.locator('#count-created').filter({ hasText: '3' }).waitFor();
    assert.equal(await page.locator('#count-failed').innerText(), '2');
    const errs = page.locator('#report-errors tbody tr');
    assert.equal(await errs.count(), 2);
    assert.match(await errs.nth(0).innerText(), /^3\s+4\s+contact_info\.email\s+Value is not a valid email/);
    assert.match(await errs.nth(1).innerText(), /^4\s+5\s+company_name\s+Field required/);
    assert.equal((await call(srv, '/api/leads?limit=1')).json.total, before + 3);
    await screenshot(page, bin, 'import');
  }],
  ['a file over the body limit is imported in the background, its progress followed', async () => {
    // a second server whose MAX_BODY_BYTES is 4 KiB: a 90-row export (~12 KiB) goes to a job
    const small = await startServer(bin, { drafts: 0, env: { MAX_BODY_BYTES: '4096' } });
    const p3 = await context.newPage();
    const w3 = watch(p3, small);
    try {
      await signIn(p3, small);
      await p3.locator('#pending-count').waitFor();
      await p3.getByRole('link', { name: 'Import', exact: true }).click();
      const rows = ['Account Name,First Name,Last Name,Title,Email,No. of Employees,Annual Revenue,Mailing Country'];
      for (let i = 1; i <= 90; i++)
        rows.push(`Northwind Freight ${i},Avery,Quinn${i},Head of Sales Operations,avery.quinn${i}@northwind-freight${i}.com,${100 + i},$${10 + i}M,US`);
      await p3.getByLabel('CSV file').setInputFiles({ name: 'salesforce-report.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\r\n') + '\r\n') });
      await p3.locator('#mapping tbody tr').first().waitFor();
      assert.match(await p3.locator('#mapping tbody tr').filter({ hasText: 'Account Name' }).innerText(), /company_name/);
      const answer = p3.waitForResponse(r => r.url().includes('/api/leads/import'));
      await p3.getByRole('button', { name: /^Import salesforce-report\.csv/ }).click();
      assert.equal((await answer).status(), 202, 'a background job');
      await p3.locator('#count-created').filter({ hasText: '90' }).waitFor({ timeout: 60000 });
      assert.equal(await p3.locator('#count-failed').innerText(), '0');
      assert.equal((await call(small, '/api/leads?limit=1')).json.total, 90 + 40);
      assert.deepEqual(w3.foreign, []);
      assert.deepEqual(w3.errors, []);
    } finally {
      await p3.close();
      await stopServer(small);
    }
  }],
  ['on a phone (390x844) the navigation folds and the inbox still works', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const p2 = await phone.newPage();
    const w2 = watch(p2, srv);
    await signIn(p2, srv);
    await p2.locator('#queue li button').first().waitFor();
    assert.equal(await p2.locator('#queue li button').count(), 2);
    assert.ok(!(await p2.locator('#nav').isVisible()), 'the navigation is folded');
    await p2.getByRole('button', { name: 'Menu' }).click();
    assert.equal(await p2.getByRole('button', { name: 'Menu' }).getAttribute('aria-expanded'), 'true');
    await p2.getByRole('link', { name: 'Inbox' }).waitFor();
    const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px too wide)`);
    await p2.getByRole('button', { name: 'Menu' }).click();
    await screenshot(p2, bin, 'inbox-phone');
    assert.deepEqual(w2.foreign, []);
    assert.deepEqual(w2.errors, []);
    await phone.close();
  }],
  ['a page this build lacks says so instead of breaking', async () => {
    await page.evaluate(() => { location.hash = '#/nosuchpage'; });
    await page.getByRole('heading', { name: 'Not available' }).waitFor();
    assert.match(await page.locator('main').innerText(), /"nosuchpage" is not available in this build/);
    // the browser logs the module's 404 itself: the one expected error
    assert.deepEqual(w.errors, ['console: Failed to load resource: the server responded with a status of 404 (Not Found)']);
    w.errors.length = 0;
    await page.getByRole('link', { name: 'Back to the inbox' }).click();
    await page.locator('#pending-count').waitFor();
  }],
  ['sign-out forgets the key', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('sales-agent.key')), null);
    assert.equal(await page.locator('#who').innerText(), '');
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
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
