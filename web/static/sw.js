// The pages' service worker, for Web Push only: it shows a ticket's news
// when the phone page is closed or the phone is locked, and opens the
// ticket when the notification is tapped. It is served at <root>/sw.js (so
// its scope is the whole site and stays the same from build to build) and
// registered by push.js. It has no fetch handler: the pages load exactly as
// they would without it.
//
// A push's plaintext is the contract's JSON (shared/API.md, "Web push"):
// {"event", "title", "body", "url"}.

'use strict';

const APP = 'QueueLess';

self.addEventListener('install', () => {
  self.skipWaiting();
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.clients.claim());
});

/** text returns v when it is a non-empty string, else fallback. */
function text(v, fallback = '') {
  return typeof v === 'string' && v.trim() !== '' ? v : fallback;
}

/**
 * target resolves a message's url against the site, keeping only URLs of
 * this origin: a notification never leads elsewhere.
 */
function target(url) {
  const scope = self.registration.scope;
  try {
    const u = new URL(text(url, scope), scope);
    return u.origin === self.location.origin ? u.href : scope;
  } catch {
    return scope;
  }
}

/** readMessage decodes a push's JSON; a push it cannot read still shows. */
function readMessage(data) {
  if (!data) return {};
  try {
    const m = data.json();
    return m && typeof m === 'object' ? m : {};
  } catch {
    return { body: text(data.text()) };
  }
}

self.addEventListener('push', (event) => {
  const m = readMessage(event.data);
  const url = target(m.url);
  const called = m.event === 'turn_called';
  // Browsers require every push to show a notification (userVisibleOnly).
  // One tag per ticket page: news replaces the older news of that ticket,
  // and renotify makes the replacement buzz again.
  const shown = self.registration.showNotification(text(m.title, APP), {
    body: text(m.body),
    tag: 'queueless:' + url,
    renotify: true,
    requireInteraction: called,
    vibrate: called ? [300, 120, 300, 120, 300] : [200],
    timestamp: Date.now(),
    data: { url, event: text(m.event) },
  });
  event.waitUntil(shown);
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = target(event.notification.data && event.notification.data.url);
  event.waitUntil(openTicket(url));
});

/**
 * openTicket focuses a window already showing url, else a window of the
 * same page (the phone page keeps its ticket itself), else opens url.
 */
async function openTicket(url) {
  const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const want = new URL(url);
  const samePage = (w) => {
    const u = new URL(w.url);
    return u.origin === want.origin && u.pathname === want.pathname;
  };
  const win = wins.find((w) => w.url === url) || wins.find(samePage);
  if (win) return win.focus();
  if (self.clients.openWindow) return self.clients.openWindow(url);
  return undefined;
}
