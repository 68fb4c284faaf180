// Browser test of the texts' pages, in Debian's Chromium, against a real
// server whose SMS gateway is the mockapi's mock Twilio
// (web/notify_browser_test.go): the phone page's "Texts and alerts" box
// (not verified, a wrong code, the right one, text sent) and the staff
// console's text state beside each phone number.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, PHONE, DESK, launch, office, joinFromPhone, signIn, waitFor, text, api, shot, watchErrors } from './helpers.mjs';

const MOCK = process.env.QL_MOCK_URL;
const SHOTS = process.env.QL_SCREENSHOTS || '';
if (!MOCK) throw new Error('QL_MOCK_URL is not set: run with go test ./web -run TestBrowserTexts');

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function textsTo(e164) {
  const res = await fetch(`${MOCK}/admin/sms/messages?to=${encodeURIComponent(e164)}`);
  return (await res.json()).messages;
}

async function codeFor(e164) {
  for (let i = 0; i < 200; i++) {
    const m = (await textsTo(e164)).map((x) => /code is (\d{6})/.exec(x.body)).find(Boolean);
    if (m) return m[1];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no code texted to ${e164}`);
}

test('phone page: verify the number by its code, then see texts sent; the console shows each text state', async () => {
  const errors = [];
  const { inst, token } = await office('Registry of Deeds, Texts');
  const phoneCtx = await browser.newContext(PHONE);
  const phone = await phoneCtx.newPage();
  watchErrors(phone, errors);
  // Five ahead: the ticket starts waiting, and two calls make it near its
  // turn (threshold 3) once its number is verified.
  for (let i = 0; i < 5; i++) await api('POST', `institutions/${inst.id}/tickets`, {});
  await joinFromPhone(phone, 'Registry of Deeds, Texts', '09175550123');
  const other = await api('POST', `institutions/${inst.id}/tickets`, { phone: '09175550124' });

  await waitFor(phone, 'the box says not verified', () => document.getElementById('t-notify').dataset.text === 'not_verified', null, 15000);
  assert.match(await text(phone, '#n-text-state'), /Not verified/);
  assert.equal(await phone.locator('#n-verify').isVisible(), true);

  const code = await codeFor('+639175550123');
  const wrong = code === '000000' ? '111111' : '000000';
  await phone.getByLabel('Code from the text').fill(wrong);
  await phone.getByRole('button', { name: 'Confirm code' }).click();
  await waitFor(phone, 'a wrong code is refused', () => !document.getElementById('n-verify-error').hidden);
  assert.match(await text(phone, '#n-verify-error'), /not right/);
  if (SHOTS) await phone.screenshot({ path: `${SHOTS}/phone-texts-verify.png`, fullPage: true });

  await phone.getByLabel('Code from the text').fill(code);
  await phone.getByRole('button', { name: 'Confirm code' }).click();
  await waitFor(phone, 'the right code verifies', () => document.getElementById('t-notify').dataset.text === 'verified');
  assert.equal(await phone.locator('#n-verify').isVisible(), false);

  // Two calls: near turn, texted.
  await api('POST', `institutions/${inst.id}/advance`, { counter: '2', count: 2 }, { token });
  await waitFor(phone, 'the box says the text was sent', () => document.getElementById('t-notify').dataset.text === 'sent', null, 20000);
  assert.match(await text(phone, '#n-text-state'), /Text sent/);
  const texts = await textsTo('+639175550123');
  assert.ok(texts.some((m) => /near/.test(m.body)), `near-turn text among ${JSON.stringify(texts)}`);
  if (SHOTS) await phone.screenshot({ path: `${SHOTS}/phone-texts-sent.png`, fullPage: true });

  // The console: the verified number's text sent, the other not verified.
  const deskCtx = await browser.newContext(DESK);
  const desk = await deskCtx.newPage();
  watchErrors(desk, errors);
  await signIn(desk, token, inst.id);
  // The list is drawn again on every live change, and its text states
  // follow: wait for one drawing that has both.
  await waitFor(desk, 'text states in the waiting list', () => {
    const states = [...document.querySelectorAll('#waiting .text-state')].map((e) => e.textContent);
    return states.includes('text sent') && states.includes('not verified');
  }, null, 10000);
  await waitFor(desk, 'the other ticket not verified', (id) => {
    const tag = document.querySelector(`tr[data-id="${id}"] .text-state`);
    return tag && tag.dataset.state === 'not_verified';
  }, other.id, 10000);
  if (SHOTS) await desk.screenshot({ path: `${SHOTS}/staff-texts.png` });
  if (errors.length) await shot(phone, 'notify-errors');
  assert.deepEqual(errors, []);
  await phoneCtx.close();
  await deskCtx.close();
});
