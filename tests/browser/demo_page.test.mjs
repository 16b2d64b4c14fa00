// The Shield's demo page in a real browser: Debian's chromium, driven by playwright-core.
//
// Run by tests/integration/test_demo_page.py, which starts nats-server and arqon-shield and
// passes in the environment:
//   PORT        the Shield's HTTP/WebSocket port on 127.0.0.1
//   TOKEN       a JWT for tenant T1, user alice, without a rooms claim (so publishing to a
//               room not joined is refused, which the page must show as an error)
//   MESSAGE     the text typed into the page and sent (the driver checks it on NATS)
//   SCREENSHOT  where to write a PNG of the page at the end (optional)
//   CHROMIUM    the browser binary (default /usr/bin/chromium)
// When the page has joined "lobby" this prints a line JOINED; the driver then publishes an
// envelope on out.t.T1.r.lobby (seq 5, data "from the spine") that the page must show.
// Exits 0 when every check passed, 1 with a message on the first failure; the browser is
// closed in every case and the whole run is bounded by TOTAL_MS.
import { chromium } from 'playwright-core';

const TOTAL_MS = 60_000;
const STEP_MS = 10_000;

const port = process.env.PORT;
const token = process.env.TOKEN;
const message = process.env.MESSAGE || 'hello from a real browser';
const screenshot = process.env.SCREENSHOT;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!port || !token) {
  console.error('demo_page: PORT and TOKEN must be set');
  process.exit(2);
}

let browser = null;
let page = null;
let step = 'start';
const pageErrors = [];

let finishing = false;
async function finish(code, why) {
  if (finishing) return; // the watchdog and a late failure may both get here
  finishing = true;
  // A browser too wedged to take a screenshot or to close must still not outlive the bound.
  setTimeout(() => process.exit(code || 1), 15_000).unref();
  if (why) console.error(`demo_page: FAILED at "${step}": ${why}`);
  if (page && screenshot) {
    // A picture of the failure is worth more than one of the success, so take it either way.
    await page.screenshot({ path: screenshot, fullPage: true, timeout: 5_000 })
      .then(() => console.log(`screenshot: ${screenshot}`))
      .catch((e) => console.error(`demo_page: no screenshot: ${e.message}`));
  }
  if (page) {
    const lines = await page.locator('#log > div').allTextContents().catch(() => []);
    console.error('demo_page: the page log was:' +
      (lines.length ? '\n  ' + lines.join('\n  ') : ' empty'));
  }
  if (browser) await browser.close().catch(() => {});
  process.exit(code);
}

// A hung browser or a Shield that never answers must not hold ctest until its own timeout.
const watchdog = setTimeout(() => finish(1, `not done after ${TOTAL_MS / 1000} s`), TOTAL_MS);
watchdog.unref();

// Waits for a log line of class cls (in/out/err) whose text matches re; returns its text.
async function expectLine(cls, re, what) {
  step = what;
  const line = page.locator(`#log > div.${cls}`).filter({ hasText: re });
  try {
    await line.first().waitFor({ timeout: STEP_MS });
  } catch {
    throw new Error(`no ${cls} line matching ${re} in the log within ${STEP_MS / 1000} s`);
  }
  return line.first().textContent();
}

async function expectStatus(text) {
  const status = page.locator('#status');
  try {
    await page.waitForFunction((t) => document.getElementById('status').textContent === t, text,
      { timeout: STEP_MS });
  } catch {
    throw new Error(`status is "${await status.textContent()}", expected "${text}"`);
  }
}

async function run() {
  step = 'launch chromium';
  browser = await chromium.launch({
    executablePath,
    headless: true,
    chromiumSandbox: false, // root in CI has no user namespaces for the sandbox
    timeout: 30_000,
    // No Google services on a closed network: without these Chromium keeps dialling out and
    // its refused connections slow every start. launch() makes a fresh, temporary profile
    // directory itself (and removes it on close), so no --user-data-dir here.
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));

  step = 'open the page';
  // The token travels in the fragment, which the browser never sends to the server.
  const url = `http://127.0.0.1:${port}/#token=${encodeURIComponent(token)}`;
  const response = await page.goto(url, { timeout: STEP_MS });
  if (!response || response.status() !== 200) {
    throw new Error(`GET / answered ${response ? response.status() : 'nothing'}`);
  }
  step = 'token from the fragment';
  const filled = await page.inputValue('#token');
  if (filled !== token) throw new Error(`the token field holds "${filled}", not the fragment's token`);

  step = 'connect';
  await page.click('#connect');
  const welcome = await expectLine('in', /^← welcome /, 'welcome');
  const info = JSON.parse(welcome.slice('← welcome '.length));
  if (info.tenant_id !== 'T1' || info.user !== 'alice') {
    throw new Error(`welcome names tenant ${info.tenant_id} user ${info.user}, expected T1 alice`);
  }
  await expectStatus('connected');

  // Without a rooms claim a client may only publish to rooms it joined: the page must show
  // the Shield's refusal as an error line carrying the request's id.
  step = 'send before joining';
  await page.fill('#room', 'lobby');
  await page.click('#send');
  await expectLine('err', /^← error \[lobby\] id=m1 .*"code":403/, 'refusal of a send before joining');

  step = 'join';
  await page.click('#join');
  await expectLine('out', /^→ .*"id":"m2"/, 'join request shown');
  await expectLine('in', /^← ack \[lobby\] id=m2$/, 'join ack');

  step = 'send';
  await page.fill('#text', message);
  await page.click('#send');
  await expectLine('in', /^← ack \[lobby\] id=m3$/, 'send ack');
  console.log('JOINED'); // the driver publishes the spine's envelope now

  await expectLine('in', /^← chat\.message \[lobby #5\] from bob from the spine$/,
    'envelope from the spine');

  // 200 KB of UTF-8: base64 in the page must not depend on the call stack's size.
  step = 'large message';
  await page.fill('#text', '\u00e9'.repeat(100000));
  await page.click('#send');
  await expectLine('in', /^← ack \[lobby\] id=m4$/, 'large message ack');

  step = 'disconnect';
  await page.click('#disconnect');
  await expectLine('info', /^closed 1000$/, 'close line');
  await expectStatus('disconnected');

  step = 'page errors';
  if (pageErrors.length) throw new Error('uncaught errors in the page: ' + pageErrors.join('; '));
}

run().then(() => {
  step = 'done';
  console.log('demo_page: all checks passed');
  return finish(0);
}, (e) => finish(1, e.message.split('\n')[0]));
