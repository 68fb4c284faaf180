// The staff console: sign in with a token, then run one office's lines:
// call next (from a service or from the counter's services), call one
// ticket out of turn, recall, change a ticket's priority, take a walk-in
// and print its slip, open/pause/close the office and each service, the
// waiting list, announcements and the audit trail, the office's link to its
// own queue system, and (admin) its services and counters. The token lives
// in sessionStorage: it goes when the tab closes.

import { api, ApiError, errorText, pageURL } from './api.js';
import { Live, newerInstitution } from './live.js';
import { shortWait, statusText, el, say, officeClock, officeTime, retime, ago, ticketName, priorityText, PRIORITIES, counterName, counterPhrase, sortedServices } from './format.js';
import { Trail } from './trail.js';
import { LinkCard } from './link.js';
import { Setup } from './setup.js';
import { StaffDay } from './staff-day.js';
import { HoursEditor } from './hours.js';
import { markTexts } from './staff-texts.js';

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
  callFrom: $('call-from'),
  callSubmit: $('call-submit'),
  services: $('services'),
  walkinService: $('walkin-service'),
  walkinPriority: $('walkin-priority'),
  callDialog: $('call-dialog'),
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
let particular = null; // the ticket the call dialog is about
const link = new LinkCard(document.querySelector('#console .stats'), call, () => inst);
const setup = new Setup({
  call: (method, path, body) =>
    call(method, `institutions/${session.institution_id}${path ? `/${path}` : ''}`, { body }),
  signedOut: (err) => err instanceof ApiError && err.status === 401 && (fail(err), true),
  saved: (i) => {
    if (newerInstitution(inst, i)) renderInstitution(i);
    scheduleRefresh();
  },
});

// Missed turns and transfers (staff-day.js); hours and the office day (hours.js).
const day = new StaffDay({
  call,
  office: () => session?.institution_id ?? null,
  ok,
  fail,
  changed: () => scheduleRefresh(),
});
const hours = new HoursEditor({
  call: (method, path, body) => call(method, `institutions/${session.institution_id}${path ? `/${path}` : ''}`, { body }),
  signedOut: (err) => err instanceof ApiError && err.status === 401 && (fail(err), true),
  saved: (i) => {
    if (newerInstitution(inst, i)) renderInstitution(i);
    scheduleRefresh();
  },
});

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
  if (ui.callDialog.open) ui.callDialog.close();
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
  setup.reset();
  day.reset();
  hours.reset();
  $('walkin-result').hidden = true;
  trail?.stop();
  const { token, institution_id: id } = session;
  trail = new Trail(
    ui.events,
    (after, limit) => api('GET', `institutions/${id}/events?after=${after}&limit=${limit}`, { token }),
    () => inst,
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
  const zoneChanged = !inst || inst.timezone !== i.timezone;
  inst = i;
  if (zoneChanged) {
    // Times are the office's: those drawn before it was known (or in its
    // former zone) are drawn again.
    retime(ui.serving, i);
    trail?.redraw();
    link.redraw();
  }
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
  renderServices(i);
  renderCallFrom();
  renderWalkin(i);
  setup.show(i);
  day.show(i);
  hours.show(i);
}

// ---------- services ----------

function serviceName(code) {
  const s = inst && (inst.services || []).find((x) => x.code === code);
  return s ? s.name : code || '';
}

function renderServices(i) {
  const services = sortedServices(i);
  ui.services.replaceChildren(
    ...services.map((s) => {
      const next = s.status === 'open' ? 'paused' : 'open';
      const btn = el('button', {
        type: 'button',
        class: 'secondary small',
        'aria-label': `${next === 'open' ? 'Open' : 'Pause'} ${s.code} ${s.name}`,
        text: next === 'open' ? 'Open' : 'Pause',
      });
      btn.addEventListener('click', () => setServiceStatus(s, next, btn));
      const figures = [`${s.waiting_count} waiting`];
      if (s.now_serving_label) figures.push(`now ${s.now_serving_label}`);
      if (s.waiting_count > 0 && s.estimated_wait_seconds != null) figures.push(`wait ${shortWait(s.estimated_wait_seconds)}`);
      if (s.daily_quota != null) figures.push(`quota ${s.daily_quota} a day`);
      return el(
        'li',
        { dataset: { code: s.code, status: s.status } },
        el('span', { class: 'svc-code', text: s.code }),
        el(
          'span',
          { class: 'who' },
          el('span', { class: 'svc-name', text: s.name }),
          el('span', { class: 'hint', text: figures.join(' · ') }),
        ),
        el('span', { class: `badge ${s.status}`, text: statusText(s.status) }),
        btn,
      );
    }),
  );
}

async function setServiceStatus(s, status, button) {
  button.disabled = true;
  try {
    const i = await call('PATCH', `institutions/${session.institution_id}/services/${encodeURIComponent(s.code)}`, {
      body: { status },
    });
    if (newerInstitution(inst, i)) renderInstitution(i);
    ok(`${s.code} ${s.name} is now ${statusText(status).toLowerCase()}.`);
  } catch (err) {
    fail(err, { what: 'service' });
  } finally {
    button.disabled = false;
  }
}

// configuredCounter is the office's counter named like the console's, if
// it is set up.
function configuredCounter() {
  const name = ui.counter.value.trim();
  return name && inst ? (inst.counters || []).find((c) => c.name === name) || null : null;
}

// renderCallFrom offers: the counter's services (or every service, for a
// counter not set up), then each service on its own.
function renderCallFrom() {
  if (!inst) return;
  const was = ui.callFrom.value;
  const counter = configuredCounter();
  const services = sortedServices(inst);
  const first =
    counter && counter.services.length
      ? `${counterName(counter.name)}'s services (${counter.services.join(', ')})`
      : 'Every service, longest wait first';
  ui.callFrom.replaceChildren(
    el('option', { value: '', text: first }),
    ...services.map((s) =>
      el('option', {
        value: s.code,
        text: `${s.code} · ${s.name} (${s.waiting_count} waiting${s.status === 'open' ? '' : `, ${s.status}`})`,
      }),
    ),
  );
  ui.callFrom.value = services.some((s) => s.code === was) ? was : '';
  // One service: nothing to choose.
  ui.callFrom.closest('div').hidden = services.length < 2;
}

// ---------- walk-ins ----------

function renderWalkin(i) {
  const was = ui.walkinService.value;
  const services = sortedServices(i).filter((s) => s.status !== 'closed');
  ui.walkinService.replaceChildren(
    ...services.map((s) =>
      el('option', { value: s.code, text: `${s.code} · ${s.name}${s.status === 'open' ? '' : ` (${s.status})`}` }),
    ),
  );
  if (services.some((s) => s.code === was)) ui.walkinService.value = was;
  ui.walkinService.closest('div').hidden = services.length < 2;
  const prioWas = ui.walkinPriority.value;
  ui.walkinPriority.replaceChildren(
    el('option', { value: '', text: 'None (regular line)' }),
    ...PRIORITIES.map((p) => el('option', { value: p, text: priorityText(p) })),
  );
  ui.walkinPriority.value = prioWas;
  $('walkin-prio-wrap').hidden = !(i.priority_run > 0);
  $('walkin-submit').disabled = !services.length;
}

async function walkIn(ev) {
  ev.preventDefault();
  const body = {};
  if (ui.walkinService.value) body.service = ui.walkinService.value;
  if (ui.walkinPriority.value && inst && inst.priority_run > 0) body.priority = ui.walkinPriority.value;
  const btn = $('walkin-submit');
  btn.disabled = true;
  try {
    const t = await call('POST', `institutions/${session.institution_id}/tickets`, { body });
    $('walkin-label').textContent = ticketName(t);
    const what = [serviceName(t.service)];
    if (t.priority) what.push(`priority: ${priorityText(t.priority).toLowerCase()}`);
    $('walkin-what').textContent = what.filter(Boolean).join(' · ');
    const slip = $('walkin-slip');
    slip.href = pageURL(`t/${t.id}`).href;
    slip.setAttribute('aria-label', `Print the slip of ${ticketName(t)}`);
    $('walkin-result').hidden = false;
    ok(`Gave number ${ticketName(t)} to a walk-in.`);
    slip.focus();
    scheduleRefresh();
  } catch (err) {
    fail(err, { what: 'service' });
  } finally {
    btn.disabled = false;
  }
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
    await Promise.all([loadServing(), loadWaiting(), trail.loadNew(), day.loadMissed()]);
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
  if (ui.callFrom.value) body.service = ui.callFrom.value;
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
  return list.map(ticketName).join(', ');
}

function advanceText(res, counter) {
  const parts = [];
  if (res.called.length) {
    parts.push(`Called ${numbers(res.called)}${counter ? ` to ${counterPhrase(counter)}` : ''}.`);
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
    ok(`Called ${ticketName(t)} again${t.counter ? ` to ${counterPhrase(t.counter)}` : ''}.`);
    scheduleRefresh();
  } catch (err) {
    fail(err, {
      what: 'ticket',
      invalidState: `Number ${ticketName(t)} is no longer at a counter, so it cannot be called again.`,
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
        'aria-label': `Call number ${ticketName(t)} again`,
        text: 'Call again',
      });
      btn.addEventListener('click', () => recall(t, btn));
      return el(
        'li',
        {},
        el('span', { class: 'num', text: ticketName(t) }),
        el(
          'span',
          { class: 'who' },
          el('span', {
            text: [t.counter ? counterName(t.counter) : 'No counter given', serviceName(t.service)].filter(Boolean).join(' · '),
          }),
          el(
            'span',
            { class: t.checked_in_at ? 'state in' : 'state' },
            ...(t.checked_in_at
              ? ['checked in ', officeTime(t.checked_in_at, inst)]
              : ['called ', officeTime(t.called_at, inst), ', not checked in yet']),
          ),
          t.phone ? el('span', { class: 'phone', text: t.phone }) : null,
        ),
        btn,
        day.transferButton(t),
      );
    }),
  );
}

// The waiting list's priority menus use short words, to fit the table.
const SHORT_PRIORITY = { senior: 'Senior', pwd: 'PWD', pregnant: 'Pregnant', other: 'Other' };

function waitingRow(t) {
  const name = ticketName(t);
  let prio;
  if ((inst && inst.priority_run > 0) || t.priority) {
    prio = el('select', { class: 'compact', 'aria-label': `Priority of ${name}` });
    prio.append(
      el('option', { value: '', text: 'Regular' }),
      ...PRIORITIES.map((p) => el('option', { value: p, text: SHORT_PRIORITY[p] })),
    );
    prio.value = t.priority || '';
    prio.addEventListener('change', () => setPriority(t, prio));
  } else {
    prio = '—';
  }
  const callBtn = el('button', {
    type: 'button',
    class: 'secondary small',
    'aria-label': `Call ${name} out of turn`,
    text: 'Call…',
  });
  callBtn.addEventListener('click', () => askCall(t));
  return el(
    'tr',
    { dataset: { number: t.number, label: t.label || '', id: t.id }, class: t.priority ? 'prio' : '' },
    el('td', { class: 'num', title: `No. ${t.number}${t.source === 'staff' ? ', walk-in' : ''}`, text: name }),
    el('td', { class: 'place', text: t.position != null ? String(t.position) : '—' }),
    el('td', {}, prio),
    el(
      'td',
      {},
      el('span', {
        class: `pill ${t.status}`,
        text: t.status === 'notified' ? 'near turn' : 'waiting',
      }),
    ),
    el('td', { class: 'phone', text: t.phone || (t.source === 'staff' ? 'walk-in' : '—') }),
    el('td', {}, el('time', { datetime: t.issued_at, title: officeClock(t.issued_at, inst, true), text: ago(t.issued_at) })),
    el('td', { class: 'row-actions' }, callBtn, day.transferButton(t)),
  );
}

// ---------- one ticket: priority, a call out of turn ----------

async function setPriority(t, select) {
  const priority = select.value || null;
  select.disabled = true;
  try {
    const res = await call('PATCH', `tickets/${t.id}`, { body: { priority } });
    t.priority = res.priority;
    ok(
      res.priority
        ? `${ticketName(res)} is now in the priority lane (${priorityText(res.priority).toLowerCase()}).`
        : `${ticketName(res)} is now in the regular line.`,
    );
    scheduleRefresh();
  } catch (err) {
    select.value = t.priority || '';
    fail(err, { what: 'ticket', invalidState: `${ticketName(t)} is no longer waiting.` });
    scheduleRefresh();
  } finally {
    select.disabled = false;
  }
}

function askCall(t) {
  particular = t;
  $('call-dialog-title').textContent = `Call ${ticketName(t)} out of turn`;
  $('call-dialog-counter').value = ui.counter.value.trim();
  $('call-dialog-reason').value = '';
  say($('call-dialog-error'), '');
  ui.callDialog.showModal();
  $('call-dialog-reason').focus();
}

async function callParticular(ev) {
  ev.preventDefault();
  const t = particular;
  if (!t) return;
  const reason = $('call-dialog-reason').value.trim();
  if (!reason) {
    say($('call-dialog-error'), 'Give a reason: it is kept in the fairness log.');
    $('call-dialog-reason').focus();
    return;
  }
  const counter = $('call-dialog-counter').value.trim();
  const body = { reason };
  if (counter) body.counter = counter;
  const btn = $('call-dialog-confirm');
  btn.disabled = true;
  try {
    const res = await call('POST', `tickets/${t.id}/call`, { body });
    ui.callDialog.close();
    particular = null;
    ok(`Called ${ticketName(res)}${res.counter ? ` to ${counterPhrase(res.counter)}` : ''} out of turn (${reason}).`);
    scheduleRefresh();
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) {
      say($('call-dialog-error'), errorText(err));
      return;
    }
    ui.callDialog.close();
    fail(err, { what: 'ticket', invalidState: `${ticketName(t)} is no longer waiting, so it cannot be called out of turn.` });
    scheduleRefresh();
  } finally {
    btn.disabled = false;
  }
}

async function loadWaiting() {
  const id = session.institution_id;
  const res = await call('GET', `institutions/${id}/tickets?status=waiting,notified&limit=100`);
  if (!session || session.institution_id !== id) return;
  waitingNext = res.next_after;
  ui.waitingMore.hidden = waitingNext == null;
  if (!res.items.length) {
    ui.waiting.replaceChildren(el('tr', {}, el('td', { colspan: '7', class: 'empty', text: 'Nobody is waiting.' })));
    return;
  }
  ui.waiting.replaceChildren(...res.items.map(waitingRow));
  markTexts(ui.waiting, id, (path) => call('GET', path));
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
ui.counter.addEventListener('input', renderCallFrom);
$('walkin-form').addEventListener('submit', walkIn);
$('call-dialog-form').addEventListener('submit', callParticular);
$('call-dialog-cancel').addEventListener('click', () => ui.callDialog.close());
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
