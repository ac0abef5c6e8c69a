// The web console shown hostile lead data, as an attacker would store it through the API:
// markup in every field (<script>, "><img onerror>, <svg onload>), a 255-character company
// name of one word, a 200-character contact name, 10,000 characters of notes, right-to-left
// override characters, emoji and combining marks. Checks that nothing runs (no dialog, no
// element made from the data), that the page never grows wider than the window (desktop
// and phone) and that a direction override neither spoofs a name nor reverses the text
// after it, and that a draft holding one is marked for the approver (its recipient's mail
// program obeys it). Screenshots in build-test/artifacts/web/hostile-*.png.
import assert from 'node:assert/strict';
import { binaryFromArgs, startServer, stopServer, launch, watch, screenshot, signIn, steps, call } from './lib.mjs';

const bin = binaryFromArgs();
const srv = await startServer(bin, { drafts: 0 });
const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const w = watch(page, srv);
const dialogs = [];
page.on('dialog', d => {
  dialogs.push(d.message());
  d.dismiss().catch(() => {});
});
page.setDefaultTimeout(15000);

const RLO = '\u202e';
const PDF = '\u202c';
const hot = { industry: 'SaaS', company_size: 800, annual_revenue: '$80M', country: 'US', state: 'CA',
  signals: ['requested_demo', 'pricing_page_visit', 'recent_funding', 'hiring_sales'] };
const LEADS = {
  markup: { ...hot, company_name: '<img src=x onerror=alert(1)>Acme"><script>alert(2)</script>',
    notes: '"><img src=x onerror=alert(3)> <svg onload=alert(4)> <a href="javascript:alert(5)">x</a>',
    website: 'https://markup.example.com/"><script>alert(6)</script>',
    contact_info: { name: '"><svg onload=alert(7)> Bob', title: 'VP of Sales <b>bold</b>', email: 'bob@markup-corp.example.com',
      linkedin_url: 'https://www.linkedin.com/in/bob"onmouseover=alert(8)' } },
  long: { ...hot, company_name: 'W'.repeat(255), notes: 'N'.repeat(10000),
    contact_info: { name: 'L'.repeat(200), title: 'Chief Revenue Officer', email: 'long@widecorp.example.com' } },
  rtl: { ...hot, company_name: `${RLO}evil${PDF} Rtl Holdings 🚀 Z\u0351\u0352\u0353\u0354`,
    contact_info: { name: `Zoë 👩‍💻 ${RLO}Reversed`, title: 'VP Sales', email: 'zoe@rtlcorp.example.com' } },
};
const ids = {};

// The page's width against the window's, and the elements made from data if any.
const layout = () => page.evaluate(() => ({
  overflow: document.documentElement.scrollWidth - window.innerWidth,
  injected: document.querySelectorAll('main img, main script, main svg[onload], main [onerror], main [onmouseover], main b').length,
}));

async function checkPage(hash, name) {
  await page.goto(`${srv.url}/${hash}`);
  await page.locator('main h1').first().waitFor();
  await page.waitForLoadState('networkidle');
  const got = await layout();
  await screenshot(page, bin, `hostile-${name}`);
  assert.equal(got.injected, 0, `${hash}: no element made from the data`);
  assert.ok(got.overflow <= 0, `${hash}: the page is ${got.overflow}px wider than the window`);
}

await steps([
  ['hostile leads are stored and drafted (the API keeps the data as given)', async () => {
    for (const [k, input] of Object.entries(LEADS)) {
      const r = await call(srv, '/api/langgraph/invoke', { method: 'POST', body: { agent_type: 'bdr', input } });
      assert.equal(r.status, 200, r.text);
      ids[k] = r.json.lead_id;
      const lead = await call(srv, `/api/leads/${ids[k]}`);
      assert.equal(lead.json.company_name, input.company_name);
    }
    assert.equal((await call(srv, '/api/approvals?status=pending')).json.count, 3);
  }],
  ['the inbox shows the drafts as text: nothing runs, nothing widens the page', async () => {
    await signIn(page, srv);
    await page.locator('#queue li button').nth(2).waitFor();
    for (let i = 0; i < 3; i++) {
      await page.locator('#queue li button').nth(i).click();
      await page.waitForLoadState('networkidle');
      const got = await layout();
      assert.equal(got.injected, 0, `draft ${i}: no element made from the data`);
      assert.ok(got.overflow <= 0, `draft ${i}: the page is ${got.overflow}px wider than the window`);
    }
    await page.getByText('<img src=x onerror=alert(1)>Acme', { exact: false }).first().waitFor();
    await screenshot(page, bin, 'hostile-inbox');
  }],
  ['a direction override in a name neither spoofs it nor reverses what follows it', async () => {
    await page.goto(`${srv.url}/#/inbox`);
    const item = page.locator('#queue li button').filter({ hasText: 'Rtl Holdings' });
    await item.waitFor();
    const text = await item.innerText();
    assert.ok(!/[\u202a-\u202e\u2066-\u2069]/.test(text), `no direction control written: ${JSON.stringify(text)}`);
    assert.match(text, /evil Rtl Holdings/);
    assert.match(text, /Reversed · tier A, \d+/);
    // the status message names the draft too
    const all = await page.locator('body').innerText();
    assert.ok(!all.includes(RLO), 'no override anywhere on the page');
  }],
  ['a draft holding a direction override is marked for the approver: a warning, and each control where it is', async () => {
    // the draft as stored holds the override, which the recipient's mail program obeys
    const pending = (await call(srv, '/api/approvals?status=pending')).json;
    const rtl = (pending.items || []).find(a => a.lead_id === ids.rtl);
    assert.ok(rtl, `the rtl lead's draft is pending: ${JSON.stringify(pending).slice(0, 300)}`);
    const args = rtl.request.action_request.args;
    assert.ok(/[\u202a-\u202e\u2066-\u2069]/.test(JSON.stringify(args.messages || [args])), 'the draft holds a direction control');
    await page.goto(`${srv.url}/#/inbox`);
    await page.locator('#queue li button').filter({ hasText: 'Rtl Holdings' }).click();
    const warning = page.locator('#approval #bidi-warning');
    await warning.waitFor();
    assert.match(await warning.innerText(), /invisible direction control.*U\+202E RLO/s);
    const marks = page.locator('#approval .draft .bidi-mark, #approval .msg-subject .bidi-mark');
    assert.ok(await marks.count() >= 1, 'a control is marked in a message');
    assert.equal(await marks.first().innerText(), 'U+202E RLO');
    const shown = await page.locator('#approval').innerText();
    assert.ok(!/[\u202a-\u202e\u2066-\u2069]/.test(shown), 'no control written, only marks');
    await screenshot(page, bin, 'hostile-inbox-bidi');
    // a draft without one carries no warning
    await page.locator('#queue li button').filter({ hasText: 'WWWW' }).click();
    await page.locator('#approval-title').filter({ hasText: 'WWWW' }).waitFor();
    assert.equal(await page.locator('#bidi-warning').count(), 0);
  }],
  ['the leads list keeps its columns in view beside a 255-character name', async () => {
    await checkPage('#/leads', 'leads');
    const row = page.locator('#leads-table tbody tr').filter({ hasText: 'WWWW' });
    await row.waitFor();
    const tier = await row.locator('td').nth(3).boundingBox();
    assert.ok(tier && tier.x + tier.width <= 1280, `the Tier cell is in the window: ${JSON.stringify(tier)}`);
  }],
  ['each hostile lead\'s page, and every page on a phone, stays within the window', async () => {
    for (const [k, id] of Object.entries(ids)) await checkPage(`#/leads/${id}`, `lead-${k}`);
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [k, id] of Object.entries(ids)) await checkPage(`#/leads/${id}`, `lead-${k}-phone`);
    await checkPage('#/inbox', 'inbox-phone');
    await checkPage('#/leads', 'leads-phone');
    // not the data's doing: the outbox table and the file input were wider than a phone
    await checkPage('#/health', 'health-phone');
    await checkPage('#/import', 'import-phone');
  }],
  ['a key named with 100 letters fits the header and its greeting on a phone', async () => {
    const made = await call(srv, '/api/keys', { method: 'POST', body: { name: 'Q'.repeat(100), scopes: ['read'] } });
    assert.equal(made.status, 201, made.text);
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const p2 = await phone.newPage();
    try {
      await signIn(p2, srv, made.json.key);
      await p2.locator('#who').filter({ hasText: 'QQQQ' }).waitFor();
      await p2.locator('#status').filter({ hasText: 'QQQQ' }).waitFor();
      const over = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(over <= 0, `the page is ${over}px wider than the window`);
    } finally {
      await phone.close();
    }
  }],
  ['a key pasted with curly quotes or an invisible space is refused for what it is, not as "offline"', async () => {
    const ctx2 = await browser.newContext();
    const p2 = await ctx2.newPage();
    try {
      for (const pasted of [`“${srv.key}”`, `${srv.key}\u200b`]) {
        await p2.goto(`${srv.url}/`);
        await p2.getByLabel('API key').fill(pasted);
        await p2.getByRole('button', { name: 'Sign in' }).click();
        await p2.locator('#signin-error').filter({ hasText: 'a character no key has' }).waitFor();
        assert.doesNotMatch(await p2.locator('#signin-error').innerText(), /can't be reached/);
        assert.equal(await p2.evaluate(() => sessionStorage.getItem('sales-agent.key')), null);
      }
    } finally {
      await ctx2.close();
    }
  }],
  ['no dialog, no console error, no request to another origin', async () => {
    assert.deepEqual(dialogs, []);
    assert.deepEqual(w.errors, []);
    assert.deepEqual(w.foreign, []);
  }],
], async () => {
  await browser.close();
  await stopServer(srv);
}, async () => {
  await screenshot(page, bin, 'hostile-failure');
  console.log(`console errors: ${JSON.stringify(w.errors)}; dialogs: ${JSON.stringify(dialogs)}`);
});
