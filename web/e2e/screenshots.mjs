// screenshots.mjs writes the README's pictures of the three pages to
// QL_SCREENSHOTS, from a made-up morning at a civil registry office. Run it
// with: go test ./web -run TestBrowser -screenshots
// (on a fresh database, before the tests add their own offices).

import { mkdirSync } from 'node:fs';
import { BASE, PHONE, api, launch, live, waitFor, joinFromPhone, signIn } from './helpers.mjs';

const out = process.env.QL_SCREENSHOTS;
if (!out) throw new Error('QL_SCREENSHOTS is not set');
mkdirSync(out, { recursive: true });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function makeOffice(name, kind, address, status = 'open') {
  return api('POST', 'institutions', { name, kind, address, status });
}

async function join(id, phone) {
  return api('POST', `institutions/${id}/tickets`, phone ? { phone } : {});
}

const registry = await makeOffice('Civil Registry Office', 'government', 'Quezon City Hall, Elliptical Road');
const bank = await makeOffice('Land Bank – Makati Branch', 'bank', 'Ayala Avenue, Makati City');
const hospital = await makeOffice('Philippine General Hospital – OPD', 'health', 'Taft Avenue, Ermita, Manila');
await makeOffice('Maynilad Business Center', 'utility', 'Quezon Avenue, Quezon City', 'paused');

// Some people give a mobile number, some do not.
const phone = (i) => (i % 3 === 1 ? null : `09${17 + (i % 4)}${String(3141592 + i * 7919).padStart(7, '0')}`);
const tickets = [];
for (let i = 0; i < 14; i++) tickets.push(await join(registry.id, phone(i)));
for (let i = 0; i < 6; i++) await join(hospital.id);
for (let i = 0; i < 3; i++) await join(bank.id);
// Calls a little apart, so that the estimates have a pace to go by.
for (const counter of ['1', '3', '2', '4', '1']) {
  await api('POST', `institutions/${registry.id}/advance`, { counter });
  await sleep(400);
}
await api('POST', `institutions/${hospital.id}/advance`, { counter: 'B', count: 2 });
await api('POST', `tickets/${tickets[1].id}/check-in`);
await api('POST', `tickets/${tickets[2].id}/check-in`);
const staffToken = (await api('POST', 'tokens', { name: 'Registry desk', role: 'staff', institution_ids: [registry.id] })).token;

const browser = await launch();
try {
  // The phone: choosing an office.
  const phoneCtx = await browser.newContext({ ...PHONE, deviceScaleFactor: 2 });
  const phone = await phoneCtx.newPage();
  await phone.goto(`${BASE}/`);
  await phone.locator('#institutions li').nth(3).waitFor();
  await phone.screenshot({ path: `${out}/phone-offices.png` });

  // The phone: in line, with an announcement.
  await joinFromPhone(phone, 'Civil Registry Office', '09175550199');
  await api('POST', `institutions/${registry.id}/announcements`, {
    message: 'Counter 2 closes at noon. Please have a valid ID and your reference number ready.',
  });
  await waitFor(phone, 'announcement shown', () => document.querySelector('#t-announcements li') !== null);
  await sleep(2600); // past the highlight
  await phone.screenshot({ path: `${out}/phone-waiting.png` });

  // Another phone: it's its turn.
  const turnCtx = await browser.newContext({ ...PHONE, deviceScaleFactor: 2 });
  const turn = await turnCtx.newPage();
  await joinFromPhone(turn, 'Land Bank', '09221230000');
  await api('POST', `institutions/${bank.id}/advance`, { counter: '2', count: 3 });
  await api('POST', `institutions/${bank.id}/advance`, { counter: '4' });
  await waitFor(turn, 'turn shown', () => !document.querySelector('#t-turn').hidden);
  await sleep(4000); // past the pulse
  await turn.screenshot({ path: `${out}/phone-turn.png` });

  // The staff console.
  const staffCtx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const staff = await staffCtx.newPage();
  await signIn(staff, staffToken, registry.id);
  await staff.getByRole('textbox', { name: 'Counter' }).fill('2');
  await staff.getByRole('textbox', { name: 'Counter' }).blur();
  await waitFor(staff, 'lists loaded', () => document.querySelectorAll('#waiting tr').length > 3 && document.querySelectorAll('#events li').length > 5);
  await staff.screenshot({ path: `${out}/staff.png`, fullPage: true });

  // The hall display.
  const tvCtx = await browser.newContext({ viewport: { width: 1600, height: 900 } });
  const tv = await tvCtx.newPage();
  await tv.goto(`${BASE}/board/${registry.id}`);
  await live(tv);
  await api('POST', `institutions/${registry.id}/announcements`, {
    message: 'Counter 2 closes at noon. Please have a valid ID and your reference number ready.',
  });
  await waitFor(tv, 'announcement shown', () => !document.querySelector('#announcement').hidden);
  await sleep(3500);
  await tv.screenshot({ path: `${out}/board.png` });
} finally {
  await browser.close();
}
console.log(`screenshots written to ${out}`);
