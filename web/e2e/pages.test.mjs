// Browser tests of the three pages against a real server, in Debian's
// Chromium. Run by web/browser_test.go, which builds and starts the server
// (production mode) and sets QL_* in the environment.

import assert from 'node:assert/strict';
import {
  BASE,
  PHONE,
  DESK,
  TV,
  api,
  control,
  office,
  live,
  waitFor,
  text,
  joinFromPhone,
  signIn,
  stubSpeech,
  setUpLines,
  ADMIN,
} from './helpers.mjs';
import { browserTests, assertNoHorizontalScroll } from './scenarios.mjs';

// The contract's promise, as the issue puts it: within 2 s of the call.
const CALL_SHOWN_WITHIN_MS = 2000;

const { scenario, open, keep } = browserTests();

scenario('a phone joins, staff call it: within 2 s the phone shows its turn and the board the call; check-in, next call, served', async () => {
  const { inst, token } = await office('Bureau of Internal Revenue – RDO 38');
  const phone = await open(PHONE);
  const number = await joinFromPhone(phone, 'Bureau of Internal Revenue', '09171234567');
  assert.equal(number, 1);
  // One service, the default: the label is A-001 and nothing asks for a service.
  assert.equal(await text(phone, '#t-number'), 'A-001');
  assert.equal(await phone.locator('#t-service').isHidden(), true);
  assert.equal(await text(phone, '#t-place'), '1');
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
      'board shows the call on the tile of counter 3',
      () =>
        document.querySelector('#tiles li.tile.latest[data-counter="3"] .tile-label')?.textContent.trim() === 'A-001' &&
        document.querySelector('#calls li.latest')?.textContent.includes('Counter 3'),
      null,
      CALL_SHOWN_WITHIN_MS,
    ),
  ]);
  const elapsed = Date.now() - clicked;
  assert.ok(elapsed <= CALL_SHOWN_WITHIN_MS, `shown after ${elapsed} ms`);
  console.log(`# call shown on the phone and the board ${elapsed} ms after the click`);
  await waitFor(staff, 'staff see the call', () => /Called A-001 to counter 3/.test(document.querySelector('#console-ok').textContent));
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
    /Nobody is waiting.*Served: A-001\./.test(document.querySelector('#console-ok').textContent),
  );
  await waitFor(staff, 'the trail shows the call', () =>
    [...document.querySelectorAll('#events li')].some((li) => li.textContent.includes('A-001 called to counter 3')),
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
  await staff.getByRole('button', { name: 'Pause', exact: true }).click();
  await waitFor(staff, 'paused', () => document.querySelector('#inst-status').textContent === 'Paused');
  assert.equal(await staff.getByRole('button', { name: 'Pause', exact: true }).getAttribute('aria-pressed'), 'true');
  const phone = await open(PHONE, `${BASE}/`);
  await phone.getByRole('button', { name: /Land Transportation Office/ }).click();
  await waitFor(phone, 'join disabled with a reason', () =>
    document.querySelector('#join-submit').disabled && /paused/.test(document.querySelector('#join-error').textContent),
  );
  await staff.getByRole('button', { name: 'Open', exact: true }).click();
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
    (n) =>
      document.querySelector('#calls li.latest')?.dataset.number === String(n) &&
      document.querySelector('#calls li.latest').dataset.counter === '7' &&
      document.querySelector('#tiles li.tile.latest')?.dataset.counter === '7',
    number,
    20000,
  );

  // The number survives a reload: it is kept in localStorage.
  const label = await text(phone, '#t-number');
  assert.equal(label, res.called[0].label);
  await phone.reload();
  await live(phone);
  assert.equal(await text(phone, '#t-number'), label);
  assert.equal(await text(phone, '#t-turn-counter'), 'Go to counter 7');
});

// ---------- v1.1: services, priority, walk-ins, the board's calls ----------

const THREE_LINES = [
  { code: 'A', name: 'Payments' },
  { code: 'B', name: 'Registrations' },
  { code: 'C', name: 'Releasing', status: 'paused' },
];

scenario('the phone picks a service, sees its line and wait, asks for the priority lane, and shows its label and place', async () => {
  const { inst } = await office('Philippine Statistics Authority – Serbilis');
  await setUpLines(inst.id, THREE_LINES);
  // Two ahead in Registrations, one of them in the priority lane.
  await api('POST', `institutions/${inst.id}/tickets`, { service: 'B' });
  await api('POST', `institutions/${inst.id}/tickets`, { service: 'B', priority: 'pwd' });
  await api('POST', `institutions/${inst.id}/tickets`, { service: 'A' });

  const phone = await open(PHONE, `${BASE}/`);
  await phone.getByRole('button', { name: /Serbilis/ }).click();
  const b = phone.getByRole('radio', { name: /Registrations/ });
  await b.waitFor();
  // Each service with its line; a paused one cannot be picked.
  assert.equal(await phone.getByRole('radio', { name: /Payments/ }).isChecked(), true, 'the first open service is the default');
  assert.equal(await phone.getByRole('radio', { name: /Releasing/ }).isDisabled(), true);
  await waitFor(phone, 'the waiting count of B', () => /2 waiting/.test(document.querySelector('#svc-B-meta')?.textContent || ''));
  assert.match(await text(phone, '#svc-C-meta'), /Paused/);
  await b.check();
  assert.equal(await text(phone, '#join-waiting'), '2', "the figures are the picked service's");
  await phone.getByRole('radio', { name: 'Senior citizen' }).check();
  await assertNoHorizontalScroll(phone, 'phone, choosing a service');
  await phone.getByRole('button', { name: 'Get my number' }).click();
  await phone.locator('#ticket').waitFor({ state: 'visible' });
  await live(phone);

  assert.equal(await text(phone, '#t-number'), 'B-003');
  await waitFor(phone, 'service and lane named', () => /Registrations · Priority lane: senior citizen/.test(document.querySelector('#t-service').textContent));
  // Priority run 2: the pwd ticket, then this one, then the regular one.
  const id = await phone.evaluate(() => JSON.parse(localStorage.getItem('queueless.ticket')).id);
  const t = await api('GET', `tickets/${id}`);
  assert.equal(t.position, 2);
  assert.equal(await text(phone, '#t-place'), String(t.position));
  assert.equal(await text(phone, '#t-ahead'), String(t.people_ahead));
  assert.match(await phone.title(), /^B-003 · 1 ahead/);
  await assertNoHorizontalScroll(phone, 'phone, a ticket with a service');

  // Its turn: the place goes, the counter comes.
  await api('POST', `institutions/${inst.id}/advance`, { service: 'B', counter: '5', count: 2 });
  await waitFor(phone, 'its turn at counter 5', () => document.querySelector('#t-turn-counter').textContent === 'Go to counter 5' && !document.querySelector('#t-turn').hidden);
  assert.equal(await text(phone, '#t-place'), '—');
});

// pickerWait is the picker's words for an estimate (format.js's waitText,
// lower case) for the short waits a test can make.
function pickerWait(seconds) {
  if (seconds <= 0) return 'any moment now';
  if (seconds < 60) return 'under a minute';
  return `about ${Math.round(seconds / 60)} min`;
}

scenario("the phone's service picker shows each service's line and, from its third call of the day, its estimate", async () => {
  const { inst } = await office('Pag-IBIG Fund – Cubao Annex');
  await setUpLines(inst.id, THREE_LINES.slice(0, 2), [
    { name: '1', services: ['A'] },
    { name: '2', services: ['A'] },
  ]);
  for (let i = 0; i < 6; i++) await api('POST', `institutions/${inst.id}/tickets`, { service: 'A' });
  await api('POST', `institutions/${inst.id}/tickets`, { service: 'B' });

  const phone = await open(PHONE, `${BASE}/`);
  await phone.getByRole('button', { name: /Cubao Annex/ }).click();
  await waitFor(phone, 'A with no estimate yet', () => document.querySelector('#svc-A-meta')?.textContent === '6 waiting · wait unknown');
  assert.equal(await text(phone, '#svc-B-meta'), '1 waiting · wait unknown');

  // Three calls from A, counter 1 twice: A has a pace, B still none.
  for (const counter of ['1', '2', '1']) {
    await api('POST', `institutions/${inst.id}/advance`, { counter });
    await new Promise((r) => setTimeout(r, 300));
  }
  const got = await api('GET', `institutions/${inst.id}`);
  const [a, b] = got.services;
  assert.notEqual(a.estimated_wait_seconds, null, 'A has an estimate after three calls');
  assert.ok(a.estimated_wait_range[0] <= a.estimated_wait_seconds && a.estimated_wait_seconds <= a.estimated_wait_range[1], `A's range ${a.estimated_wait_range} holds ${a.estimated_wait_seconds}`);
  assert.equal(b.estimated_wait_seconds, null);

  await phone.reload();
  await phone.getByRole('button', { name: /Cubao Annex/ }).click();
  const want = `3 waiting · ${pickerWait(a.estimated_wait_seconds)}`;
  await waitFor(phone, `A's line and estimate "${want}"`, (w) => document.querySelector('#svc-A-meta')?.textContent === w, want);
  assert.equal(await text(phone, '#svc-B-meta'), '1 waiting · wait unknown');
  // The picked service's figures above the form are its own too.
  assert.equal(await text(phone, '#join-waiting'), '3');
});

scenario("a printed slip's link opens the phone page following that ticket", async () => {
  const { inst, token } = await office('Bureau of Immigration – Intramuros');
  await setUpLines(inst.id, THREE_LINES.slice(0, 2));
  const walkIn = await api('POST', `institutions/${inst.id}/tickets`, { service: 'B', priority: 'senior' }, { token });
  assert.equal(walkIn.source, 'staff');

  const slip = await open(PHONE, `${BASE}/t/${walkIn.id}`);
  assert.equal(await text(slip, '[data-label]'), walkIn.label);
  assert.ok(await slip.locator('img[data-qr]').evaluate((img) => img.complete && img.naturalWidth > 0), 'the QR code is an image');
  const link = await text(slip, '.url');
  assert.ok(link.includes(walkIn.id), `the slip's link ${link} names the ticket`);

  // A phone scans it.
  const phone = await open(PHONE, link);
  await phone.locator('#ticket').waitFor({ state: 'visible' });
  await live(phone);
  assert.equal(await text(phone, '#t-number'), walkIn.label);
  assert.equal(new URL(phone.url()).search, '', 'the address drops the id: a reload follows the stored ticket');
  await waitFor(phone, 'the service and lane', () => /Registrations · Priority lane: senior citizen/.test(document.querySelector('#t-service').textContent));
  await api('POST', `institutions/${inst.id}/advance`, { counter: '2' });
  await waitFor(phone, 'its turn', () => !document.querySelector('#t-turn').hidden);

  // A link to a ticket nobody knows says so.
  const lost = await open(PHONE, `${BASE}/?ticket=00000000-0000-4000-8000-000000000000`);
  await waitFor(lost, 'unknown ticket said', () => /not known here/.test(document.querySelector('#pick-error').textContent));
});

scenario('an admin sets up services and counters in the console; staff cannot', async () => {
  const { inst, token } = await office('Land Registration Authority – East Avenue');
  const admin = await open(DESK);
  await signIn(admin, ADMIN, inst.id);
  await admin.locator('#setup summary').click();
  await admin.getByLabel('Name of service 1').fill('Payments');
  await admin.getByRole('button', { name: 'Add a service' }).click();
  await admin.getByLabel('Code of service 2').fill('b');
  await admin.getByLabel('Name of service 2').fill('Registrations');
  await admin.getByLabel('Daily quota of service 2').fill('120');
  await admin.getByRole('button', { name: 'Add a service' }).click();
  await admin.getByLabel('Code of service 3').fill('C');
  await admin.getByLabel('Name of service 3').fill('Releasing');
  await admin.getByLabel('Status of service 3').selectOption('paused');
  // Releasing first.
  await admin.getByRole('button', { name: 'Move service 3 up' }).click();
  await admin.getByRole('button', { name: 'Move service 2 up' }).click();
  await admin.getByRole('button', { name: 'Save services' }).click();
  await waitFor(admin, 'services saved', () => document.querySelector('#setup-ok').textContent === 'Services saved.');
  let got = await api('GET', `institutions/${inst.id}`);
  assert.deepEqual(
    got.services.map((s) => [s.code, s.name, s.status, s.daily_quota]),
    [
      ['C', 'Releasing', 'paused', null],
      ['A', 'Payments', 'open', null],
      ['B', 'Registrations', 'open', 120],
    ],
  );

  await admin.getByRole('button', { name: 'Add a counter' }).click();
  await admin.getByLabel('Counter name').fill('1');
  await admin.getByLabel('Counter 1 calls A Payments').check();
  await admin.getByRole('button', { name: 'Add a counter' }).click();
  await admin.getByLabel('Counter name').nth(1).fill('Window 2');
  await admin.getByLabel('Counter Window 2 calls B Registrations').check();
  await admin.getByLabel('Counter Window 2 calls C Releasing').check();
  await admin.getByRole('button', { name: 'Save counters' }).click();
  await waitFor(admin, 'counters saved', () => document.querySelector('#setup-ok').textContent === 'Counters saved.');
  got = await api('GET', `institutions/${inst.id}`);
  assert.deepEqual(got.counters.map((c) => [c.name, c.services.slice().sort()]), [['1', ['A']], ['Window 2', ['B', 'C']]]);

  await admin.getByLabel(/Priority tickets called in a row/).fill('0');
  await admin.getByRole('button', { name: 'Save', exact: true }).click();
  await waitFor(admin, 'priority lane off', () => document.querySelector('#setup-ok').textContent === 'Priority lane off.');
  assert.equal((await api('GET', `institutions/${inst.id}`)).priority_run, 0);
  // Without a lane the walk-in form asks no priority.
  assert.equal(await admin.locator('#walkin-prio-wrap').isHidden(), true);

  // The contract's own check: a service with tickets today stays.
  await api('POST', `institutions/${inst.id}/tickets`, { service: 'A' });
  await admin.getByRole('button', { name: 'Remove service 2' }).click();
  await admin.getByRole('button', { name: 'Save services' }).click();
  await waitFor(admin, 'removal refused in words', () => /Not saved/.test(document.querySelector('#setup-error').textContent));
  await assertNoHorizontalScroll(admin, 'staff, setup');

  const staff = await open(DESK);
  await signIn(staff, token, inst.id);
  await staff.locator('#setup summary').click();
  await staff.getByRole('button', { name: 'Save counters' }).click();
  await waitFor(staff, '403 in words', () => /Only an administrator token/.test(document.querySelector('#setup-error').textContent));
});

scenario('staff call from a service or from the counter, pause a service, call one out of turn, change a priority, take a walk-in and print its slip', async () => {
  const { inst, token } = await office('Social Security System – Quezon City');
  await setUpLines(inst.id, THREE_LINES.slice(0, 2), [{ name: '2', services: ['B'] }]);
  const a1 = await api('POST', `institutions/${inst.id}/tickets`, { service: 'A' });
  const a2 = await api('POST', `institutions/${inst.id}/tickets`, { service: 'A' });
  const b1 = await api('POST', `institutions/${inst.id}/tickets`, { service: 'B' });
  const b2 = await api('POST', `institutions/${inst.id}/tickets`, { service: 'B' });
  const board = await open(TV, `${BASE}/board/${inst.id}`);
  await live(board);

  const staff = await open(DESK);
  await signIn(staff, token, inst.id);
  await waitFor(staff, 'four waiting, by label', () => document.querySelectorAll('#waiting tr[data-label]').length === 4);

  // Counter 2 is set up for B: "Call next" there calls B-001, not A-001.
  await staff.getByRole('textbox', { name: 'Counter' }).fill('2');
  await waitFor(staff, "the counter's services offered", () => /Counter 2's services \(B\)/.test(document.querySelector('#call-from').selectedOptions[0].textContent));
  await staff.getByRole('button', { name: 'Call next' }).click();
  await waitFor(staff, 'B-001 called', () => /Called B-001 to counter 2\./.test(document.querySelector('#console-ok').textContent));
  assert.equal((await api('GET', `tickets/${b1.id}`)).status, 'serving');
  // From a chosen service.
  await staff.getByLabel('Call from').selectOption('A');
  await staff.getByRole('button', { name: 'Call next' }).click();
  await waitFor(staff, 'A-001 called', () => /Called A-001 to counter 2\./.test(document.querySelector('#console-ok').textContent));
  assert.equal((await api('GET', `tickets/${a1.id}`)).status, 'serving');
  await waitFor(board, 'the board shows the last call on counter 2 with its service', () => {
    const tile = document.querySelector('#tiles li.tile[data-counter="2"]');
    return tile?.querySelector('.tile-label').textContent === 'A-001' && tile.querySelector('.tile-service').textContent === 'Payments';
  });

  // Pause B for phones.
  await staff.getByRole('button', { name: 'Pause B Registrations' }).click();
  await waitFor(staff, 'B paused', () => document.querySelector('#services li[data-code="B"]').dataset.status === 'paused');
  assert.equal((await api('GET', `institutions/${inst.id}`)).services.find((s) => s.code === 'B').status, 'paused');

  // Priority: B-002 into the priority lane.
  await waitFor(staff, 'B-002 listed', () => document.querySelector('#waiting tr[data-label="B-002"]') !== null);
  await staff.getByLabel('Priority of B-002').selectOption('pregnant');
  await waitFor(staff, 'priority set', () => /B-002 is now in the priority lane \(pregnant\)/.test(document.querySelector('#console-ok').textContent));
  assert.equal((await api('GET', `tickets/${b2.id}`)).priority, 'pregnant');

  // A particular call: a reason is required.
  await staff.getByRole('button', { name: 'Call A-002 out of turn' }).click();
  const dialog = staff.getByRole('dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.equal(await staff.locator('#call-dialog-counter').inputValue(), '2');
  await dialog.getByRole('button', { name: 'Call now' }).click();
  await waitFor(staff, 'reason asked for', () => /Give a reason/.test(document.querySelector('#call-dialog-error').textContent));
  await dialog.getByLabel('Reason').fill('appointment');
  await dialog.getByRole('button', { name: 'Call now' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await waitFor(staff, 'called out of turn', () => /Called A-002 to counter 2 out of turn \(appointment\)/.test(document.querySelector('#console-ok').textContent));
  const called = await api('GET', `tickets/${a2.id}`);
  assert.equal(called.status, 'serving');
  assert.equal(called.counter, '2');
  await waitFor(staff, 'the trail says why', () =>
    [...document.querySelectorAll('#events li')].some((li) => li.textContent.includes('A-002 called to counter 2 out of turn (appointment)')),
  );

  // A walk-in, into paused B (walk-ins may), in the priority lane, with its slip.
  await staff.getByLabel('Service', { exact: true }).selectOption('B');
  await staff.getByLabel('Priority lane', { exact: true }).selectOption('senior');
  await staff.getByRole('button', { name: 'Give a number' }).click();
  await waitFor(staff, 'the walk-in number shown', () => document.querySelector('#walkin-label').textContent === 'B-003');
  assert.match(await text(staff, '#walkin-what'), /Registrations · priority: senior citizen/);
  const [slip] = await Promise.all([staff.context().waitForEvent('page'), staff.getByRole('link', { name: 'Print the slip of B-003' }).click()]);
  keep(slip);
  await slip.waitForLoadState();
  assert.match(new URL(slip.url()).pathname, /^\/t\/[0-9a-f-]{36}$/);
  assert.equal(await text(slip, '[data-label]'), 'B-003');
  const walkIn = await api('GET', `tickets/${new URL(slip.url()).pathname.slice(3)}`);
  assert.equal(walkIn.source, 'staff');
  assert.equal(walkIn.priority, 'senior');
  await assertNoHorizontalScroll(staff, 'staff, services');
});

// speechOn switches the board's sound on, as someone in the hall does.
async function speechOn(board) {
  const sw = board.getByRole('switch', { name: /speak/i });
  await sw.click();
  assert.equal(await sw.getAttribute('aria-checked'), 'true');
}

async function assertSpokenInOrder(board, want, what) {
  await waitFor(board, `${what}: ${want.length} announcements`, (n) => window.__speech().said.length >= n, want.length, 30000);
  const s = await board.evaluate(() => window.__speech());
  assert.deepEqual(s.said.map((u) => u.text), want, `${what}: announcements in call order`);
  assert.equal(s.overlaps, 0, `${what}: an announcement cut another off`);
  assert.equal(s.cancels, 0, `${what}: speech was cancelled`);
  assert.ok(s.said.every((u) => u.lang === 'en'), `${what}: spoken in the board's language`);
}

scenario("the board takes a burst of call frames from the stream (the contract's format): every call, in order, spoken one after another", async () => {
  // The server's stream is replaced by one that sends what the contract
  // says a v1.1 server sends: the page's own handling of `call` frames.
  const { inst } = await office('Government Service Insurance System – Pasay');
  const full = await setUpLines(inst.id, THREE_LINES.slice(0, 2), [{ name: '3', services: ['A', 'B'] }, { name: '4', services: ['B'] }]);
  let socket;
  const board = await open(TV, `${BASE}/board/${inst.id}`, async (ctx) => {
    await stubSpeech(ctx);
    await ctx.routeWebSocket(/\/live$/, (ws) => {
      socket = ws;
      ws.send(JSON.stringify({ type: 'snapshot', institution: full }));
    });
  });
  await live(board);
  await speechOn(board);
  const at = new Date().toISOString();
  const calls = Array.from({ length: 50 }, (_, i) => ({
    number: i + 1,
    label: `${i % 2 ? 'B' : 'A'}-${String(Math.floor(i / 2) + 1).padStart(3, '0')}`,
    service: i % 2 ? 'B' : 'A',
    counter: i < 45 ? '3' : '4',
    called_at: at,
    reason: 'in_order',
  }));
  // One advance of 50: fifty frames at once, then the (conflated) update.
  for (const c of calls) socket.send(JSON.stringify({ type: 'call', call: c }));
  socket.send(JSON.stringify({ type: 'update', institution: { ...full, version: full.version + 1, recent_calls: [] } }));
  await waitFor(board, 'fifty calls taken', () => document.querySelector('#calls').dataset.total === '50');
  const recent = await board.$$eval('#calls li', (lis) => lis.map((li) => li.querySelector('.call-number').textContent));
  assert.deepEqual(recent, calls.slice(-8).reverse().map((c) => c.label), 'the newest calls first');
  assert.equal(await text(board, '#tiles li[data-counter="3"] .tile-label'), calls[44].label);
  assert.equal(await text(board, '#tiles li[data-counter="4"] .tile-label'), calls[49].label);
  assert.equal(await text(board, '#tiles li.latest .tile-service'), 'Registrations');
  await assertSpokenInOrder(
    board,
    calls.map((c) => `Now serving ${c.label.replace('-', '').split('').join(' ')} at counter ${c.counter}`),
    'a burst of 50',
  );
  // A recall is said again, and marked.
  socket.send(JSON.stringify({ type: 'call', call: { ...calls[49], called_at: new Date(Date.now() + 5000).toISOString(), reason: 'recall' } }));
  await waitFor(board, 'the recall', () => document.querySelector('#calls li.latest.again') !== null && window.__speech().said.length === 51);
  assert.equal((await board.evaluate(() => window.__speech())).said[50].text, 'Calling again B 0 2 5 at counter 4');
});

scenario('a board on one server sees every call of a 50-ticket advance made through another, in order, and speaks each', async () => {
  const { inst } = await office('Pag-IBIG Fund – Makati');
  await setUpLines(inst.id, THREE_LINES.slice(0, 2), [{ name: '1', services: ['A'] }, { name: '2', services: ['B'] }]);
  for (let i = 0; i < 30; i++) await api('POST', `institutions/${inst.id}/tickets`, { service: 'A' });
  for (let i = 0; i < 25; i++) await api('POST', `institutions/${inst.id}/tickets`, { service: 'B' });
  const board = await open(TV, `${BASE}/board/${inst.id}`, stubSpeech);
  await live(board);
  await speechOn(board);

  const other = await control('start', 'other');
  try {
    // Counter 9 is not set up: it calls from every service, longest wait first.
    const first = await api('POST', `institutions/${inst.id}/advance`, { counter: '9', count: 50 }, { base: other.url });
    const second = await api('POST', `institutions/${inst.id}/advance`, { counter: '2', count: 3 }, { base: other.url });
    const called = [...first.called, ...second.called];
    assert.equal(first.called.length, 50);
    assert.deepEqual(second.called.map((t) => t.service), ['B', 'B', 'B'], 'counter 2 calls from B only');
    await waitFor(board, `${called.length} calls shown`, (n) => document.querySelector('#calls').dataset.total === String(n), called.length, 10000);
    assert.equal(await text(board, '#tiles li[data-counter="9"] .tile-label'), first.called.at(-1).label);
    assert.equal(await text(board, '#tiles li[data-counter="1"] .tile-label'), '—', 'counter 1 called nobody');
    assert.equal(await text(board, '#tiles li[data-counter="2"] .tile-label'), second.called.at(-1).label);
    await assertSpokenInOrder(
      board,
      called.map((t) => `Now serving ${t.label.replace('-', '').split('').join(' ')} at counter ${t.counter}`),
      'an advance of 50 through another server',
    );
  } finally {
    await control('stop', 'other');
  }
});

scenario('a board opened after calls were made shows them by label and service, from recent_calls', async () => {
  const { inst } = await office('Bureau of Internal Revenue – RDO 38');
  await setUpLines(inst.id, THREE_LINES.slice(0, 2));
  await api('POST', `institutions/${inst.id}/tickets`, { service: 'B' });
  await api('POST', `institutions/${inst.id}/tickets`, { service: 'A' });
  await api('POST', `institutions/${inst.id}/advance`, { counter: '3', count: 2 });
  const got = await api('GET', `institutions/${inst.id}`);
  assert.deepEqual(got.recent_calls.map((c) => [c.label, c.service, c.counter]), [['A-001', 'A', '3'], ['B-001', 'B', '3']]);

  // No call frame ever reaches this board: only the snapshot's recent_calls.
  const board = await open(TV, `${BASE}/board/${inst.id}`);
  await live(board);
  await waitFor(board, 'both calls by label, newest first', () =>
    [...document.querySelectorAll('#calls li .call-number')].map((e) => e.textContent).join(',') === 'A-001,B-001');
  const services = await board.locator('#calls li .call-service').allTextContents();
  assert.deepEqual(services, ['Payments', 'Registrations']);
});
