// A day at several offices: citizens browse, join, then poll their ticket
// or follow it live, check in when called (or not show up), or give up and
// cancel; staff at every office call at a steady pace.
//
//   k6 run -e BASE_URL=... -e ADMIN_TOKEN=... loadtest/k6/mixed-day.js
//
//   OFFICES        institutions to create (default 3); or INSTITUTIONS=1,2,3
//   CITIZENS       peak citizens at once (default 200)
//   DURATION       seconds at the peak (default 60)
//   CALL_EVERY     seconds between calls at each office (default 0.3)
//   LIVE_SHARE     share following their ticket live (default 0.5)
//   CANCEL_SHARE   share giving up while waiting (default 0.1)
//   NO_SHOW_SHARE  share never checking in when called (default 0.1)
//   MAX_WAIT       seconds a citizen waits before cancelling (default 20)
//   ADMITTED_MIN   least share of joins that must get a ticket (default 0.95)
//   SHARED_ADDRESSES=1  run although citizens share client addresses
//                  (ADDRESSES < CITIZENS): only when the server's JOIN_RATE
//                  was raised for the test
//
// A day on which nobody gets in is a failed day: every join's answer is
// counted (joins_admitted), and so are the calls that called somebody
// (tickets_called). The run refuses to start when citizens would share
// client addresses, since the per-address join limit would then turn most
// joins away while every request "succeeded".
import http from 'k6/http';
import ws from 'k6/ws';
import { check, fail, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import exec from 'k6/execution';
import { ADDRESSES, BASE_URL, WS_URL, advance, headers, institution, join, num } from './lib.js';

const OFFICES = num('OFFICES', 3);
const CITIZENS = num('CITIZENS', 200);
const DURATION = num('DURATION', 60);
const CALL_EVERY = num('CALL_EVERY', 0.3);
const LIVE_SHARE = num('LIVE_SHARE', 0.5);
const CANCEL_SHARE = num('CANCEL_SHARE', 0.1);
const NO_SHOW_SHARE = num('NO_SHOW_SHARE', 0.1);
const MAX_WAIT = num('MAX_WAIT', 20);
const ADMITTED_MIN = num('ADMITTED_MIN', 0.95);
const SHARED_ADDRESSES = __ENV.SHARED_ADDRESSES === '1';

const waited = new Trend('wait_to_call', true);
const served = new Counter('citizens_called');
const gaveUp = new Counter('citizens_gave_up');
const admitted = new Rate('joins_admitted'); // true: 201, a ticket
const called = new Counter('tickets_called'); // tickets staff calls called

// 409 (invalid state after expiry, duplicate) and 429 are answers the
// contract gives to a citizen's race with staff or the throttle.
http.setResponseCallback(http.expectedStatuses({ min: 200, max: 299 }, 409, 429));

export const options = {
  scenarios: {
    citizens: {
      executor: 'ramping-vus',
      exec: 'citizen',
      startVUs: 0,
      stages: [
        { duration: '10s', target: CITIZENS },
        { duration: `${DURATION}s`, target: CITIZENS },
        { duration: '10s', target: 0 },
      ],
      gracefulRampDown: `${MAX_WAIT + 5}s`,
    },
    staff: {
      executor: 'constant-arrival-rate',
      exec: 'staff',
      rate: Math.max(1, Math.round(OFFICES / CALL_EVERY)),
      timeUnit: '1s',
      duration: `${DURATION + 20}s`,
      preAllocatedVUs: OFFICES * 2,
      maxVUs: OFFICES * 10,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    'http_req_duration{name:browse}': ['p(95)<300'],
    'http_req_duration{name:join}': ['p(95)<500'],
    'http_req_duration{name:poll}': ['p(95)<300'],
    'http_req_duration{name:check_in}': ['p(95)<500'],
    'http_req_duration{name:advance}': ['p(95)<500'],
    checks: ['rate>0.99'],
    // Most citizens got in, and staff called some of them: 409 and 429
    // are not request failures, but a day of them is a failed day.
    joins_admitted: [`rate>=${ADMITTED_MIN}`],
    tickets_called: ['count>0'],
    citizens_called: ['count>0'],
  },
};

export function setup() {
  // Every VU presents its own client address (VU id mod ADDRESSES), and the
  // server limits joins per address: fewer addresses than citizens (or none,
  // so that all share the k6 host's address) means most joins get 429.
  if (ADDRESSES < CITIZENS && !SHARED_ADDRESSES) {
    fail(`ADDRESSES=${ADDRESSES} is less than CITIZENS=${CITIZENS}: citizens would share client addresses ` +
      'and the per-address join limit (JOIN_RATE) would refuse most joins. Set ADDRESSES>=CITIZENS with a ' +
      'server that trusts X-Forwarded-For from k6 (TRUSTED_PROXIES), or raise JOIN_RATE on the server and set SHARED_ADDRESSES=1');
  }
  if (__ENV.INSTITUTIONS) {
    return { ids: __ENV.INSTITUTIONS.split(',').map((s) => parseInt(s, 10)) };
  }
  const ids = [];
  for (let i = 0; i < OFFICES; i++) ids.push(institution(`k6 office ${i + 1}`));
  return { ids };
}

export function staff(data) {
  const id = data.ids[exec.scenario.iterationInTest % data.ids.length];
  const res = advance(id, String((exec.scenario.iterationInTest % 9) + 1));
  check(res, { 'advance 200': (r) => r.status === 200 });
  if (res.status === 200) {
    called.add((res.json('called') || []).length);
  }
}

const terminal = { serving: true, served: true, expired: true, cancelled: true };

export function citizen(data) {
  const me = exec.vu.idInTest;
  const list = http.get(`${BASE_URL}/api/v1/institutions`, { headers: headers(me), tags: { name: 'browse' } });
  check(list, { 'browse 200': (r) => r.status === 200 });
  const id = data.ids[Math.floor(Math.random() * data.ids.length)];
  http.get(`${BASE_URL}/api/v1/institutions/${id}`, { headers: headers(me), tags: { name: 'institution' } });
  const res = join(id, me);
  admitted.add(res.status === 201);
  if (res.status !== 201) {
    sleep(1 + Math.random());
    return;
  }
  const t = res.json();
  const giveUp = Math.random() < CANCEL_SHARE ? Math.random() * MAX_WAIT / 2 : MAX_WAIT;
  const start = Date.now();
  const status = Math.random() < LIVE_SHARE ? follow(t.id, me, giveUp) : poll(t.id, me, giveUp);
  if (status === 'serving') {
    served.add(1);
    waited.add(Date.now() - start);
    if (Math.random() >= NO_SHOW_SHARE) {
      const ci = http.post(`${BASE_URL}/api/v1/tickets/${t.id}/check-in`, '{}', { headers: headers(me), tags: { name: 'check_in' } });
      check(ci, { 'check-in 200': (r) => r.status === 200 });
    }
  } else if (!terminal[status]) {
    gaveUp.add(1);
    const c = http.post(`${BASE_URL}/api/v1/tickets/${t.id}/cancel`, '{}', { headers: headers(me), tags: { name: 'cancel' } });
    check(c, { 'cancel 200': (r) => r.status === 200 || r.status === 409 });
  }
  sleep(1 + Math.random() * 2);
}

// poll reads the ticket every second until it is called or over, or the
// citizen gives up; it returns the last status seen.
function poll(ticketID, me, giveUp) {
  const until = Date.now() + giveUp * 1000;
  let status = 'waiting';
  while (Date.now() < until) {
    const r = http.get(`${BASE_URL}/api/v1/tickets/${ticketID}`, { headers: headers(me), tags: { name: 'poll' } });
    if (r.status === 200) status = r.json('status');
    if (terminal[status]) break;
    sleep(1);
  }
  return status;
}

// follow watches the ticket's live stream until it is called or over, or
// the citizen gives up.
function follow(ticketID, me, giveUp) {
  let status = 'waiting';
  const params = { headers: headers(me), tags: { name: 'follow' } };
  const res = ws.connect(`${WS_URL}/api/v1/tickets/${ticketID}/live`, params, (socket) => {
    socket.on('message', (msg) => {
      const f = JSON.parse(msg);
      if (f.ticket) {
        status = f.ticket.status;
        if (terminal[status]) socket.close();
      }
    });
    socket.setTimeout(() => socket.close(), giveUp * 1000);
  });
  check(res, { 'follow upgraded': (r) => r && r.status === 101 });
  return status;
}
