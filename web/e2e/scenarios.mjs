// The frame of a browser test file (pages.test.mjs, office-day.test.mjs):
// one Chromium for the file; pages opened in contexts of their own and
// closed after each test; errors a page logs fail its test; and a failing
// test leaves a picture of every page still open (helpers.shot).

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { launch, shot, watchErrors, horizontalOverflow } from './helpers.mjs';

/**
 * browserTests sets up the file's hooks and returns scenario (test() with
 * pictures on failure, named shotPrefix + the test's name) and open
 * (a page for a device, e.g. PHONE, at url when given; prepare(ctx) runs
 * on its context before the page is made) and keep (a page opened
 * otherwise, pictured too). setUp and
 * tearDown run after the browser starts and before it closes.
 */
export function browserTests({ shotPrefix = '', setUp, tearDown } = {}) {
  let browser;
  let errors = [];
  const pages = [];

  before(async () => {
    browser = await launch();
    await setUp?.();
  });

  after(async () => {
    try {
      await tearDown?.();
    } finally {
      await browser?.close();
    }
  });

  afterEach(async () => {
    for (const p of pages.splice(0)) await p.context().close().catch(() => {});
    const seen = errors;
    errors = [];
    assert.deepEqual(seen, [], 'the pages logged errors');
  });

  function scenario(name, fn) {
    test(name, async () => {
      try {
        await fn();
      } catch (err) {
        for (const [i, p] of pages.entries()) if (!p.isClosed()) await shot(p, `${shotPrefix}${name.replace(/\W+/g, '-').slice(0, 60)}-${i}`);
        throw err;
      }
    });
  }

  async function open(device, url, prepare) {
    const ctx = await browser.newContext(device);
    ctx.setDefaultTimeout(10000);
    await prepare?.(ctx); // e.g. stubSpeech, routeWebSocket: before the page exists
    const page = await ctx.newPage();
    watchErrors(page, errors);
    pages.push(page);
    if (url) await page.goto(url);
    return page;
  }

  // keep adds a page the test did not open (a tab a link opened) to those
  // pictured on failure.
  const keep = (page) => pages.push(page);

  return { scenario, open, keep };
}

/** assertNoHorizontalScroll fails when page is wider than its viewport, naming what sticks out. */
export async function assertNoHorizontalScroll(page, where) {
  const o = await horizontalOverflow(page);
  assert.ok(
    o.scrollWidth <= o.clientWidth,
    `${where}: page is ${o.scrollWidth}px wide in a ${o.clientWidth}px viewport (too wide: ${o.wide.join(', ')})`,
  );
}
