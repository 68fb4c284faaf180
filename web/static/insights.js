// The insights page (/staff/insights): today's and the last 30 days'
// figures of the signed-in office (GET .../stats), four charts drawn with
// the vendored uPlot (waits by hour, served by service, estimate error,
// satisfaction), the open alerts with their level and a resolve button
// (GET /alerts, POST /alerts/{id}/resolve), and the CSV export
// (GET .../tickets.csv). It uses the staff console's session
// (sessionStorage), so it opens from the console in the same tab.

import { api, apiURL, ApiError, errorText } from './api.js';
import { el, say, officeTime, officeMidnight } from './format.js';

const SESSION = 'queueless.staff';
const $ = (id) => document.getElementById(id);
const SQD = ['SQD0', 'SQD1', 'SQD2', 'SQD3', 'SQD4', 'SQD5', 'SQD6', 'SQD7', 'SQD8'];
const LEVELS = { initiated: 'Initiated', p2: 'P2', p1: 'P1', p0: 'P0' };
const KINDS = { queue_stalled: 'Queue stalled', wait_sla: 'Wait over the SLA' };

let session = null;
let days = 1; // 1: today, 30: the last 30 days
let charts = [];
let last = null; // the stats drawn
let office = null; // the signed-in office, once read: its timezone

function call(method, path, opts = {}) {
  return api(method, path, { ...opts, token: session.token });
}

/** period is [midnight days-1 days ago, next midnight), the office's days. */
function period() {
  const to = officeMidnight(office, 1);
  const from = officeMidnight(office, 1 - days);
  const iso = (d) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { from: iso(from), to: iso(to), label: days === 1 ? 'today' : `last-${days}-days` };
}

function fail(err) {
  say($('error'), err instanceof ApiError ? errorText(err) : String(err));
}

function minutes(s) {
  return s == null ? null : Math.round((s / 60) * 10) / 10;
}

/** dur says a number of seconds shortly: "45 s", "12 min", "1 h 5 min". */
function dur(s) {
  if (s == null) return null;
  const n = Math.round(s);
  if (n < 60) return `${n} s`;
  const min = Math.round(n / 60);
  return min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
}

function figure(id, v) {
  $(id).textContent = v == null ? '—' : String(v);
}

async function load() {
  const p = period();
  const q = `from=${encodeURIComponent(p.from)}&to=${encodeURIComponent(p.to)}`;
  try {
    const st = await call('GET', `institutions/${session.institution_id}/stats?${q}`);
    say($('error'), '');
    last = st;
    render(st);
  } catch (err) {
    fail(err);
  }
}

function render(st) {
  figure('f-joined', st.joined);
  figure('f-served', st.served);
  figure('f-expired', st.expired);
  figure('f-cancelled', st.cancelled);
  figure('f-wait50', dur(st.wait_seconds.p50));
  figure('f-wait90', dur(st.wait_seconds.p90));
  figure('f-svc50', dur(st.service_seconds.p50));
  const e = st.estimate_error.median_absolute_seconds;
  figure('f-error', dur(e));
  const s = st.satisfaction;
  figure('f-rating', s.mean_rating == null ? null : `${s.mean_rating.toFixed(1)} / 5 (${s.count})`);
  drawCharts(st);
}

// ---------- charts ----------

const INK = '#16202b';
const BLUE = '#0b4f99';
const RED = '#b3261e';
const GREEN = '#0a6b35';

function width(node) {
  return Math.max(260, Math.floor(node.clientWidth || node.parentElement.clientWidth || 480));
}

/** categorical x axis: values 0..n-1 named by labels. */
function categories(labels) {
  return {
    scale: { time: false, range: () => [-0.6, labels.length - 0.4] },
    axis: {
      stroke: INK,
      splits: () => labels.map((_, i) => i),
      values: (u, splits) => splits.map((i) => labels[i] ?? ''),
      grid: { show: false },
    },
  };
}

function bars(label, color) {
  return { label, fill: color + 'cc', stroke: color, width: 1, paths: uPlot.paths.bars({ size: [0.6, 64] }), points: { show: false } };
}

function chart(node, opts, data) {
  node.replaceChildren();
  const u = new uPlot({ width: width(node), height: 240, legend: { show: true }, cursor: { drag: { x: false, y: false } }, ...opts }, data, node);
  charts.push(u);
}

function drawCharts(st) {
  for (const c of charts) c.destroy();
  charts = [];
  const hours = st.by_hour.map((h) => h.hour);
  chart(
    $('c-hours'),
    {
      scales: { x: { time: false, range: [-0.5, 23.5] }, y: { range: (u, lo, hi) => [0, Math.max(1, hi)] } },
      axes: [{ stroke: INK, values: (u, splits) => splits.map((h) => `${h}h`) }, { stroke: INK, label: 'min' }],
      series: [
        { label: 'Hour' },
        bars('Median wait', BLUE),
        { label: '90% under', stroke: RED, width: 2, spanGaps: false },
      ],
    },
    [hours, st.by_hour.map((h) => minutes(h.wait_seconds.p50)), st.by_hour.map((h) => minutes(h.wait_seconds.p90))],
  );
  const services = st.by_service.map((s) => s.service);
  const cat = categories(services);
  chart(
    $('c-services'),
    { scales: { x: cat.scale, y: { range: (u, lo, hi) => [0, Math.max(1, hi)] } }, axes: [cat.axis, { stroke: INK }], series: [{ label: 'Service' }, bars('Served', GREEN), bars('Expired', RED)] },
    [services.map((_, i) => i), st.by_service.map((s) => s.served), st.by_service.map((s) => s.expired)],
  );
  chart(
    $('c-error'),
    { scales: { x: cat.scale, y: { range: (u, lo, hi) => [0, Math.max(1, hi)] } }, axes: [cat.axis, { stroke: INK, label: 'min' }], series: [{ label: 'Service' }, bars('Estimate off by', BLUE)] },
    [services.map((_, i) => i), st.by_service.map((s) => minutes(s.estimate_error.median_absolute_seconds))],
  );
  const q = categories(SQD);
  chart(
    $('c-sqd'),
    { scales: { x: q.scale, y: { range: [0, 5] } }, axes: [q.axis, { stroke: INK }], series: [{ label: 'Question' }, bars('Mean answer', GREEN)] },
    [SQD.map((_, i) => i), SQD.map((k) => st.satisfaction.mean_sqd[k])],
  );
}

// ---------- alerts ----------

async function loadAlerts() {
  const list = $('alerts');
  try {
    const res = await call('GET', `alerts?status=open&institution_id=${session.institution_id}`);
    const items = (res && res.items) || [];
    list.replaceChildren(...items.map(alertItem));
    say($('alerts-none'), items.length ? '' : 'No open alerts.');
  } catch (err) {
    list.replaceChildren();
    say($('alerts-none'), err instanceof ApiError && err.status === 404 ? 'Alerts are not available on this server.' : `Alerts could not be loaded: ${errorText(err)}`);
  }
}

/** detailText says an alert's detail ({waiting, since, threshold_minutes}). */
function detailText(d) {
  if (!d) return '';
  if (typeof d === 'string') return d;
  const parts = [];
  if (d.waiting != null) parts.push(`${d.waiting} waiting`);
  if (d.threshold_minutes != null) parts.push(`threshold ${d.threshold_minutes} min`);
  return parts.join(', ');
}

function alertItem(a) {
  const level = LEVELS[a.level] || a.level;
  const button = el('button', { type: 'button', class: 'ghost', text: 'Resolve', 'aria-label': `Resolve ${KINDS[a.kind] || a.kind} alert` });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await call('POST', `alerts/${a.id}/resolve`);
      await loadAlerts();
    } catch (err) {
      button.disabled = false;
      fail(err);
    }
  });
  const detail = detailText(a.detail);
  return el(
    'li',
    { dataset: { alert: String(a.id), level: a.level } },
    el('span', { class: `level ${a.level}`, text: level }),
    el('span', { class: 'what' }, el('strong', { text: KINDS[a.kind] || a.kind }), detail ? ` — ${detail}` : '', el('span', { class: 'muted' }, ' since ', officeTime(a.opened_at, office))),
    button,
  );
}

// ---------- CSV ----------

async function exportCSV() {
  const p = period();
  const url = apiURL(`institutions/${session.institution_id}/tickets.csv?from=${encodeURIComponent(p.from)}&to=${encodeURIComponent(p.to)}`);
  try {
    const res = await fetch(url, { headers: { Authorization: 'Bearer ' + session.token }, cache: 'no-store', credentials: 'omit' });
    if (!res.ok) {
      let body = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      throw new ApiError(res.status, body, res.headers.get('Retry-After'));
    }
    const blob = await res.blob();
    const a = el('a', { href: URL.createObjectURL(blob), download: `tickets-${session.institution_id}-${p.label}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (err) {
    fail(err instanceof ApiError ? err : new ApiError(0, null, null));
  }
}

// ---------- start ----------

function choose(n) {
  days = n;
  $('p-today').setAttribute('aria-pressed', String(n === 1));
  $('p-30').setAttribute('aria-pressed', String(n === 30));
  load();
}

async function start() {
  try {
    session = JSON.parse(sessionStorage.getItem(SESSION) || 'null');
  } catch {
    session = null;
  }
  if (!session || !session.token || !session.institution_id) {
    $('signed-out').hidden = false;
    return;
  }
  $('view').hidden = false;
  $('p-today').addEventListener('click', () => choose(1));
  $('p-30').addEventListener('click', () => choose(30));
  $('csv').addEventListener('click', exportCSV);
  let resized = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resized);
    resized = setTimeout(() => last && drawCharts(last), 150);
  });
  try {
    const inst = await api('GET', `institutions/${session.institution_id}`);
    office = inst;
    $('inst-name').textContent = `${inst.name}: insights`;
    document.title = `${inst.name} – insights – QueueLess`;
  } catch (err) {
    fail(err);
  }
  await Promise.all([load(), loadAlerts()]);
  document.body.dataset.ready = 'true';
}

start();
