// The phone page's "Texts and alerts" box: the state of the ticket's texts
// (GET /api/v1/tickets/{id}/texts), the verification code form
// (POST .../verify-phone), and the web push opt-in (push.js). phone.js
// calls attachNotify(ticketId) when the ticket view opens; the returned
// function detaches it.
import { api, ApiError, errorText } from './api.js';
import { offerPush } from './push.js';
import { say } from './format.js';

const $ = (id) => document.getElementById(id);

/** textSentence says a ticket's text state in words; "" for none. */
export function textSentence(state) {
  switch (state) {
    case 'not_verified':
      return 'Not verified: we texted you a 6-digit code. Enter it to get texts when your turn is near.';
    case 'verified':
      return "Texts on: we'll text you when your turn is near and when you're called.";
    case 'pending':
      return 'Sending you a text…';
    case 'sent':
      return 'Text sent to your phone.';
    case 'failed':
      return 'Text failed: we could not reach your phone. Keep this page open.';
    case 'suppressed':
      return 'Text not sent: its moment had passed.';
    case 'opted_out':
      return 'Texts off: you replied STOP. Reply START to turn them back on.';
    default:
      return '';
  }
}

/** attachNotify wires the box to ticketId; it returns a detach function. */
export function attachNotify(ticketId) {
  const box = $('t-notify');
  const form = $('n-verify');
  const state = $('n-text-state');
  const pushButton = $('n-push');
  if (!box) return () => {};
  let stopped = false;
  let timer = null;
  let last = null;

  const render = (s) => {
    last = s;
    const sentence = textSentence(s.state);
    box.dataset.text = s.state;
    if (state.textContent !== sentence) state.textContent = sentence;
    state.hidden = sentence === '';
    form.hidden = s.state !== 'not_verified';
    box.hidden = state.hidden && pushButton.hidden;
  };
  const refresh = async () => {
    if (stopped) return;
    try {
      render(await api('GET', `tickets/${encodeURIComponent(ticketId)}/texts`, { timeout: 5000 }));
    } catch {
      // The ticket view says when the server is away; the box keeps its last state.
    }
    if (!stopped) timer = setTimeout(refresh, last && last.state === 'none' ? 30000 : 4000);
  };

  const submit = async (e) => {
    e.preventDefault();
    const code = $('n-code').value.trim();
    say($('n-verify-error'), '');
    if (!/^[0-9]{6}$/.test(code)) {
      say($('n-verify-error'), 'The code is the 6 digits of the text we sent.');
      return;
    }
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      await api('POST', `tickets/${encodeURIComponent(ticketId)}/verify-phone`, { body: { code } });
      $('n-code').value = '';
      render({ ...(last || {}), state: 'verified' });
    } catch (err) {
      let text = errorText(err, { what: 'ticket' });
      if (err instanceof ApiError && err.code === 'invalid_request') text = 'That code is not right. Check the text and try again.';
      if (err instanceof ApiError && err.code === 'invalid_state') text = 'This code can no longer be used (10 minutes, 5 tries). Get a new number to get a new code.';
      say($('n-verify-error'), text);
    } finally {
      button.disabled = false;
    }
  };
  form.addEventListener('submit', submit);
  const detachPush = offerPush(pushButton, ticketId, { onMessage: (text) => say($('n-push-msg'), text) });
  box.hidden = pushButton.hidden;
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
    form.removeEventListener('submit', submit);
    detachPush();
  };
}
