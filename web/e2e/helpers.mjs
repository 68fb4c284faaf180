// Shared by the browser tests and the screenshot script: the environment
// that web/browser_test.go sets, the API (the contract, as the pages use
// it), the server control endpoint and Chromium.

import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the browser tests with go test ./web (see web/browser_test.go)`);
  return v;
}

export const BASE = need('QL_BASE_URL');
export const CONTROL = need('QL_CONTROL_URL');
export const ADMIN = need('QL_ADMIN_TOKEN');
export const CHROMIUM = need('QL_CHROMIUM');
export const ARTIFACTS = process.env.QL_ARTIFACTS || '';

/** launch starts Debian's Chromium; playwright gives it a fresh profile. */
export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export const PHONE = { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true };
export const DESK = { viewport: { width: 1280, height: 860 } };
export const TV = { viewport: { width: 1280, height: 720 } };

/** api calls the contract with the admin token (or another). */
export async function api(method, path, body, { token = ADMIN, base = BASE } = {}) {
  const res = await fetch(`${base}/api/v1/${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined && method === 'GET' ? {} : { 'Content-Type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** control stops or starts a server: "main" (BASE) or "other". */
export async function control(action, server) {
  const res = await fetch(`${CONTROL}/${action}?server=${server}`, { method: 'POST' });
  const text = await res.text();
  if (!res.ok) throw new Error(`${action} ${server}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** office creates an open institution and a staff token for it. */
export async function office(name, address = 'Quezon City') {
  const inst = await api('POST', 'institutions', { name, kind: 'government', address, status: 'open' });
  const tok = await api('POST', 'tokens', { name: `${name.slice(0, 60)} desk`, role: 'staff', institution_ids: [inst.id] });
  return { inst, token: tok.token };
}

/** waitFor polls fn in the page until it returns truthy, or fails with what. */
export async function waitFor(page, what, fn, arg, timeout = 5000) {
  try {
    return await page.waitForFunction(fn, arg, { timeout, polling: 25 });
  } catch (err) {
    throw new Error(`${what}: not within ${timeout} ms (${err.message.split('\n')[0]})`);
  }
}

/** text returns the trimmed text of a selector. */
export async function text(page, selector) {
  return ((await page.locator(selector).textContent()) || '').trim();
}

/** live waits until the page's stream has its snapshot. */
export function live(page, timeout = 10000) {
  return waitFor(page, `${page.url()} connected`, () => document.documentElement.dataset.live === 'live', null, timeout);
}

/** shot saves a screenshot for a failing test's post-mortem. */
export async function shot(page, name) {
  if (!ARTIFACTS) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/${name}.png`, fullPage: true }).catch(() => {});
}

/** watchErrors collects uncaught page errors and console errors. */
export function watchErrors(page, into) {
  page.on('pageerror', (e) => into.push(`${page.url()}: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/WebSocket|Failed to load resource|ERR_CONNECTION_REFUSED/.test(m.text())) {
      into.push(`${page.url()}: console: ${m.text()}`);
    }
  });
}

/** joinFromPhone picks an office on the phone page and takes a number. */
export async function joinFromPhone(page, officeName, phone) {
  await page.goto(`${BASE}/`);
  await page.getByRole('button', { name: new RegExp(officeName) }).click();
  if (phone) await page.getByLabel(/Mobile number/).fill(phone);
  await page.getByRole('button', { name: 'Get my number' }).click();
  await page.locator('#ticket').waitFor({ state: 'visible' });
  await live(page);
  return Number(await page.locator('#t-number').getAttribute('data-number'));
}

/**
 * stubSpeech replaces the browser's speech synthesis in every page of ctx
 * with a recorder: each utterance "speaks" for ms milliseconds, and the
 * recorder counts any utterance started while another was still speaking
 * (one cutting another off) and every cancel().
 */
export async function stubSpeech(ctx, ms = 15) {
  await ctx.addInitScript((ms) => {
    const said = [];
    let speaking = null;
    let overlaps = 0;
    let cancels = 0;
    class Utterance {
      constructor(text) {
        this.text = text;
        this.lang = '';
        this.rate = 1;
        this.voice = null;
        this.onend = null;
        this.onerror = null;
      }
    }
    const synth = {
      speak(u) {
        if (speaking) overlaps++;
        speaking = u;
        said.push({ text: u.text, lang: u.lang });
        setTimeout(() => {
          if (speaking !== u) return;
          speaking = null;
          u.onend?.({ type: 'end' });
        }, ms);
      },
      cancel() {
        cancels++;
        speaking = null;
      },
      getVoices: () => [],
      get speaking() {
        return speaking != null;
      },
      pending: false,
      paused: false,
    };
    Object.defineProperty(window, 'SpeechSynthesisUtterance', { value: Utterance, configurable: true, writable: true });
    Object.defineProperty(window, 'speechSynthesis', { value: synth, configurable: true });
    window.__speech = () => ({ said: said.slice(), overlaps, cancels });
  }, ms);
}

/** setUpLines gives an office services (and counters), as an admin does. */
export async function setUpLines(id, services, counters) {
  let inst = await api('PUT', `institutions/${id}/services`, { services });
  if (counters) inst = await api('PUT', `institutions/${id}/counters`, { counters });
  return inst;
}

/** signIn signs the staff console in to an office. */
export async function signIn(page, token, instId) {
  await page.goto(`${BASE}/staff`);
  await page.getByLabel('Staff token').fill(token);
  await page.locator('#signin-inst').selectOption(String(instId));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#console').waitFor({ state: 'visible' });
  await live(page);
}

/** horizontalOverflow measures how far the page is wider than its viewport. */
export async function horizontalOverflow(page) {
  return page.evaluate(() => {
    const d = document.documentElement;
    const wide = [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > d.clientWidth + 0.5 && e.getClientRects().length)
      .slice(0, 3)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className}`);
    return { scrollWidth: d.scrollWidth, clientWidth: d.clientWidth, wide };
  });
}
