// The Runs and Health pages in a real browser (Debian's chromium through playwright-core)
// against a real server whose pipeline pauses before each agent (PIPELINE_STEP_DELAY_MS),
// so a run can be watched: the run list shows a new run, its page draws the pipeline's
// graph, the highlighted (running) node changes while the run runs, the run ends waiting
// for its approval and shows that state; a second run is cancelled from its page; the
// Health page lists each backend /health reports, the run queue and the score
// distribution; the run's page works on a phone; a conversation started as a prospect
// gets a person's reply and a second turn. No timing asserts: every wait is for a state. Screenshots go to build-test/artifacts/web/.
import assert from 'node:assert/strict';
import { binaryFromArgs, startServer, stopServer, launch, watch, screenshot, signIn, steps, call, unlabelled, watchLive, heardTwice } from './lib.mjs';

const bin = binaryFromArgs();
// long enough that the page sees the run between steps on a loaded machine (1.5 s
// let the run reach its last step before the page looked, 1 run in 4 under load); the test
// waits for states, so a slower machine only makes it slower
const srv = await startServer(bin, { drafts: 0, env: { PIPELINE_STEP_DELAY_MS: '3000' } });
const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const w = watch(page, srv);
page.setDefaultTimeout(30000);

let lead; // the best-scored seeded lead: tier A, so its run goes through the BDR approval
let runId;
const highlighted = []; // the running nodes the page showed, in order

await steps([
  ['a run started through the API appears in the live run list', async () => {
    const leads = await call(srv, '/api/leads?limit=1&sort=-score');
    assert.equal(leads.status, 200);
    lead = leads.json.items[0];
    await signIn(page, srv);
    await page.waitForFunction(() => location.hash === '#/inbox');
    await page.goto(`${srv.url}/#/runs`);
    await page.getByRole('heading', { name: 'Runs' }).waitFor();
    await page.locator('#runs-summary').filter({ hasText: '0 runs' }).waitFor();
    const r = await call(srv, '/api/runs', { method: 'POST', body: { lead_id: lead.id } });
    assert.equal(r.status, 202, r.text);
    runId = r.json.run_id;
    // no reload: the list refreshes itself
    await page.locator(`#runs-table tr[data-run-id="${runId}"]`).waitFor();
    assert.equal(await page.locator(`#runs-table tr[data-run-id="${runId}"] td a`).innerText(), lead.company_name);
    assert.deepEqual(await unlabelled(page), []);
  }],
  ['its page draws the pipeline graph from GET /api/agents/pipeline/graph', async () => {
    await page.locator(`#runs-table tr[data-run-id="${runId}"] td a`).click();
    await page.waitForFunction(id => location.hash === `#/runs/${id}`, runId);
    await page.locator('svg.run-graph').waitFor();
    const graph = await call(srv, '/api/agents/pipeline/graph');
    const drawn = await page.locator('svg.run-graph g.node').evaluateAll(gs => gs.map(g => g.dataset.node));
    assert.deepEqual(drawn.sort(), graph.json.nodes.map(n => n.id).sort());
    assert.equal(await page.locator('svg.run-graph path.edge').count(), graph.json.edges.length);
    assert.ok(await page.locator('svg.run-graph path.edge.cond').count() >= 2, 'the tier routing is conditional');
    assert.deepEqual(await unlabelled(page), []);
  }],
  ['the highlighted node advances while the run is running', async () => {
    // Every look at the page is one snapshot taken inside the browser in the same task as
    // the condition it waited for: on a loaded machine the run may move on (or reach its
    // approval) between two separate reads, so nothing is read after the wait returns.
    const snapshot = first => {
      const g = document.querySelector('svg.run-graph g.node[data-status="current"]');
      if (!g || document.querySelector('#run-status')?.dataset.status !== 'running') return null;
      if (first && g.dataset.node === first) return null;
      return {
        node: g.dataset.node,
        now: document.querySelector('#run-now')?.innerText || '',
        graphDone: document.querySelectorAll('svg.run-graph g.node[data-status="done"]').length,
        stepsDone: document.querySelectorAll('#run-steps li[data-status="done"]').length,
      };
    };
    // the first running node the page shows, while the run is still running
    const a = await (await page.waitForFunction(snapshot, null)).jsonValue();
    highlighted.push(a.node);
    // then another one, with the run still running
    const b = await (await page.waitForFunction(snapshot, a.node)).jsonValue();
    highlighted.push(b.node);
    assert.notEqual(highlighted[1], highlighted[0]);
    assert.match(b.now, /^Running: /);
    // what ran before it is marked done, in the graph and in words
    assert.ok(b.graphDone >= 2, `done nodes ${b.graphDone}`); // start + a step
    assert.ok(b.stepsDone >= 1, `done steps ${b.stepsDone}`);
    await screenshot(page, bin, 'run-live');
  }],
  ['the run ends waiting for its approval and the page shows that state', async () => {
    await page.locator('#run-status[data-status="awaiting_approval"]').waitFor();
    await page.locator('#run-state').filter({ hasText: 'qualification_score' }).waitFor({ state: 'attached' });
    assert.equal(await page.locator('svg.run-graph g.node[data-status="current"]').count(), 0);
    assert.equal(await page.locator('svg.run-graph g.node[data-node="bdr_approval"]').getAttribute('data-status'), 'waiting');
    for (const n of ['enrichment', 'qualification', 'growth', 'marketing', 'bdr']) {
      assert.equal(await page.locator(`svg.run-graph g.node[data-node="${n}"]`).getAttribute('data-status'), 'done', n);
    }
    assert.equal(await page.locator('svg.run-graph g.node[data-node="nurture"]').getAttribute('data-status'), 'pending');
    assert.ok(await page.locator('#run-cancel').isDisabled());
    const stored = await call(srv, `/api/runs/${runId}`);
    assert.equal(stored.json.status, 'awaiting_approval');
    await screenshot(page, bin, 'run-done');
  }],
  ['a second run for the lead waiting for its approval is refused, naming the approval', async () => {
    const pending = (await call(srv, '/api/approvals?status=pending')).json.items.find(a => a.lead_id === lead.id);
    assert.ok(pending, 'the first run waits for its approval');
    const r = await call(srv, '/api/runs', { method: 'POST', body: { lead_id: lead.id } });
    assert.equal(r.status, 409, r.text);
    assert.equal(r.json.detail[0].type, 'draft_pending');
    assert.deepEqual(r.json.detail[0].loc, ['body', 'lead_id']);
    assert.equal(r.json.detail[0].ctx.approval_id, pending.id);
    assert.equal((await call(srv, '/api/runs?limit=50')).json.total, 1, 'nothing was queued');
  }],
  ['a second run is cancelled from its page, and the end is heard once', async () => {
    const leads = await call(srv, '/api/leads?limit=2&sort=-score');
    const r = await call(srv, '/api/runs', { method: 'POST', body: { lead_id: leads.json.items[1].id } });
    assert.equal(r.status, 202);
    await page.goto(`${srv.url}/#/runs/${r.json.run_id}`);
    await page.locator('#run-status[data-status="running"]').waitFor();
    await watchLive(page);
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.locator('#run-status[data-status="cancelled"]').waitFor();
    await page.locator('#run-now').filter({ hasText: 'The run is cancelled' }).waitFor();
    assert.deepEqual(await heardTwice(page), [], 'each message in one live region');
    const stored = await call(srv, `/api/runs/${r.json.run_id}`);
    assert.equal(stored.json.status, 'cancelled');
    // the list says so too
    await page.goto(`${srv.url}/#/runs`);
    await page.locator(`#runs-table tr[data-run-id="${r.json.run_id}"][data-status="cancelled"]`).waitFor();
  }],
  ['Health lists each backend /health reports, the run queue and the score distribution', async () => {
    const health = await call(srv, '/health', { key: srv.key });
    const names = Object.keys(health.json.backends);
    assert.ok(names.includes('database'));
    await page.goto(`${srv.url}/#/health`);
    await page.getByRole('heading', { name: 'Health and metrics' }).waitFor();
    for (const n of names) {
      const row = page.locator(`#health-backends tr[data-backend="${n}"]`);
      await row.waitFor();
      assert.equal(await row.getAttribute('data-status'), health.json.backends[n].status);
      assert.ok((await row.innerText()).includes(health.json.backends[n].backend));
    }
    await page.locator('#health-overall').filter({ hasText: 'Healthy' }).waitFor();
    assert.equal(await page.locator('#health-queue').innerText(), '0'); // both runs settled
    // the histogram's bars add up to the scored leads
    await page.locator('svg.histogram rect.hbar').first().waitFor({ state: 'attached' });
    const bars = await page.locator('svg.histogram rect.hbar').evaluateAll(rs => rs.map(r => Number(r.dataset.n)));
    const scored = await call(srv, '/api/leads?limit=1&min_score=0');
    assert.equal(bars.reduce((a, b) => a + b, 0), scored.json.total);
    await page.locator('#health-agents tr[data-agent="qualification"]').waitFor();
    assert.deepEqual(await unlabelled(page), []);
    await screenshot(page, bin, 'health');
  }],
  ['on a phone (390x844) the run page fits the width and keeps its graph', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${srv.url}/#/runs/${runId}`);
    await page.locator('#run-status[data-status="awaiting_approval"]').waitFor();
    await page.locator('svg.run-graph').waitFor();
    const box = await page.locator('svg.run-graph').boundingBox();
    assert.ok(box.width <= 390 && box.width > 200, `graph width ${box.width}`);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scroll');
    await screenshot(page, bin, 'run-phone');
  }],
  ['Conversations lists the recent ones, last turn first, with lead, stage and intent', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    const turn = async input => {
      const t = await call(srv, '/api/langgraph/invoke', { method: 'POST', body: { agent_type: 'conversation', input } });
      assert.equal(t.status, 200, t.text);
      return t.json;
    };
    const known = lead.contact_info?.email;
    assert.ok(known, 'the seeded lead has an e-mail');
    const a = await turn({ message: 'Hi there, a quick question about your pricing for 30 seats', contact: { name: lead.contact_info.name, email: known } });
    const b = await turn({ message: 'Hi there, Avery from Northwind Freight here', company_name: 'Northwind Freight', contact: { name: 'Avery Quinn' } });
    await page.goto(`${srv.url}/#/conversations`);
    const rows = page.locator('#conv-list tbody tr');
    await rows.nth(1).waitFor();
    assert.deepEqual(await rows.evaluateAll(rs => rs.slice(0, 2).map(r => r.dataset.thread)), [b.thread_id, a.thread_id]);
    const first = await rows.nth(0).innerText();
    assert.match(first, /Northwind Freight\s+Avery Quinn\s+\w+/);
    assert.match(first, new RegExp(b.output.intent.replace(/_/g, ' ')));
    const second = rows.nth(1);
    assert.match(await second.innerText(), new RegExp(lead.company_name));
    assert.equal(await second.getByRole('link', { name: '(lead)' }).getAttribute('href'), `#/leads/${encodeURIComponent(lead.id)}`);
    assert.match(await second.innerText(), new RegExp(a.output.intent.replace(/_/g, ' ')));
    assert.deepEqual(await unlabelled(page), []);
    await screenshot(page, bin, 'conversations');
    await second.getByRole('link', { name: lead.company_name }).click();
    await page.waitForFunction(id => location.hash === `#/conversations/${encodeURIComponent(id)}`, a.thread_id);
    await page.locator('#conv-turns li[data-role="agent"]').first().waitFor();
  }],
  ['Conversations: start one as a prospect, reply as a person, and the next turn follows', async () => {
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${srv.url}/#/conversations`);
    await page.getByRole('heading', { name: 'Conversations', exact: true }).waitFor();
    assert.deepEqual(await unlabelled(page), []);
    await page.getByLabel('Prospect\'s name (optional)').fill('Maya Okafor');
    await page.getByLabel('Message').fill('Hi, what does the Growth plan cost for 30 seats?');
    await page.getByRole('button', { name: 'Send as the prospect' }).click();
    await page.waitForFunction(() => /^#\/conversations\/[^/]+$/.test(location.hash));
    const agent = page.locator('#conv-turns li[data-role="agent"]').first();
    await agent.waitFor();
    assert.equal(await agent.getAttribute('data-intent'), 'pricing');
    assert.match(await agent.innerText(), /stage: \w+/);
    assert.match(await agent.innerText(), /confidence: \d+%/);
    await page.getByLabel('Your reply').fill('Hi Maya, a quote for 30 seats is on its way. Kim');
    await page.getByRole('button', { name: 'Record my reply' }).click();
    await page.locator('#conv-turns li[data-role="human"]').filter({ hasText: 'a quote for 30 seats is on its way' }).waitFor();
    assert.match(await page.locator('#conv-turns li[data-role="human"]').innerText(), /kim@pipewise\.example \(not sent\)/);
    await page.getByLabel('Prospect\'s message').fill('Thanks! Could we meet next Tuesday afternoon?');
    await page.getByRole('button', { name: 'Send as the prospect' }).click();
    await page.locator('#conv-turns li[data-role="agent"][data-turn="2"]').waitFor();
    // prospect, agent, the person's reply, prospect, agent
    assert.deepEqual(await page.locator('#conv-turns li').evaluateAll(ls => ls.map(l => l.dataset.role)),
      ['prospect', 'agent', 'human', 'prospect', 'agent']);
    assert.equal(await page.locator('#conv-session dd').nth(1).innerText(), '2');
    assert.deepEqual(await unlabelled(page), []);
    await screenshot(page, bin, 'conversation');
  }],
  ['no console errors and no request to another origin', async () => {
    assert.deepEqual(w.errors, []);
    assert.deepEqual(w.foreign, []);
  }],
], async () => {
  await browser.close();
  await stopServer(srv);
}, async () => {
  await screenshot(page, bin, 'runs-failure');
});
