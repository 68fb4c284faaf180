// The fairness log page (/calls/{id}): every call an office made on a
// day, oldest first, with the reason in plain words, from the contract's
// public GET .../calls (labels, counters and reasons; never a phone number
// or a ticket id). Today's log follows the office live: each call made
// while the page is open is added at the end.

import { api, errorText } from './api.js';
import { Live } from './live.js';
import { el, say, officeTime, retime, officeDate, counterName, sortedServices } from './format.js';
import { REASONS, reasonText, summarize } from './reasons.js';

const PAGE = 100;
const $ = (id) => document.getElementById(id);
const id = Number(location.pathname.split('/').filter(Boolean).pop());

let office = null;
let picked = ''; // the day chosen, YYYY-MM-DD; '' is the office's today
let next = null; // next_after of the last page read
let lastID = 0;
let items = [];
let live = null;
let loading = false;
let again = false;

function serviceName(code) {
  const s = office && sortedServices(office).find((x) => x.code === code);
  return s && sortedServices(office).length > 1 ? s.name : '';
}

function row(c) {
  const r = reasonText(c.reason);
  return el(
    'li',
    { class: `f-call ${r.kind}`, dataset: { reason: r.kind } },
    officeTime(c.called_at, office, false, { class: 'f-time' }),
    el('span', { class: 'f-label', text: c.label }),
    el(
      'span',
      { class: 'f-what' },
      el('span', { class: 'f-why', text: r.text }),
      el('span', { class: 'f-where', text: [counterName(c.counter), serviceName(c.service)].filter(Boolean).join(' · ') }),
    ),
  );
}

function render(added) {
  const list = $('f-calls');
  if (!items.length) {
    list.replaceChildren(el('li', { class: 'empty', text: picked ? 'No numbers were called on this day.' : 'No numbers called yet today.' }));
  } else {
    if (list.querySelector('.empty')) list.replaceChildren();
    list.append(...added.map(row));
  }
  $('f-summary').textContent = summarize(items);
  $('f-more').hidden = next == null;
}

async function load(reset) {
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  try {
    if (reset) {
      items = [];
      lastID = 0;
      next = null;
      $('f-calls').replaceChildren();
    }
    const q = new URLSearchParams({ limit: String(PAGE), after: String(lastID) });
    if (picked) q.set('date', picked);
    const page = await api('GET', `institutions/${id}/calls?${q}`);
    const added = page.items || [];
    items.push(...added);
    if (added.length) lastID = added[added.length - 1].id;
    next = page.next_after;
    say($('f-error'), '');
    render(added);
  } catch (err) {
    say($('f-error'), errorText(err, { what: 'office' }));
  } finally {
    loading = false;
    if (again) {
      again = false;
      load(false);
    }
  }
}

// knowOffice takes the office's state. Its times and its "today" are the
// office's (its timezone), not this device's: the calls drawn before the
// office was known, and the date shown, follow it.
function knowOffice(i) {
  const zoneChanged = !office || office.timezone !== i.timezone;
  office = i;
  $('f-office').textContent = office.name;
  if (!zoneChanged) return;
  retime($('f-calls'), office);
  if (!picked) $('f-date').value = officeDate(new Date(), office);
}

function follow() {
  live = new Live(`institutions/${id}/live`, {
    frame: (f) => {
      if (f.type === 'snapshot' || f.type === 'update') {
        knowOffice(f.institution);
        document.title = `${office.name} – how calls were made`;
      }
      // A new call of today: read the log past the last one shown.
      if ((f.type === 'call' || f.type === 'snapshot') && !picked && next == null) load(false);
    },
    state: (s) => say($('conn'), s === 'live' ? '' : s === 'connecting' ? 'Connecting…' : 'Reconnecting…'),
  });
  live.start();
}

function start() {
  $('f-reasons').replaceChildren(
    ...REASONS.flatMap(([, kind, words, meaning]) => [el('dt', { class: kind, text: words }), el('dd', { text: meaning })]),
  );
  if (!Number.isInteger(id) || id <= 0) {
    say($('f-error'), 'This page has no office number in its address, like /calls/1.');
    return;
  }
  api('GET', `institutions/${id}`)
    .then((i) => {
      if (!office) knowOffice(i);
      render([]);
    })
    .catch((err) => say($('f-error'), errorText(err, { what: 'office' })));
  // Today first, in the office's own day: the server picks it.
  $('f-date').value = officeDate(new Date(), office);
  load(true);
  $('f-date').addEventListener('change', () => {
    if (!$('f-date').value) return;
    picked = $('f-date').value === officeDate(new Date(), office) ? '' : $('f-date').value;
    $('f-title').textContent = picked ? `How calls were made on ${picked}` : 'How calls were made today';
    load(true);
  });
  $('f-more').addEventListener('click', () => load(false));
  follow();
}

start();
