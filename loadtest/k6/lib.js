// Shared helpers of the QueueLess k6 scripts: configuration from the
// environment, client addresses, and the calls every script makes.
//
//   BASE_URL      deployment to test (default http://127.0.0.1:8080)
//   ADMIN_TOKEN   admin token: creates institutions, calls tickets, verifies
//   INSTITUTION   an existing institution id; unset: setup() creates one
//   ADDRESSES     client addresses to present in X-Forwarded-For (0: none).
//                 The server believes them only from a trusted proxy
//                 (TRUSTED_PROXIES); otherwise every request is one client.
//   SERVICES      services A, B, ... that created institutions get and joins
//                 spread over (default 1: joins name no service, as in v1)
//   PRIORITY_SHARE share of joins in the priority lane (default 0)
import http from 'k6/http';
import { check, fail } from 'k6';

export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const WS_URL = BASE_URL.replace(/^http/, 'ws');
export const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || '';
export const ADDRESSES = parseInt(__ENV.ADDRESSES || '0', 10);
export const SERVICES = parseInt(__ENV.SERVICES || '1', 10);
export const PRIORITY_SHARE = Number(__ENV.PRIORITY_SHARE || '0');

// serviceCode is the code of the i-th service: A, B, ...
export function serviceCode(i) {
  return String.fromCharCode(65 + (i % 26));
}

// joinBody is client i's join: its service (with SERVICES > 1) and, for a
// PRIORITY_SHARE of clients spread over the run, the priority lane.
export function joinBody(i) {
  const body = {};
  if (SERVICES > 1) body.service = serviceCode(i % SERVICES);
  if (PRIORITY_SHARE > 0 && ((i * 7919) % 1000) < PRIORITY_SHARE * 1000) body.priority = 'senior';
  return body;
}

export function num(name, def) {
  const v = __ENV[name];
  return v === undefined || v === '' ? def : Number(v);
}

// clientAddr is the i-th made-up client address, in 100.64.0.0/10
// (carrier-grade NAT space, where phones' addresses often are).
export function clientAddr(i) {
  const v = (i % 4194304) >>> 0;
  return `100.${64 + (v >> 16)}.${(v >> 8) & 255}.${v & 255}`;
}

// headers returns JSON headers, with client address i when addresses are on.
export function headers(i, extra) {
  const h = Object.assign({ 'Content-Type': 'application/json' }, extra || {});
  if (ADDRESSES > 0 && i !== undefined && i !== null) {
    h['X-Forwarded-For'] = clientAddr(i % ADDRESSES);
  }
  return h;
}

export function adminHeaders() {
  if (!ADMIN_TOKEN) {
    fail('ADMIN_TOKEN is required: this script creates institutions or calls tickets');
  }
  return { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN_TOKEN}` };
}

// institution returns INSTITUTION, or creates an open institution.
export function institution(name) {
  if (__ENV.INSTITUTION) {
    return parseInt(__ENV.INSTITUTION, 10);
  }
  const res = http.post(`${BASE_URL}/api/v1/institutions`,
    JSON.stringify({ name: `${name} ${new Date().toISOString()}`, kind: 'other', address: 'k6', status: 'open' }),
    { headers: adminHeaders(), tags: { name: 'setup' } });
  if (res.status !== 201) {
    fail(`create institution: ${res.status} ${res.body}`);
  }
  const id = res.json('id');
  if (SERVICES > 1) {
    const services = [];
    for (let i = 0; i < SERVICES; i++) services.push({ code: serviceCode(i), name: `k6 service ${serviceCode(i)}` });
    const put = http.put(`${BASE_URL}/api/v1/institutions/${id}/services`, JSON.stringify({ services }),
      { headers: adminHeaders(), tags: { name: 'setup' } });
    if (put.status !== 200) {
      fail(`put services: ${put.status} ${put.body}`);
    }
  }
  return id;
}

// joinKey is a fresh Idempotency-Key: every join carries its own, as a
// real client's must, so that an answer the server could not confirm
// ("retry with the same Idempotency-Key") never costs a second number.
export function joinKey() {
  return `k6-${__VU}-${__ITER}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e12).toString(36)}`;
}

// join joins institution id as client i; returns the response. params
// adds k6 request params (e.g. a per-request responseCallback).
export function join(id, i, body, tags, params) {
  return http.post(`${BASE_URL}/api/v1/institutions/${id}/tickets`, JSON.stringify(body || joinBody(i)),
    Object.assign({ headers: headers(i, { 'Idempotency-Key': joinKey() }), tags: Object.assign({ name: 'join' }, tags || {}) }, params || {}));
}

// advance calls the next ticket of institution id at counter.
export function advance(id, counter) {
  return http.post(`${BASE_URL}/api/v1/institutions/${id}/advance`, JSON.stringify({ count: 1, counter }),
    { headers: adminHeaders(), tags: { name: 'advance' } });
}

// verifyNumbers reads every ticket of institution id through the staff
// API and checks that the numbers run from 1 to last_issued with no gap
// and no repeat, and each service's labels (A-001 upward) likewise, for a
// run within one local day (gaps and repeats count both). It needs
// ADMIN_TOKEN. It returns what it found, {count,
// lastIssued, gaps, repeats, ok}, for the caller's metrics: a check alone
// is not enough for a threshold, since a run without the check would have
// no sample.
export function verifyNumbers(id) {
  const statuses = 'waiting,notified,serving,served,expired,cancelled';
  const seen = {};
  const labels = {}; // service code -> {daily number: true}, for one day's run
  let count = 0;
  let repeats = 0;
  let after = 0;
  for (;;) {
    const res = http.get(`${BASE_URL}/api/v1/institutions/${id}/tickets?status=${statuses}&limit=500&after=${after}`,
      { headers: adminHeaders(), tags: { name: 'verify' } });
    if (res.status !== 200) {
      fail(`list tickets: ${res.status} ${res.body}`);
    }
    const page = res.json();
    for (const t of page.items) {
      if (seen[t.number]) repeats++;
      seen[t.number] = true;
      count++;
      // A label is the service's code and its daily number: A-001 upward.
      const m = /^([A-Z]{1,3})-(\d{3,})$/.exec(t.label || '');
      if (m) {
        const svc = (labels[m[1]] = labels[m[1]] || {});
        if (svc[m[2]]) repeats++;
        svc[m[2]] = true;
      }
    }
    if (page.next_after === null || page.next_after === undefined) break;
    after = page.next_after;
  }
  const inst = http.get(`${BASE_URL}/api/v1/institutions/${id}`, { tags: { name: 'verify' } }).json();
  let gaps = 0;
  for (let n = 1; n <= inst.last_issued; n++) {
    if (!seen[n]) gaps++;
  }
  // Each service's labels run from 001 to its count, with no gap.
  for (const code of Object.keys(labels)) {
    const nums = Object.keys(labels[code]).map((x) => parseInt(x, 10));
    const most = Math.max(...nums);
    gaps += most - nums.length;
    console.log(`institution ${id}: service ${code}: ${nums.length} labels, highest ${code}-${String(most).padStart(3, '0')}`);
  }
  const ok = check(null, {
    'numbers and each service\'s labels are gap-free and unique': () => gaps === 0 && repeats === 0 && count === inst.last_issued,
  });
  console.log(`institution ${id}: ${count} tickets, last_issued ${inst.last_issued}, ${gaps} gaps, ${repeats} repeats`);
  return { count, lastIssued: inst.last_issued, gaps, repeats, ok };
}
