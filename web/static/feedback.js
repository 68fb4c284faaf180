// Feedback after service (shared/API.md v1.1 "Feedback"; the questions are
// docs/FEEDBACK.md's SQD0..SQD8 of the government's Client Satisfaction
// Measurement form). Once a ticket is served, the phone page asks, once:
// a rating, the nine statements (each agree..disagree or N/A) and a
// comment. The phone page wires it with one call from its render():
//
//   import { offerFeedback } from './feedback.js';
//   offerFeedback(document.getElementById('t-feedback'), ticket);

import { api, ApiError, errorText } from './api.js';
import { el, say } from './format.js';

/** WINDOW_MS is how long after being served feedback is taken (24 h). */
const WINDOW_MS = 24 * 60 * 60 * 1000;

/** QUESTIONS are the CSM form's Service Quality Dimensions, on-site wording. */
export const QUESTIONS = [
  ['SQD0', 'I am satisfied with the service that I availed.'],
  ['SQD1', 'I spent a reasonable amount of time for my transaction.'],
  ['SQD2', "The office followed the transaction's requirements and steps based on the information provided."],
  ['SQD3', 'The steps (including payment) I needed to do for my transaction were easy and simple.'],
  ['SQD4', 'I easily found information about my transaction from the office or its website.'],
  ['SQD5', 'I paid a reasonable amount of fees for my transaction. (If the service was free, choose N/A.)'],
  ['SQD6', 'I feel the office was fair to everyone, or "walang palakasan", during my transaction.'],
  ['SQD7', 'I was treated courteously by the staff, and (if asked for help) the staff was helpful.'],
  ['SQD8', 'I got what I needed from the government office, or (if denied) denial of request was sufficiently explained to me.'],
];

// The answer scale: what each button shows, and what it says to a screen
// reader.
const SCALE = [
  ['5', '5', 'Strongly agree'],
  ['4', '4', 'Agree'],
  ['3', '3', 'Neither agree nor disagree'],
  ['2', '2', 'Disagree'],
  ['1', '1', 'Strongly disagree'],
  ['', 'N/A', 'Not applicable'],
];

const STARS = ['Very poor', 'Poor', 'Fair', 'Good', 'Excellent'];

let shownFor = ''; // the ticket whose feedback section is built

/**
 * offerFeedback shows, in section, the feedback form of a served ticket
 * (or the thanks for feedback already given), and hides section for any
 * other ticket. It builds once per ticket: calling it on every render is
 * fine.
 */
export function offerFeedback(section, ticket) {
  if (!section) return;
  const servedAt = ticket && ticket.status === 'served' && ticket.completed_at ? Date.parse(ticket.completed_at) : NaN;
  if (!Number.isFinite(servedAt) || Date.now() - servedAt > WINDOW_MS) {
    if (!ticket || shownFor !== ticket.id) section.hidden = true;
    return;
  }
  if (shownFor === ticket.id) return;
  shownFor = ticket.id;
  section.replaceChildren();
  api('GET', `tickets/${encodeURIComponent(ticket.id)}/feedback`)
    .then((given) => thanks(section, given))
    .catch((err) => {
      if (err instanceof ApiError && err.status === 404) form(section, ticket);
      else shownFor = ''; // try again at the next render
    });
}

function thanks(section, given) {
  section.replaceChildren(
    el('h2', { id: 'fb-title', tabindex: '-1', text: 'Thank you for your feedback' }),
    el('p', { class: 'muted', text: `You rated this visit ${given.rating} of 5. It helps the office serve everyone better.` }),
  );
  section.hidden = false;
}

function radios(name, options, legend, { required = false, hint } = {}) {
  const fs = el('fieldset', { class: `fb-scale fb-${name}` }, el('legend', { text: legend }));
  if (hint) fs.append(el('p', { class: 'hint', text: hint }));
  const row = el('div', { class: 'fb-options' });
  for (const [value, label, spoken] of options) {
    const input = el('input', { type: 'radio', name, value, required: required || null, checked: !required && value === '', 'aria-label': spoken || null });
    row.append(el('label', { class: 'fb-option', title: spoken || null }, input, el('span', { text: label, 'aria-hidden': spoken ? 'true' : null })));
  }
  fs.append(row);
  return fs;
}

function form(section, ticket) {
  const err = el('p', { class: 'error', role: 'alert', hidden: true });
  const comment = el('textarea', { id: 'fb-comment', name: 'comment', maxlength: '500', rows: '3' });
  const submit = el('button', { class: 'primary big', type: 'submit', text: 'Send feedback' });
  const f = el(
    'form',
    { id: 'fb-form', novalidate: true },
    radios('rating', STARS.map((s, i) => [String(i + 1), `${i + 1} – ${s}`]).reverse(), 'How was your visit overall?', { required: true }),
    el('p', { class: 'hint fb-key', text: 'How much do you agree with each statement? 5 strongly agree, 4 agree, 3 neither, 2 disagree, 1 strongly disagree; N/A where it does not apply.' }),
    ...QUESTIONS.map(([key, statement]) => radios(key, SCALE, statement)),
    el('label', { for: 'fb-comment', text: 'Anything else? ' }, el('span', { class: 'optional', text: '(optional, up to 500 characters)' })),
    comment,
    err,
    submit,
  );
  f.addEventListener('change', (e) => {
    if (e.target.name === 'rating') say(err, '');
  });
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(f);
    const rating = Number(data.get('rating'));
    if (!rating) {
      say(err, 'Please choose an overall rating from 1 to 5.');
      f.querySelector('input[name="rating"]').focus();
      return;
    }
    const answers = {};
    for (const [key] of QUESTIONS) {
      const v = data.get(key);
      answers[key] = v ? Number(v) : null;
    }
    submit.disabled = true;
    say(err, '');
    try {
      const given = await api('POST', `tickets/${encodeURIComponent(ticket.id)}/feedback`, {
        body: { rating, answers, comment: comment.value.trim() },
      });
      thanks(section, given);
      section.querySelector('#fb-title')?.focus();
    } catch (e2) {
      submit.disabled = false;
      say(err, errorText(e2, { what: 'ticket', invalidState: `Your feedback could not be taken: ${e2.message}` }));
    }
  });
  section.replaceChildren(
    el('h2', { id: 'fb-title', text: 'How did we do?' }),
    el('p', { class: 'muted', text: 'It takes a minute and helps the office serve everyone better. You can answer once, within a day of your visit.' }),
    f,
  );
  section.hidden = false;
}
