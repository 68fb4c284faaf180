// The board's missed numbers: tickets called today that expired without
// checking in and were not put back (GET .../missed, an extension listed
// in docs/API-EXTENSIONS.md). Read again whenever the office changes,
// at most once a second.

import { api } from './api.js';
import { el } from './format.js';

const SHOWN = 12;
const MIN_GAP_MS = 1000;

export class MissedNumbers {
  constructor(node, id) {
    this.node = node;
    this.id = id;
    this.version = null;
    this.timer = 0;
    this.last = 0;
    this.reading = false;
    this.again = false;
  }

  /** changed takes the office's new state: a new version reads the list again. */
  changed(inst) {
    if (inst.version === this.version) return;
    this.version = inst.version;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), Math.max(0, this.last + MIN_GAP_MS - Date.now()));
  }

  async load() {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    this.last = Date.now();
    try {
      const res = await api('GET', `institutions/${this.id}/missed`, { timeout: 5000 });
      this.render((res.items || []).slice(-SHOWN).reverse());
    } catch {
      /* the list stays as it was; the next change reads it again */
    } finally {
      this.reading = false;
      if (this.again) {
        this.again = false;
        this.timer = setTimeout(() => this.load(), MIN_GAP_MS);
      }
    }
  }

  render(items) {
    this.node.hidden = !items.length;
    this.node.replaceChildren(
      el('span', { class: 'missed-title', id: 'missed-title', text: 'Missed your turn?' }),
      el('ol', { 'aria-labelledby': 'missed-title' }, ...items.map((m) => el('li', { dataset: { label: m.label }, text: m.label }))),
      el('span', { class: 'missed-hint', text: 'Put yourself back on your phone, or ask at a counter.' }),
    );
  }
}
