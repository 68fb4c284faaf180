// Live fan-out: SUBSCRIBERS follow one institution's live stream while
// staff call CALLS tickets, one every INTERVAL seconds. Each call's counter
// name is its send time (ms, base 36), so every subscriber measures the
// send-to-frame delay: the "delivery" trend.
//
//   k6 run -e BASE_URL=... -e ADMIN_TOKEN=... -e SUBSCRIBERS=1000 loadtest/k6/fanout.js
//
//   SUBSCRIBERS  live connections (default 1000; one k6 VU each)
//   CONNECT      seconds allowed for connecting before the first call (default 20)
//   CALLS        calls to make (default 20); INTERVAL seconds apart (default 0.5)
//   ADDRESSES    X-Forwarded-For addresses (WS_MAX_PER_IP caps connections
//                per address: 50 by default)
//
// k6 and the driver measure the same thing; for 10,000 connections and
// more, prefer the Go driver (loadgen fanout -procs N), which spreads them
// over processes and source addresses.
import ws from 'k6/ws';
import http from 'k6/http';
import { check, fail, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import exec from 'k6/execution';
import { BASE_URL, WS_URL, advance, clientAddr, ADDRESSES, institution, join, num } from './lib.js';

const SUBSCRIBERS = num('SUBSCRIBERS', 1000);
const CONNECT = num('CONNECT', 20);
const CALLS = num('CALLS', 20);
const INTERVAL = num('INTERVAL', 0.5);
const HOLD = CONNECT + CALLS * INTERVAL + 5; // seconds a subscriber stays

const delivery = new Trend('delivery', true);
const deliveries = new Counter('deliveries');
const frames = new Counter('frames');
const calls = new Counter('calls');

export const options = {
  scenarios: {
    subscribers: {
      executor: 'per-vu-iterations',
      vus: SUBSCRIBERS,
      iterations: 1,
      maxDuration: `${HOLD + 60}s`,
      exec: 'subscribe',
    },
    staff: {
      executor: 'per-vu-iterations',
      vus: 1,
      iterations: 1,
      startTime: `${CONNECT}s`,
      maxDuration: `${CALLS * INTERVAL + 60}s`,
      exec: 'call',
    },
  },
  thresholds: {
    'ws_connecting': ['p(99)<2000'],
    delivery: ['p(99)<1000'],
    deliveries: [`count>=${Math.floor(SUBSCRIBERS * CALLS * 0.99)}`], // every call reached (nearly) everyone
    'checks{check:upgraded}': ['rate==1'],
  },
};

export function setup() {
  const id = institution('k6 fan-out');
  // Every call must call someone, or it changes nothing and sends nothing.
  const inst = http.get(`${BASE_URL}/api/v1/institutions/${id}`).json();
  for (let i = inst.waiting_count; i < CALLS; i++) {
    const res = join(id, 1000000 + i, {}, { name: 'setup' });
    if (res.status !== 201) fail(`join a ticket to call: ${res.status} ${res.body}`);
  }
  return { id };
}

export function subscribe(data) {
  const i = exec.vu.idInTest;
  const params = { headers: {}, tags: { name: 'live' } };
  if (ADDRESSES > 0) params.headers['X-Forwarded-For'] = clientAddr(i % ADDRESSES);
  let last = '';
  const res = ws.connect(`${WS_URL}/api/v1/institutions/${data.id}/live`, params, (socket) => {
    socket.on('message', (msg) => {
      const now = Date.now();
      frames.add(1);
      const f = JSON.parse(msg);
      const c = f.institution && f.institution.recent_calls && f.institution.recent_calls[0];
      const tag = c && c.counter;
      if (tag && tag[0] === 'K' && tag !== last) {
        last = tag;
        if (f.type !== 'snapshot') {
          delivery.add(now - parseInt(tag.slice(1), 36));
          deliveries.add(1);
        }
      }
    });
    socket.setTimeout(() => socket.close(), HOLD * 1000);
  });
  check(res, { upgraded: (r) => r && r.status === 101 });
}

export function call(data) {
  for (let i = 0; i < CALLS; i++) {
    const res = advance(data.id, 'K' + Date.now().toString(36));
    check(res, { 'call answered 200': (r) => r.status === 200 });
    calls.add(1);
    sleep(INTERVAL);
  }
}
