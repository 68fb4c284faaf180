// The fairness log page (/calls/{id}): every call an office made on a
// day, oldest first, with the reason in plain words, from the contract's
// public GET .../calls (labels, counters and reasons; never a phone number
// or a ticket id). Today's log follows the office live: each call made
// while the page is open is added at the end.

import { api, errorText } from './api.js';
import { Live } from './live.js';
import { el, say, clock, counterName, sortedServices } from './format.js';
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
    el('time', { class: 'f-time', datetime: c.called_at, text: clock(c.called_at) }),
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

// localDate is the day a time falls on, as the date input shows days.
function localDate(t) {
  if (!t) return '';
  const d = new Date(t);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function follow() {
  live = new Live(`institutions/${id}/live`, {
    frame: (f) => {
      if (f.type === 'snapshot' || f.type === 'update') {
        office = f.institution;
        $('f-office').textContent = office.name;
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
      office = office || i;
      $('f-office').textContent = i.name;
      render([]);
    })
    .catch((err) => say($('f-error'), errorText(err, { what: 'office' })));
  // Today first, in the office's own day: the server picks it.
  $('f-date').value = localDate(new Date());
  load(true);
  $('f-date').addEventListener('change', () => {
    if (!$('f-date').value) return;
    picked = $('f-date').value === localDate(new Date()) ? '' : $('f-date').value;
    $('f-title').textContent = picked ? `How calls were made on ${picked}` : 'How calls were made today';
    load(true);
  });
  $('f-more').addEventListener('click', () => load(false));
  follow();
}

start();
