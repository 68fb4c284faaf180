// Browser test of the phone page's feedback form (web/static/feedback.js),
// in Debian's Chromium against a real embedded server
// (web/feedback_browser_test.go): once the ticket is served the page asks
// for a rating, the nine SQD statements and a comment, once; what it sends
// is what the server stores; after that (and after a reload) it thanks.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { BASE, PHONE, launch, api, office, joinFromPhone, waitFor, watchErrors } from './helpers.mjs';

const SCREENSHOTS = process.env.QL_SCREENSHOTS || '';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a served ticket is asked for feedback once; the answers reach the server', async () => {
  const errors = [];
  const { inst, token } = await office('Philippine Statistics Authority – Quezon City');
  const ctx = await browser.newContext(PHONE);
  ctx.setDefaultTimeout(10000);
  const phone = await ctx.newPage();
  watchErrors(phone, errors);
  await joinFromPhone(phone, 'Philippine Statistics Authority');
  const id = await phone.evaluate(() => JSON.parse(localStorage.getItem('queueless.ticket') || '{}').id || location.pathname.split('/').pop());
  assert.equal(await phone.locator('#t-feedback').isHidden(), true, 'no feedback form while waiting');

  const ticketID = (await api('GET', `institutions/${inst.id}/tickets?status=waiting,notified`, undefined, { token })).items[0].id;
  await api('POST', `institutions/${inst.id}/advance`, { counter: '2' }, { token });
  await api('POST', `tickets/${ticketID}/check-in`, {});
  await waitFor(phone, 'still no form while being served', () => document.querySelector('#t-card').dataset.status === 'serving');
  assert.equal(await phone.locator('#t-feedback').isHidden(), true, 'no feedback form while being served');
  await api('POST', `institutions/${inst.id}/advance`, {}, { token });

  await waitFor(phone, 'the feedback form shows once served', () => !document.querySelector('#t-feedback').hidden && document.querySelector('#fb-form'));
  assert.equal(await phone.locator('#fb-form fieldset').count(), 10, 'a rating and nine SQD statements');
  // Sending without a rating is refused on the page.
  await phone.getByRole('button', { name: 'Send feedback' }).click();
  await waitFor(phone, 'asks for a rating', () => /overall rating/.test(document.querySelector('#fb-form .error').textContent));

  await phone.getByLabel('4 – Good').check();
  const pick = async (key, spoken) => phone.locator(`fieldset.fb-${key}`).getByRole('radio', { name: spoken, exact: true }).check();
  await pick('SQD0', 'Strongly agree');
  await pick('SQD1', 'Agree');
  await pick('SQD7', 'Disagree');
  assert.equal(await phone.locator('#fb-form .error').isHidden(), true, 'choosing a rating clears the error');
  await phone.getByLabel(/Anything else/).fill('Mabilis po ang serbisyo.');
  if (SCREENSHOTS) {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await phone.locator('#fb-title').evaluate((h) => h.scrollIntoView({ block: 'start' }));
    await phone.screenshot({ path: `${SCREENSHOTS}/phone-feedback.png` });
  }
  await phone.getByRole('button', { name: 'Send feedback' }).click();
  await waitFor(phone, 'thanks after sending', () => /Thank you for your feedback/.test(document.querySelector('#t-feedback').textContent));

  const stored = await api('GET', `tickets/${ticketID}/feedback`);
  assert.equal(stored.rating, 4);
  assert.equal(stored.comment, 'Mabilis po ang serbisyo.');
  assert.deepEqual(stored.answers, { SQD0: 5, SQD1: 4, SQD2: null, SQD3: null, SQD4: null, SQD5: null, SQD6: null, SQD7: 2, SQD8: null });

  // Once: after a reload the page thanks and offers no form.
  await phone.reload();
  await waitFor(phone, 'thanks after a reload', () => /You rated this visit 4 of 5/.test(document.querySelector('#t-feedback')?.textContent || ''));
  assert.equal(await phone.locator('#fb-form').count(), 0);
  assert.ok(id, 'the page kept its ticket');
  assert.deepEqual(errors, [], 'the page logged errors');
  await ctx.close();
});
