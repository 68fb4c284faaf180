// The pre-queue notice (shared/API.md v1.1, "Fair opening"): in the last
// prequeue_minutes before the day's first opening, an office with hours
// takes numbers whose places are drawn at opening. The board says so:
// "Opens at 8:00 · numbers are drawn at opening". Worked out from the
// Institution's contract fields (timezone, hours, closed_dates,
// prequeue_minutes, status) and the clock, in the office's own timezone.

import { say } from './format.js';

const KEYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** wall is the office's local date, weekday key and second of the day at now. */
export function wall(timezone, now) {
  const parts = {};
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone || 'UTC',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  for (const p of f.formatToParts(now)) parts[p.type] = p.value;
  const day = KEYS[['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(parts.weekday)];
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    day,
    second: Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second),
  };
}

function secondsOf(t) {
  const [h, m, s = 0] = String(t).split(':').map(Number);
  return h * 3600 + m * 60 + s;
}

/**
 * prequeueOpening returns the opening time ("8:00") while now is in the
 * office's pre-queue window, else null.
 */
export function prequeueOpening(inst, now = new Date()) {
  if (!inst || !inst.hours || !(inst.prequeue_minutes > 0) || inst.status === 'open') return null;
  let w;
  try {
    w = wall(inst.timezone, now);
  } catch {
    return null; // a timezone this browser does not know
  }
  if ((inst.closed_dates || []).includes(w.date)) return null;
  const first = (inst.hours[w.day] || [])[0];
  if (!first) return null;
  const opens = secondsOf(first[0]);
  if (w.second < opens - inst.prequeue_minutes * 60 || w.second >= opens) return null;
  const [h, m] = first[0].split(':');
  return `${Number(h)}:${m}`;
}

/**
 * PrequeueNotice shows the notice on the board while the window is open,
 * in place of the board's status line ("Closed: no new numbers today" is
 * not true while numbers are taken for the draw).
 */
export class PrequeueNotice {
  constructor(node, statusNode) {
    this.node = node;
    this.statusNode = statusNode;
    this.inst = null;
  }

  /** show takes the office's new state; tick() re-reads the clock. */
  show(inst) {
    this.inst = inst;
    this.tick();
  }

  tick() {
    const at = prequeueOpening(this.inst);
    if (!at) {
      if (!this.node.hidden && this.statusNode) this.statusNode.hidden = !this.statusNode.textContent;
      say(this.node, '');
      return;
    }
    if (this.statusNode) this.statusNode.hidden = true;
    if (this.node.dataset.opens === at && !this.node.hidden) return;
    this.node.dataset.opens = at;
    this.node.replaceChildren(
      `Opens at ${at} · numbers are drawn at opening`,
      Object.assign(document.createElement('small'), {
        textContent: `Take a number on your phone now: at ${at} everyone who did gets a place drawn at random, so there is no need to crowd the door.`,
      }),
    );
    this.node.hidden = false;
  }
}
