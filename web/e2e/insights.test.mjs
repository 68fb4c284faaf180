// Browser test of the insights page (/staff/insights), run by
// web/insights_browser_test.go against a server holding an office with 30
// days of seeded history and three tickets today. The alerts endpoints
// (GET /api/v1/alerts, POST /api/v1/alerts/{id}/resolve) are played by
// request interception, in the contract's shape.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BASE, DESK, api, launch, shot, watchErrors } from './helpers.mjs';

const STAFF = process.env.QL_STAFF_TOKEN;
const INST = Number(process.env.QL_INSTITUTION);
const SHOTS = process.env.QL_SCREENSHOTS || '';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

function periodOf(days) {
  const to = new Date();
  to.setUTCHours(24, 0, 0, 0);
  const from = new Date(to);
  from.setUTCDate(from.getUTCDate() - days);
  const iso = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}`;
}

test('insights: figures, four charts, alerts resolved, CSV export', async () => {
  const context = await browser.newContext({ ...DESK, timezoneId: 'UTC', acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  watchErrors(page, errors);
  try {
    // Without a session the page sends people to the console.
    await page.goto(`${BASE}/staff/insights`);
    await page.locator('#signed-out').waitFor({ state: 'visible' });

    // The alerts endpoints, as the contract shapes them.
    let open = [
      { id: 7, institution_id: INST, kind: 'queue_stalled', level: 'p1', opened_at: new Date(Date.now() - 40 * 60000).toISOString(),
        escalated_at: new Date(Date.now() - 10 * 60000).toISOString(), resolved_at: null, detail: { waiting: 14, since: new Date(Date.now() - 50 * 60000).toISOString(), threshold_minutes: 10 } },
      { id: 8, institution_id: INST, kind: 'wait_sla', level: 'initiated', opened_at: new Date(Date.now() - 5 * 60000).toISOString(),
        escalated_at: null, resolved_at: null, detail: { waiting: 9, since: new Date(Date.now() - 65 * 60000).toISOString(), threshold_minutes: 60 } },
    ];
    const resolved = [];
    await page.route(/\/api\/v1\/alerts\?/, async (route) => {
      const u = new URL(route.request().url());
      assert.equal(u.searchParams.get('status'), 'open');
      assert.equal(u.searchParams.get('institution_id'), String(INST));
      assert.equal(route.request().headers().authorization, `Bearer ${STAFF}`);
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ items: open }) });
    });
    await page.route(/\/api\/v1\/alerts\/\d+\/resolve$/, async (route) => {
      const req = route.request();
      assert.equal(req.method(), 'POST');
      assert.equal(req.headers().authorization, `Bearer ${STAFF}`);
      const id = Number(req.url().match(/alerts\/(\d+)\/resolve/)[1]);
      resolved.push(id);
      const a = open.find((x) => x.id === id);
      open = open.filter((x) => x.id !== id);
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ ...a, resolved_at: new Date().toISOString() }) });
    });

    // Sign in on the console, then follow its Insights link.
    await page.goto(`${BASE}/staff`);
    await page.getByLabel('Staff token').fill(STAFF);
    await page.locator('#signin-inst').selectOption(String(INST));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#console').waitFor({ state: 'visible' });
    await page.getByRole('link', { name: 'Insights' }).click();
    await page.waitForURL(/\/staff\/insights$/);
    await page.locator('body[data-ready="true"]').waitFor();

    // Today: the three tickets of this morning, two of them called.
    const today = await api('GET', `institutions/${INST}/stats?${periodOf(1)}`, undefined, { token: STAFF });
    assert.equal(today.joined, 3);
    assert.equal(await page.locator('#f-joined').textContent(), '3');
    assert.equal(await page.locator('#f-served').textContent(), '0');
    assert.match(await page.locator('#inst-name').textContent(), /Civil Registry Office/);
    assert.equal(await page.locator('.uplot').count(), 4, 'four uPlot charts');

    // The open alerts, with their levels.
    const items = page.locator('#alerts li');
    await assert.doesNotReject(items.first().waitFor());
    assert.equal(await items.count(), 2);
    assert.equal(await page.locator('#alerts-none').isVisible(), false, '"No open alerts" while two are open');
    assert.equal(await page.locator('#alerts li[data-alert="7"] .level.p1').textContent(), 'P1');
    assert.equal(await page.locator('#alerts li[data-alert="8"] .level.initiated').textContent(), 'Initiated');
    assert.match(await page.locator('#alerts li[data-alert="7"]').textContent(), /Queue stalled — 14 waiting, threshold 10 min since/);

    // The last 30 days: the seeded history.
    const month = await api('GET', `institutions/${INST}/stats?${periodOf(30)}`, undefined, { token: STAFF });
    assert.ok(month.joined > 3000, `30 days: ${month.joined} joined`);
    await page.getByRole('button', { name: 'Last 30 days' }).click();
    await page.waitForFunction((n) => document.getElementById('f-joined').textContent === String(n), month.joined);
    assert.equal(await page.locator('#p-30').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('#f-served').textContent(), String(month.served));
    assert.match(await page.locator('#f-rating').textContent(), /^\d\.\d \/ 5 \(\d+\)$/);
    // Every chart drew on its canvas.
    const drawn = await page.evaluate(() =>
      [...document.querySelectorAll('.uplot canvas')].map((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let ink = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
        return ink;
      }),
    );
    assert.equal(drawn.length, 4);
    for (const ink of drawn) assert.ok(ink > 2000, `a chart drew only ${ink} pixels`);
    await page.evaluate(() => window.scrollTo(0, 0));
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/insights.png`, fullPage: true });

    // The CSV export of the same period.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const csv = readFileSync(await download.path(), 'utf8').trimEnd().split('\n');
    assert.match(csv[0], /^number,label,service,priority,source,status,issued_at,/);
    assert.ok(!csv[0].includes('phone'), 'no phone column for staff');
    assert.equal(csv.length - 1, month.joined);
    assert.match(download.suggestedFilename(), /^tickets-\d+-last-30-days\.csv$/);

    // Resolving an alert: the endpoint is called with the staff token and
    // the list follows.
    await page.getByRole('button', { name: 'Resolve Queue stalled alert' }).click();
    await page.locator('#alerts li[data-alert="7"]').waitFor({ state: 'detached' });
    assert.deepEqual(resolved, [7]);
    assert.equal(await items.count(), 1);
    await page.getByRole('button', { name: 'Resolve Wait over the SLA alert' }).click();
    await page.locator('#alerts-none').waitFor({ state: 'visible' });
    assert.deepEqual(resolved, [7, 8]);
    assert.deepEqual(errors, [], 'no page errors, no CSP violations');
  } catch (err) {
    await shot(page, 'insights');
    throw err;
  } finally {
    await context.close();
  }
});

test("insights from a PC in another zone: the office's day and the office's times", async () => {
  // The office keeps UTC; the PC is in New York. "Today" is the office's
  // day, from its midnight, and an alert's "since" is the office's time.
  const context = await browser.newContext({ ...DESK, timezoneId: 'America/New_York' });
  const page = await context.newPage();
  const errors = [];
  watchErrors(page, errors);
  try {
    const opened = new Date(Date.now() - 40 * 60000).toISOString();
    await page.route(/\/api\/v1\/alerts\?/, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'application/json',
        body: JSON.stringify({ items: [{ id: 9, institution_id: INST, kind: 'wait_sla', level: 'p2', opened_at: opened, escalated_at: null, resolved_at: null, detail: { waiting: 3 } }] }),
      }),
    );
    const asked = [];
    page.on('request', (r) => {
      if (/\/stats\?/.test(r.url())) asked.push(new URL(r.url()).search.slice(1));
    });
    await page.goto(`${BASE}/staff`);
    await page.evaluate(([token, id]) => sessionStorage.setItem('queueless.staff', JSON.stringify({ token, institution_id: id })), [STAFF, INST]);
    await page.goto(`${BASE}/staff/insights`);
    await page.locator('body[data-ready="true"]').waitFor();
    assert.deepEqual(asked, [periodOf(1)], "today's figures are the office's day (UTC), not New York's");
    const want = await page.evaluate((t) => {
      const opts = { hour: '2-digit', minute: '2-digit' };
      return { office: new Date(t).toLocaleTimeString([], { ...opts, timeZone: 'UTC' }), pc: new Date(t).toLocaleTimeString([], opts) };
    }, opened);
    assert.notEqual(want.office, want.pc);
    assert.match(await page.locator('#alerts li[data-alert="9"] .what').textContent(), new RegExp(`since ${want.office}$`));
    assert.deepEqual(errors, [], 'no page errors');
  } catch (err) {
    await shot(page, 'insights-zone');
    throw err;
  } finally {
    await context.close();
  }
});
