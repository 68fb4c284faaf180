// The staff console: sign in with a token, then run one office's line:
// call next, recall, open/pause/close, the waiting list, announcements and
// the audit trail, and the office's link to its own queue system. The token
// lives in sessionStorage: it goes when the tab closes.

import { api, ApiError, errorText, pageURL } from './api.js';
import { Live, newerInstitution } from './live.js';
import { shortWait, statusText, el, say, clock, ago } from './format.js';
import { Trail } from './trail.js';
import { LinkCard } from './link.js';

const SESSION = 'queueless.staff';
const COUNTER = 'queueless.counter';
const $ = (id) => document.getElementById(id);

const ui = {
  conn: $('conn'),
  session: $('session'),
  switcher: $('switch'),
  signinView: $('signin-view'),
  signinForm: $('signin-form'),
  token: $('token'),
  signinInst: $('signin-inst'),
  signinError: $('signin-error'),
  signinSubmit: $('signin-submit'),
  console: $('console'),
  error: $('console-error'),
  ok: $('console-ok'),
  counter: $('counter'),
  count: $('count'),
  callSubmit: $('call-submit'),
  serving: $('serving'),
  waiting: $('waiting'),
  waitingMore: $('waiting-more'),
  events: $('events'),
  announceText: $('announce-text'),
  announceLeft: $('announce-left'),
};

let institutions = [];
let session = null; // {token, institution_id}
let inst = null; // the office being run
let live = null;
let trail = null; // the office's recent activity
let waitingNext = null;
let refreshing = false;
let refreshAgain = false;
let refreshTimer = 0;
let okTimer = 0;
const link = new LinkCard(document.querySelector('#console .stats'), call);

// ---------- helpers ----------

function call(method, path, opts = {}) {
  return api(method, path, { ...opts, token: session.token });
}

function ok(text) {
  say(ui.error, '');
  say(ui.ok, text);
  clearTimeout(okTimer);
  okTimer = setTimeout(() => say(ui.ok, ''), 8000);
}

// fail shows an error in words; a 401 ends the session.
function fail(err, opts) {
  if (err instanceof ApiError && err.status === 401) {
    signOut('Your token is no longer accepted (it may have been revoked). Sign in again.');
    return;
  }
  say(ui.ok, '');
  say(ui.error, errorText(err, opts));
}

function instName(id) {
  const i = institutions.find((x) => x.id === id);
  return i ? i.name : `office ${id}`;
}

function fillSelect(select, selected) {
  select.replaceChildren(
    ...institutions.map((i) => el('option', { value: String(i.id), selected: i.id === selected, text: i.name })),
  );
}

// ---------- sign in ----------

async function loadInstitutions() {
  const res = await api('GET', 'institutions');
  institutions = res.items || [];
}

function showSignin(message) {
  ui.console.hidden = true;
  ui.session.hidden = true;
  ui.signinView.hidden = false;
  fillSelect(ui.signinInst, session?.institution_id);
  say(ui.signinError, message || '');
  document.title = 'QueueLess – staff sign-in';
  ui.token.focus();
}

// check proves a token may run an office: the cheapest staff-only read.
async function check(token, id) {
  await api('GET', `institutions/${id}/tickets?status=serving&limit=1`, { token });
}

async function signIn(ev) {
  ev.preventDefault();
  const token = ui.token.value.trim();
  const id = Number(ui.signinInst.value);
  if (!token) {
    say(ui.signinError, 'Enter your staff token.');
    ui.token.focus();
    return;
  }
  if (!id) {
    say(ui.signinError, 'Choose an office.');
    return;
  }
  ui.signinSubmit.disabled = true;
  say(ui.signinError, '');
  try {
    await check(token, id);
    session = { token, institution_id: id };
    sessionStorage.setItem(SESSION, JSON.stringify(session));
    ui.token.value = '';
    enterConsole();
  } catch (err) {
    say(
      ui.signinError,
      err instanceof ApiError && err.status === 401
        ? 'That token was not accepted. Check it and try again.'
        : err instanceof ApiError && err.status === 403
          ? `This token may not run ${instName(id)}. Choose an office it is for.`
          : errorText(err, { what: 'office' }),
    );
  } finally {
    ui.signinSubmit.disabled = false;
  }
}

function signOut(message) {
  stopLive();
  trail?.stop();
  trail = null;
  session = null;
  inst = null;
  link.follow(null);
  sessionStorage.removeItem(SESSION);
  showSignin(message);
}

// ---------- the console ----------

function enterConsole() {
  ui.signinView.hidden = true;
  ui.console.hidden = false;
  ui.session.hidden = false;
  fillSelect(ui.switcher, session.institution_id);
  say(ui.error, '');
  say(ui.ok, '');
  inst = null;
  trail?.stop();
  const { token, institution_id: id } = session;
  trail = new Trail(ui.events, (after, limit) =>
    api('GET', `institutions/${id}/events?after=${after}&limit=${limit}`, { token }),
  );
  ui.waiting.replaceChildren();
  ui.serving.replaceChildren();
  $('inst-name').textContent = instName(session.institution_id);
  $('board-link').href = pageURL(`board/${session.institution_id}`).href;
  ui.counter.value = localStorage.getItem(COUNTER) || '';
  document.title = `${instName(session.institution_id)} – QueueLess staff`;
  stopLive();
  live = new Live(`institutions/${session.institution_id}/live`, {
    frame: onFrame,
    state: (s) => say(ui.conn, s === 'live' ? '' : s === 'connecting' ? 'Connecting…' : 'Reconnecting…'),
    retry: () => {
      api('GET', `institutions/${session.institution_id}`)
        .then((i) => {
          if (session && i.id === session.institution_id && newerInstitution(inst, i)) renderInstitution(i);
        })
        .catch(() => {});
    },
  });
  live.start();
  trail.loadRecent().catch(fail);
  refresh();
  link.follow(session.institution_id);
}

function stopLive() {
  if (live) live.stop();
  live = null;
  say(ui.conn, '');
}

function onFrame(f) {
  if (!session) return;
  if (f.type === 'snapshot' || (f.type === 'update' && newerInstitution(inst, f.institution))) {
    renderInstitution(f.institution);
    scheduleRefresh();
    link.soon();
  } else if (f.type === 'announcement') {
    scheduleRefresh();
  }
}

function renderInstitution(i) {
  inst = i;
  $('inst-name').textContent = i.name;
  const badge = $('inst-status');
  badge.className = `badge ${i.status}`;
  badge.textContent = statusText(i.status);
  $('s-now').textContent = i.now_serving ? String(i.now_serving) : '—';
  $('s-issued').textContent = i.last_issued ? String(i.last_issued) : '—';
  $('s-waiting').textContent = String(i.waiting_count);
  $('s-wait').textContent = shortWait(i.estimated_wait_seconds);
  $('waiting-count').textContent = `(${i.waiting_count})`;
  for (const b of document.querySelectorAll('.segmented button')) {
    b.setAttribute('aria-pressed', String(b.dataset.status === i.status));
  }
  document.title = `${i.name} – QueueLess staff`;
}

// Lists follow the live stream; a burst of updates costs one refresh.
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 150);
}

async function refresh() {
  if (!session) return;
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  try {
    await Promise.all([loadServing(), loadWaiting(), trail.loadNew()]);
  } catch (err) {
    fail(err);
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      scheduleRefresh();
    }
  }
}

// ---------- call next, recall, status, announcement ----------

async function callNext(ev) {
  ev.preventDefault();
  const counter = ui.counter.value.trim();
  const count = Number(ui.count.value || 1);
  if (!Number.isInteger(count) || count < 1 || count > 50) {
    fail(new ApiError(400, { message: 'How many must be a whole number from 1 to 50.' }));
    ui.count.focus();
    return;
  }
  const body = { count };
  if (counter) body.counter = counter;
  localStorage.setItem(COUNTER, counter);
  ui.callSubmit.disabled = true;
  try {
    const res = await call('POST', `institutions/${session.institution_id}/advance`, { body });
    if (newerInstitution(inst, res.institution)) renderInstitution(res.institution);
    ok(advanceText(res, counter));
    scheduleRefresh();
  } catch (err) {
    fail(err, { what: 'office' });
  } finally {
    ui.callSubmit.disabled = false;
  }
}

function numbers(list) {
  return list.map((t) => t.number).join(', ');
}

function advanceText(res, counter) {
  const parts = [];
  if (res.called.length) {
    parts.push(`Called ${numbers(res.called)}${counter ? ` to counter ${counter}` : ''}.`);
  } else {
    parts.push('Nobody is waiting to be called.');
  }
  if (res.served.length) parts.push(`Served: ${numbers(res.served)}.`);
  if (res.expired.length) parts.push(`Expired (did not check in): ${numbers(res.expired)}.`);
  return parts.join(' ');
}

async function recall(t, button) {
  button.disabled = true;
  try {
    await call('POST', `tickets/${t.id}/recall`);
    ok(`Called ${t.number} again${t.counter ? ` to counter ${t.counter}` : ''}.`);
    scheduleRefresh();
  } catch (err) {
    fail(err, {
      what: 'ticket',
      invalidState: `Number ${t.number} is no longer at a counter, so it cannot be called again.`,
    });
    scheduleRefresh();
  } finally {
    button.disabled = false;
  }
}

async function setStatus(status) {
  try {
    const i = await call('PATCH', `institutions/${session.institution_id}`, { body: { status } });
    if (newerInstitution(inst, i)) renderInstitution(i);
    ok(`${i.name} is now ${statusText(i.status).toLowerCase()}.`);
  } catch (err) {
    fail(err, { what: 'office' });
  }
}

async function announce(ev) {
  ev.preventDefault();
  const message = ui.announceText.value.trim();
  if (!message) {
    fail(new ApiError(400, { message: 'Write a message first.' }));
    ui.announceText.focus();
    return;
  }
  try {
    await call('POST', `institutions/${session.institution_id}/announcements`, { body: { message } });
    ui.announceText.value = '';
    updateLeft();
    ok('Announcement sent to every phone and hall display.');
  } catch (err) {
    fail(err, { what: 'office' });
  }
}

function updateLeft() {
  const left = 280 - ui.announceText.value.length;
  ui.announceLeft.textContent = `${left} character${left === 1 ? '' : 's'} left`;
}

// ---------- lists ----------

async function loadServing() {
  const id = session.institution_id;
  const res = await call('GET', `institutions/${id}/tickets?status=serving&limit=50`);
  if (!session || session.institution_id !== id) return;
  if (!res.items.length) {
    ui.serving.replaceChildren(el('li', { class: 'empty', text: 'Nobody is at a counter.' }));
    return;
  }
  ui.serving.replaceChildren(
    ...res.items.map((t) => {
      const btn = el('button', {
        type: 'button',
        class: 'secondary small',
        'aria-label': `Call number ${t.number} again`,
        text: 'Call again',
      });
      btn.addEventListener('click', () => recall(t, btn));
      return el(
        'li',
        {},
        el('span', { class: 'num', text: String(t.number) }),
        el(
          'span',
          { class: 'who' },
          el('span', { text: t.counter ? `Counter ${t.counter}` : 'No counter given' }),
          el('span', {
            class: t.checked_in_at ? 'state in' : 'state',
            text: t.checked_in_at
              ? `checked in ${clock(t.checked_in_at)}`
              : `called ${clock(t.called_at)}, not checked in yet`,
          }),
          t.phone ? el('span', { class: 'phone', text: t.phone }) : null,
        ),
        btn,
      );
    }),
  );
}

function waitingRow(t) {
  return el(
    'tr',
    { dataset: { number: t.number } },
    el('td', { class: 'num', text: String(t.number) }),
    el(
      'td',
      {},
      el('span', {
        class: `pill ${t.status}`,
        text: t.status === 'notified' ? 'near turn' : 'waiting',
      }),
    ),
    el('td', { class: 'phone', text: t.phone || '—' }),
    el('td', {}, el('time', { datetime: t.issued_at, title: clock(t.issued_at, true), text: ago(t.issued_at) })),
  );
}

async function loadWaiting() {
  const id = session.institution_id;
  const res = await call('GET', `institutions/${id}/tickets?status=waiting,notified&limit=100`);
  if (!session || session.institution_id !== id) return;
  waitingNext = res.next_after;
  ui.waitingMore.hidden = waitingNext == null;
  if (!res.items.length) {
    ui.waiting.replaceChildren(el('tr', {}, el('td', { colspan: '4', class: 'empty', text: 'Nobody is waiting.' })));
    return;
  }
  ui.waiting.replaceChildren(...res.items.map(waitingRow));
}

async function loadMoreWaiting() {
  if (waitingNext == null) return;
  try {
    const res = await call(
      'GET',
      `institutions/${session.institution_id}/tickets?status=waiting,notified&limit=100&after=${waitingNext}`,
    );
    waitingNext = res.next_after;
    ui.waitingMore.hidden = waitingNext == null;
    ui.waiting.append(...res.items.map(waitingRow));
  } catch (err) {
    fail(err);
  }
}

// ---------- switching offices ----------

async function switchTo(id) {
  if (!session || id === session.institution_id) return;
  try {
    await check(session.token, id);
  } catch (err) {
    ui.switcher.value = String(session.institution_id);
    if (err instanceof ApiError && err.status === 403) {
      say(ui.ok, '');
      say(ui.error, `Your token may not run ${instName(id)}. Sign in with a token for it.`);
    } else fail(err, { what: 'office' });
    return;
  }
  session.institution_id = id;
  sessionStorage.setItem(SESSION, JSON.stringify(session));
  enterConsole();
}

// ---------- start ----------

ui.signinForm.addEventListener('submit', signIn);
$('signout').addEventListener('click', () => signOut(''));
ui.switcher.addEventListener('change', () => switchTo(Number(ui.switcher.value)));
$('call-form').addEventListener('submit', callNext);
$('announce-form').addEventListener('submit', announce);
ui.announceText.addEventListener('input', updateLeft);
ui.waitingMore.addEventListener('click', loadMoreWaiting);
for (const b of document.querySelectorAll('.segmented button')) {
  b.addEventListener('click', () => setStatus(b.dataset.status));
}
// "Joined 3 min ago" ages while nobody changes anything.
setInterval(() => {
  for (const t of ui.waiting.querySelectorAll('time[datetime]')) t.textContent = ago(t.dateTime);
}, 30000);

async function start() {
  try {
    session = JSON.parse(sessionStorage.getItem(SESSION) || 'null');
  } catch {
    session = null;
  }
  try {
    await loadInstitutions();
  } catch (err) {
    showSignin(errorText(err));
    return;
  }
  if (session && session.token && session.institution_id) enterConsole();
  else {
    session = null;
    showSignin('');
  }
}

start();
