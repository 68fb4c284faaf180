// The staff console's office-day tools (shared/API.md v1.1, "Missed
// turns, defer, transfer"): the day's missed turns with "Put back in
// line" (staff may requeue any expired ticket of the day), and "Transfer…"
// on waiting and serving tickets: the service picker and the placement
// (front, back, original). staff.js passes its authenticated call and its
// messages; the lists follow the live stream through staff.js's refresh.

import { ApiError, errorText } from './api.js';
import { el, say, officeTime, retime, ticketName, counterName, sortedServices } from './format.js';

const PLACEMENTS = [
  ['front', 'First in line', 'Called next from that service (a visit that continues, like assessment then cashier).'],
  ['back', 'Last in line', 'After everyone waiting there now.'],
  ['original', 'By the time they first joined', 'Ahead of everyone who joined after them.'],
];

export class StaffDay {
  /**
   * @param {object} o call(method, path, opts): the console's authenticated
   *   API call; office(): the signed-in office id or null; ok(text),
   *   fail(err, opts): the console's messages; changed(): refresh the lists.
   */
  constructor({ call, office, ok, fail, changed }) {
    this.call = call;
    this.office = office;
    this.ok = ok;
    this.fail = fail;
    this.changed = changed;
    this.inst = null;
    this.ticket = null; // the ticket the transfer dialog is about

    this.list = el('ul', { id: 'missed', class: 'missed-rows' });
    const card = document.getElementById('missed-card');
    card.replaceChildren(
      el('h2', { id: 'missed-title', text: 'Missed turns today' }),
      this.list,
      el('p', {
        class: 'hint',
        text: 'Called but not at the counter in time. Putting one back gives it a place a few people from the front, as the office settings say; it keeps its number.',
      }),
    );
    card.setAttribute('aria-labelledby', 'missed-title');
    this.buildDialog();
  }

  reset() {
    this.inst = null;
    this.list.replaceChildren();
    if (this.dialog.open) this.dialog.close();
  }

  /** show takes the office's new state (services for the picker, timezone for the times). */
  show(inst) {
    const zoneChanged = !this.inst || this.inst.timezone !== inst.timezone;
    this.inst = inst;
    if (zoneChanged) retime(this.list, inst);
  }

  // ---------- missed turns ----------

  async loadMissed() {
    const id = this.office();
    if (!id) return;
    const res = await this.call('GET', `institutions/${id}/missed`);
    if (this.office() !== id) return;
    const items = (res.items || []).slice().reverse(); // newest first
    if (!items.length) {
      this.list.replaceChildren(el('li', { class: 'empty', text: 'Nobody has missed a turn today.' }));
      return;
    }
    this.list.replaceChildren(
      ...items.map((m) => {
        const btn = el('button', {
          type: 'button',
          class: 'secondary small',
          'aria-label': `Put ${m.label} back in line`,
          text: 'Put back in line',
        });
        btn.addEventListener('click', () => this.requeue(m, btn));
        return el(
          'li',
          { dataset: { label: m.label } },
          el('span', { class: 'num', text: m.label }),
          el(
            'span',
            { class: 'who' },
            el('span', { text: [m.counter ? counterName(m.counter) : '', this.serviceName(m.service)].filter(Boolean).join(' · ') }),
            el('span', { class: 'hint' }, 'expired ', officeTime(m.expired_at, this.inst)),
          ),
          btn,
        );
      }),
    );
  }

  async requeue(m, button) {
    button.disabled = true;
    try {
      const t = await this.call('POST', `tickets/${m.ticket_id}/requeue`);
      this.ok(`${ticketName(t)} is back in line: ${t.people_ahead} ahead of it (place ${t.position ?? t.people_ahead + 1}).`);
      this.changed();
    } catch (err) {
      this.fail(err, { what: 'ticket', invalidState: `${m.label} cannot be put back any more (${err.message}).` });
      this.changed();
    } finally {
      button.disabled = false;
    }
  }

  serviceName(code) {
    const s = this.inst && (this.inst.services || []).find((x) => x.code === code);
    return s ? `${s.code} ${s.name}` : code || '';
  }

  // ---------- transfer ----------

  /** transferButton is the "Transfer…" button of a waiting or serving ticket. */
  transferButton(t) {
    if (!this.inst || sortedServices(this.inst).length < 2) return null;
    const b = el('button', {
      type: 'button',
      class: 'secondary small',
      'aria-label': `Transfer ${ticketName(t)} to another service`,
      text: 'Transfer…',
    });
    b.addEventListener('click', () => this.askTransfer(t));
    return b;
  }

  buildDialog() {
    this.services = el('select', { id: 'transfer-service', required: true });
    this.error = el('p', { id: 'transfer-error', class: 'field-error', hidden: true });
    this.confirm = el('button', { id: 'transfer-confirm', class: 'primary', type: 'submit', text: 'Transfer' });
    const back = el('button', { class: 'secondary', type: 'button', text: 'Back' });
    const places = el(
      'fieldset',
      { class: 'transfer-places' },
      el('legend', { text: 'Place in the new line' }),
      ...PLACEMENTS.map(([value, words, hint], i) =>
        el(
          'label',
          { class: 'choice' },
          el('input', { type: 'radio', name: 'placement', value, checked: i === 0 }),
          ` ${words} `,
          el('span', { class: 'hint', text: hint }),
        ),
      ),
    );
    this.title = el('h2', { id: 'transfer-title', text: 'Transfer' });
    this.form = el(
      'form',
      { method: 'dialog', novalidate: true },
      this.title,
      el('p', { class: 'hint', text: 'The person keeps their number; their phone shows the new line at once.' }),
      el('label', { for: 'transfer-service', text: 'To service' }),
      this.services,
      places,
      this.error,
      el('div', { class: 'actions' }, this.confirm, back),
    );
    this.dialog = el('dialog', { id: 'transfer-dialog', 'aria-labelledby': 'transfer-title' }, this.form);
    document.body.append(this.dialog);
    back.addEventListener('click', () => this.dialog.close());
    this.form.addEventListener('submit', (ev) => this.transfer(ev));
  }

  askTransfer(t) {
    this.ticket = t;
    this.title.textContent = `Transfer ${ticketName(t)}`;
    const others = sortedServices(this.inst).filter((s) => s.code !== t.service && s.status !== 'closed');
    this.services.replaceChildren(
      ...others.map((s) => el('option', { value: s.code, text: `${s.code} · ${s.name} (${s.waiting_count} waiting${s.status === 'open' ? '' : `, ${s.status}`})` })),
    );
    this.form.querySelector('input[value=front]').checked = true;
    say(this.error, others.length ? '' : 'There is no other open service to send this ticket to.');
    this.confirm.disabled = !others.length;
    this.dialog.showModal();
    this.services.focus();
  }

  async transfer(ev) {
    ev.preventDefault();
    const t = this.ticket;
    if (!t || !this.services.value) return;
    const placement = this.form.querySelector('input[name=placement]:checked').value;
    const service = this.services.value;
    this.confirm.disabled = true;
    try {
      const res = await this.call('POST', `tickets/${t.id}/transfer`, { body: { service, placement } });
      this.dialog.close();
      this.ticket = null;
      const where = PLACEMENTS.find(([p]) => p === placement)[1].toLowerCase();
      this.ok(`${ticketName(res)} moved to ${this.serviceName(res.service)}, ${where}: place ${res.position ?? res.people_ahead + 1} there.`);
      this.changed();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) {
        say(this.error, errorText(err));
        return;
      }
      this.dialog.close();
      this.fail(err, { what: 'ticket', invalidState: `${ticketName(t)} cannot be transferred now (${err.message}).` });
      this.changed();
    } finally {
      this.confirm.disabled = false;
    }
  }
}
