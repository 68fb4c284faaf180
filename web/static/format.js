// Small formatting helpers shared by the pages.

/** waitText says an estimated wait in words; null means unknown. */
export function waitText(seconds) {
  if (seconds == null) return 'Unknown';
  if (seconds <= 0) return 'Any moment now';
  if (seconds < 60) return 'Under a minute';
  const min = Math.round(seconds / 60);
  if (min < 60) return `About ${min} min`;
  const h = Math.floor(min / 60);
  const m = min % 60;
  return m ? `About ${h} h ${m} min` : `About ${h} h`;
}

/** shortWait is waitText for tight spaces. */
export function shortWait(seconds) {
  if (seconds == null) return '—';
  if (seconds <= 0) return 'Now';
  if (seconds < 60) return '< 1 min';
  const min = Math.round(seconds / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

const statusWords = { open: 'Open', paused: 'Paused', closed: 'Closed' };

/** statusText is an institution status in words. */
export function statusText(status) {
  return statusWords[status] || status;
}

/**
 * clock formats a time as hours and minutes: in timeZone (an IANA name,
 * e.g. the office's) when given and known to this browser, else the
 * reader's own.
 */
export function clock(t, withSeconds = false, timeZone = undefined) {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return '';
  const opts = { hour: '2-digit', minute: '2-digit' };
  if (withSeconds) opts.second = '2-digit';
  if (timeZone) {
    try {
      return d.toLocaleTimeString([], { ...opts, timeZone });
    } catch {
      /* a zone this browser does not know: the reader's time */
    }
  }
  return d.toLocaleTimeString([], opts);
}

/**
 * officeClock formats a time of an office's day (a call, a ticket, an
 * event) as people at the office read it: in the office's own time zone
 * (inst.timezone), whatever the zone of the device showing it (a phone
 * abroad, a kiosk left on UTC). Every page shows office times through it.
 * Without the office (not loaded yet) it falls back to the reader's zone;
 * pages draw their times again once the office is known.
 */
export function officeClock(t, inst, withSeconds = false) {
  return clock(t, withSeconds, inst ? inst.timezone : undefined);
}

/**
 * officeTime is a <time> element showing t by officeClock; a page that
 * drew it before it knew the office calls retime once it does.
 */
export function officeTime(t, inst, withSeconds = false, attrs = {}) {
  return el('time', { ...attrs, datetime: t, dataset: { clock: withSeconds ? 'hms' : 'hm' }, text: officeClock(t, inst, withSeconds) });
}

/** retime draws again the officeTime elements under root, in inst's zone. */
export function retime(root, inst) {
  for (const e of root.querySelectorAll('time[data-clock]')) {
    e.textContent = officeClock(e.getAttribute('datetime'), inst, e.dataset.clock === 'hms');
  }
}

/** officeDate is the office's calendar day at t, as YYYY-MM-DD (a date input's value). */
export function officeDate(t, inst) {
  const d = t instanceof Date ? t : new Date(t);
  const local = () => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  if (!inst || !inst.timezone) return local();
  try {
    const p = Object.fromEntries(
      new Intl.DateTimeFormat('en-US', { timeZone: inst.timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(d).map((x) => [x.type, x.value]),
    );
    return `${p.year}-${p.month}-${p.day}`;
  } catch {
    return local();
  }
}

/**
 * officeMidnight is the instant the office's day starts, days after
 * today's (0: today's midnight, 1: tomorrow's), in its timezone; in the
 * reader's while the office is unknown.
 */
export function officeMidnight(inst, days = 0, now = new Date()) {
  const [y, m, d] = officeDate(now, inst).split('-').map(Number);
  if (!inst || !inst.timezone) return new Date(y, m - 1, d + days);
  const wall = Date.UTC(y, m - 1, d + days); // midnight, read as if UTC
  try {
    // offset: how far the office's clock is ahead of UTC at t.
    const f = new Intl.DateTimeFormat('en-US', { timeZone: inst.timezone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23' });
    const offset = (t) => {
      const p = Object.fromEntries(f.formatToParts(new Date(t)).map((x) => [x.type, Number(x.value)]));
      return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(t / 1000) * 1000;
    };
    const guess = wall - offset(wall);
    return new Date(wall - offset(guess)); // again at the guess: a daylight-saving change that day
  } catch {
    return new Date(y, m - 1, d + days);
  }
}

/**
 * zoneNote names the office's time zone at t ("GMT+8", "EST") when the
 * reader's own clock reads another time then, so that a time that matters
 * (a deadline) is not taken for the reader's; '' when both clocks agree or
 * the office is unknown.
 */
export function zoneNote(t, inst) {
  const timeZone = inst && inst.timezone;
  const d = t instanceof Date ? t : new Date(t);
  if (!timeZone || Number.isNaN(d.getTime())) return '';
  try {
    const wall = { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' };
    const there = new Intl.DateTimeFormat('en-US', { ...wall, timeZone }).format(d);
    if (there === new Intl.DateTimeFormat('en-US', wall).format(d)) return '';
    const part = new Intl.DateTimeFormat([], { timeZone, timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName');
    return part ? part.value : timeZone;
  } catch {
    return ''; // a zone this browser does not know: clock showed the reader's time
  }
}

/** ago says how long ago t was, roughly. */
export function ago(t, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(t)) / 1000));
  if (s < 60) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  return `${h} h ${m % 60} min ago`;
}

/** el builds an element: el('li', {class: 'x', text: 'y'}, child...). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) {
    if (c == null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** say sets an element's text and unhides it, or hides it when text is empty. */
export function say(node, text) {
  node.textContent = text || '';
  node.hidden = !text;
}

/** flash restarts a CSS highlight animation on node. */
export function flash(node, cls = 'flash') {
  node.classList.remove(cls);
  void node.offsetWidth; // restart the animation
  node.classList.add(cls);
}

/** ticketName is how a ticket is shown: its label, else its number. */
export function ticketName(t) {
  return t.label || String(t.number);
}

const priorityWords = {
  senior: 'Senior citizen',
  pwd: 'Person with disability',
  pregnant: 'Pregnant',
  other: 'Other priority',
};

/** PRIORITIES are the contract's priority categories, in display order. */
export const PRIORITIES = Object.keys(priorityWords);

/** priorityText is a priority category in words; '' for none. */
export function priorityText(p) {
  return p ? priorityWords[p] || p : '';
}

/**
 * counterName is a counter as shown: a short code ("3", "B", "A1") is
 * "Counter 3"; a name ("Window 2", "Triage") is shown as given.
 */
export function counterName(c) {
  if (c == null || c === '') return 'Counter';
  return /^(\d+[A-Za-z]?|[A-Za-z]{1,2}\d*)$/.test(c) ? `Counter ${c}` : c;
}

/** sortedServices returns an institution's services in display order. */
export function sortedServices(inst) {
  return (inst.services || []).slice().sort((a, b) => a.position - b.position);
}

/** counterPhrase is a counter inside a sentence: "counter 3", or "Triage". */
export function counterPhrase(c) {
  const name = counterName(c);
  return name.startsWith('Counter ') ? `counter ${name.slice(8)}` : name;
}
