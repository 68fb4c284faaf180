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
//
// The crowd's own thresholds are scoped to its scenario ({scenario:crowd}):
// k6 counts setup and teardown samples in every unscoped threshold, and the
// teardown's verification reads answer 200, which the joins never should.
// The numbers check is a counter that the teardown adds to, so that it has
// a sample whether it passes or fails; without ADMIN_TOKEN there is no
// check, and the run says so rather than passing a check it never made.
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
const verified = new Counter('numbers_verified'); // 1 when the teardown checked the numbers
const broken = new Counter('numbers_broken'); // gaps + repeats + count mismatch

// 429 and 503 are how the server protects itself: expected for a join in
// the crowd, not failures. Per request (k6 Params responseCallback), not
// http.setResponseCallback, which would also make the 200s of setup and
// teardown "failed". Defined once, as the k6 docs recommend.
const crowdAnswers = http.expectedStatuses(201, 429, 503);

const thresholds = {
  'joins_unexpected{scenario:crowd}': ['count==0'], // only 201, 429 and 503
  'http_req_failed{scenario:crowd}': ['rate==0'],
  'http_req_duration{scenario:crowd,name:join,status:201}': ['p(99)<1000'],
  'tickets_issued{scenario:crowd}': ['count>0'],
  'dropped_iterations{scenario:crowd}': [`count<${Math.ceil(RATE * DURATION * 0.01)}`], // k6 kept the rate
  numbers_broken: ['count==0'],
};
if (ADMIN_TOKEN) {
  // The teardown must have checked the numbers, not skipped the check.
  thresholds.numbers_verified = ['count==1'];
}

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
  thresholds,
};

export function setup() {
  return { id: institution('k6 flash crowd') };
}

export default function (data) {
  const i = exec.scenario.iterationInTest;
  const res = join(data.id, i, {}, {}, { responseCallback: crowdAnswers });
  switch (res.status) {
    case 201: issued.add(1); break;
    case 429: throttled.add(1); break;
    case 503: shed.add(1); break;
    default: unexpected.add(1); console.warn(`join: unexpected ${res.status} ${res.body}`);
  }
}

export function teardown(data) {
  if (ADMIN_TOKEN) {
    const r = verifyNumbers(data.id);
    broken.add(r.gaps + r.repeats + Math.abs(r.count - r.lastIssued));
    verified.add(1);
  } else {
    console.warn('ADMIN_TOKEN unset: numbers NOT verified (numbers_verified has no threshold); set it to check them');
  }
  if (ADDRESSES === 0) {
    console.warn('ADDRESSES=0: every join came from one client address, so JOIN_RATE throttled most of them');
  }
}
