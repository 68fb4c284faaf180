// Web Push opt-in for a ticket ("notify me even when this page is closed"):
// ask the person's permission, register the service worker (sw.js, at the
// site's root), subscribe this browser with the server's VAPID key
// (GET /api/v1/push/key), and give the subscription to the ticket
// (POST /api/v1/tickets/{id}/push). The phone page wires it with one call:
//
//   import { offerPush } from './push.js';
//   offerPush(document.getElementById('t-push'), ticket.id, { onMessage: (text) => say(text) });

import { api, ApiError, errorText, pageURL } from './api.js';

const DONE = 'queueless.push'; // the id of the ticket whose pushes are on

/** pushSupported reports whether this browser can take pushes here. */
export function pushSupported() {
  return (
    window.isSecureContext &&
    'serviceWorker' in navigator &&
    'PushManager' in window &&
    'Notification' in window
  );
}

/** PushError is an opt-in that did not happen, with words for people. */
export class PushError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'PushError';
    this.code = code; // unsupported | denied | failed
  }
}

/** keyBytes decodes the server's base64url public key. */
function keyBytes(b64url) {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function sameBytes(a, b) {
  if (!a || !b) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** activeWorker waits until reg has an activated worker. */
function activeWorker(reg) {
  if (reg.active) return Promise.resolve(reg.active);
  const sw = reg.installing || reg.waiting;
  return new Promise((resolve, reject) => {
    if (!sw) {
      reject(new PushError('failed', 'The notification helper did not start. Reload the page and try again.'));
      return;
    }
    sw.addEventListener('statechange', () => {
      if (sw.state === 'activated') resolve(sw);
      else if (sw.state === 'redundant') reject(new PushError('failed', 'The notification helper stopped. Reload the page and try again.'));
    });
  });
}

/**
 * enablePush turns pushes on for a ticket. Call it from a click: browsers
 * only ask for permission after one. It resolves when the server holds the
 * subscription, or rejects with a PushError.
 */
export async function enablePush(ticketId) {
  if (!pushSupported()) {
    throw new PushError('unsupported', 'This browser cannot notify you when the page is closed. Keep this page open instead.');
  }
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') {
    throw new PushError(
      'denied',
      permission === 'denied'
        ? "Notifications are blocked for this site. Allow them in your browser's site settings, then try again."
        : 'Notifications were not allowed. Try again and choose Allow.',
    );
  }
  try {
    const reg = await navigator.serviceWorker.register(pageURL('sw.js'));
    await activeWorker(reg);
    const { public_key: key } = await api('GET', 'push/key');
    const appKey = keyBytes(key);
    let sub = await reg.pushManager.getSubscription();
    if (sub && !sameBytes(sub.options.applicationServerKey, appKey)) {
      // Made with another server key (a new deployment's): useless now.
      await sub.unsubscribe();
      sub = null;
    }
    if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: appKey });
    await api('POST', `tickets/${encodeURIComponent(ticketId)}/push`, { body: sub.toJSON() });
    localStorage.setItem(DONE, ticketId);
    return sub;
  } catch (err) {
    if (err instanceof PushError) throw err;
    if (err instanceof ApiError) throw new PushError('failed', errorText(err, { what: 'ticket' }));
    throw new PushError('failed', 'Could not turn on notifications in this browser. Keep this page open instead.');
  }
}

/** pushEnabled reports whether pushes were turned on here for ticketId. */
export function pushEnabled(ticketId) {
  return localStorage.getItem(DONE) === ticketId;
}

/**
 * offerPush makes button the opt-in for ticketId: hidden where pushes
 * cannot work, "on" once they are, else a click runs enablePush.
 * onMessage receives what went wrong, in words for people. It returns a
 * function that detaches the button (for when the ticket changes).
 */
export function offerPush(button, ticketId, { onMessage = () => {} } = {}) {
  const label = button.textContent;
  const show = (on) => {
    button.hidden = !pushSupported();
    button.disabled = on;
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
    button.textContent = on ? 'Notifications on' : label;
  };
  show(pushEnabled(ticketId) && pushSupported() && Notification.permission === 'granted');
  let busy = false;
  const click = async () => {
    if (busy) return;
    busy = true;
    button.disabled = true;
    button.textContent = 'Turning on…';
    try {
      await enablePush(ticketId);
      show(true);
    } catch (err) {
      show(false);
      onMessage(err instanceof PushError ? err.message : 'Could not turn on notifications.');
    } finally {
      busy = false;
    }
  };
  button.addEventListener('click', click);
  return () => {
    button.removeEventListener('click', click);
    button.textContent = label;
  };
}
