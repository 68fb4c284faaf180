// The staff console's setup card (administrators): an office's services in
// display order, its counters with the services each calls from, and its
// priority lane. The forms are filled from the office when the card opens
// and after each save; live updates never overwrite what is being edited.

import { ApiError, errorText } from './api.js';
import { el, say, sortedServices } from './format.js';

const STATUSES = ['open', 'paused', 'closed'];

export class Setup {
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
    this.dirty = { services: false, counters: false, prio: false };
    this.root = document.getElementById('setup');
    this.services = document.getElementById('setup-services');
    this.counters = document.getElementById('setup-counters');
    this.run = document.getElementById('priority-run');
    this.error = document.getElementById('setup-error');
    this.okMsg = document.getElementById('setup-ok');
    this.root.addEventListener('toggle', () => this.root.open && this.fill(true));
    document.getElementById('setup-add-service').addEventListener('click', () => {
      this.services.append(this.serviceRow({ code: '', name: '', status: 'open', daily_quota: null }));
      this.renumber();
      this.dirty.services = true;
      this.services.lastElementChild.querySelector('input').focus();
    });
    document.getElementById('setup-add-counter').addEventListener('click', () => {
      this.counters.append(this.counterRow({ name: '', services: [] }));
      this.dirty.counters = true;
      this.counters.lastElementChild.querySelector('input').focus();
    });
    this.services.addEventListener('input', () => (this.dirty.services = true));
    this.counters.addEventListener('input', () => (this.dirty.counters = true));
    this.run.addEventListener('input', () => (this.dirty.prio = true));
    document.getElementById('services-form').addEventListener('submit', (ev) => this.saveServices(ev));
    document.getElementById('counters-form').addEventListener('submit', (ev) => this.saveCounters(ev));
    document.getElementById('prio-form').addEventListener('submit', (ev) => this.savePriorityRun(ev));
  }

  /** reset forgets the office: a new sign-in or another office. */
  reset() {
    this.inst = null;
    this.dirty = { services: false, counters: false, prio: false };
    this.root.open = false;
    say(this.error, '');
    say(this.okMsg, '');
  }

  /** show takes the office's new state; open forms keep their edits. */
  show(inst) {
    this.inst = inst;
    if (this.root.open) this.fill(false);
  }

  fill(force) {
    const inst = this.inst;
    if (!inst) return;
    if (force || !this.dirty.services) {
      this.services.replaceChildren(...sortedServices(inst).map((s) => this.serviceRow(s)));
      this.renumber();
      this.dirty.services = false;
    }
    if (force || !this.dirty.counters) {
      this.counters.replaceChildren(...(inst.counters || []).map((c) => this.counterRow(c)));
      this.dirty.counters = false;
    }
    if (force || !this.dirty.prio) {
      this.run.value = String(inst.priority_run ?? 0);
      this.dirty.prio = false;
    }
  }

  serviceRow(s) {
    const row = el('tr', { class: 'svc-edit' });
    const code = el('input', { class: 'code', value: s.code, maxlength: '3', autocapitalize: 'characters', autocomplete: 'off' });
    code.addEventListener('input', () => (code.value = code.value.toUpperCase()));
    const name = el('input', { value: s.name, maxlength: '80', autocomplete: 'off' });
    const status = el('select', {}, ...STATUSES.map((v) => el('option', { value: v, text: v[0].toUpperCase() + v.slice(1) })));
    status.value = s.status || 'open';
    status.addEventListener('change', () => (this.dirty.services = true));
    const quota = el('input', {
      type: 'number',
      min: '1',
      inputmode: 'numeric',
      placeholder: 'no limit',
      value: s.daily_quota == null ? '' : String(s.daily_quota),
    });
    const up = el('button', { type: 'button', class: 'secondary small', text: '↑' });
    const down = el('button', { type: 'button', class: 'secondary small', text: '↓' });
    const remove = el('button', { type: 'button', class: 'danger-outline small', text: 'Remove' });
    up.addEventListener('click', () => this.move(row, -1));
    down.addEventListener('click', () => this.move(row, 1));
    remove.addEventListener('click', () => {
      row.remove();
      this.renumber();
      this.dirty.services = true;
    });
    row.append(
      el('td', {}, code),
      el('td', {}, name),
      el('td', {}, status),
      el('td', {}, quota),
      el('td', {}, el('div', { class: 'row-actions' }, up, down, remove)),
    );
    row.fields = { code, name, status, quota, up, down, remove };
    return row;
  }

  move(row, by) {
    const to = by < 0 ? row.previousElementSibling : row.nextElementSibling?.nextElementSibling;
    if (by < 0 && !to) return;
    this.services.insertBefore(row, to || null);
    this.renumber();
    this.dirty.services = true;
    (by < 0 ? row.fields.up : row.fields.down).focus();
  }

  // renumber names every control after its row, for screen readers.
  renumber() {
    [...this.services.children].forEach((row, i) => {
      const f = row.fields;
      const n = `service ${i + 1}`;
      f.code.setAttribute('aria-label', `Code of ${n}`);
      f.name.setAttribute('aria-label', `Name of ${n}`);
      f.status.setAttribute('aria-label', `Status of ${n}`);
      f.quota.setAttribute('aria-label', `Daily quota of ${n}`);
      f.up.setAttribute('aria-label', `Move ${n} up`);
      f.down.setAttribute('aria-label', `Move ${n} down`);
      f.remove.setAttribute('aria-label', `Remove ${n}`);
    });
  }

  counterRow(c) {
    const row = el('tr', { class: 'counter-edit' });
    const name = el('input', { value: c.name, maxlength: '16', autocomplete: 'off', 'aria-label': 'Counter name' });
    const boxes = sortedServices(this.inst || { services: [] }).map((s) => {
      const box = el('input', { type: 'checkbox', value: s.code, checked: c.services.includes(s.code) });
      box.addEventListener('change', () => (this.dirty.counters = true));
      return el('label', { class: 'check' }, box, ` ${s.code} `, el('span', { class: 'muted', text: s.name }));
    });
    name.addEventListener('input', () => {
      const n = name.value.trim() || 'new counter';
      for (const l of boxes) l.querySelector('input').setAttribute('aria-label', `Counter ${n} calls ${l.textContent.trim()}`);
    });
    name.dispatchEvent(new Event('input'));
    const remove = el('button', { type: 'button', class: 'danger-outline small', text: 'Remove', 'aria-label': `Remove counter ${c.name}` });
    remove.addEventListener('click', () => {
      row.remove();
      this.dirty.counters = true;
    });
    row.append(el('td', {}, name), el('td', {}, el('div', { class: 'checks' }, ...boxes)), el('td', {}, remove));
    row.fields = { name, boxes };
    return row;
  }

  async saveServices(ev) {
    ev.preventDefault();
    const services = [];
    for (const row of this.services.children) {
      const f = row.fields;
      const q = f.quota.value.trim();
      if (q !== '' && !(Number.isInteger(Number(q)) && Number(q) > 0)) {
        return this.problem('A daily quota is a whole number above 0, or empty for no limit.', f.quota);
      }
      services.push({
        code: f.code.value.trim(),
        name: f.name.value.trim(),
        status: f.status.value,
        daily_quota: q === '' ? null : Number(q),
      });
    }
    if (!services.length) return this.problem('An office needs at least one service.');
    await this.save('PUT', 'services', { services }, 'services', 'Services saved.');
  }

  async saveCounters(ev) {
    ev.preventDefault();
    const counters = [];
    for (const row of this.counters.children) {
      const f = row.fields;
      const name = f.name.value.trim();
      if (!name) return this.problem('Every counter needs a name, like 3 or Window 2.', f.name);
      counters.push({ name, services: f.boxes.map((l) => l.querySelector('input')).filter((b) => b.checked).map((b) => b.value) });
    }
    await this.save('PUT', 'counters', { counters }, 'counters', 'Counters saved.');
  }

  async savePriorityRun(ev) {
    ev.preventDefault();
    const n = Number(this.run.value);
    if (this.run.value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 10) {
      return this.problem('The priority run is a whole number from 0 to 10.', this.run);
    }
    await this.save('PATCH', '', { priority_run: n }, 'prio', n ? `Priority lane on: up to ${n} in a row.` : 'Priority lane off.');
  }

  async save(method, path, body, part, done) {
    say(this.error, '');
    say(this.okMsg, '');
    try {
      const inst = await this.call(method, path, body);
      this.inst = inst;
      this.dirty[part] = false;
      this.fill(false);
      say(this.okMsg, done);
      this.saved(inst);
    } catch (err) {
      if (this.signedOut(err)) return;
      say(
        this.error,
        err instanceof ApiError && err.status === 403
          ? 'Only an administrator token can change services, counters and the priority lane.'
          : err instanceof ApiError && err.code === 'conflict'
            ? `Not saved: ${err.message}`
            : errorText(err, { what: 'office' }),
      );
    }
  }

  problem(text, focus) {
    say(this.okMsg, '');
    say(this.error, text);
    focus?.focus();
  }
}
