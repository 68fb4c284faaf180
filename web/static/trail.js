// Trail shows an office's recent activity: the newest entries of the audit
// trail, which the contract serves oldest first, then whatever follows.

import { statusText, el, officeTime, retime, priorityText } from './format.js';

const SHOWN = 40;
const PAGE = 500;

export class Trail {
  /**
   * @param {HTMLElement} list the <ol> to fill
   * @param {function(number, number): Promise} page reads the events after
   *   an id, at most limit of them: {items, next_after}
   * @param {function(): object|null} office the office as last read (its
   *   timezone: times are shown in the office's), null while unknown
   */
  constructor(list, page, office = () => null) {
    this.list = list;
    this.page = page;
    this.office = office;
    this.events = []; // newest last
    this.lastId = 0;
    this.loaded = false; // the first, tail-finding load is done
    this.stopped = false;
    list.replaceChildren();
  }

  /** stop drops the answers of requests still on their way. */
  stop() {
    this.stopped = true;
  }

  /** redraw shows the times again: the office's timezone became known or changed. */
  redraw() {
    retime(this.list, this.office());
  }

  /** loadRecent shows the newest entries. */
  async loadRecent() {
    const first = await this.page(0, PAGE);
    let items = first.items;
    if (first.next_after != null) {
      // Ids are shared by every office: widen the window until it holds
      // enough of this office's events.
      const last = await this.findLastId(first.next_after);
      for (let window = 256; ; window *= 4) {
        const from = Math.max(0, last - window);
        items = await this.readTail(from);
        if (items.length >= SHOWN || from === 0) break;
      }
    }
    if (this.stopped) return;
    this.events = items.slice(-SHOWN);
    this.lastId = this.events.length ? this.events[this.events.length - 1].id : 0;
    this.loaded = true;
    this.render();
  }

  /** loadNew adds what happened since the last load. */
  async loadNew() {
    if (!this.loaded) return; // the first load is on its way
    const r = await this.readFrom(this.lastId, 4);
    if (this.stopped) return;
    if (!r.done) return this.loadRecent(); // far behind: jump to the end
    if (!r.items.length) return;
    this.events = this.events.concat(r.items).slice(-SHOWN);
    this.lastId = this.events[this.events.length - 1].id;
    this.render();
  }

  // findLastId finds the newest event id without reading the whole trail:
  // gallop forward, then bisect, with one-item pages. lo is an id with
  // events after it.
  async findLastId(lo) {
    let hi = null; // no events after hi
    for (let step = 1024; hi == null; step *= 2) {
      const p = await this.page(lo + step, 1);
      if (!p.items.length) hi = lo + step;
      else if (p.next_after == null) return p.items[0].id;
      else lo = lo + step;
    }
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const p = await this.page(mid, 1);
      if (!p.items.length) hi = mid;
      else if (p.next_after == null) return p.items[0].id;
      else lo = mid;
    }
    return hi;
  }

  // readFrom reads the events after an id, at most cap pages.
  async readFrom(after, cap) {
    const out = [];
    for (let i = 0; i < cap; i++) {
      const p = await this.page(after, PAGE);
      out.push(...p.items);
      if (p.next_after == null) return { items: out, done: true };
      after = p.next_after;
    }
    return { items: out, done: false };
  }

  // readTail reads the events after an id to the end, keeping the newest.
  async readTail(after) {
    let out = [];
    for (;;) {
      const p = await this.page(after, PAGE);
      out = out.concat(p.items).slice(-SHOWN);
      if (p.next_after == null) return out;
      after = p.next_after;
    }
  }

  render() {
    if (!this.events.length) {
      this.list.replaceChildren(el('li', { class: 'empty', text: 'Nothing has happened yet.' }));
      return;
    }
    this.list.replaceChildren(
      ...this.events
        .slice()
        .reverse()
        .map((e) =>
          el(
            'li',
            { dataset: { kind: e.kind } },
            officeTime(e.at, this.office(), true),
            el('span', { class: 'what', text: eventText(e) }),
            el('span', { class: 'actor', text: actorText(e.actor) }),
          ),
        ),
    );
  }
}

function actorText(actor) {
  if (actor === 'citizen') return 'citizen';
  if (actor === 'system') return 'system';
  if (actor === 'token:admin') return 'admin';
  if (actor && actor.startsWith('token:')) return `staff token ${actor.slice(6)}`;
  return actor || '';
}

/** eventText says an audit event in words. */
export function eventText(e) {
  const d = e.data || {};
  const n = d.label || (e.number != null ? `#${e.number}` : '');
  switch (e.kind) {
    case 'ticket.joined':
      return `${n} joined the line`;
    case 'ticket.notified':
      return `${n} told their turn is near`;
    case 'ticket.called': {
      const why = d.reason && !['in_order', 'priority'].includes(d.reason) ? ` out of turn (${d.reason})` : '';
      return `${n} called${d.counter ? ` to counter ${d.counter}` : ''}${why}`;
    }
    case 'ticket.priority':
      return d.to ? `${n} moved to the priority lane (${priorityText(d.to).toLowerCase()})` : `${n} moved to the regular line`;
    case 'institution.services':
      return 'Services changed';
    case 'institution.counters':
      return 'Counters changed';
    case 'ticket.recalled':
      return `${n} called again`;
    case 'ticket.checked_in':
      return `${n} checked in`;
    case 'ticket.served':
      return `${n} served`;
    case 'ticket.expired':
      return `${n} expired (did not check in)`;
    case 'ticket.cancelled':
      return `${n} cancelled`;
    case 'institution.created':
      return 'Office created';
    case 'institution.updated':
      if (d.status && Object.keys(d).length === 1) return `Status set to ${statusText(d.status).toLowerCase()}`;
      return `Office details changed: ${Object.keys(d).join(', ')}`;
    case 'announcement':
      return `Announcement: “${d.message || ''}”`;
    default:
      return `${e.kind} ${n}`.trim();
  }
}
