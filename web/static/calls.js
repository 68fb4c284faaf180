// CallLog is the board's memory of calls: every call once, newest first,
// whichever way it arrived. Calls come as `call` frames (one per ticket
// called, in order: the contract's v1.1), or, from a server that sends none,
// are read from the institution's recent_calls; after a reconnect both may
// tell of the same call. A call is the same call when it has the same
// number and was called within a second of it (stores round times
// differently).

const HISTORY = 100;
const SAME_CALL_MS = 1000;

function ms(t) {
  // Past milliseconds a time says nothing a board needs; Date.parse takes
  // three digits everywhere.
  return Date.parse(String(t).replace(/(\.\d{3})\d+/, '$1'));
}

export class CallLog {
  constructor() {
    this.calls = []; // newest first: {number, label, service, counter, called_at, reason, at}
    this.total = 0; // calls added since the page loaded
  }

  find(c) {
    const at = ms(c.called_at);
    return this.calls.find((x) => x.number === c.number && Math.abs(x.at - at) < SAME_CALL_MS) || null;
  }

  /**
   * add records a call; it returns the entry when the call is new, null when
   * it was known (a label learnt late is kept all the same).
   */
  add(c) {
    const known = this.find(c);
    if (known) {
      if (!known.label && c.label) Object.assign(known, { label: c.label, service: c.service || known.service });
      return null;
    }
    const entry = {
      number: c.number,
      label: c.label || '',
      service: c.service || '',
      counter: c.counter ?? null,
      called_at: c.called_at,
      reason: c.reason || '',
      at: ms(c.called_at),
    };
    // Calls arrive in order; one read from a snapshot may be older than
    // what is on screen, and goes where it belongs.
    let i = 0;
    while (i < this.calls.length && this.calls[i].at > entry.at) i++;
    this.calls.splice(i, 0, entry);
    if (this.calls.length > HISTORY) this.calls.length = HISTORY;
    this.total++;
    return entry;
  }

  /** latestByCounter maps each counter ('' for none) to its newest call. */
  latestByCounter() {
    const m = new Map();
    for (const c of this.calls) {
      const k = c.counter ?? '';
      if (!m.has(k)) m.set(k, c);
    }
    return m;
  }
}
