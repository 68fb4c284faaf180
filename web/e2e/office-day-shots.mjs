// The README's pictures of the office day (issue 12), taken by
// screenshots.mjs after its own: a phone that missed its turn, the
// fairness log, the staff console's missed turns and transfer, the hours
// editor, the board with the day's missed numbers, and a real office in
// its pre-queue window: the board's notice (and clock, in the office's
// time), the phone's office list saying so, and a phone's held number.

import { BASE, PHONE, TV, api, control, live, waitFor, joinFromPhone } from './helpers.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// missTurn calls the next ticket through the 2 s grace server and waits
// for it to expire; it returns that ticket.
async function missTurn(quick, instId, counter) {
  const res = await api('POST', `institutions/${instId}/advance`, { counter }, { base: quick });
  const called = res.called[0];
  for (const deadline = Date.now() + 20000; ; await sleep(100)) {
    const t = await api('GET', `tickets/${called.id}`);
    if (t.status === 'expired') return t;
    if (Date.now() > deadline) throw new Error(`ticket ${t.label} did not expire`);
  }
}

export async function officeDayShots({ browser, out, registry, bank, staff, admin, tv }) {
  const quick = (await control('start', 'quick')).url;
  try {
    // A phone at the bank misses its call.
    const ctx = await browser.newContext({ ...PHONE, deviceScaleFactor: 2 });
    const phone = await ctx.newPage();
    await joinFromPhone(phone, 'Land Bank', '09171237788');
    for (let i = 0; i < 4; i++) await api('POST', `institutions/${bank.id}/tickets`, {});
    const mine = JSON.parse(await phone.evaluate(() => localStorage.getItem('queueless.ticket')));
    const gone = await missTurn(quick, bank.id, '2');
    if (gone.id !== mine.id) throw new Error(`called ${gone.label}, not the phone's ticket`);
    await waitFor(phone, 'offer shown', () => document.querySelector('#t-requeue')?.offsetParent !== null, null, 10000);
    await phone.screenshot({ path: `${out}/phone-missed.png`, fullPage: true });

    // Put back, then "let people go ahead" opened.
    await phone.getByRole('button', { name: 'I missed my turn, put me back' }).click();
    await waitFor(phone, 'back in line', () => ['waiting', 'notified'].includes(document.querySelector('#t-card').dataset.status));
    await phone.getByText('Not ready yet? Let people go ahead of me').click();
    await sleep(300);
    await phone.screenshot({ path: `${out}/phone-back-in-line.png`, fullPage: true });

    // The registry's day: a call out of turn, a requeue, then calls in order.
    const waiting = (await api('GET', `institutions/${registry.id}/tickets?status=waiting,notified&limit=100`)).items;
    await api('POST', `tickets/${waiting[waiting.length - 1].id}/call`, { counter: '4', reason: 'appointment' });
    const missed = await missTurn(quick, registry.id, '2');
    await api('POST', `tickets/${missed.id}/requeue`);
    for (const counter of ['1', '3', '2', '4']) {
      await api('POST', `institutions/${registry.id}/advance`, { counter });
      await sleep(200);
    }
    const log = await phone.context().newPage();
    await log.goto(`${BASE}/calls/${registry.id}`);
    await live(log);
    await waitFor(log, 'calls listed', () => document.querySelectorAll('#f-calls li.f-call').length > 8);
    await log.screenshot({ path: `${out}/fairness-log.png`, fullPage: true });

    // Another registry ticket misses its turn: the staff console lists it; transfer one.
    await missTurn(quick, registry.id, '1');
    await waitFor(staff, 'missed listed', () => document.querySelector('#missed li[data-label]') !== null);
    await waitFor(tv, 'board lists missed', () => !document.querySelector('#missed').hidden);
    await sleep(3500);
    await tv.screenshot({ path: `${out}/board-missed.png` });
    const row = staff.locator('#waiting tr').nth(1);
    await row.getByRole('button', { name: /^Transfer / }).click();
    await staff.locator('#transfer-dialog').waitFor({ state: 'visible' });
    await staff.locator('#transfer-dialog').getByLabel(/By the time they first joined/).check();
    await sleep(300);
    await staff.screenshot({ path: `${out}/staff-transfer.png` });
    await staff.locator('#transfer-dialog').getByRole('button', { name: 'Transfer', exact: true }).click();
    await waitFor(staff, 'transferred', () => /moved to/.test(document.querySelector('#console-ok').textContent));
    await staff.locator('#missed-card').scrollIntoViewIfNeeded();
    await sleep(300);
    await staff.locator('#missed-card').screenshot({ path: `${out}/staff-missed.png` });

    // The hours editor, filled in (not saved).
    await admin.locator('#setup summary').click(); // close the setup card
    await admin.getByText('Opening hours and the office day').click();
    const form = admin.locator('#hours-form');
    await form.getByLabel('Open and close by itself on a weekly schedule').check();
    await form.getByLabel('Timezone').fill('Asia/Manila');
    await form.getByRole('button', { name: 'Add a period on Saturday' }).click();
    await form.getByLabel('Saturday period 1 closes').fill('12:00');
    await form.getByLabel('Closed date to add').fill('2026-12-25');
    await form.getByRole('button', { name: 'Add closed date' }).click();
    await form.getByLabel('Closed date to add').fill('2026-12-30');
    await form.getByRole('button', { name: 'Add closed date' }).click();
    await form.getByLabel(/minutes before closing/).fill('30');
    await form.getByLabel(/Take numbers before opening/).fill('30');
    await form.getByLabel(/^A · /).fill('200');
    await admin.locator('#hours').screenshot({ path: `${out}/staff-hours.png` });

    // A real office before opening, in its pre-queue window: the board's
    // notice, and a phone that joined holding a place in the draw.
    const immigration = await api('POST', 'institutions', { name: 'Bureau of Immigration', kind: 'government', address: 'Magallanes Drive, Intramuros, Manila', status: 'closed' });
    const p = Object.fromEntries(
      new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Manila', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
        .formatToParts(new Date(Date.now() + 20 * 60000))
        .map((x) => [x.type, x.value]),
    );
    await api('PATCH', `institutions/${immigration.id}`, {
      status: 'closed',
      timezone: 'Asia/Manila',
      hours: { [p.weekday.toLowerCase()]: [[`${p.hour}:${p.minute}`, '23:59']] },
      prequeue_minutes: 30,
    });
    for (let i = 0; i < 6; i++) await api('POST', `institutions/${immigration.id}/tickets`, {});
    const boardCtx = await browser.newContext({ viewport: { width: 1600, height: 900 } });
    const board = await boardCtx.newPage();
    await board.goto(`${BASE}/board/${immigration.id}`);
    await live(board);
    await waitFor(board, 'pre-queue notice', () => !document.querySelector('#prequeue').hidden);
    await board.screenshot({ path: `${out}/board-prequeue.png` });

    const heldCtx = await browser.newContext({ ...PHONE, deviceScaleFactor: 2 });
    const held = await heldCtx.newPage();
    // The phone's office list: "Pre-queue open, draw at …", not "Closed".
    await held.goto(`${BASE}/`);
    const badge = held.locator('button.inst .badge.prequeue');
    await badge.waitFor();
    await badge.scrollIntoViewIfNeeded();
    await sleep(300);
    await held.screenshot({ path: `${out}/phone-offices-prequeue.png` });
    await joinFromPhone(held, 'Bureau of Immigration');
    await waitFor(held, 'held view', () => !document.querySelector('#t-held').hidden);
    await sleep(300);
    await held.screenshot({ path: `${out}/phone-held.png`, fullPage: true });
  } finally {
    await control('stop', 'quick').catch(() => {});
  }
}
