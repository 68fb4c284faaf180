// The phone page's office-day actions (shared/API.md v1.1, "Missed turns,
// defer, transfer" and "Fairness log"): "I missed my turn, put me back"
// while a missed (expired) number may still go back in line, "let people
// go ahead of me" while it waits, and the link to how calls were made
// today. phone.js calls show() with every state of the ticket; the module
// owns #t-day and everything in it.

import { api, ApiError, errorText, pageURL } from './api.js';
import { el, say, officeClock, zoneNote, ticketName } from './format.js';

const MAX_DEFERS = 2; // the contract's "at most twice per ticket"
const DEFERS = 'queueless.defers.'; // + ticket id: defers this phone made

function people(n) {
  return n === 1 ? '1 person' : `${n} people`;
}

function times(n) {
  return n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`;
}

export class OfficeDay {
  /**
   * @param {HTMLElement} root the element the module fills (#t-day)
   * @param {object} o reopen(ticket): follow a ticket that is back in line
   *   (its stream had stopped); shown(ticket): a newer state to render.
   */
  constructor(root, { reopen, shown }) {
    this.root = root;
    this.reopen = reopen;
    this.shown = shown;
    this.ticket = null;
    this.office = null;
    this.requeues = null; // {id, count}: requeued notifications of the ticket
    this.timer = 0;
    this.busy = false;

    this.error = el('p', { class: 'error', role: 'alert', hidden: true });
    this.done = el('p', { class: 'success', role: 'status', hidden: true });

    this.putBack = el('button', { id: 't-requeue', class: 'primary big', type: 'button', text: 'I missed my turn, put me back' });
    this.putBackRule = el('p', { id: 't-requeue-rule', class: 'hint' });
    this.requeueBox = el('div', { class: 'day-requeue card', hidden: true }, this.putBackRule, this.putBack);
    this.putBack.addEventListener('click', () => this.requeue());

    this.places = el('select', { id: 't-defer-places' });
    for (let n = 1; n <= 10; n++) this.places.append(el('option', { value: String(n), selected: n === 3, text: String(n) }));
    this.deferBtn = el('button', { id: 't-defer', class: 'secondary', type: 'button', text: 'Let them go ahead' });
    this.deferRule = el('p', { id: 't-defer-rule', class: 'hint' });
    this.deferBox = el(
      'details',
      { class: 'day-defer card', id: 't-defer-box', hidden: true },
      el('summary', { text: 'Not ready yet? Let people go ahead of me' }),
      this.deferRule,
      el('div', { class: 'row' }, el('label', { for: 't-defer-places', text: 'How many people' }), this.places, this.deferBtn),
    );
    this.deferBtn.addEventListener('click', () => this.defer());

    this.fairness = el('a', { id: 't-fairness', class: 'day-fairness', text: 'How calls were made today' });
    root.replaceChildren(this.error, this.done, this.requeueBox, this.deferBox, el('p', { class: 'center' }, this.fairness));
    root.hidden = true;
  }

  /** show takes the ticket's latest state and its office (null while unknown). */
  show(t, office) {
    const other = !t || !this.ticket || this.ticket.id !== t.id;
    if (other) {
      say(this.error, '');
      say(this.done, '');
      this.requeues = null;
      this.deferBox.open = false;
    }
    this.ticket = t;
    this.office = office && t && office.id === t.institution_id ? office : null;
    clearTimeout(this.timer);
    this.root.hidden = !t;
    if (!t) return;
    this.fairness.href = pageURL(`calls/${t.institution_id}`).href;
    this.showRequeue();
    this.showDefer();
  }

  // ---------- I missed my turn ----------

  /** windowEnd is when the citizen may no longer put t back; null: not at all. */
  windowEnd(t) {
    const o = this.office;
    if (!o || t.status !== 'expired' || !t.completed_at || !(o.rejoin_window_seconds > 0)) return null;
    return new Date(Date.parse(t.completed_at) + o.rejoin_window_seconds * 1000);
  }

  showRequeue() {
    const t = this.ticket;
    const end = this.windowEnd(t);
    const o = this.office;
    const left = end && end > Date.now();
    if (left && (!this.requeues || this.requeues.id !== t.id)) this.countRequeues(t);
    const used = this.requeues && this.requeues.id === t.id ? this.requeues.count : null;
    const allowed = left && used != null && used < o.max_requeues;
    this.requeueBox.hidden = !allowed;
    if (!allowed) return;
    const ahead = o.requeue_after;
    const more = o.max_requeues - used;
    // The office's time, named when this phone's clock reads another.
    const until = [officeClock(end, o), zoneNote(end, o)].filter(Boolean).join(' ');
    this.putBackRule.textContent =
      `Missed your call? Until ${until} you can go back in line with your number ${ticketName(t).replace('-', '\u2011')}: ` +
      (ahead > 0 ? `${people(ahead)} will be ahead of you (fewer if fewer are waiting). ` : 'you will be next. ') +
      (more === 1 ? 'You can do this only once.' : `You can do this ${times(more)} more.`);
    // The window closes while the page is open: the offer goes.
    this.timer = setTimeout(() => this.showRequeue(), Math.min(end - Date.now() + 50, 2 ** 31 - 1));
  }

  // countRequeues reads how often the ticket was put back already: one
  // `requeued` notification each time.
  async countRequeues(t) {
    this.requeues = { id: t.id, count: null };
    try {
      const res = await api('GET', `tickets/${t.id}/notifications`);
      const count = (res.items || []).filter((n) => n.event === 'requeued').length;
      if (this.requeues.id === t.id) this.requeues.count = count;
    } catch {
      if (this.requeues.id === t.id) this.requeues.count = 0; // the server decides; it says no if so
    }
    if (this.ticket && this.ticket.id === t.id) this.showRequeue();
  }

  async requeue() {
    if (this.busy || !this.ticket) return;
    const t = this.ticket;
    this.busy = true;
    this.putBack.disabled = true;
    say(this.error, '');
    try {
      const back = await api('POST', `tickets/${t.id}/requeue`);
      this.requeues = { id: t.id, count: (this.requeues?.count || 0) + 1 };
      say(this.done, `You're back in line with ${ticketName(back)}: ${people(back.people_ahead)} ahead of you.`);
      this.reopen(back);
    } catch (err) {
      say(
        this.error,
        errorText(err, {
          what: 'number',
          invalidState: `Your number can no longer be put back here${err.message ? ` (${err.message})` : ''}. Ask at a counter, or get a new number.`,
        }),
      );
      if (err instanceof ApiError && err.code === 'invalid_state') this.requeueBox.hidden = true;
    } finally {
      this.busy = false;
      this.putBack.disabled = false;
    }
  }

  // ---------- let people go ahead ----------

  defers(t) {
    try {
      return Number(sessionStorage.getItem(DEFERS + t.id) || 0);
    } catch {
      return 0;
    }
  }

  showDefer() {
    const t = this.ticket;
    const waiting = t.status === 'waiting' || t.status === 'notified';
    const left = MAX_DEFERS - this.defers(t);
    this.deferBox.hidden = !waiting || left <= 0;
    this.deferRule.textContent =
      `If you need a few more minutes, you keep your number and move back that many places in line (to the end if fewer are behind you). ` +
      (left === 1 ? 'You can do this once more.' : `You can do this ${times(left)}.`);
  }

  async defer() {
    if (this.busy || !this.ticket) return;
    const t = this.ticket;
    const places = Number(this.places.value);
    this.busy = true;
    this.deferBtn.disabled = true;
    say(this.error, '');
    say(this.done, '');
    try {
      const moved = await api('POST', `tickets/${t.id}/defer`, { body: { places } });
      if (moved.people_ahead === t.people_ahead && moved.position === t.position) {
        say(this.done, 'Nobody is behind you in line, so there is nobody to let go ahead. Your place is unchanged.');
      } else {
        try {
          sessionStorage.setItem(DEFERS + t.id, String(this.defers(t) + 1));
        } catch {
          /* private mode: the server still counts */
        }
        say(this.done, `Done: ${people(moved.people_ahead)} ahead of you now.`);
        this.deferBox.open = false;
      }
      this.shown(moved);
    } catch (err) {
      say(
        this.error,
        errorText(err, {
          what: 'number',
          invalidState: `That cannot be done now${err.message ? ` (${err.message})` : ''}.`,
        }),
      );
    } finally {
      this.busy = false;
      this.deferBtn.disabled = false;
      if (this.ticket) this.showDefer();
    }
  }
}
