// The hall display board: one tile per counter with the ticket it called
// last, the recent calls, and, when switched on, every call spoken aloud,
// in type big enough to read across a room. It runs unattended: it
// reconnects by itself and needs no click, except the one that switches
// sound on (browsers allow speech only after a tap on the page).

import { api, ApiError, pageURL } from './api.js';
import { Live, newerInstitution } from './live.js';
import { waitText, el, say, flash, officeClock, counterName, counterPhrase, sortedServices } from './format.js';
import { CallLog } from './calls.js';
import { Announcer, spokenLabel } from './speech.js';
import { PrequeueNotice } from './prequeue.js';
import { MissedNumbers } from './board-missed.js';

const ANNOUNCEMENT_SHOWN_MS = 10 * 60 * 1000;
const RECENT_SHOWN = 8;
const MAX_TILES = 12;
// A call missed while disconnected is still said aloud when the board
// learns of it this soon after it was made.
const SAY_MISSED_WITHIN_MS = 60000;
const SOUND = 'queueless.board.sound';
const $ = (id) => document.getElementById(id);

const id = Number(location.pathname.split('/').filter(Boolean).pop());
const log = new CallLog();
const prequeue = new PrequeueNotice($('prequeue'), $('status'));
const missed = new MissedNumbers($('missed'), id);
let inst = null;
let live = null;
let announcementTimer = 0;
let callFrames = false; // the server sends `call` frames: they alone add calls
let snapshots = 0;
let fresh = new Set(); // calls added since the last render: they flash
let renderQueued = false;

const announcer = new Announcer(document.documentElement.lang || 'en', (state) => {
  const note = $('sound-note');
  if (state === 'blocked') say(note, 'Tap anywhere on this screen to let it speak.');
  else if (note.textContent) say(note, '');
});

const statusNotes = {
  paused: 'Paused: no new numbers for now. Numbers already given are still called.',
  closed: 'Closed: no new numbers today.',
};

function serviceName(code) {
  const s = inst && (inst.services || []).find((x) => x.code === code);
  return s ? s.name : '';
}

function shown(c) {
  return c.label || String(c.number);
}

/** sentence is a call as it is said aloud and read by a screen reader. */
function sentence(c) {
  const who = c.label ? spokenLabel(c.label) : `number ${c.number}`;
  const where = c.counter ? ` at ${counterPhrase(c.counter)}` : '';
  return c.reason === 'recall' ? `Calling again ${who}${where}` : `Now serving ${who}${where}`;
}

// ---------- calls ----------

// addCall records one call; a new one flashes and, when sound is on, is said.
function addCall(c, speak) {
  const entry = log.add(c);
  if (!entry) {
    scheduleRender(); // maybe a label learnt late
    return;
  }
  fresh.add(entry);
  if (speak) announcer.say(sentence(entry));
  $('said').textContent = sentence(entry);
  scheduleRender();
}

// callsFromInstitution adds the calls in recent_calls not yet on screen,
// oldest first. On the first snapshot they are the past: neither flashed
// nor said.
function callsFromInstitution(i, first) {
  const list = (i.recent_calls || []).slice().reverse();
  for (const c of list) {
    if (first) {
      log.add(c);
      continue;
    }
    addCall(c, Date.now() - Date.parse(c.called_at) < SAY_MISSED_WITHIN_MS);
  }
}

// A burst of frames costs one render.
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => {
    renderQueued = false;
    renderCalls();
  }, 0);
}

function renderCalls() {
  const flashing = fresh;
  fresh = new Set();
  renderTiles(flashing);
  const recent = log.calls.slice(0, RECENT_SHOWN);
  $('calls').dataset.total = String(log.total);
  $('calls').replaceChildren(
    ...(recent.length
      ? recent.map((c, n) => {
          const name = serviceName(c.service);
          const li = el(
            'li',
            { class: n === 0 ? 'latest' : '', dataset: { number: c.number, counter: c.counter ?? '' } },
            el('span', { class: 'call-number', text: shown(c) }),
            el('span', { class: 'call-arrow', 'aria-hidden': 'true', text: '→' }),
            el(
              'span',
              { class: 'call-where' },
              el('span', { class: 'call-counter', text: counterName(c.counter) }),
              name ? el('span', { class: 'call-service', text: name }) : null,
            ),
          );
          if (c.reason === 'recall') li.classList.add('again');
          if (flashing.has(c)) flash(li);
          return li;
        })
      : [el('li', { class: 'none', text: 'No numbers called yet' })]),
  );
}

// renderTiles shows one tile per counter: the office's counters in their
// order, then counters named only in calls, newest first.
function renderTiles(flashing) {
  const latest = log.latestByCounter();
  const keys = (inst?.counters || []).map((c) => c.name);
  const others = [...latest.keys()].filter((k) => !keys.includes(k));
  keys.push(...others.slice(0, Math.max(0, MAX_TILES - keys.length)));
  const newest = log.calls[0];
  const tiles = $('tiles');
  if (!keys.length) {
    tiles.replaceChildren(el('li', { class: 'none', text: 'No numbers called yet' }));
    tiles.style.setProperty('--cols', '1');
    tiles.style.setProperty('--rows', '1');
    return;
  }
  const cols = Math.min(keys.length, Math.ceil(Math.sqrt(keys.length * 1.5)));
  tiles.style.setProperty('--cols', String(cols));
  tiles.style.setProperty('--rows', String(Math.ceil(keys.length / cols)));
  tiles.replaceChildren(
    ...keys.map((k) => {
      const c = latest.get(k);
      const counter = counterName(k === '' ? null : k);
      const li = el(
        'li',
        {
          class: `tile${c && c === newest ? ' latest' : ''}${c ? '' : ' idle'}`,
          dataset: { counter: k },
          'aria-label': c ? `${counter}: ${shown(c)}` : `${counter}: nobody yet`,
        },
        el('span', { class: 'tile-counter', text: counter }),
        el('span', { class: 'tile-label', text: c ? shown(c) : '—' }),
        el('span', { class: 'tile-service', text: c ? serviceName(c.service) : '' }),
      );
      if (c && flashing.has(c)) flash(li);
      return li;
    }),
  );
}

// ---------- the office ----------

function render(i) {
  const zoneChanged = !inst || inst.timezone !== i.timezone;
  inst = i;
  if (zoneChanged) showClock();
  document.title = `${i.name} – now serving`;
  $('name').textContent = i.name;
  say($('status'), statusNotes[i.status] || '');
  $('status').dataset.status = i.status;
  $('waiting').textContent = String(i.waiting_count);
  const est = i.estimated_wait_seconds;
  $('wait').textContent = est == null ? (i.waiting_count === 0 ? 'No wait' : '—') : waitText(est);
  const services = sortedServices(i);
  $('lines').hidden = services.length < 2;
  $('lines').replaceChildren(
    ...(services.length < 2
      ? []
      : services.map((s) =>
          el(
            'li',
            { class: s.status === 'open' ? '' : 'off' },
            el('span', { class: 'line-code', text: s.code }),
            el('span', { class: 'line-name', text: s.name }),
            el('span', { class: 'line-count', text: s.status === 'open' ? String(s.waiting_count) : s.status }),
          ),
        )),
  );
  prequeue.show(i);
  missed.changed(i);
  scheduleRender(); // counters and service names may have changed
}

function announce(message) {
  $('announcement-text').textContent = message;
  $('announcement').hidden = false;
  flash($('announcement'));
  clearTimeout(announcementTimer);
  announcementTimer = setTimeout(() => ($('announcement').hidden = true), ANNOUNCEMENT_SHOWN_MS);
}

function onFrame(f) {
  switch (f.type) {
    case 'snapshot':
      say($('message'), '');
      snapshots++;
      render(f.institution); // the current state, even after a restart
      callsFromInstitution(f.institution, snapshots === 1 && log.total === 0);
      break;
    case 'update':
      if (!newerInstitution(inst, f.institution)) break;
      render(f.institution);
      // Updates conflate: with call frames they only refresh the figures.
      if (!callFrames) callsFromInstitution(f.institution, false);
      break;
    case 'call':
      callFrames = true;
      addCall(f.call, true);
      break;
    case 'announcement':
      announce(f.message);
      break;
  }
}

// fetchState asks over HTTP while the stream is down: the board keeps
// current behind a proxy that drops WebSockets, and says so when the office
// does not exist.
async function fetchState() {
  try {
    const i = await api('GET', `institutions/${id}`, { timeout: 5000 });
    say($('message'), '');
    if (newerInstitution(inst, i)) {
      const first = !inst;
      render(i);
      callsFromInstitution(i, first);
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      say($('message'), `There is no office number ${id}. Check the address of this display.`);
    }
  }
}

// The clock shows the office's local time (its timezone), not the
// display's: a board's computer may be set to any zone.
function showClock() {
  $('clock').textContent = officeClock(new Date(), inst);
  $('clock').dataset.timezone = (inst && inst.timezone) || '';
}

function tick() {
  showClock();
  prequeue.tick();
}

// ---------- sound ----------

function setSound(on) {
  announcer.setOn(on);
  const b = $('sound');
  b.setAttribute('aria-checked', String(announcer.on));
  // The name stays; the switch's state is aria-checked (and the dot).
  try {
    localStorage.setItem(SOUND, announcer.on ? 'on' : 'off');
  } catch {
    /* private mode: the switch still works for this visit */
  }
}

function startSound() {
  const b = $('sound');
  if (!announcer.available) return; // no speech here: no switch either
  b.hidden = false;
  b.addEventListener('click', () => setSound(!announcer.on));
  let saved = null;
  try {
    saved = localStorage.getItem(SOUND);
  } catch {
    saved = null;
  }
  if (saved === 'on') setSound(true);
  // After a reload the browser may want a tap before it speaks.
  document.addEventListener('pointerdown', () => announcer.resume());
}

function start() {
  tick();
  setInterval(tick, 10000);
  const home = pageURL('./');
  $('join-url').textContent = home.host + home.pathname.replace(/\/$/, '');
  renderCalls();
  startSound();
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
