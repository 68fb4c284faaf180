// Live keeps one WebSocket stream of the contract open: it reconnects by
// itself with capped, jittered exponential backoff, at once when the
// network or the tab comes back, and reports its state so that pages can
// say they are reconnecting. Every connection starts with a snapshot, so
// a page that reconnects shows the current state without asking.

import { liveURL } from './api.js';

const FIRST_DELAY = 500;
const MAX_DELAY = 10000;
// Close code 1012 (service restart): the server is draining and asks us to
// connect again, to another instance behind the load balancer. The server
// already spreads these closes over a few seconds; a short jitter here
// spreads the reconnections a little more.
const SERVICE_RESTART = 1012;
const RESTART_JITTER = 400;
// A connection that never brings its snapshot is given up after this long.
const SNAPSHOT_TIMEOUT = 10000;

export class Live {
  /**
   * @param {string} path under api/v1/, like "tickets/<id>/live"
   * @param {object} on  frame(frame), state("connecting"|"live"|"reconnecting"),
   *                     retry(): called before each reconnect, for a page to
   *                     fetch the state over HTTP meanwhile (and find a 404).
   */
  constructor(path, on) {
    this.path = path;
    this.on = on;
    this.ws = null;
    this.attempt = 0;
    this.timer = 0;
    this.stopped = true;
    this.state = '';
    this.wake = () => {
      if (!this.stopped && (!this.ws || this.ws.readyState > WebSocket.OPEN)) this.connectNow();
    };
    this.visible = () => {
      if (document.visibilityState === 'visible') this.wake();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.wake);
    document.addEventListener('visibilitychange', this.visible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.wake);
    document.removeEventListener('visibilitychange', this.visible);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = ws.onmessage = ws.onerror = ws.onopen = null;
      ws.close(1000);
    }
  }

  setState(s) {
    if (s === this.state) return;
    this.state = s;
    // For tests and styles: <html data-live="live">.
    document.documentElement.dataset.live = s;
    this.on.state?.(s);
  }

  connectNow() {
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  connect() {
    if (this.stopped) return;
    if (this.ws) {
      const old = this.ws;
      old.onclose = old.onmessage = old.onerror = old.onopen = null;
      try {
        old.close();
      } catch {
        /* already closed */
      }
    }
    this.setState(this.attempt === 0 && this.state !== 'reconnecting' ? 'connecting' : 'reconnecting');
    let ws;
    try {
      ws = new WebSocket(liveURL(this.path));
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    let gotSnapshot = false;
    const guard = setTimeout(() => {
      if (!gotSnapshot && this.ws === ws) ws.close();
    }, SNAPSHOT_TIMEOUT);
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.type === 'snapshot') {
        gotSnapshot = true;
        clearTimeout(guard);
        this.attempt = 0;
        this.setState('live');
      }
      this.on.frame(frame);
    };
    ws.onclose = (ev) => {
      clearTimeout(guard);
      if (this.ws !== ws) return;
      this.ws = null;
      if (ev.code === SERVICE_RESTART) {
        // For tests: <html data-live-restarts="1"> counts the 1012s.
        const d = document.documentElement.dataset;
        d.liveRestarts = String(Number(d.liveRestarts || 0) + 1);
        this.restart();
        return;
      }
      this.retry();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  /** restart reconnects soon after a 1012: not a failure, so no backoff. */
  restart() {
    if (this.stopped) return;
    this.setState('reconnecting');
    this.attempt = 0;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), 50 + Math.random() * RESTART_JITTER);
  }

  retry() {
    if (this.stopped) return;
    this.setState('reconnecting');
    const base = Math.min(MAX_DELAY, FIRST_DELAY * 2 ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt++;
    try {
      this.on.retry?.();
    } catch {
      /* the page's own problem; keep reconnecting */
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

/** newer reports whether institution b is not older than a (by version). */
export function newerInstitution(a, b) {
  return !a || b.version >= a.version;
}

/** newerTicket reports whether ticket b is not older than a (by updated_at). */
export function newerTicket(a, b) {
  return !a || Date.parse(b.updated_at) >= Date.parse(a.updated_at);
}
