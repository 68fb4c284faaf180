// screenshots.mjs writes the README's pictures of the pages to
// QL_SCREENSHOTS, from a made-up morning at a civil registry office with
// three services, four counters and a priority lane. Run it with:
// go test ./web -run TestBrowser -screenshots
// (on a fresh database, before the tests add their own offices).

import { mkdirSync } from 'node:fs';
import { BASE, PHONE, ADMIN, api, launch, live, waitFor, joinFromPhone, signIn, setUpLines, stubSpeech } from './helpers.mjs';
import { officeDayShots } from './office-day-shots.mjs';

const out = process.env.QL_SCREENSHOTS;
if (!out) throw new Error('QL_SCREENSHOTS is not set');
mkdirSync(out, { recursive: true });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function makeOffice(name, kind, address, status = 'open') {
  return api('POST', 'institutions', { name, kind, address, status });
}

async function join(id, phone, more = {}) {
  return api('POST', `institutions/${id}/tickets`, phone ? { phone, ...more } : more);
}

const registry = await makeOffice('Civil Registry Office', 'government', 'Quezon City Hall, Elliptical Road');
const bank = await makeOffice('Land Bank – Makati Branch', 'bank', 'Ayala Avenue, Makati City');
const hospital = await makeOffice('Philippine General Hospital – OPD', 'health', 'Taft Avenue, Ermita, Manila');
await makeOffice('Maynilad Business Center', 'utility', 'Quezon Avenue, Quezon City', 'paused');

await setUpLines(
  registry.id,
  [
    { code: 'A', name: 'Certificates' },
    { code: 'B', name: 'Registrations' },
    { code: 'C', name: 'Corrections', status: 'paused' },
  ],
  [
    { name: '1', services: ['A'] },
    { name: '2', services: ['A'] },
    { name: '3', services: ['B', 'C'] },
    { name: '4', services: ['A', 'B', 'C'] },
  ],
);
// The hall display is on from the start: it hears every call as it is made.
const browser = await launch();
const tvCtx = await browser.newContext({ viewport: { width: 1600, height: 900 } });
await stubSpeech(tvCtx, 400);
const tv = await tvCtx.newPage();
await tv.goto(`${BASE}/board/${registry.id}`);
await live(tv);

// Some people give a mobile number, some do not; a few are in the priority lane.
const phone = (i) => (i % 3 === 1 ? null : `09${17 + (i % 4)}${String(3141592 + i * 7919).padStart(7, '0')}`);
const tickets = [];
for (let i = 0; i < 16; i++) {
  const more = { service: i % 3 === 2 ? 'B' : 'A' };
  if (i === 9) more.priority = 'senior';
  if (i === 12) more.priority = 'pwd';
  tickets.push(await join(registry.id, phone(i), more));
}
for (let i = 0; i < 6; i++) await join(hospital.id);
for (let i = 0; i < 3; i++) await join(bank.id);
// Calls a little apart, so that the estimates have a pace to go by.
for (const counter of ['1', '3', '2', '4', '1', '3', '3']) {
  await api('POST', `institutions/${registry.id}/advance`, { counter });
  await sleep(400);
}
await api('POST', `institutions/${hospital.id}/advance`, { counter: 'B', count: 2 });
await api('POST', `tickets/${tickets[1].id}/check-in`);
await api('POST', `tickets/${tickets[2].id}/check-in`);
const staffToken = (await api('POST', 'tokens', { name: 'Registry desk', role: 'staff', institution_ids: [registry.id] })).token;

try {
  // The phone: choosing an office.
  const phoneCtx = await browser.newContext({ ...PHONE, deviceScaleFactor: 2 });
  const phone = await phoneCtx.newPage();
  await phone.goto(`${BASE}/`);
  await phone.locator('#institutions li').nth(3).waitFor();
  await phone.screenshot({ path: `${out}/phone-offices.png` });

  // The phone: choosing a service and the priority lane.
  await phone.getByRole('button', { name: /Civil Registry Office/ }).click();
  await phone.getByRole('radio', { name: /Registrations/ }).check();
  await phone.getByRole('radio', { name: 'Senior citizen' }).check();
  await phone.getByLabel(/Mobile number/).fill('09175550199');
  await phone.screenshot({ path: `${out}/phone-join.png`, fullPage: true });

  // The phone: in line, with an announcement.
  await phone.getByRole('button', { name: 'Get my number' }).click();
  await phone.locator('#ticket').waitFor({ state: 'visible' });
  await live(phone);
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
  await staff.getByRole('textbox', { name: 'Counter' }).fill('3');
  await staff.getByRole('textbox', { name: 'Counter' }).blur();
  await waitFor(staff, 'lists loaded', () => document.querySelectorAll('#waiting tr').length > 3 && document.querySelectorAll('#events li').length > 5);
  await staff.getByLabel('Service', { exact: true }).selectOption('A');
  await staff.getByLabel('Priority lane', { exact: true }).selectOption('pregnant');
  await staff.getByRole('button', { name: 'Give a number' }).click();
  await waitFor(staff, 'walk-in given', () => !document.querySelector('#walkin-result').hidden);
  await sleep(300);
  await staff.screenshot({ path: `${out}/staff.png`, fullPage: true });

  // The walk-in's slip, as Chromium prints it: an 80 mm receipt and A4.
  const slipURL = await staff.locator('#walkin-slip').getAttribute('href');
  for (const [name, width] of [
    ['slip-80mm', 302],
    ['slip-a4', 794],
  ]) {
    const ctx = await browser.newContext({ viewport: { width, height: 560 }, deviceScaleFactor: 2 });
    const slip = await ctx.newPage();
    await slip.emulateMedia({ media: 'print' });
    await slip.goto(slipURL);
    await slip.screenshot({ path: `${out}/${name}.png`, fullPage: true });
    await ctx.close();
  }

  // The admin's setup of services and counters.
  const adminCtx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const admin = await adminCtx.newPage();
  await signIn(admin, ADMIN, registry.id);
  await admin.locator('#setup summary').click();
  await admin.locator('#setup').screenshot({ path: `${out}/staff-setup.png` });

  // The hall display, speaking the calls.
  await tv.getByRole('switch', { name: /speak/i }).click();
  for (const counter of ['2', '4', '1']) {
    await api('POST', `institutions/${registry.id}/advance`, { counter });
    await sleep(300);
  }
  await api('POST', `institutions/${registry.id}/announcements`, {
    message: 'Counter 2 closes at noon. Please have a valid ID and your reference number ready.',
  });
  await waitFor(tv, 'announcement shown', () => !document.querySelector('#announcement').hidden);
  await sleep(3500);
  await tv.screenshot({ path: `${out}/board.png` });

  // The office day: missed turns, the fairness log, transfer, hours, the pre-queue.
  await officeDayShots({ browser, out, registry, bank, staff, admin, tv });
} finally {
  await browser.close();
}
console.log(`screenshots written to ${out}`);
