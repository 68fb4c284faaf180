// Browser tests of the office day's pages (issue 12): the phone's "I
// missed my turn, put me back" and "let people go ahead of me", the
// fairness log page, the staff console's requeue, transfer and hours
// editor, and the board's missed numbers and pre-queue notice. Run by
// web/browser_test.go with the other page tests; the "quick" server shares
// the database and calls with a 2 s grace period, so that a ticket misses
// its turn in seconds.

import assert from 'node:assert/strict';
import { BASE, PHONE, DESK, TV, ADMIN, api, control, office, live, waitFor, text, joinFromPhone, signIn, setUpLines } from './helpers.mjs';
import { browserTests, assertNoHorizontalScroll as noHorizontalScroll } from './scenarios.mjs';

let quick; // the base URL of the 2 s grace server

const { scenario, open } = browserTests({
  shotPrefix: 'day-',
  setUp: async () => {
    quick = (await control('start', 'quick')).url;
  },
  tearDown: () => control('stop', 'quick').catch(() => {}),
});

/** missTurn calls the next ticket through the quick server and waits until it expired. */
async function missTurn(instId, ticketId, token, counter = '2') {
  await api('POST', `institutions/${instId}/advance`, { counter }, { token, base: quick });
  for (const deadline = Date.now() + 20000; ; await new Promise((r) => setTimeout(r, 100))) {
    const t = await api('GET', `tickets/${ticketId}`);
    if (t.status === 'expired') return t;
    if (Date.now() > deadline) throw new Error(`ticket ${t.label} did not expire (${t.status})`);
  }
}

scenario('phone: "I missed my turn, put me back" within the window, then "let people go ahead", live; the fairness log page follows the calls', async () => {
  const { inst, token } = await office('Home Development Mutual Fund – Ortigas');
  const phone = await open(PHONE);
  await joinFromPhone(phone, 'Home Development Mutual Fund', '09171110001');
  const others = [];
  for (let i = 0; i < 4; i++) others.push(await api('POST', `institutions/${inst.id}/tickets`, {}));
  // Waiting: no "put me back", "let people go ahead" offered, the log linked.
  await waitFor(phone, 'defer offered', () => !document.querySelector('#t-defer-box').hidden);
  assert.equal(await phone.locator('#t-requeue').isVisible(), false);
  const link = phone.getByRole('link', { name: 'How calls were made today' });
  assert.equal(new URL(await link.getAttribute('href')).pathname, `/calls/${inst.id}`);

  const mine = JSON.parse(await phone.evaluate(() => localStorage.getItem('queueless.ticket')));
  await missTurn(inst.id, mine.id, token);
  // Expired within the window: the offer, with what the contract says happens.
  await waitFor(phone, 'put-me-back offered', () => document.querySelector('#t-requeue')?.offsetParent !== null, null, 10000);
  assert.equal(await phone.locator('#t-defer-box').isVisible(), false);
  const rule = await text(phone, '#t-requeue-rule');
  assert.match(rule, /3 people will be ahead of you \(fewer if fewer are waiting\)/);
  assert.match(rule, /only once/);
  assert.match(rule, /Until \d\d?:\d\d/);
  await noHorizontalScroll(phone, 'phone, missed turn');

  await phone.getByRole('button', { name: 'I missed my turn, put me back' }).click();
  await waitFor(phone, 'back in line with 3 ahead', () => document.querySelector('#t-ahead').textContent === '3' && ['waiting', 'notified'].includes(document.querySelector('#t-card').dataset.status));
  assert.match(await text(phone, '#t-day .success'), /back in line with A-001: 3 people ahead/);
  assert.equal(await phone.locator('#t-requeue').isVisible(), false);
  // Live again: a call elsewhere moves it up.
  await live(phone);
  await api('POST', `institutions/${inst.id}/advance`, { counter: '1' }, { token });
  await waitFor(phone, 'live: 2 ahead after the next call', () => document.querySelector('#t-ahead').textContent === '2');

  // Let people go ahead: 2 asked, 1 behind, so it goes to the back.
  await phone.getByText('Not ready yet? Let people go ahead of me').click();
  await phone.getByLabel('How many people').selectOption('2');
  await phone.getByRole('button', { name: 'Let them go ahead' }).click();
  await waitFor(phone, 'deferred to 3 ahead', () => document.querySelector('#t-ahead').textContent === '3' && /Done: 3 people ahead of you now/.test(document.querySelector('#t-day .success').textContent));
  const t = await api('GET', `tickets/${mine.id}`);
  assert.equal(t.people_ahead, 3);

  // The fairness log: the calls so far, then new ones live, with reasons.
  await link.click();
  await phone.waitForURL(`**/calls/${inst.id}`);
  await live(phone);
  await waitFor(phone, 'two calls listed', () => document.querySelectorAll('#f-calls li.f-call').length === 2);
  assert.equal(await text(phone, '#f-office'), inst.name);
  assert.equal(await text(phone, '#f-summary'), '2 calls: 2 in order.');
  await api('POST', `institutions/${inst.id}/advance`, { counter: '1', count: 4 }, { token });
  await waitFor(phone, 'six calls listed live', () => document.querySelectorAll('#f-calls li.f-call').length === 6);
  const rows = await phone.locator('#f-calls li.f-call').evaluateAll((ls) => ls.map((l) => [l.querySelector('.f-label').textContent, l.dataset.reason, l.querySelector('.f-why').textContent]));
  assert.deepEqual(
    rows.map((r) => r[0]),
    ['A-001', 'A-002', 'A-003', 'A-004', 'A-005', 'A-001'],
  );
  assert.deepEqual(rows[5], ['A-001', 'deferred', 'Let others go ahead']);
  assert.equal(await text(phone, '#f-summary'), '6 calls: 5 in order, 1 let others go ahead.');
  const body = await phone.locator('body').textContent();
  for (const secret of [mine.id, ...others.map((o) => o.id), '09171110001']) assert.ok(!body.includes(secret), `the log shows ${secret}`);
  await noHorizontalScroll(phone, 'fairness log');
});

scenario('phone: the put-me-back offer goes when the rejoin window closes, and never comes for a number already put back the most times', async () => {
  const { inst, token } = await office('Overseas Workers Welfare Administration – Pasay');
  await api('PATCH', `institutions/${inst.id}`, { rejoin_window_seconds: 4, max_requeues: 1 });
  const phone = await open(PHONE);
  await joinFromPhone(phone, 'Overseas Workers Welfare');
  await api('POST', `institutions/${inst.id}/tickets`, {});
  const mine = JSON.parse(await phone.evaluate(() => localStorage.getItem('queueless.ticket')));
  const t = await missTurn(inst.id, mine.id, token);
  await waitFor(phone, 'offered', () => document.querySelector('#t-requeue')?.offsetParent !== null, null, 10000);
  const closes = Date.parse(t.completed_at) + 4000;
  await waitFor(phone, 'offer gone when the window closes', () => document.querySelector('#t-requeue').offsetParent === null, null, closes - Date.now() + 3000);
  assert.ok(Date.now() >= closes - 250, `offer went ${closes - Date.now()} ms before the window closed`);
  assert.match(await text(phone, '#t-status'), /expired/);

  // A number put back once (the most here) that misses again: no offer.
  const phone2 = await open(PHONE);
  await joinFromPhone(phone2, 'Overseas Workers Welfare');
  const second = JSON.parse(await phone2.evaluate(() => localStorage.getItem('queueless.ticket')));
  await api('PATCH', `institutions/${inst.id}`, { rejoin_window_seconds: 600 });
  await api('POST', `institutions/${inst.id}/advance`, { count: 1 }, { token }); // the walk-in
  await missTurn(inst.id, second.id, token);
  await phone2.getByRole('button', { name: 'I missed my turn, put me back' }).click();
  await waitFor(phone2, 'back in line', () => ['waiting', 'notified'].includes(document.querySelector('#t-card').dataset.status));
  await missTurn(inst.id, second.id, token);
  await waitFor(phone2, 'expired again', () => document.querySelector('#t-card').dataset.status === 'expired');
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(await phone2.locator('#t-requeue').isVisible(), false);
});

scenario('staff put a missed ticket back and transfer one to another service; the board lists the missed numbers', async () => {
  const { inst, token } = await office('Maritime Industry Authority – Port Area');
  await setUpLines(inst.id, [
    { code: 'A', name: 'Assessment' },
    { code: 'C', name: 'Cashier' },
  ]);
  const tickets = [];
  for (let i = 0; i < 4; i++) tickets.push(await api('POST', `institutions/${inst.id}/tickets`, { service: 'A' }));
  const board = await open(TV, `${BASE}/board/${inst.id}`);
  await live(board);
  assert.equal(await board.locator('#missed').isHidden(), true);
  const staff = await open(DESK);
  await signIn(staff, token, inst.id);
  await waitFor(staff, 'nobody missed yet', () => /Nobody has missed a turn today/.test(document.querySelector('#missed').textContent));

  await missTurn(inst.id, tickets[0].id, token);
  await waitFor(staff, 'A-001 listed as missed', () => document.querySelector('#missed li[data-label="A-001"]') !== null);
  await waitFor(board, 'board lists A-001 as missed', () => !document.querySelector('#missed').hidden && document.querySelector('#missed li[data-label="A-001"]') !== null);

  await staff.getByRole('button', { name: 'Put A-001 back in line' }).click();
  await waitFor(staff, 'requeued', () => /A-001 is back in line: 3 ahead of it \(place 4\)/.test(document.querySelector('#console-ok').textContent));
  await waitFor(staff, 'A-001 waiting again at place 4', () => document.querySelector('#waiting tr[data-label="A-001"] .place')?.textContent === '4');
  await waitFor(staff, 'missed list empty', () => /Nobody has missed/.test(document.querySelector('#missed').textContent));
  await waitFor(board, 'board no longer lists it', () => document.querySelector('#missed').hidden);

  // Transfer A-003 to the cashier, first in line.
  await staff.getByRole('button', { name: 'Transfer A-003 to another service' }).click();
  const dialog = staff.locator('#transfer-dialog');
  await dialog.waitFor({ state: 'visible' });
  assert.deepEqual(await dialog.locator('#transfer-service option').evaluateAll((o) => o.map((x) => x.value)), ['C']);
  await dialog.getByLabel(/Last in line/).check();
  await dialog.getByRole('button', { name: 'Transfer' }).click();
  await waitFor(staff, 'transferred', () => /A-003 moved to C Cashier, last in line: place 1 there/.test(document.querySelector('#console-ok').textContent));
  const moved = await api('GET', `tickets/${tickets[2].id}`);
  assert.equal(moved.service, 'C');
  assert.equal(moved.label, 'A-003');
  // The lists follow: A-004 moved up in A.
  await waitFor(staff, 'A-004 now place 2 of A', () => document.querySelector('#waiting tr[data-label="A-004"] .place')?.textContent === '2');

  // A serving ticket too: call A-002 to counter 5, send it to the cashier's front.
  await api('POST', `institutions/${inst.id}/advance`, { counter: '5', service: 'A' }, { token });
  await waitFor(staff, 'A-002 at a counter', () => document.querySelector('#serving')?.textContent.includes('A-002'));
  await staff.locator('#serving').getByRole('button', { name: 'Transfer A-002 to another service' }).click();
  await dialog.getByRole('button', { name: 'Transfer' }).click(); // first in line is the default
  await waitFor(staff, 'transferred from the counter', () => /A-002 moved to C Cashier, first in line: place 1 there/.test(document.querySelector('#console-ok').textContent));
  const front = await api('GET', `tickets/${tickets[1].id}`);
  assert.deepEqual([front.service, front.position, front.counter], ['C', 1, null]);
  assert.ok(['waiting', 'notified'].includes(front.status), front.status);
});

// Devices set to another zone than their office's (a phone abroad, a
// kiosk left on UTC) still read the office's times: a "called at" or an
// "until" in the device's own zone is hours off.
const OFFICE_TZ = 'Asia/Manila'; // UTC+8, no daylight saving
const DEVICE_TZ = 'America/New_York'; // 12 or 13 hours behind

/** clocks formats times as the pages do, in the office's zone and in the device's (to tell them apart). */
function clocks(page, times, seconds = false) {
  return page.evaluate(
    ([times, timeZone, seconds]) => {
      const opts = { hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}) };
      return times.map((t) => ({
        office: new Date(t).toLocaleTimeString([], { ...opts, timeZone }),
        device: new Date(t).toLocaleTimeString([], opts),
      }));
    },
    [times, OFFICE_TZ, seconds],
  );
}

/** assertOfficeTimes checks that every <time> under selector shows its datetime in the office's zone. */
async function assertOfficeTimes(page, selector, seconds, what) {
  const shown = await page.locator(`${selector} time[datetime]`).evaluateAll((ts) => ts.map((t) => [t.getAttribute('datetime'), t.textContent]));
  assert.ok(shown.length > 0, `${what}: no times shown`);
  const want = await clocks(page, shown.map(([t]) => t), seconds);
  shown.forEach(([t, text], i) => {
    assert.notEqual(want[i].office, want[i].device, `${what}: the zones agree at ${t}`);
    assert.equal(text, want[i].office, `${what}: ${t} shown as ${text}, the office's time is ${want[i].office} (the device's ${want[i].device})`);
  });
}

scenario('phone, fairness log and staff console show office times in the office timezone, not the device\'s', async () => {
  const { inst, token } = await office('Bureau of Fire Protection – Cebu City');
  await api('PATCH', `institutions/${inst.id}`, { timezone: OFFICE_TZ });
  const phone = await open({ ...PHONE, timezoneId: DEVICE_TZ });
  await joinFromPhone(phone, 'Bureau of Fire Protection');
  const mine = JSON.parse(await phone.evaluate(() => localStorage.getItem('queueless.ticket')));
  const walkIn = await api('POST', `institutions/${inst.id}/tickets`, {});
  const staff = await open({ ...DESK, timezoneId: DEVICE_TZ });
  await signIn(staff, token, inst.id);

  // The phone's news: the time an announcement was sent.
  await api('POST', `institutions/${inst.id}/announcements`, { message: 'The cashier opens at 1 PM.' }, { token });
  await waitFor(phone, 'announcement shown', () => document.querySelector('#t-announcements time') !== null);
  await assertOfficeTimes(phone, '#t-announcements', false, 'phone announcements');

  // A missed turn: "Until H:MM" is the office's, and names its zone since
  // the phone's clock reads another time.
  const expired = await missTurn(inst.id, mine.id, token);
  await waitFor(phone, 'put-me-back offered', () => document.querySelector('#t-requeue')?.offsetParent !== null, null, 10000);
  const end = new Date(Date.parse(expired.completed_at) + (await api('GET', `institutions/${inst.id}`)).rejoin_window_seconds * 1000);
  const [until] = await clocks(phone, [end.toISOString()]);
  assert.notEqual(until.office, until.device);
  const rule = await text(phone, '#t-requeue-rule');
  assert.ok(rule.startsWith(`Missed your call? Until ${until.office} GMT+8 you can go back in line`), `${rule} (the office's time ${until.office}, the phone's ${until.device})`);

  // The staff console: the missed turn, a called number, the audit trail.
  await waitFor(staff, 'missed listed', () => document.querySelector('#missed li[data-label="A-001"]') !== null);
  await api('POST', `institutions/${inst.id}/advance`, { counter: '1' }, { token });
  await waitFor(staff, 'A-002 at the counter', () => /A-002/.test(document.querySelector('#serving').textContent));
  const called = await api('GET', `tickets/${walkIn.id}`);
  const [[missedAt], [calledAt]] = [await clocks(staff, [expired.completed_at]), await clocks(staff, [called.called_at])];
  assert.match(await text(staff, '#missed li[data-label="A-001"]'), new RegExp(`expired ${missedAt.office}`));
  assert.match(await text(staff, '#serving'), new RegExp(`called ${calledAt.office}, not checked in yet`));
  await assertOfficeTimes(staff, '#missed', false, 'staff missed turns');
  await assertOfficeTimes(staff, '#serving', false, 'staff serving');
  await waitFor(staff, 'the call in the trail', () => document.querySelectorAll('#events li').length >= 4);
  await assertOfficeTimes(staff, '#events', true, 'staff audit trail');

  // The fairness log, on the phone: each call at the office's time, and
  // the office's day in the date picker.
  await phone.goto(`${BASE}/calls/${inst.id}`);
  await live(phone);
  await waitFor(phone, 'two calls listed', () => document.querySelectorAll('#f-calls li.f-call').length === 2);
  await assertOfficeTimes(phone, '#f-calls', false, 'fairness log');
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: OFFICE_TZ }).format(new Date());
  assert.equal(await phone.locator('#f-date').inputValue(), today);
});

/** hhmm is the wall time in timezone at t. */
function wallTime(t, timeZone) {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(t).map((x) => [x.type, x.value]));
  return { day: p.weekday.toLowerCase().slice(0, 3), time: `${p.hour}:${p.minute}` };
}

/** prequeueOffice makes a real closed office with these office-day fields (the admin PATCH). */
async function prequeueOffice(name, fields) {
  const { inst, token } = await office(name);
  const got = await api('PATCH', `institutions/${inst.id}`, { status: 'closed', ...fields });
  // The server answers every day of the week (the ones not given empty),
  // and whole minutes as "08:00" even when sent as "08:00:00".
  const hhmm = (t) => (t.length === 8 && t.endsWith(':00') ? t.slice(0, 5) : t);
  const days = (h) => Object.fromEntries(['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((d) => [d, (h[d] || []).map((p) => p.map(hhmm))]));
  for (const [k, v] of Object.entries(fields)) assert.deepEqual(k === 'hours' ? days(got[k]) : got[k], k === 'hours' ? days(v) : v, `PATCH answered ${k}`);
  return { inst: got, token };
}

scenario('board: "opens at 8:00, numbers are drawn at opening" during the pre-queue window, in the office timezone, not before it', async () => {
  // Opening 30 minutes from now, Manila time (UTC+8): the day's first period.
  const opens = wallTime(new Date(Date.now() + 30 * 60000), 'Asia/Manila');
  const now = wallTime(new Date(), 'Asia/Manila');
  assert.ok(opens.day === now.day, 'run again away from midnight in Manila');
  const hours = { [opens.day]: [[opens.time, '23:59']] };
  const shown = `${Number(opens.time.slice(0, 2))}:${opens.time.slice(3)}`;

  const { inst } = await prequeueOffice('Commission on Elections – Intramuros', { timezone: 'Asia/Manila', hours, prequeue_minutes: 60 });
  // The server agrees: the office is closed and its draw's commitment is published.
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Manila' }).format(new Date());
  // The display computer is set to New York: the board still tells the office's time.
  const board = await open({ ...TV, timezoneId: 'America/New_York' }, `${BASE}/board/${inst.id}`);
  await live(board);
  const times = () =>
    board.evaluate(() => ({
      office: new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Manila' }),
      display: new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
    }));
  const t0 = await times();
  const shownClock = await text(board, '#clock');
  const t1 = await times();
  assert.ok([t0.office, t1.office].includes(shownClock), `the board's clock says ${shownClock}, Manila's time is ${t0.office} (New York's ${t0.display})`);
  assert.notEqual(shownClock, t0.display);
  assert.equal(await board.locator('#clock').getAttribute('data-timezone'), 'Asia/Manila');
  await waitFor(board, 'pre-queue notice', () => !document.querySelector('#prequeue').hidden);
  assert.match(await text(board, '#prequeue'), new RegExp(`^Opens at ${shown} · numbers are drawn at opening`));
  // Not "Closed: no new numbers today": numbers are being taken for the draw.
  assert.equal(await board.locator('#status').isHidden(), true);
  const held = await api('POST', `institutions/${inst.id}/tickets`, {});
  assert.equal(held.status, 'held');
  assert.ok((await api('GET', `institutions/${inst.id}/draws/${today}`)).A.commitment);

  // The window is 20 minutes: it starts in 10 minutes, so no notice yet.
  const { inst: later } = await prequeueOffice('Commission on Elections – Manila', { timezone: 'Asia/Manila', hours, prequeue_minutes: 20 });
  const early = await open(TV, `${BASE}/board/${later.id}`);
  await live(early);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await early.locator('#prequeue').isHidden(), true);
  assert.match(await text(early, '#status'), /Closed/);
  // A closed date: no opening, no notice.
  const { inst: shut } = await prequeueOffice('Commission on Elections – Quezon City', { timezone: 'Asia/Manila', hours, closed_dates: [today], prequeue_minutes: 60 });
  const closed = await open(TV, `${BASE}/board/${shut.id}`);
  await live(closed);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await closed.locator('#prequeue').isHidden(), true);
});

scenario('phone: joins in the pre-queue window get a held number, shown as in the draw, then the drawn number live at the opening', async () => {
  // A real office on the real clock: opening 25 s from now (second
  // precision), a one-minute pre-queue window that covers now. Near
  // midnight UTC the office keeps UTC+6 (Etc/GMT-6), so that its day does
  // not end during the test whatever the hour it runs.
  const now = new Date();
  const offsetHours = now.getUTCHours() >= 20 || now.getUTCHours() < 2 ? 6 : 0;
  const timezone = offsetHours ? 'Etc/GMT-6' : 'UTC';
  const local = (t) => new Date(t.getTime() + offsetHours * 3600000); // read with getUTC*
  const opening = new Date(Math.ceil((now.getTime() + 25000) / 1000) * 1000);
  const closing = new Date(opening.getTime() + 10 * 60000);
  assert.ok(local(closing).getUTCDate() === local(now).getUTCDate(), 'the office day ends during the test');
  const hms = (t) => local(t).toISOString().slice(11, 19);
  const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][local(now).getUTCDay()];
  const { inst } = await prequeueOffice('National Irrigation Administration – EDSA', { timezone, hours: { [day]: [[hms(opening), hms(closing)]] }, prequeue_minutes: 1 });
  const at = `${local(opening).getUTCHours()}:${String(local(opening).getUTCMinutes()).padStart(2, '0')}`;

  // An office closed with no pre-queue, for comparison.
  const shut = await api('POST', 'institutions', { name: 'National Irrigation Administration – Cubao', kind: 'government', status: 'closed' });

  const phone = await open(PHONE, `${BASE}/`);
  // The office list: not "Closed" while it takes numbers for the draw.
  const item = phone.getByRole('button', { name: /National Irrigation Administration – EDSA/ });
  assert.equal(await text(phone, `button.inst[data-id="${inst.id}"] .badge`), `Pre-queue open, draw at ${at}`);
  assert.equal(await text(phone, `button.inst[data-id="${shut.id}"] .badge`), 'Closed');
  await noHorizontalScroll(phone, 'phone, office list with a pre-queue');
  await item.click();
  await waitFor(phone, 'the pre-queue offer', () => !document.querySelector('#join-prequeue').hidden);
  assert.equal(await text(phone, '#join-status'), `Pre-queue open, draw at ${at}`);
  assert.match(await text(phone, '#join-prequeue'), new RegExp(`^Opens at ${at}\\. Take a number now`));
  assert.equal(await phone.locator('#join-error').isHidden(), true);
  await phone.getByRole('button', { name: 'Get my number' }).click();
  await phone.locator('#ticket').waitFor({ state: 'visible' });
  await live(phone);
  const mine = JSON.parse(await phone.evaluate(() => localStorage.getItem('queueless.ticket')));
  const held = await api('GET', `tickets/${mine.id}`);
  assert.deepEqual([held.status, held.number, held.label], ['held', null, null]);

  // The held view: in the draw at the opening, no number, no place yet,
  // and the draw's commitment linked.
  assert.equal(await text(phone, '#t-held-line'), `You are in the draw at ${at}; your number will be drawn at opening.`);
  assert.equal(await text(phone, '#t-number'), '—');
  assert.equal(await phone.locator('#t-facts').isHidden(), true);
  assert.equal(await phone.getByRole('button', { name: 'Cancel my number' }).isVisible(), true);
  const date = local(now).toISOString().slice(0, 10);
  const link = phone.getByRole('link', { name: "The draw's published commitment" });
  assert.equal(new URL(await link.getAttribute('href')).pathname, `/api/v1/institutions/${inst.id}/draws/${date}`);
  const draw = await (await fetch(await link.getAttribute('href'))).json();
  assert.match(draw.A.commitment, /^[0-9a-f]{64}$/);
  assert.equal(draw.A.seed, null);
  await noHorizontalScroll(phone, 'phone, held');
  // Someone else is in the draw too.
  const other = await api('POST', `institutions/${inst.id}/tickets`, {});
  assert.equal(other.status, 'held');

  // The opening: the drawn number arrives live, and the usual view with it.
  await waitFor(phone, 'drawn number shown', () => ['waiting', 'notified'].includes(document.querySelector('#t-card').dataset.status), null, opening - Date.now() + 15000);
  const drawn = await api('GET', `tickets/${mine.id}`);
  assert.ok(['A-001', 'A-002'].includes(drawn.label), drawn.label);
  assert.equal(await text(phone, '#t-number'), drawn.label);
  assert.equal(await phone.locator('#t-held').isHidden(), true);
  assert.equal(await phone.locator('#t-facts').isVisible(), true);
  assert.equal(await text(phone, '#t-ahead'), String(drawn.people_ahead));
  assert.ok(Date.now() >= opening.getTime(), 'drawn before the opening');
  const published = await api('GET', `institutions/${inst.id}/draws/${date}`);
  assert.equal(published.A.order.length, 2);
  assert.match(published.A.seed, /^[0-9a-f]{64}$/);
});

scenario('staff hours editor sends the contract PATCH: timezone, weekly hours with several periods, closed dates, cutoff, at-close, pre-queue; quotas per service', async () => {
  const { inst } = await office('Cooperative Development Authority – Quezon City');
  await setUpLines(inst.id, [
    { code: 'A', name: 'Birth certificates' },
    { code: 'B', name: 'Marriage certificates', daily_quota: 80 },
  ]);
  const staff = await open(DESK);
  // What the form sends, as sent; the real server answers.
  const sent = [];
  staff.on('request', (req) => {
    if (req.method() === 'PATCH' && new URL(req.url()).pathname === `/api/v1/institutions/${inst.id}`) sent.push(req.postDataJSON());
  });
  await signIn(staff, ADMIN, inst.id);
  await staff.getByText('Opening hours and the office day').click();
  const form = staff.locator('#hours-form');
  await form.getByLabel('Open and close by itself on a weekly schedule').check();
  await form.getByLabel('Timezone').fill('Asia/Manila');
  // Weekdays start as 8-12 and 13-17; Friday closes at 16:00, Saturday
  // gets a morning, Wednesday gets a third period.
  await form.getByLabel('Friday period 2 closes').fill('16:00');
  await form.getByRole('button', { name: 'Add a period on Saturday' }).click();
  await form.getByLabel('Saturday period 1 closes').fill('12:00');
  await form.getByRole('button', { name: 'Add a period on Wednesday' }).click();
  await form.getByLabel('Wednesday period 3 opens').fill('18:00');
  await form.getByLabel('Wednesday period 3 closes').fill('20:30');
  await form.getByLabel('Closed date to add').fill('2026-12-25');
  await form.getByRole('button', { name: 'Add closed date' }).click();
  await form.getByLabel('Closed date to add').fill('2026-12-24');
  await form.getByRole('button', { name: 'Add closed date' }).click();
  await form.getByLabel(/minutes before closing/).fill('30');
  await form.getByLabel('At the last closing of the day').selectOption('carry_over');
  await form.getByLabel(/Take numbers before opening/).fill('45');
  await form.getByLabel('A · Birth certificates').fill('120');
  await form.getByLabel('B · Marriage certificates').fill('');

  // An overlap is refused before anything is sent.
  await form.getByLabel('Monday period 1 closes').fill('13:30');
  await form.getByRole('button', { name: 'Save hours and the office day' }).click();
  await waitFor(staff, 'overlap refused', () => /Monday, period 2: it must open after the previous period closes/.test(document.querySelector('#hours-error').textContent));
  assert.equal(sent.length, 0);
  await form.getByLabel('Monday period 1 closes').fill('12:00');

  // The server's own refusal shows in the form: a timezone it does not know.
  await form.getByLabel('Timezone').fill('Asia/Atlantis');
  await form.getByRole('button', { name: 'Save hours and the office day' }).click();
  await waitFor(staff, 'the 400 shown', () => /^That was not accepted: .*timezone/i.test(document.querySelector('#hours-error').textContent));
  assert.equal(sent.length, 1);
  assert.equal((await api('GET', `institutions/${inst.id}`)).timezone, 'UTC', 'a refused PATCH changed the office');
  await form.getByLabel('Timezone').fill('Asia/Manila');

  await form.getByRole('button', { name: 'Save hours and the office day' }).click();
  await waitFor(staff, 'saved', () => /Saved: the office opens and closes by itself/.test(document.querySelector('#hours-ok').textContent));
  assert.equal(await staff.locator('#hours-error').isHidden(), true);
  const day = [['08:00', '12:00'], ['13:00', '17:00']];
  const want = {
    timezone: 'Asia/Manila',
    hours: { mon: day, tue: day, wed: [...day, ['18:00', '20:30']], thu: day, fri: [['08:00', '12:00'], ['13:00', '16:00']], sat: [['08:00', '12:00']], sun: [] },
    closed_dates: ['2026-12-24', '2026-12-25'],
    join_cutoff_minutes: 30,
    at_close: 'carry_over',
    prequeue_minutes: 45,
  };
  assert.deepEqual(sent[1], want);
  // The real server kept what was sent: GET answers the same values
  // (a day without periods may come back absent or empty).
  const after = await api('GET', `institutions/${inst.id}`);
  const { hours: gotHours, ...gotRest } = Object.fromEntries(Object.keys(want).map((k) => [k, after[k]]));
  const { hours: wantHours, ...wantRest } = want;
  assert.deepEqual(gotRest, wantRest);
  for (const [d, periods] of Object.entries(wantHours)) assert.deepEqual(gotHours[d] || [], periods, `hours.${d}`);
  assert.deepEqual(after.services.map((s) => [s.code, s.daily_quota]), [['A', 120], ['B', null]]);
  // The form shows what was saved.
  assert.equal(await form.getByLabel('Wednesday period 3 closes').inputValue(), '20:30');
  assert.equal(await form.getByLabel('At the last closing of the day').inputValue(), 'carry_over');

  // Off again: hours null, and a pre-queue without hours is refused.
  await form.getByLabel('Open and close by itself on a weekly schedule').uncheck();
  await form.getByRole('button', { name: 'Save hours and the office day' }).click();
  await waitFor(staff, 'pre-queue needs hours', () => /needs a weekly schedule/.test(document.querySelector('#hours-error').textContent));
  await form.getByLabel(/Take numbers before opening/).fill('0');
  await form.getByRole('button', { name: 'Save hours and the office day' }).click();
  await waitFor(staff, 'saved without hours', () => /no weekly schedule/.test(document.querySelector('#hours-ok').textContent));
  assert.equal(sent.length, 3);
  assert.equal(sent[2].hours, null);
  assert.equal(sent[2].prequeue_minutes, 0);
  const off = await api('GET', `institutions/${inst.id}`);
  assert.deepEqual([off.hours, off.prequeue_minutes], [null, 0]);

  // Second-precision hours set elsewhere (the admin API) show with their
  // seconds, and a save sends them back unchanged.
  const precise = { sun: [['08:00:30', '12:00:45']], mon: [['08:00', '12:00']] };
  await api('PATCH', `institutions/${inst.id}`, { hours: precise });
  await waitFor(staff, 'the form follows the office', () => document.querySelector('#hours-form [aria-label="Sunday period 1 opens"]') !== null, null, 10000);
  assert.equal(await form.getByLabel('Sunday period 1 opens').inputValue(), '08:00:30');
  assert.equal(await form.getByLabel('Sunday period 1 closes').inputValue(), '12:00:45');
  assert.equal(await form.getByLabel('Monday period 1 opens').inputValue(), '08:00');
  await form.getByRole('button', { name: 'Save hours and the office day' }).click();
  await waitFor(staff, 'saved with seconds', () => /Saved: the office opens/.test(document.querySelector('#hours-ok').textContent));
  assert.deepEqual(sent[3].hours.sun, [['08:00:30', '12:00:45']]);
  const back = await api('GET', `institutions/${inst.id}`);
  assert.deepEqual([back.hours.sun, back.hours.mon], [precise.sun, precise.mon]);
});
