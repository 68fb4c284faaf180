// Announcer speaks the board's calls with the browser's speech synthesis,
// one after the other: an announcement never cuts another off, however many
// calls arrive at once. It never calls speechSynthesis.cancel() while on.

// A pause between two announcements, so that they do not run together.
const GAP_MS = 200;
// Some engines never fire end for an utterance; give up on it after this.
const WATCHDOG_MS = 20000;
// A board that was away long enough to queue this much says only the newest.
const MAX_QUEUED = 200;

export class Announcer {
  /**
   * @param {string} lang the board's language (BCP 47), for the voice
   * @param {(state: string) => void} onState told "idle", "speaking" or
   *   "blocked" (the browser wants a tap on the page first)
   */
  constructor(lang, onState = () => {}) {
    this.synth = window.speechSynthesis || null;
    this.lang = lang;
    this.onState = onState;
    this.on = false;
    this.queue = [];
    this.current = null;
    this.timer = 0;
    this.gapTimer = 0;
  }

  /** available reports whether this browser can speak at all. */
  get available() {
    return this.synth != null && typeof window.SpeechSynthesisUtterance === 'function';
  }

  /** setOn switches speech on or off; off drops what is queued. */
  setOn(on) {
    this.on = on && this.available;
    if (!this.on) {
      this.queue = [];
      clearTimeout(this.gapTimer);
      if (this.current) {
        this.current = null;
        clearTimeout(this.timer);
        this.synth?.cancel();
      }
      this.onState('idle');
    }
  }

  /** say queues one announcement. */
  say(text) {
    if (!this.on || !text) return;
    this.queue.push(text);
    if (this.queue.length > MAX_QUEUED) this.queue.splice(0, this.queue.length - MAX_QUEUED);
    this.pump();
  }

  /** pending is how many announcements wait behind the current one. */
  get pending() {
    return this.queue.length;
  }

  pump() {
    if (!this.on || this.current || this.gapTimer || !this.queue.length) return;
    const u = new window.SpeechSynthesisUtterance(this.queue.shift());
    u.lang = this.lang;
    u.rate = 0.9;
    const voice = this.voice();
    if (voice) u.voice = voice;
    this.current = u;
    const done = (ev) => {
      if (this.current !== u) return;
      this.current = null;
      clearTimeout(this.timer);
      if (ev && ev.error === 'not-allowed') {
        // No tap on the page since it loaded: keep the queue for later.
        this.queue.unshift(u.text);
        this.onState('blocked');
        return;
      }
      this.onState(this.queue.length ? 'speaking' : 'idle');
      this.gapTimer = setTimeout(() => {
        this.gapTimer = 0;
        this.pump();
      }, GAP_MS);
    };
    u.onend = () => done();
    u.onerror = (ev) => done(ev);
    this.timer = setTimeout(() => done(), WATCHDOG_MS);
    this.onState('speaking');
    this.synth.speak(u);
  }

  /** resume retries after the browser refused to speak without a tap. */
  resume() {
    this.pump();
  }

  voice() {
    try {
      const lang = (this.lang || '').toLowerCase();
      const voices = this.synth.getVoices?.() || [];
      return voices.find((v) => v.lang.toLowerCase() === lang) || voices.find((v) => v.lang.toLowerCase().startsWith(lang.split('-')[0]));
    } catch {
      return null;
    }
  }
}

/** spokenLabel spells a label for speech: "A-023" is "A 0 2 3". */
export function spokenLabel(label) {
  return String(label).replace(/[^A-Za-z0-9]/g, '').split('').join(' ');
}
