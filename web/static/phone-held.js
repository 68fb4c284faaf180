// The phone page in the pre-queue window (shared/API.md v1.1, "Fair
// opening"): an office with hours takes numbers in the last
// prequeue_minutes before its first opening, as `held` tickets with no
// number yet; at the opening their places are drawn at random. This module
// says whether a closed office takes such joins now, and what a held
// ticket shows: when the draw is, and the link to the draw's published
// commitment. phone.js renders the drawn ticket as any other once the
// `drawn` update arrives.

import { pageURL } from './api.js';
import { el, say, statusText } from './format.js';
import { prequeueOpening, wall } from './prequeue.js';

/**
 * holdsJoins returns the opening time ("8:00") while a join to inst would
 * be held for the draw (closed, in its pre-queue window), else null. The
 * server holds only closed offices' joins; a paused one takes none.
 */
export function holdsJoins(inst, now = new Date()) {
  return inst && inst.status === 'closed' ? prequeueOpening(inst, now) : null;
}

/**
 * officeBadge is an office's status badge: "Pre-queue open, draw at 8:00"
 * while it holds joins for the draw (it is closed, yet takes numbers),
 * else its status ("Open", "Closed").
 */
export function officeBadge(inst, now = new Date()) {
  const draw = holdsJoins(inst, now);
  if (draw) return el('span', { class: 'badge prequeue', text: `Pre-queue open, draw at ${draw}` });
  return el('span', { class: `badge ${inst.status}`, text: statusText(inst.status) });
}

/** firstOpening is the office's first opening today ("8:00"), or null. */
export function firstOpening(inst, now = new Date()) {
  if (!inst || !inst.hours) return null;
  try {
    const w = wall(inst.timezone, now);
    const first = (inst.hours[w.day] || [])[0];
    if (!first) return null;
    const [h, m] = String(first[0]).split(':');
    return { at: `${Number(h)}:${m}`, date: w.date };
  } catch {
    return null;
  }
}

/** drawURL is the public draw of inst's local day: its commitment, then its seed and order. */
export function drawURL(instId, date) {
  return pageURL(`api/v1/institutions/${instId}/draws/${date}`).href;
}

/**
 * HeldView fills #t-held while the ticket is held, and hides it after.
 * show(t, office) takes every state of the ticket.
 */
export class HeldView {
  constructor(root) {
    this.root = root;
    this.line = el('p', { id: 't-held-line', class: 'held-line' });
    this.link = el('a', { id: 't-draw', text: "The draw's published commitment" });
    this.hint = el('p', {
      class: 'hint',
      text: 'Everyone who takes a number before opening gets a place drawn at random at the opening, so there is no need to crowd the door. The office published a commitment to its random seed before the draw: anyone can check the order afterwards.',
    });
    root.replaceChildren(this.line, this.hint, el('p', { class: 'center' }, this.link));
    root.hidden = true;
  }

  show(t, office) {
    const held = Boolean(t) && t.status === 'held';
    this.root.hidden = !held;
    if (!held) return;
    const o = office && office.id === t.institution_id ? firstOpening(office) : null;
    say(
      this.line,
      o ? `You are in the draw at ${o.at}; your number will be drawn at opening.` : 'You are in the draw; your number will be drawn at opening.',
    );
    this.link.hidden = !o;
    if (o) this.link.href = drawURL(t.institution_id, o.date);
  }
}
