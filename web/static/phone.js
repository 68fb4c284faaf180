// The phone page: pick an office, take a number, then watch it live until
// it is your turn. The ticket is kept in localStorage, so a reload or a
// closed tab comes back to it.

import { api, ApiError, errorText, newKey } from './api.js';
import { attachNotify } from './notify.js'; // texts and push opt-in of the ticket view
import { offerFeedback } from './feedback.js';
import { Live, newerTicket } from './live.js';
import { OfficeDay } from './phone-day.js';
import { HeldView, holdsJoins, officeBadge } from './phone-held.js';
import { waitText, shortWait, statusText, el, say, flash, officeTime, retime, ticketName, priorityText, sortedServices, counterName, counterPhrase } from './format.js';

const STORE = 'queueless.ticket';
const $ = (id) => document.getElementById(id);

const ui = {
  loading: $('loading'),
  conn: $('conn'),
  pick: $('pick'),
  pickError: $('pick-error'),
  pickRetry: $('pick-retry'),
  list: $('institutions'),
  join: $('join'),
  joinForm: $('join-form'),
  phone: $('phone'),
  phoneError: $('phone-error'),
  threshold: $('threshold'),
  joinError: $('join-error'),
  joinSubmit: $('join-submit'),
  ticket: $('ticket'),
  card: $('t-card'),
  turn: $('t-turn'),
  news: $('t-news'),
  announcements: $('t-announcements'),
  dialog: $('cancel-dialog'),
};

let institutions = [];
let chosen = null; // the institution on the join view
let chosenService = ''; // the code of the service picked there
let joinKey = null; // Idempotency-Key of the join being tried, reused on retry
let pickTimer = 0;

// The ticket view's state.
let saved = null; // {id, institution_id, number, label, institution_name}
let office = null; // the ticket's institution: its services' names, its timezone
let ticket = null;
let live = null;
let lastBuzz = 0;
let seenNotifications = new Set();
// A number held for the draw at opening: phone-held.js.
const heldView = new HeldView($('t-held'));
// Put me back, let people go ahead, how calls were made: phone-day.js.
const day = new OfficeDay($('t-day'), {
  reopen: (t) => openTicket(t),
  shown: (t) => newerTicket(ticket, t) && render(t),
});

function showView(name) {
  for (const v of ['loading', 'pick', 'join', 'ticket']) ui[v].hidden = v !== name;
  if (name !== 'pick') clearInterval(pickTimer);
}

function setConn(text) {
  say(ui.conn, text);
}

// ---------- pick an office ----------

async function showPick(message) {
  stopLive();
  showView('pick');
  document.title = 'QueueLess – get in line';
  say(ui.pickError, message || '');
  await loadInstitutions();
  clearInterval(pickTimer);
  if (!ui.pick.hidden) pickTimer = setInterval(loadInstitutions, 15000);
}

async function loadInstitutions() {
  try {
    const res = await api('GET', 'institutions');
    institutions = res.items || [];
    ui.pickRetry.hidden = true;
    if (ui.pickError.dataset.kind === 'load') say(ui.pickError, '');
    renderInstitutions();
  } catch (err) {
    say(ui.pickError, errorText(err));
    ui.pickError.dataset.kind = 'load';
    ui.pickRetry.hidden = false;
  }
}

function renderInstitutions() {
  if (!institutions.length) {
    ui.list.replaceChildren(el('li', { class: 'muted', text: 'No offices are using QueueLess yet.' }));
    return;
  }
  ui.list.replaceChildren(
    ...institutions.map((inst) =>
      el(
        'li',
        {},
        el(
          'button',
          {
            type: 'button',
            class: 'inst',
            dataset: { id: inst.id },
            onclick: () => showJoin(inst),
          },
          el('span', { class: 'inst-name', text: inst.name }),
          el('span', { class: 'chevron', 'aria-hidden': 'true', text: '›' }),
          el('span', { class: 'inst-address', text: inst.address || '' }),
          el(
            'span',
            { class: 'inst-meta' },
            officeBadge(inst),
            el('span', { text: `${inst.waiting_count} waiting` }),
            el('span', { text: instWait(inst) === 'No wait' ? 'No wait' : `Wait: ${instWait(inst).toLowerCase()}` }),
          ),
        ),
      ),
    ),
  );
}

// instWait is the wait a newcomer can expect, in words.
function instWait(inst) {
  if (inst.estimated_wait_seconds == null) return inst.waiting_count === 0 ? 'No wait' : 'Unknown';
  return waitText(inst.estimated_wait_seconds);
}

// ---------- join ----------

function showJoin(inst) {
  chosen = inst;
  chosenService = '';
  joinKey = null;
  for (const r of document.querySelectorAll('input[name=priority]')) r.checked = r.value === '';
  showView('join');
  $('join-title').textContent = inst.name;
  $('join-address').textContent = inst.address || '';
  renderJoinFacts();
  say(ui.joinError, '');
  say(ui.phoneError, '');
  ui.phone.removeAttribute('aria-invalid');
  document.title = `${inst.name} – QueueLess`;
  $('join-title').focus();
  refreshChosen();
}

// pickedService is the service a join goes to: the one picked, else the
// first open one (the contract's default), else none.
function pickedService() {
  const services = sortedServices(chosen);
  return services.find((s) => s.code === chosenService) || services.find((s) => s.status === 'open') || null;
}

function renderJoinFacts() {
  const inst = chosen;
  renderServices();
  $('prio-field').hidden = !(inst.priority_run > 0);
  const svc = pickedService();
  const several = sortedServices(inst).length > 1;
  // With several services the figures are the picked service's.
  const status = inst.status !== 'open' || !several || !svc ? inst.status : svc.status;
  const badge = status === inst.status ? officeBadge(inst) : el('span', { class: `badge ${status}`, text: statusText(status) });
  $('join-status').replaceChildren(badge);
  const figures = several && svc ? svc : inst;
  $('join-waiting').textContent = String(figures.waiting_count);
  $('join-wait').textContent =
    figures.estimated_wait_seconds == null ? instWait(figures) : shortWait(figures.estimated_wait_seconds);
  // Closed, in the pre-queue window: joins are held for the draw.
  const draw = holdsJoins(inst);
  say($('join-prequeue'), draw ? `Opens at ${draw}. Take a number now: at ${draw} everyone who did gets a place drawn at random.` : '');
  const open = (inst.status === 'open' || draw != null) && (!svc || svc.status === 'open');
  ui.joinSubmit.disabled = !open;
  if (inst.status !== 'open' && !draw) say(ui.joinError, `This office is ${inst.status} and is not giving out numbers right now.`);
  else if (!open) say(ui.joinError, `${svc ? svc.name : 'This service'} is not giving out numbers right now. Choose another, or try again later.`);
  else if (ui.joinError.dataset.kind === 'closed') say(ui.joinError, '');
  ui.joinError.dataset.kind = open ? '' : 'closed';
}

// renderServices lists the services to choose from, with each one's line
// and wait; an office with one service asks nothing.
function renderServices() {
  const services = sortedServices(chosen);
  $('svc-field').hidden = services.length < 2;
  if (services.length < 2) {
    $('services').replaceChildren();
    return;
  }
  const picked = pickedService();
  $('services').replaceChildren(
    ...services.map((s) => {
      const open = s.status === 'open';
      const input = el('input', {
        type: 'radio',
        name: 'service',
        value: s.code,
        checked: picked && picked.code === s.code,
        disabled: !open,
        'aria-describedby': `svc-${s.code}-meta`,
      });
      input.addEventListener('change', () => {
        chosenService = s.code;
        renderJoinFacts();
      });
      const wait =
        s.estimated_wait_seconds == null
          ? s.waiting_count === 0
            ? 'no wait'
            : 'wait unknown'
          : waitText(s.estimated_wait_seconds).replace(/^./, (c) => c.toLowerCase());
      return el(
        'label',
        { class: `svc${open ? '' : ' off'}` },
        input,
        el('span', { class: 'svc-code', 'aria-hidden': 'true', text: s.code }),
        el('span', { class: 'svc-name', text: s.name }),
        el('span', {
          class: 'svc-meta',
          id: `svc-${s.code}-meta`,
          text: open ? `${s.waiting_count} waiting · ${wait}` : `${statusText(s.status)}: no numbers now`,
        }),
      );
    }),
  );
}

async function refreshChosen() {
  try {
    const inst = await api('GET', `institutions/${chosen.id}`);
    if (chosen && chosen.id === inst.id) {
      chosen = inst;
      renderJoinFacts();
    }
  } catch {
    /* the list's figures stay; joining tells what is wrong */
  }
}

async function join(ev) {
  ev.preventDefault();
  const phone = ui.phone.value.replace(/[\s-]/g, '');
  if (phone && !/^0\d{10}$/.test(phone)) {
    say(ui.phoneError, 'Enter 11 digits starting with 0, like 09171234567, or leave it empty.');
    ui.phone.setAttribute('aria-invalid', 'true');
    ui.phone.focus();
    return;
  }
  say(ui.phoneError, '');
  ui.phone.removeAttribute('aria-invalid');
  say(ui.joinError, '');
  const body = { near_turn_threshold: Number(ui.threshold.value) };
  if (phone) body.phone = phone;
  const svc = pickedService();
  if (svc && sortedServices(chosen).length > 1) body.service = svc.code;
  const priority = document.querySelector('input[name=priority]:checked')?.value;
  if (priority && chosen.priority_run > 0) body.priority = priority;
  // The same key on a retry: a join whose answer was lost is not issued twice.
  joinKey = joinKey || newKey();
  ui.joinSubmit.disabled = true;
  ui.joinSubmit.textContent = 'Getting your number…';
  try {
    const t = await api('POST', `institutions/${chosen.id}/tickets`, {
      body,
      headers: { 'Idempotency-Key': joinKey },
    });
    joinKey = null;
    saved = { id: t.id, institution_id: t.institution_id, number: t.number, label: t.label || '', institution_name: chosen.name };
    localStorage.setItem(STORE, JSON.stringify(saved));
    ui.phone.value = '';
    office = chosen;
    openTicket(t);
  } catch (err) {
    if (err instanceof ApiError && err.status !== 0 && err.status < 500 && err.status !== 429) joinKey = null;
    say(ui.joinError, errorText(err, { what: 'office' }));
    if (err.code === 'institution_closed') refreshChosen();
  } finally {
    if (chosen) renderJoinFacts();
    ui.joinSubmit.textContent = 'Get my number';
  }
}

// ---------- the ticket ----------

function openTicket(initial) {
  clearInterval(pickTimer);
  ticket = null;
  seenNotifications = new Set();
  ui.announcements.replaceChildren();
  ui.news.hidden = true;
  showView('ticket');
  $('t-label').focus();
  $('t-inst').textContent = saved.institution_name || '';
  $('t-number').textContent = saved.label || (saved.number == null ? '—' : String(saved.number));
  $('t-number').dataset.number = String(saved.number);
  $('t-number').classList.toggle('is-label', Boolean(saved.label));
  if (office && office.id !== saved.institution_id) office = null;
  if (initial) render(initial);
  else $('t-status').textContent = 'Checking your place in line…';
  if (!office) {
    // The office's name, and its services' names for this ticket's line.
    const id = saved.institution_id;
    api('GET', `institutions/${id}`)
      .then((inst) => {
        if (!saved || saved.institution_id !== id) return;
        office = inst;
        retime(ui.announcements, office); // any received before: the office's time
        saved.institution_name = inst.name;
        localStorage.setItem(STORE, JSON.stringify(saved));
        $('t-inst').textContent = inst.name;
        if (ticket) render(ticket);
      })
      .catch(() => {});
  }
  stopLive();
  live = new Live(`tickets/${saved.id}/live`, {
    frame: onFrame,
    state: (s) => setConn(s === 'live' ? '' : s === 'connecting' ? 'Connecting…' : 'Reconnecting… your number is safe.'),
    retry: refreshTicket,
  });
  live.start();
  if (!initial) refreshTicket();
  if (detachNotify) detachNotify();
  detachNotify = attachNotify(saved.id);
}

let detachNotify = null;

function stopLive() {
  if (detachNotify) detachNotify();
  detachNotify = null;
  if (live) live.stop();
  live = null;
  setConn('');
}

// refreshTicket asks over HTTP, while the stream is down: the page stays
// current, and a ticket the server does not know any more is let go.
async function refreshTicket() {
  if (!saved) return;
  const id = saved.id;
  try {
    const t = await api('GET', `tickets/${id}`, { timeout: 5000 });
    if (saved && saved.id === id && newerTicket(ticket, t)) render(t);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 400) && saved && saved.id === id) {
      forget();
      showPick('Your earlier number is no longer known here. You can get a new one.');
    }
  }
}

function onFrame(f) {
  switch (f.type) {
    case 'snapshot':
      render(f.ticket); // the current state, whatever came before
      break;
    case 'update':
      if (newerTicket(ticket, f.ticket)) render(f.ticket);
      break;
    case 'notification':
      onNotification(f.notification);
      break;
    case 'announcement':
      addAnnouncement(f.message, f.created_at);
      break;
  }
}

const ACTIVE = new Set(['held', 'waiting', 'notified', 'serving']);

function statusSentence(t) {
  const counter = t.counter ? counterPhrase(t.counter) : 'the counter';
  switch (t.status) {
    case 'held':
      return `You're in the draw: your number comes at opening.`;
    case 'waiting':
      return `You're in line. We'll tell you when it's nearly your turn.`;
    case 'notified':
      return t.people_ahead === 0
        ? `You're next! Please go near the counters now.`
        : `Almost your turn: ${t.people_ahead} ahead of you. Please go near the counters.`;
    case 'serving':
      return t.checked_in_at
        ? `You're checked in at ${counter}. You're being served now.`
        : `It's your turn - go to ${counter}.`;
    case 'served':
      return 'All done: you have been served. Thank you!';
    case 'expired':
      return 'Your turn passed before you checked in, so this number has expired. You can get a new one.';
    case 'cancelled':
      return 'You cancelled this number.';
    default:
      return t.status;
  }
}

function render(t) {
  const prev = ticket;
  ticket = t;
  if (saved && (saved.number !== t.number || (t.label && saved.label !== t.label))) {
    saved.number = t.number;
    saved.label = t.label || '';
    localStorage.setItem(STORE, JSON.stringify(saved));
  }
  const serving = t.status === 'serving';
  const active = ACTIVE.has(t.status);
  const waiting = t.status === 'waiting' || t.status === 'notified';
  ui.card.dataset.status = t.status;
  $('t-number').textContent = t.status === 'held' ? '—' : ticketName(t);
  $('t-number').dataset.number = String(t.number);
  $('t-number').classList.toggle('is-label', Boolean(t.label));
  renderService(t);
  const sentence = statusSentence(t);
  // "Your turn" interrupts a screen reader; the rest waits for a pause.
  $('t-status').setAttribute('aria-live', serving && !t.checked_in_at ? 'assertive' : 'polite');
  if ($('t-status').textContent !== sentence) $('t-status').textContent = sentence;
  const place = t.position ?? (waiting ? t.people_ahead + 1 : null);
  $('t-place').textContent = waiting && place != null ? String(place) : '—';
  $('t-ahead').textContent = waiting ? String(t.people_ahead) : '—';
  $('t-wait').textContent = !waiting
    ? '—'
    : t.estimated_wait_seconds == null
      ? t.people_ahead === 0
        ? 'Any moment'
        : 'Unknown'
      : shortWait(t.estimated_wait_seconds);
  $('t-facts').hidden = !waiting;

  ui.turn.hidden = !(serving && !t.checked_in_at);
  $('t-turn-counter').textContent = t.counter ? `Go to ${counterPhrase(t.counter)}` : 'Go to the counter';
  $('t-checkin').hidden = !(serving && !t.checked_in_at);
  $('t-checkin').textContent = t.counter ? `I'm at ${counterPhrase(t.counter)}` : `I'm at the counter`;
  $('t-cancel').hidden = !active;
  $('t-new').hidden = active;

  if (serving && !t.checked_in_at && (!prev || prev.status !== 'serving')) {
    buzz([400, 150, 400, 150, 600]);
    flash(ui.turn);
  } else if (t.status === 'notified' && prev && prev.status === 'waiting') {
    buzz([200]);
  } else if (prev && prev.status === 'held' && t.status !== 'held') {
    flash(ui.card); // drawn: the number is here
  }

  heldView.show(t, office);
  offerFeedback($('t-feedback'), t);
  document.title = titleFor(t);
  day.show(t, office);
  // A finished number changes no more: let its stream go.
  if (!active) stopLive();
}

// renderService names the ticket's service (when the office has several)
// and its priority lane.
function renderService(t) {
  const services = office ? sortedServices(office) : [];
  const svc = services.find((s) => s.code === t.service);
  const parts = [];
  if (svc && services.length > 1) parts.push(svc.name);
  if (t.priority) parts.push(`Priority lane: ${priorityText(t.priority).toLowerCase()}`);
  say($('t-service'), parts.join(' · '));
}

function titleFor(t) {
  switch (t.status) {
    case 'serving':
      return t.checked_in_at ? `${ticketName(t)} being served` : `Your turn! ${t.counter ? counterName(t.counter) : ''} – ${ticketName(t)}`;
    case 'held':
      return 'In the draw at opening – QueueLess';
    case 'waiting':
    case 'notified':
      return `${ticketName(t)} · ${t.people_ahead} ahead – QueueLess`;
    default:
      return `${ticketName(t)} ${t.status} – QueueLess`;
  }
}

function onNotification(n) {
  if (!n || seenNotifications.has(n.id)) return;
  seenNotifications.add(n.id);
  // Drawn at opening: the ticket's update carries the number; ask as well.
  if (n.event === 'drawn' && ticket && ticket.status === 'held') refreshTicket();
  // A recall: it is (still) your turn; make it felt again.
  if (n.event === 'turn_called' && ticket && ticket.status === 'serving' && !ticket.checked_in_at) {
    buzz([400, 150, 400, 150, 600]);
    flash(ui.turn);
  }
}

// buzz vibrates where the browser allows it, at most once in a few seconds
// (an update and its notification arrive together).
function buzz(pattern) {
  const now = Date.now();
  if (now - lastBuzz < 3000) return;
  lastBuzz = now;
  // Without a tap on the page first (as after a reload) browsers refuse,
  // and say so in the console.
  if (navigator.userActivation && !navigator.userActivation.hasBeenActive) return;
  try {
    navigator.vibrate?.(pattern);
  } catch {
    /* not allowed here */
  }
}

function addAnnouncement(message, at) {
  ui.news.hidden = false;
  const item = el('li', {}, at ? officeTime(at, office) : el('time'), el('span', { text: message }));
  ui.announcements.prepend(item);
  while (ui.announcements.children.length > 5) ui.announcements.lastChild.remove();
  flash(item);
}

async function checkIn() {
  const btn = $('t-checkin');
  btn.disabled = true;
  say($('t-error'), '');
  try {
    const t = await api('POST', `tickets/${saved.id}/check-in`);
    if (newerTicket(ticket, t)) render(t);
  } catch (err) {
    say(
      $('t-error'),
      errorText(err, { what: 'number', invalidState: 'You can check in only while it is your turn.' }),
    );
    refreshTicket();
  } finally {
    btn.disabled = false;
  }
}

function askCancel() {
  say($('t-error'), '');
  $('cancel-title').textContent = `Cancel number ${ticket ? ticketName(ticket) : saved.label || saved.number}?`;
  ui.dialog.showModal();
}

async function confirmCancel() {
  ui.dialog.close();
  const btn = $('t-cancel');
  btn.disabled = true;
  try {
    const t = await api('POST', `tickets/${saved.id}/cancel`);
    if (newerTicket(ticket, t)) render(t);
  } catch (err) {
    say(
      $('t-error'),
      errorText(err, { what: 'number', invalidState: 'This number is finished already and cannot be cancelled.' }),
    );
    refreshTicket();
  } finally {
    btn.disabled = false;
    if (!$('t-new').hidden) $('t-new').focus();
  }
}

function forget() {
  stopLive();
  saved = null;
  ticket = null;
  office = null;
  day.show(null);
  heldView.show(null);
  localStorage.removeItem(STORE);
}

function newTicket() {
  const inst = saved && institutions.find((i) => i.id === saved.institution_id);
  forget();
  showPick();
  if (inst) showJoin(inst);
  else $('pick-title').focus();
}

// ---------- start ----------

function loadSaved() {
  try {
    const s = JSON.parse(localStorage.getItem(STORE) || 'null');
    if (s && typeof s.id === 'string' && Number.isInteger(s.institution_id)) return s;
  } catch {
    /* ignore a damaged entry */
  }
  localStorage.removeItem(STORE);
  return null;
}

ui.joinForm.addEventListener('submit', join);
$('join-back').addEventListener('click', () => showPick());
ui.pickRetry.addEventListener('click', () => loadInstitutions());
$('t-checkin').addEventListener('click', checkIn);
$('t-cancel').addEventListener('click', askCancel);
$('t-new').addEventListener('click', newTicket);
$('cancel-keep').addEventListener('click', () => ui.dialog.close());
$('cancel-confirm').addEventListener('click', confirmCancel);
window.addEventListener('storage', (ev) => {
  // Another tab took or dropped a ticket: follow it.
  if (ev.key !== STORE) return;
  const s = loadSaved();
  if (s && (!saved || s.id !== saved.id)) {
    saved = s;
    openTicket(null);
  }
});

// adoptLinked follows the ticket named in the address (?ticket=<id>): the
// link on a printed slip. It becomes this phone's ticket, and the address
// loses the id, so that a reload or a new number works as usual.
async function adoptLinked() {
  const params = new URLSearchParams(location.search);
  const id = params.get('ticket');
  if (id == null) return false;
  params.delete('ticket');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
  if (saved && saved.id === id) return false;
  try {
    const t = await api('GET', `tickets/${encodeURIComponent(id)}`);
    saved = { id: t.id, institution_id: t.institution_id, number: t.number, label: t.label || '', institution_name: '' };
    localStorage.setItem(STORE, JSON.stringify(saved));
    office = null;
    openTicket(t);
    return true;
  } catch (err) {
    const lost = err instanceof ApiError && (err.status === 404 || err.status === 400);
    if (saved) openTicket(null);
    else showPick(lost ? 'The number in that link is not known here. You can get a new one.' : errorText(err, { what: 'number' }));
    return true;
  }
}

saved = loadSaved();
adoptLinked().then((done) => {
  if (done) return;
  if (saved) openTicket(null);
  else showPick();
});
