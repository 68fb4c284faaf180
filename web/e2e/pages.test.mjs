// Browser tests of the three pages against a real server, in Debian's
// Chromium. Run by web/browser_test.go, which builds and starts the server
// (production mode) and sets QL_* in the environment.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE,
  PHONE,
  DESK,
  TV,
  api,
  control,
  office,
  launch,
  live,
  waitFor,
  text,
  shot,
  watchErrors,
  joinFromPhone,
  signIn,
  horizontalOverflow,
} from './helpers.mjs';

// The contract's promise, as the issue puts it: within 2 s of the call.
const CALL_SHOWN_WITHIN_MS = 2000;

let browser;
let errors = [];
const pages = [];

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

afterEach(async () => {
  for (const p of pages.splice(0)) await p.context().close().catch(() => {});
  const seen = errors;
  errors = [];
  assert.deepEqual(seen, [], 'the pages logged errors');
});

// scenario is test(), leaving a picture of every open page behind when it
// fails.
function scenario(name, fn) {
  test(name, async () => {
    try {
      await fn();
    } catch (err) {
      for (const [i, p] of pages.entries()) if (!p.isClosed()) await shot(p, `${name.replace(/\W+/g, '-').slice(0, 60)}-${i}`);
      throw err;
    }
  });
}

async function open(device, url) {
  const ctx = await browser.newContext(device);
  ctx.setDefaultTimeout(10000);
  const page = await ctx.newPage();
  watchErrors(page, errors);
  pages.push(page);
  if (url) await page.goto(url);
  return page;
}

async function assertNoHorizontalScroll(page, where) {
  const o = await horizontalOverflow(page);
  assert.ok(
    o.scrollWidth <= o.clientWidth,
    `${where}: page is ${o.scrollWidth}px wide in a ${o.clientWidth}px viewport (too wide: ${o.wide.join(', ')})`,
  );
}

scenario('a phone joins, staff call it: within 2 s the phone shows its turn and the board the call; check-in, next call, served', async () => {
  const { inst, token } = await office('Bureau of Internal Revenue – RDO 38');
  const phone = await open(PHONE);
  const number = await joinFromPhone(phone, 'Bureau of Internal Revenue', '09171234567');
  assert.equal(number, 1);
  assert.match(await text(phone, '#t-status'), /in line|next/i);
  await assertNoHorizontalScroll(phone, 'phone, waiting');

  const board = await open(TV, `${BASE}/board/${inst.id}`);
  await live(board);
  const staff = await open(DESK);
  await signIn(staff, token, inst.id);
  // The staff console lists the waiting ticket with its phone number.
  await waitFor(staff, 'waiting list shows the phone', () => document.querySelector('#waiting')?.textContent.includes('09171234567'));

  await staff.getByRole('textbox', { name: 'Counter' }).fill('3');
  const clicked = Date.now();
  await staff.getByRole('button', { name: 'Call next' }).click();
  await Promise.all([
    waitFor(
      phone,
      "phone shows it's its turn at counter 3",
      () =>
        !document.querySelector('#t-turn').hidden &&
        document.querySelector('#t-turn').textContent.includes('Go to counter 3') &&
        document.querySelector('#t-status').textContent.includes("It's your turn - go to counter 3"),
      null,
      CALL_SHOWN_WITHIN_MS,
    ),
    waitFor(
      board,
      'board shows the call',
      (n) =>
        document.querySelector('#now-number').textContent.trim() === String(n) &&
        document.querySelector('#now-counter').textContent.trim() === 'Counter 3' &&
        document.querySelector('#calls li.latest')?.textContent.includes('Counter 3'),
      number,
      CALL_SHOWN_WITHIN_MS,
    ),
  ]);
  const elapsed = Date.now() - clicked;
  assert.ok(elapsed <= CALL_SHOWN_WITHIN_MS, `shown after ${elapsed} ms`);
  console.log(`# call shown on the phone and the board ${elapsed} ms after the click`);
  await waitFor(staff, 'staff see the call', () => /Called 1 to counter 3/.test(document.querySelector('#console-ok').textContent));
  assert.match(await phone.title(), /Your turn/);
  await assertNoHorizontalScroll(phone, 'phone, its turn');

  // The phone checks in; the next call serves it.
  await phone.getByRole('button', { name: "I'm at counter 3" }).click();
  await waitFor(phone, 'phone shows it is checked in', () => /checked in at counter 3/.test(document.querySelector('#t-status').textContent));
  assert.equal(await phone.locator('#t-turn').isHidden(), true);
  await waitFor(staff, 'staff see the check-in', () => document.querySelector('#serving .state.in') !== null);

  const clicked2 = Date.now();
  await staff.getByRole('button', { name: 'Call next' }).click();
  await waitFor(
    phone,
    'phone shows served',
    () => /served/i.test(document.querySelector('#t-status').textContent) && document.querySelector('#t-card').dataset.status === 'served',
    null,
    CALL_SHOWN_WITHIN_MS,
  );
  console.log(`# served shown on the phone ${Date.now() - clicked2} ms after the click`);
  assert.equal(await phone.getByRole('button', { name: 'Get a new number' }).isVisible(), true);
  await waitFor(staff, 'staff see it served', () =>
    /Nobody is waiting.*Served: 1/.test(document.querySelector('#console-ok').textContent),
  );
  await waitFor(staff, 'the trail shows the call', () =>
    [...document.querySelectorAll('#events li')].some((li) => li.textContent.includes('#1 called to counter 3')),
  );
});

scenario('announcements reach the phone and the board; cancelling asks first', async () => {
  const { inst, token } = await office('Social Security System – Diliman');
  const phone = await open(PHONE);
  await joinFromPhone(phone, 'Social Security System');
  const board = await open(TV, `${BASE}/board/${inst.id}`);
  await live(board);
  const staff = await open(DESK);
  await signIn(staff, token, inst.id);

  const message = 'Counter 2 is closed for lunch until 1 PM.';
  await staff.getByLabel(/Message to every phone/).fill(message);
  await staff.getByRole('button', { name: 'Send' }).click();
  await waitFor(phone, 'phone shows the announcement', (m) => document.querySelector('#t-announcements').textContent.includes(m), message);
  await waitFor(board, 'board shows the announcement', (m) => document.querySelector('#announcement-text').textContent === m, message);

  // Cancel: a confirmation first; "keep" keeps it.
  await phone.getByRole('button', { name: 'Cancel my number' }).click();
  const dialog = phone.getByRole('dialog');
  await dialog.waitFor({ state: 'visible' });
  await dialog.getByRole('button', { name: 'Keep my number' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.notEqual(await phone.locator('#t-card').getAttribute('data-status'), 'cancelled');
  await phone.getByRole('button', { name: 'Cancel my number' }).click();
  await dialog.getByRole('button', { name: 'Yes, cancel it' }).click();
  await waitFor(phone, 'phone shows cancelled', () => document.querySelector('#t-card').dataset.status === 'cancelled');
  assert.match(await text(phone, '#t-status'), /cancelled/);
  await waitFor(staff, 'staff see nobody waiting', () => document.querySelector('#s-waiting').textContent === '0');
});

scenario('the staff console says what is wrong, in words', async () => {
  const a = await office('Land Transportation Office – East Avenue');
  const b = await office('Pag-IBIG Fund – Quezon Avenue');
  const staff = await open(DESK, `${BASE}/staff`);

  await staff.getByLabel('Staff token').fill('not-a-real-token-at-all');
  await staff.locator('#signin-inst').selectOption(String(a.inst.id));
  await staff.getByRole('button', { name: 'Sign in' }).click();
  await waitFor(staff, '401 in words', () => /not accepted/.test(document.querySelector('#signin-error').textContent));

  await staff.getByLabel('Staff token').fill(a.token);
  await staff.locator('#signin-inst').selectOption(String(b.inst.id));
  await staff.getByRole('button', { name: 'Sign in' }).click();
  await waitFor(staff, '403 in words', () => /may not run Pag-IBIG/.test(document.querySelector('#signin-error').textContent));

  await signIn(staff, a.token, a.inst.id);
  // Pause: the phone page cannot join and says why.
  await staff.getByRole('button', { name: 'Pause' }).click();
  await waitFor(staff, 'paused', () => document.querySelector('#inst-status').textContent === 'Paused');
  assert.equal(await staff.getByRole('button', { name: 'Pause' }).getAttribute('aria-pressed'), 'true');
  const phone = await open(PHONE, `${BASE}/`);
  await phone.getByRole('button', { name: /Land Transportation Office/ }).click();
  await waitFor(phone, 'join disabled with a reason', () =>
    document.querySelector('#join-submit').disabled && /paused/.test(document.querySelector('#join-error').textContent),
  );
  await staff.getByRole('button', { name: 'Open' }).click();
  await waitFor(staff, 'open again', () => document.querySelector('#inst-status').textContent === 'Open');

  // A token revoked mid-session (here: never valid for b) ends it with a reason.
  await staff.evaluate(() => {
    const s = JSON.parse(sessionStorage.getItem('queueless.staff'));
    s.token = 'revoked-token-0123456789';
    sessionStorage.setItem('queueless.staff', JSON.stringify(s));
  });
  await staff.reload();
  await waitFor(staff, 'signed out on 401', () => !document.querySelector('#signin-view').hidden && /no longer accepted/.test(document.querySelector('#signin-error').textContent));
});

scenario("the staff console shows the office's link to its own system, and that it went stale", async () => {
  const polled = await office('PhilHealth – Quezon City Local Health Insurance Office');
  const pushed = await office('Professional Regulation Commission – Morayta');
  const plain = await office('National Bureau of Investigation – Clearance Center');
  // Nothing answers on port 9 of 127.0.0.1: every poll fails, and with
  // no success for 2 s the link is stale.
  const link = await api('PUT', `institutions/${polled.inst.id}/link`, {
    mode: 'poll',
    url: 'http://127.0.0.1:9/api/v1/institutions/PH-QC/queue',
    poll_interval_seconds: 0.5,
    stale_after_seconds: 2,
  });
  assert.equal(link.stale, false, 'a new link starts fresh');

  const staff = await open(DESK);
  await signIn(staff, polled.token, polled.inst.id);
  await waitFor(staff, 'the poll link is shown', () => {
    const card = document.querySelector('#link');
    return card && !card.hidden && /^Poll\b/.test(card.querySelector('#link-mode').textContent);
  });
  assert.match(await text(staff, '#link-mode'), /every 0\.5 s/);
  assert.equal(await text(staff, '#link-url'), 'http://127.0.0.1:9/api/v1/institutions/PH-QC/queue');
  assert.equal(await staff.getByRole('heading', { name: 'Outside queue system' }).isVisible(), true);
  // The console reads the link again by itself: no reload, no live frame
  // (a failed poll moves no number).
  await waitFor(
    staff,
    'the link is shown stale, with its last error',
    () =>
      document.querySelector('#link-state').textContent === 'Stale' &&
      /No successful sync yet\. No news for more than 2 s\./.test(document.querySelector('#link-since').textContent) &&
      !document.querySelector('#link-error').closest('div').hidden &&
      document.querySelector('#link-error').textContent.trim() !== '',
    null,
    20000,
  );
  assert.equal(await staff.locator('#link-state').getAttribute('role'), 'status');
  assert.match(await text(staff, '#link-note'), /keeps working/);
  assert.equal(await staff.locator('#console-error').isHidden(), true);
  await assertNoHorizontalScroll(staff, 'staff, a stale link');

  // A push link: its mode, no URL, and never its secret.
  const push = await api('PUT', `institutions/${pushed.inst.id}/link`, { mode: 'push', stale_after_seconds: 600 });
  assert.match(push.secret, /\S{16,}/);
  const staff2 = await open(DESK);
  await signIn(staff2, pushed.token, pushed.inst.id);
  await waitFor(staff2, 'the push link is shown', () => /^Push\b/.test(document.querySelector('#link-mode')?.textContent || ''));
  assert.equal(await staff2.locator('#link-url').isHidden(), true);
  assert.equal(await text(staff2, '#link-state'), 'Waiting for the first sync');
  assert.equal((await staff2.content()).includes(push.secret), false, "the page shows the push link's secret");

  // No link: no card, and no error either.
  const staff3 = await open(DESK);
  await signIn(staff3, plain.token, plain.inst.id);
  await waitFor(staff3, 'the console found no link', () => document.querySelector('#link').dataset.state === 'none');
  assert.equal(await staff3.locator('#link').isHidden(), true);
  assert.equal(await staff3.locator('#console-error').isHidden(), true);
});

scenario('the phone page at 360x740 has no horizontal scroll', async () => {
  await office('Philippine Statistics Authority – Civil Registration Service Outlet, Quezon City Hall Annex Building', 'Elliptical Road corner Kalayaan Avenue, Diliman, Quezon City, Metro Manila 1101');
  const phone = await open(PHONE, `${BASE}/`);
  await phone.locator('#institutions li').first().waitFor();
  await assertNoHorizontalScroll(phone, 'phone, choosing an office');
  await phone.getByRole('button', { name: /Philippine Statistics Authority/ }).click();
  await assertNoHorizontalScroll(phone, 'phone, joining');
  await phone.getByLabel(/Mobile number/).fill('12345');
  await phone.getByRole('button', { name: 'Get my number' }).click();
  await waitFor(phone, 'phone number rejected in words', () => /11 digits/.test(document.querySelector('#phone-error').textContent));
  await assertNoHorizontalScroll(phone, 'phone, an error');
  await phone.getByLabel(/Mobile number/).fill('');
  await phone.getByRole('button', { name: 'Get my number' }).click();
  await phone.locator('#ticket').waitFor({ state: 'visible' });
  await live(phone);
  await assertNoHorizontalScroll(phone, 'phone, ticket');
});

scenario('the server restarts while a phone page is open: it reconnects and shows the current state', async () => {
  const { inst } = await office('Department of Foreign Affairs – Aseana');
  const phone = await open(PHONE);
  const number = await joinFromPhone(phone, 'Department of Foreign Affairs');
  const board = await open(TV, `${BASE}/board/${inst.id}`);
  await live(board);

  await control('stop', 'main');
  await waitFor(phone, 'phone says it is reconnecting', () => /Reconnecting/.test(document.querySelector('#conn').textContent) && !document.querySelector('#conn').hidden);
  await waitFor(board, 'board says it is reconnecting', () => /Reconnecting/.test(document.querySelector('#conn').textContent));
  // The server drained: it told both pages to reconnect (1012), which
  // they show as reconnecting, not as an error.
  for (const [name, page] of [['phone', phone], ['board', board]]) {
    assert.equal(await page.evaluate(() => document.documentElement.dataset.liveRestarts), '1', `${name} was told 1012 once`);
    assert.equal(await page.locator('.error:visible').count(), 0, `${name} shows no error while reconnecting`);
  }

  // While the pages' server is down, the ticket is called through another
  // instance: the pages can only learn it from the snapshot they get when
  // they reconnect.
  const other = await control('start', 'other');
  const res = await api('POST', `institutions/${inst.id}/advance`, { counter: '7' }, { base: other.url });
  assert.equal(res.called[0].number, number);
  await control('stop', 'other');
  await control('start', 'main');

  await waitFor(
    phone,
    'phone reconnects and shows its turn at counter 7',
    () =>
      document.documentElement.dataset.live === 'live' &&
      document.querySelector('#conn').hidden &&
      document.querySelector('#t-turn-counter').textContent === 'Go to counter 7',
    null,
    20000,
  );
  await waitFor(
    board,
    'board reconnects and shows the call',
    (n) => document.querySelector('#now-number').textContent === String(n) && document.querySelector('#now-counter').textContent === 'Counter 7',
    number,
    20000,
  );

  // The number survives a reload: it is kept in localStorage.
  await phone.reload();
  await live(phone);
  assert.equal(await text(phone, '#t-number'), String(number));
  assert.equal(await text(phone, '#t-turn-counter'), 'Go to counter 7');
});
