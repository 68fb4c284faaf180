// Flash crowd: joins arriving at a fixed rate whether or not earlier ones
// were answered (an open model: a crowd does not wait for the server).
// With its defaults the server must answer only 201, 429 (throttled) and
// 503 (shed), and every issued number must be gap-free.
//
//   k6 run -e BASE_URL=... -e ADMIN_TOKEN=... -e ADDRESSES=5000 loadtest/k6/flash-crowd.js
//
//   RATE      joins a second (default 2000)
//   DURATION  seconds of arrivals (default 10): RATE*DURATION joins
//   VUS       virtual users k6 may use to keep the rate (default 2000)
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import exec from 'k6/execution';
import { ADDRESSES, ADMIN_TOKEN, institution, join, num, verifyNumbers } from './lib.js';

const RATE = num('RATE', 2000);
const DURATION = num('DURATION', 10);
const VUS = num('VUS', 2000);

const issued = new Counter('tickets_issued');
const throttled = new Counter('joins_throttled');
const shed = new Counter('joins_shed');
const unexpected = new Counter('joins_unexpected');

// 429 and 503 are how the server protects itself: expected, not failures.
http.setResponseCallback(http.expectedStatuses(201, 429, 503));

export const options = {
  scenarios: {
    crowd: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: `${DURATION}s`,
      preAllocatedVUs: Math.min(VUS, 500),
      maxVUs: VUS,
    },
  },
  thresholds: {
    joins_unexpected: ['count==0'], // only 201, 429 and 503
    http_req_failed: ['rate==0'],
    'http_req_duration{name:join,status:201}': ['p(99)<1000'],
    tickets_issued: ['count>0'],
    dropped_iterations: [`count<${Math.ceil(RATE * DURATION * 0.01)}`], // k6 kept the rate
    checks: ['rate==1'],
  },
};

export function setup() {
  return { id: institution('k6 flash crowd') };
}

export default function (data) {
  const i = exec.scenario.iterationInTest;
  const res = join(data.id, i);
  switch (res.status) {
    case 201: issued.add(1); break;
    case 429: throttled.add(1); break;
    case 503: shed.add(1); break;
    default: unexpected.add(1); console.warn(`join: unexpected ${res.status} ${res.body}`);
  }
}

export function teardown(data) {
  if (ADMIN_TOKEN) {
    verifyNumbers(data.id);
  } else {
    console.warn('ADMIN_TOKEN unset: numbers not verified');
  }
  if (ADDRESSES === 0) {
    console.warn('ADDRESSES=0: every join came from one client address, so JOIN_RATE throttled most of them');
  }
}
