// The hall display board: the number being served and the last calls with
// their counters, in type big enough to read across a room. It runs
// unattended: it reconnects by itself and never needs a click.

import { api, ApiError, pageURL } from './api.js';
import { Live, newerInstitution } from './live.js';
import { waitText, el, say, flash, clock } from './format.js';

const ANNOUNCEMENT_SHOWN_MS = 10 * 60 * 1000;
const $ = (id) => document.getElementById(id);

const id = Number(location.pathname.split('/').filter(Boolean).pop());
let inst = null;
let seenCalls = null; // keys of the calls on screen; null before the first render
let live = null;
let announcementTimer = 0;

function callKey(c) {
  return `${c.number}@${c.called_at}`;
}

const statusNotes = {
  paused: 'Paused: no new numbers for now. Numbers already given are still called.',
  closed: 'Closed: no new numbers today.',
};

function render(i) {
  inst = i;
  document.title = `${i.name} – now serving`;
  $('name').textContent = i.name;
  say($('status'), statusNotes[i.status] || '');
  $('status').dataset.status = i.status;

  const calls = i.recent_calls || [];
  const newest = calls[0];
  const nowNumber = newest ? String(newest.number) : i.now_serving ? String(i.now_serving) : '—';
  const nowCounter = newest && newest.counter ? `Counter ${newest.counter}` : '';
  if ($('now-number').textContent !== nowNumber) $('now-number').textContent = nowNumber;
  $('now-counter').textContent = nowCounter;
  $('now-number').setAttribute('aria-label', nowCounter ? `${nowNumber}, ${nowCounter}` : nowNumber);

  const fresh = new Set();
  if (seenCalls) for (const c of calls) if (!seenCalls.has(callKey(c))) fresh.add(callKey(c));
  seenCalls = new Set(calls.map(callKey));
  $('calls').replaceChildren(
    ...(calls.length
      ? calls.map((c, n) => {
          const li = el(
            'li',
            { class: n === 0 ? 'latest' : '' },
            el('span', { class: 'call-number', text: String(c.number) }),
            el('span', { class: 'call-arrow', 'aria-hidden': 'true', text: '→' }),
            el('span', { class: 'call-counter', text: c.counter ? `Counter ${c.counter}` : 'Counter' }),
          );
          if (fresh.has(callKey(c))) flash(li);
          return li;
        })
      : [el('li', { class: 'none', text: 'No numbers called yet' })]),
  );
  if (newest && fresh.has(callKey(newest))) flash($('now'));

  $('waiting').textContent = String(i.waiting_count);
  const est = i.estimated_wait_seconds;
  $('wait').textContent = est == null ? (i.waiting_count === 0 ? 'No wait' : '—') : waitText(est);
}

function announce(message) {
  $('announcement-text').textContent = message;
  $('announcement').hidden = false;
  flash($('announcement'));
  clearTimeout(announcementTimer);
  announcementTimer = setTimeout(() => ($('announcement').hidden = true), ANNOUNCEMENT_SHOWN_MS);
}

function onFrame(f) {
  if (f.type === 'snapshot') {
    say($('message'), '');
    render(f.institution); // the current state, even after a restart
  } else if (f.type === 'update' && newerInstitution(inst, f.institution)) {
    render(f.institution);
  } else if (f.type === 'announcement') {
    announce(f.message);
  }
}

// fetchState asks over HTTP while the stream is down: the board keeps
// current behind a proxy that drops WebSockets, and says so when the office
// does not exist.
async function fetchState() {
  try {
    const i = await api('GET', `institutions/${id}`, { timeout: 5000 });
    say($('message'), '');
    if (newerInstitution(inst, i)) render(i);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      say($('message'), `There is no office number ${id}. Check the address of this display.`);
    }
  }
}

function tick() {
  $('clock').textContent = clock(new Date());
}

function start() {
  tick();
  setInterval(tick, 10000);
  const home = pageURL('./');
  $('join-url').textContent = home.host + home.pathname.replace(/\/$/, '');
  if (!Number.isInteger(id) || id <= 0) {
    say($('message'), 'This display has no office number in its address, like /board/1.');
    return;
  }
  fetchState();
  live = new Live(`institutions/${id}/live`, {
    frame: onFrame,
    state: (s) => say($('conn'), s === 'live' ? '' : s === 'connecting' ? 'Connecting…' : 'Reconnecting…'),
    retry: fetchState,
  });
  live.start();
}

start();
