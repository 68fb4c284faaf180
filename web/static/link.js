// The staff console's card for an office's link to its own queue system
// (docs/API-EXTENSIONS.md): its mode, what it reads, and whether it is in
// sync or stale.

import { ApiError } from './api.js';
import { el, say, officeClock, ago } from './format.js';

// A link's state changes without a live frame (a failed poll moves no
// number), so it is read on a timer: every 30 s, sooner when it could go
// stale sooner, and soon after an update; never twice within 5 s.
const EVERY_MS = 30000;
const GAP_MS = 5000;

const states = { 'in-sync': 'In sync', stale: 'Stale', pending: 'Waiting for the first sync' };

export class LinkCard {
  /**
   * @param {Element} after the card goes after this element; it stays
   *   hidden while the office has no link.
   * @param {(method: string, path: string) => Promise<any>} call the
   *   console's authenticated API call.
   * @param {() => object|null} office the office as last read (its
   *   timezone: times are shown in the office's), null while unknown.
   */
  constructor(after, call, office = () => null) {
    this.call = call;
    this.office = office;
    this.shown = null; // the link shown, for redraw
    this.id = null; // the office followed, null: none
    this.gen = 0; // bumped on every office change: late answers are dropped
    this.timer = 0;
    this.due = 0;
    this.last = 0;
    this.busy = false;
    this.ui = build(after);
  }

  /** follow shows the link of office id, or of none when id is null. */
  follow(id) {
    this.gen++;
    clearTimeout(this.timer);
    this.timer = 0;
    this.due = 0;
    this.last = 0;
    this.busy = false;
    this.render(null, '');
    this.id = id;
    if (id != null) this.load();
  }

  /** redraw shows the link again: the office's timezone became known or changed. */
  redraw() {
    if (this.shown) this.render(this.shown);
  }

  /** soon follows an update of the office: a sync may have moved it. */
  soon() {
    if (this.id != null) this.schedule(Math.max(0, this.last + GAP_MS - Date.now()));
  }

  // schedule reads the link after delay ms, unless a read is due sooner.
  schedule(delay) {
    const due = Date.now() + delay;
    if (this.timer && this.due <= due) return;
    clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => this.load(), delay);
  }

  async load() {
    clearTimeout(this.timer);
    this.timer = 0;
    if (this.id == null) return;
    if (this.busy) {
      this.schedule(GAP_MS);
      return;
    }
    const gen = this.gen;
    this.busy = true;
    this.last = Date.now();
    let next = EVERY_MS;
    try {
      const l = await this.call('GET', `institutions/${this.id}/link`);
      if (gen === this.gen) {
        this.render(l);
        next = Math.min(EVERY_MS, Math.max(GAP_MS, l.stale_after_seconds * 1000));
      }
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (gen === this.gen) {
        const { status } = err;
        // 404: no link. 401 and 403: not this token's to see (the rest of
        // the console deals with a token that stopped working). Otherwise
        // keep what is shown and say it may be old.
        if (status === 404 || status === 401 || status === 403) this.render(null, status === 404 ? 'none' : 'hidden');
        else if (!this.ui.card.hidden) say(this.ui.note, 'Could not check the link just now; this may be out of date.');
        if (err.retryAfter != null) next = Math.max(next, err.retryAfter * 1000);
      }
    } finally {
      if (gen === this.gen) {
        this.busy = false;
        if (this.id != null) this.schedule(next);
      }
    }
  }

  // render shows l, or hides the card (state says why: "none" when the
  // office has no link).
  render(l, state) {
    const u = this.ui;
    this.shown = l;
    if (!l) {
      u.card.hidden = true;
      u.card.dataset.state = state;
      delete u.card.dataset.mode;
      u.state.textContent = '';
      return;
    }
    const s = l.stale ? 'stale' : l.last_success_at ? 'in-sync' : 'pending';
    u.card.hidden = false;
    u.card.dataset.state = s;
    u.card.dataset.mode = l.mode;
    if (l.mode === 'poll') {
      u.mode.textContent = `Poll: QueueLess reads the office's own system every ${span(l.poll_interval_seconds)}`;
    } else {
      u.mode.textContent = "Push: the office's own system sends its queue to QueueLess";
    }
    u.urlRow.hidden = !l.url;
    u.url.textContent = l.url || '';
    if (u.state.textContent !== states[s]) {
      u.state.textContent = states[s];
      u.state.className = `badge ${s}`;
    }
    u.since.replaceChildren(
      ...(l.last_success_at ? ['Last successful sync ', when(l.last_success_at, this.office()), '.'] : ['No successful sync yet.']),
      l.stale ? ` No news for more than ${span(l.stale_after_seconds)}.` : '',
      l.breaker === 'open' ? ' It stopped answering, so QueueLess asks it less often for now.' : '',
    );
    u.errorRow.hidden = !l.last_error;
    u.error.replaceChildren(l.last_error || '');
    if (l.last_error && l.last_attempt_at) {
      const n = l.consecutive_failures;
      u.error.append(
        el('span', { class: 'muted' }, n > 1 ? ` (${n} failures in a row, the last at ` : ' (at ', when(l.last_attempt_at, this.office(), false), ')'),
      );
    }
    say(
      u.note,
      l.stale ? "This line keeps working here, but numbers called at the office's own counters show only once its system answers again." : '',
    );
  }
}

// build makes the card, hidden, after the given element.
function build(after) {
  const row = (label, dd) => el('div', {}, el('dt', { text: label }), dd);
  const mode = el('dd', { id: 'link-mode' });
  const url = el('dd', { id: 'link-url', class: 'url' });
  // Only the state is announced, and only when it changes: the times next
  // to it change at every read.
  const state = el('span', { id: 'link-state', class: 'badge', role: 'status', 'aria-live': 'polite' });
  const since = el('span', { id: 'link-since' });
  const note = el('p', { id: 'link-note', class: 'hint', hidden: true });
  const error = el('dd', { id: 'link-error' });
  const urlRow = row('Reads', url);
  const errorRow = row('Last error', error);
  const card = el(
    'section',
    { id: 'link', class: 'card sync', 'aria-labelledby': 'link-title', hidden: true },
    el('h2', { id: 'link-title', text: 'Outside queue system' }),
    el('dl', {}, row('Mode', mode), urlRow, row('State', el('dd', {}, state, ' ', since)), errorRow),
    note,
  );
  after.after(card);
  return { card, mode, url, urlRow, state, since, note, error, errorRow };
}

// when is a time as the console shows it: the office's clock, and how long ago.
function when(t, inst, withAgo = true) {
  const c = officeClock(t, inst);
  return el('time', { datetime: t, title: officeClock(t, inst, true), text: withAgo ? `${c} (${ago(t)})` : c });
}

// span says a number of seconds briefly: "0.5 s", "2 min", "1.5 h".
function span(seconds) {
  const round = (n) => String(Math.round(n * 10) / 10);
  if (seconds < 60) return `${round(seconds)} s`;
  if (seconds < 3600) return `${round(seconds / 60)} min`;
  return `${round(seconds / 3600)} h`;
}
