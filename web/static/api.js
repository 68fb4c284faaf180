// The contract's REST calls (shared/API.md), and its errors in plain words.
// Every URL is relative to the page's root (data-root on <html>), so the
// pages work against any instance behind a load balancer and under any path
// prefix.

const root = new URL(document.documentElement.dataset.root || './', location.href);

/** apiURL resolves a path under api/v1/ against the page's root. */
export function apiURL(path) {
  return new URL('api/v1/' + path, root);
}

/** liveURL is apiURL with the WebSocket scheme that matches the page's. */
export function liveURL(path) {
  const u = apiURL(path);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u;
}

/** pageURL resolves a page path (like "board/3") against the root. */
export function pageURL(path) {
  return new URL(path, root);
}

/** ApiError is a failed call: status 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.message) || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? 'network' : 'unknown');
    this.requestId = (body && body.request_id) || '';
    const s = Number.parseInt(retryAfter || '', 10);
    this.retryAfter = Number.isFinite(s) && s >= 0 ? s : null;
  }
}

/**
 * api sends one request and returns the decoded body, or throws ApiError.
 * Options: body (JSON-encoded), token (bearer), headers, timeout (ms).
 */
export async function api(method, path, { body, token, headers = {}, timeout = 15000 } = {}) {
  const h = { Accept: 'application/json', ...headers };
  // Every change says application/json, body or not: the server refuses
  // a POST without it (a cross-site form could send one).
  if (body !== undefined || method !== 'GET') h['Content-Type'] = 'application/json';
  if (token) h.Authorization = 'Bearer ' + token;
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeout);
  let res;
  try {
    res = await fetch(apiURL(path), {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctrl.signal,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, null, null);
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  try {
    const text = await res.text();
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get('Retry-After'));
  return data;
}

function seconds(n) {
  return n === 1 ? '1 second' : `${n} seconds`;
}

/**
 * errorText says what went wrong in words a person can act on. what names
 * the thing acted on for 404s ("ticket", "office"); invalidState is the
 * sentence for a 409 invalid_state, which only the caller can phrase.
 */
export function errorText(err, { what = 'item', invalidState } = {}) {
  if (!(err instanceof ApiError)) return 'Something went wrong in this page. Reload it and try again.';
  const ref = err.requestId ? ` (reference ${err.requestId})` : '';
  const wait = err.retryAfter != null ? `in ${seconds(err.retryAfter)}` : 'in a moment';
  switch (err.status) {
    case 0:
      return 'Could not reach QueueLess. Check your connection and try again.';
    case 400:
      return `That was not accepted: ${err.message}`;
    case 401:
      return 'Your staff token was not accepted. Sign in again with a valid token.';
    case 403:
      return 'Your token is not allowed to manage this office. Sign in with a token for it, or choose another office.';
    case 404:
      return `That ${what} does not exist any more.`;
    case 409:
      switch (err.code) {
        case 'institution_closed':
          return 'This office is not giving out numbers right now (it is paused or closed). Please try again later.';
        case 'duplicate_ticket':
          return 'This mobile number already has a number in this line. Check your other tab or phone.';
        case 'queue_full':
          return 'The line is full right now. Please try again in a little while.';
        case 'invalid_state':
          return invalidState || `That cannot be done any more: ${err.message}`;
        default:
          return `Someone else changed this at the same moment. Try again. ${err.message}`;
      }
    case 413:
      return 'That is too long to send.';
    case 429:
      return `Too many requests from here. Please wait and try again ${wait}.`;
    case 503:
      return `QueueLess is very busy right now. Please try again ${wait}.`;
    default:
      if (err.status >= 500) return `Something went wrong on our side. Please try again${ref}.`;
      return `${err.message}${ref}`;
  }
}

/** newKey returns a random key for Idempotency-Key (works on plain http too). */
export function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
