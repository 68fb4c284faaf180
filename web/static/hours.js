// The staff console's hours editor (administrators; shared/API.md v1.1,
// "The office day" and "Fair opening"): the office's timezone, its weekly
// hours with several periods a day, closed dates, the join cutoff, what
// happens to the line at closing, the pre-queue window, and each service's
// daily quota. It sends the contract's Institution fields in one PATCH
// (timezone, hours, closed_dates, join_cutoff_minutes, at_close,
// prequeue_minutes) and a service PATCH per changed quota. The form is
// filled from the office when it opens and after a save; live updates
// never overwrite what is being edited.

import { ApiError, errorText } from './api.js';
import { el, say, sortedServices } from './format.js';

export const DAYS = [
  ['mon', 'Monday'],
  ['tue', 'Tuesday'],
  ['wed', 'Wednesday'],
  ['thu', 'Thursday'],
  ['fri', 'Friday'],
  ['sat', 'Saturday'],
  ['sun', 'Sunday'],
];
const MAX_PERIODS = 12;
const TIME = /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$|^24:00(:00)?$/;

/** seconds of a contract time "HH:MM" or "HH:MM:SS". */
function seconds(t) {
  const [h, m, s = 0] = t.split(':').map(Number);
  return h * 3600 + m * 60 + s;
}

/** short trims ":00" seconds, as time inputs give "08:00" or "08:00:30". */
function short(t) {
  return t.length === 8 && t.endsWith(':00') ? t.slice(0, 5) : t;
}

/**
 * checkHours validates a weekly schedule as the contract reads it: each
 * period opens before it closes, a day's periods are in order and neither
 * overlap nor touch. It returns the first problem in words, or ''.
 */
export function checkHours(hours) {
  for (const [key, name] of DAYS) {
    const periods = hours[key] || [];
    if (periods.length > MAX_PERIODS) return `${name}: at most ${MAX_PERIODS} periods a day.`;
    let prevClose = -1;
    for (const [i, [from, to]] of periods.entries()) {
      if (!TIME.test(from) || !TIME.test(to)) return `${name}, period ${i + 1}: give both times, like 08:00 and 12:00.`;
      if (seconds(from) >= seconds(to)) return `${name}, period ${i + 1}: it must open (${short(from)}) before it closes (${short(to)}).`;
      if (seconds(from) <= prevClose) {
        return `${name}, period ${i + 1}: it must open after the previous period closes (periods that touch are one period).`;
      }
      prevClose = seconds(to);
    }
  }
  return '';
}

function zones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return ['UTC', 'Asia/Manila'];
  }
}

export class HoursEditor {
  /**
   * @param {object} o call(method, path under the office, body): the
   *   console's authenticated call; signedOut(err): true when the console
   *   handled err (a 401); saved(institution): after a save.
   */
  constructor({ call, signedOut, saved }) {
    this.call = call;
    this.signedOut = signedOut;
    this.saved = saved;
    this.inst = null;
    this.dirty = false;
    this.root = document.getElementById('hours');
    this.build();
    this.root.addEventListener('toggle', () => this.root.open && this.fill(true));
    this.form.addEventListener('input', () => (this.dirty = true));
    this.form.addEventListener('submit', (ev) => this.save(ev));
  }

  build() {
    const input = (id, attrs = {}) => el('input', { id, ...attrs });
    this.error = el('p', { id: 'hours-error', class: 'error', role: 'alert', hidden: true });
    this.okMsg = el('p', { id: 'hours-ok', class: 'success', role: 'status', hidden: true });
    this.useHours = input('hours-on', { type: 'checkbox' });
    this.timezone = input('hours-tz', { list: 'hours-zones', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. Asia/Manila' });
    this.days = el('div', { class: 'hours-days', id: 'hours-days' });
    this.dates = el('ul', { class: 'hours-dates', id: 'hours-dates', 'aria-label': 'Closed dates' });
    this.newDate = input('hours-new-date', { type: 'date' });
    this.cutoff = input('hours-cutoff', { type: 'number', min: '0', max: '240', inputmode: 'numeric' });
    this.atClose = el(
      'select',
      { id: 'hours-at-close' },
      el('option', { value: 'expire', text: 'Expire the numbers still waiting' }),
      el('option', { value: 'carry_over', text: 'Keep them, first in line the next day' }),
    );
    this.prequeue = input('hours-prequeue', { type: 'number', min: '0', max: '120', inputmode: 'numeric' });
    this.quotas = el('div', { class: 'hours-grid', id: 'hours-quotas' });
    const addDate = el('button', { type: 'button', class: 'secondary small', text: 'Add closed date' });
    addDate.addEventListener('click', () => this.addDate());
    this.useHours.addEventListener('change', () => this.showDays());

    const field = (label, control, hint) =>
      el('div', {}, el('label', { for: control.id, text: label }), control, hint ? el('p', { class: 'hint', text: hint }) : null);
    this.form = el(
      'form',
      { id: 'hours-form', novalidate: true },
      el('label', { class: 'choice' }, this.useHours, ' Open and close by itself on a weekly schedule'),
      el('p', { class: 'hint', text: 'Off: the office is only open, paused or closed as staff set it. On: it opens and closes at each time below; staff may still pause, open or close by hand until the next time.' }),
      field('Timezone', this.timezone, 'The office’s local time, an IANA name like Asia/Manila.'),
      el('datalist', { id: 'hours-zones' }, ...zones().map((z) => el('option', { value: z }))),
      el('h3', { text: 'Weekly hours' }),
      this.days,
      el('h3', { text: 'Closed dates' }),
      this.dates,
      el('div', { class: 'row' }, el('label', { for: 'hours-new-date', class: 'sr-only', text: 'Closed date to add' }), this.newDate, addDate),
      el('h3', { text: 'The office day' }),
      el(
        'div',
        { class: 'hours-grid' },
        field('Stop giving numbers this many minutes before closing', this.cutoff, '0 to 240 minutes; counts back from every closing, lunch too.'),
        field('At the last closing of the day', this.atClose, 'Serving tickets finish as usual either way.'),
        field('Take numbers before opening (minutes, 0 = off)', this.prequeue, '0 to 120. People who join in this window before the first opening get their places drawn at random at opening: nobody gains by crowding the door.'),
      ),
      el('h3', { text: 'Daily quota per service' }),
      el('p', { class: 'hint', text: 'The most numbers a service gives in a day; empty for no limit. Counts restart every local day.' }),
      this.quotas,
      this.error,
      this.okMsg,
      el('div', { class: 'row' }, el('button', { id: 'hours-save', class: 'primary', type: 'submit', text: 'Save hours and the office day' })),
    );
    this.root.replaceChildren(
      el('summary', {}, el('span', { class: 'setup-title', text: 'Opening hours and the office day' }), ' ', el('span', { class: 'hint', text: 'needs an administrator token' })),
      this.form,
    );
  }

  reset() {
    this.inst = null;
    this.dirty = false;
    this.root.open = false;
    say(this.error, '');
    say(this.okMsg, '');
  }

  show(inst) {
    this.inst = inst;
    if (this.root.open && !this.dirty) this.fill(false);
  }

  fill() {
    const i = this.inst;
    if (!i) return;
    this.useHours.checked = i.hours != null;
    this.timezone.value = i.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    this.weekly = {};
    for (const [key] of DAYS) this.weekly[key] = ((i.hours && i.hours[key]) || []).map((p) => [short(p[0]), short(p[1])]);
    if (!i.hours) {
      // A starting point to edit: weekdays 8 to 12 and 1 to 5.
      for (const key of ['mon', 'tue', 'wed', 'thu', 'fri']) this.weekly[key] = [['08:00', '12:00'], ['13:00', '17:00']];
    }
    this.closed = [...(i.closed_dates || [])].sort();
    this.cutoff.value = String(i.join_cutoff_minutes ?? 0);
    this.atClose.value = i.at_close || 'expire';
    this.prequeue.value = String(i.prequeue_minutes ?? 0);
    this.quotas.replaceChildren(
      ...sortedServices(i).map((s) =>
        el(
          'div',
          {},
          el('label', { for: `hours-quota-${s.code}`, text: `${s.code} · ${s.name}` }),
          el('input', {
            id: `hours-quota-${s.code}`,
            type: 'number',
            min: '1',
            inputmode: 'numeric',
            placeholder: 'no limit',
            value: s.daily_quota == null ? '' : String(s.daily_quota),
            dataset: { code: s.code, was: s.daily_quota == null ? '' : String(s.daily_quota) },
          }),
        ),
      ),
    );
    this.renderDays();
    this.renderDates();
    this.showDays();
    this.dirty = false;
  }

  showDays() {
    this.days.classList.toggle('off', !this.useHours.checked);
    for (const e of this.days.querySelectorAll('input, button')) e.disabled = !this.useHours.checked;
  }

  renderDays() {
    this.days.replaceChildren(
      ...DAYS.map(([key, name]) => {
        const periods = this.weekly[key];
        const add = el('button', { type: 'button', class: 'link', 'aria-label': `Add a period on ${name}`, text: '+ period' });
        add.addEventListener('click', () => {
          const last = periods[periods.length - 1];
          periods.push(last ? [last[1] < '23:00' ? `${String(Number(last[1].slice(0, 2)) + 1).padStart(2, '0')}:00` : '23:00', '23:59'] : ['08:00', '17:00']);
          this.dirty = true;
          this.renderDays();
          this.showDays();
        });
        return el(
          'div',
          { class: 'hours-day', dataset: { day: key } },
          el('span', { class: 'day-name', text: name }),
          periods.length
            ? el(
                'div',
                { class: 'hours-periods' },
                ...periods.map((p, n) => {
                  // Second-precision hours ("08:00:30") keep their seconds, shown and sent.
                  const step = (t) => (String(t).length > 5 ? '1' : '60');
                  const from = el('input', { type: 'time', value: p[0], step: step(p[0]), 'aria-label': `${name} period ${n + 1} opens` });
                  const to = el('input', { type: 'time', value: p[1], step: step(p[1]), 'aria-label': `${name} period ${n + 1} closes` });
                  from.addEventListener('input', () => (p[0] = from.value));
                  to.addEventListener('input', () => (p[1] = to.value));
                  const remove = el('button', { type: 'button', class: 'link', 'aria-label': `Remove ${name} period ${n + 1}`, text: '✕' });
                  remove.addEventListener('click', () => {
                    periods.splice(n, 1);
                    this.dirty = true;
                    this.renderDays();
                    this.showDays();
                  });
                  return el('span', { class: 'hours-period' }, from, '–', to, remove);
                }),
              )
            : el('span', { class: 'hours-closed', text: 'Closed' }),
          add,
        );
      }),
    );
  }

  renderDates() {
    this.dates.replaceChildren(
      ...(this.closed.length
        ? this.closed.map((d) => {
            const remove = el('button', { type: 'button', class: 'link', 'aria-label': `Open again on ${d}`, text: '✕' });
            remove.addEventListener('click', () => {
              this.closed = this.closed.filter((x) => x !== d);
              this.dirty = true;
              this.renderDates();
            });
            return el('li', { dataset: { date: d } }, el('span', { text: d }), remove);
          })
        : [el('li', { class: 'hours-closed', text: 'None' })]),
    );
  }

  addDate() {
    const d = this.newDate.value;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) return this.problem('Choose a date to close on.', this.newDate);
    if (!this.closed.includes(d)) this.closed = [...this.closed, d].sort();
    this.newDate.value = '';
    this.dirty = true;
    say(this.error, '');
    this.renderDates();
  }

  /** body is the institution PATCH the form says, or a problem in words. */
  body() {
    const timezone = this.timezone.value.trim();
    if (!timezone) return { problem: 'Give the office’s timezone, like Asia/Manila.', focus: this.timezone };
    let hours = null;
    if (this.useHours.checked) {
      hours = {};
      for (const [key] of DAYS) hours[key] = this.weekly[key].map((p) => [p[0], p[1]]);
      const problem = checkHours(hours);
      if (problem) return { problem };
    }
    const whole = (input, lo, hi, what) => {
      const n = Number(input.value);
      return input.value.trim() !== '' && Number.isInteger(n) && n >= lo && n <= hi ? n : { problem: `${what} is a whole number from ${lo} to ${hi}.`, focus: input };
    };
    const join_cutoff_minutes = whole(this.cutoff, 0, 240, 'The join cutoff');
    if (join_cutoff_minutes.problem) return join_cutoff_minutes;
    const prequeue_minutes = whole(this.prequeue, 0, 120, 'The pre-queue window');
    if (prequeue_minutes.problem) return prequeue_minutes;
    if (prequeue_minutes > 0 && !hours) return { problem: 'Taking numbers before opening needs a weekly schedule: turn it on, or set 0 minutes.', focus: this.prequeue };
    return {
      body: { timezone, hours, closed_dates: this.closed, join_cutoff_minutes, at_close: this.atClose.value, prequeue_minutes },
    };
  }

  async save(ev) {
    ev.preventDefault();
    say(this.error, '');
    say(this.okMsg, '');
    const b = this.body();
    if (b.problem) return this.problem(b.problem, b.focus);
    const quotas = [];
    for (const q of this.quotas.querySelectorAll('input')) {
      const v = q.value.trim();
      const n = Number(v);
      if (v !== '' && (!Number.isInteger(n) || n < 1)) return this.problem(`The quota of ${q.dataset.code} is a whole number of 1 or more, or empty for no limit.`, q);
      if (v !== q.dataset.was) quotas.push({ code: q.dataset.code, daily_quota: v === '' ? null : n });
    }
    const btn = document.getElementById('hours-save');
    btn.disabled = true;
    try {
      // Quotas first: the office's PATCH answers last, with everything.
      for (const q of quotas) {
        await this.call('PATCH', `services/${encodeURIComponent(q.code)}`, { daily_quota: q.daily_quota });
      }
      const inst = await this.call('PATCH', '', b.body);
      this.inst = inst;
      this.dirty = false;
      this.fill();
      say(this.okMsg, b.body.hours ? 'Saved: the office opens and closes by itself on this schedule.' : 'Saved: no weekly schedule; staff open and close the office.');
      this.saved(inst);
    } catch (err) {
      if (this.signedOut(err)) return;
      this.problem(
        err instanceof ApiError && err.status === 403
          ? 'Only an administrator token can change the hours and the office day.'
          : errorText(err, { what: 'office' }),
      );
    } finally {
      btn.disabled = false;
    }
  }

  problem(text, focus) {
    say(this.okMsg, '');
    say(this.error, text);
    focus?.focus();
  }
}
