// The Shield's demo page (web/demo/, on the JavaScript SDK) in a real browser: Debian's
// chromium, driven by playwright-core.
//
// Run by tests/integration/test_demo_page.py, which starts nats-server, redis-server,
// arqon-brain and arqon-shield and passes in the environment:
//   PORT        the Shield's HTTP/WebSocket port on 127.0.0.1
//   TOKEN_A     a JWT for tenant T1, user alice; TOKEN_B the same for bob
//   SCREENSHOT  where to write a PNG of alice's page once everything passed (optional)
//   FAILSHOT    where to write a PNG of the page that failed (optional)
//   CHROMIUM    the browser binary (default /usr/bin/chromium)
// Two pages (two browser contexts) join "lobby" from the token in the URL fragment and see each
// other's presence and messages, bob's with alice's message from history. Then this prints
// RESTART_SHIELD and waits for a line SHIELD_RESTARTED on stdin: meanwhile the driver kills the
// Shield and starts it again on the same port. Both pages must recover without a reload (the
// indicator counts the reconnect), keep exchanging messages, show the members without the
// connections the crash left, and list every message once, in consecutive seq order.
// Exits 0 when every check passed, 1 with a message on the first failure; the browser is
// closed in every case and the whole run is bounded by TOTAL_MS.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const TOTAL_MS = 120_000;
const STEP_MS = 15_000;
const RECOVER_MS = 40_000; // the SDK's backoff, then the Brain expiring the dead connections

const port = process.env.PORT;
const tokens = { alice: process.env.TOKEN_A, bob: process.env.TOKEN_B };
const screenshot = process.env.SCREENSHOT;
const failshot = process.env.FAILSHOT;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!port || !tokens.alice || !tokens.bob) {
  console.error('demo_page: PORT, TOKEN_A and TOKEN_B must be set');
  process.exit(2);
}

let browser = null;
const pages = []; // { name, page, errors }
let current = null; // the page of the step under way, for the failure's picture
let step = 'start';

// Lines from the driver on stdin.
const input = [];
let lineWaiter = null;
createInterface({ input: process.stdin }).on('line', (line) => {
  input.push(line);
  if (lineWaiter) lineWaiter();
});
async function expectInput(text, ms) {
  const deadline = Date.now() + ms;
  while (!input.includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" from the driver within ${ms / 1000} s`);
    await new Promise((resolve) => {
      lineWaiter = resolve;
      setTimeout(resolve, 200);
    });
  }
}

// What a page shows, for the report of a failure.
async function describe(p) {
  return p.page.evaluate(() => {
    const text = (id) => document.getElementById(id).textContent.trim();
    const items = (sel) => [...document.querySelectorAll(sel)].map((li) => li.textContent.trim());
    return `state: ${text('state')}, ${text('reconnects')}; error: "${text('error')}"\n` +
      `    members: ${JSON.stringify(items('#members li'))}\n` +
      `    messages:\n      ${items('#messages li').join('\n      ') || '(none)'}`;
  }).catch((e) => `(not readable: ${e.message})`);
}

let finishing = false;
async function finish(code, why) {
  if (finishing) return; // the watchdog and a late failure may both get here
  finishing = true;
  // A browser too wedged to take a screenshot or to close must still not outlive the bound.
  setTimeout(() => process.exit(code || 1), 15_000).unref();
  if (why) {
    console.error(`demo_page: FAILED at "${step}": ${why}`);
    for (const p of pages) {
      console.error(`  ${p.name}'s page: ${await describe(p)}`);
      console.error(`    console (last 20 lines):\n      ${p.console.slice(-20).join('\n      ')}`);
    }
    const shown = current || pages[0];
    if (shown && failshot) {
      await shown.page.screenshot({ path: failshot, fullPage: true, timeout: 5_000 })
        .then(() => console.error(`  ${shown.name}'s page: ${failshot}`))
        .catch((e) => console.error(`  no screenshot: ${e.message}`));
    }
  }
  if (browser) await browser.close().catch(() => {});
  process.exit(code);
}

// A hung browser or a Shield that never answers must not hold ctest until its own timeout.
setTimeout(() => finish(1, `not done after ${TOTAL_MS / 1000} s`), TOTAL_MS).unref();

// Waits until fn(arg) is true in p's page; what says what was expected.
async function until(p, what, fn, arg, ms = STEP_MS) {
  step = `${p.name}: ${what}`;
  current = p;
  try {
    await p.page.waitForFunction(fn, arg, { timeout: ms, polling: 100 });
  } catch {
    throw new Error(`${p.name}'s page: not ${what} within ${ms / 1000} s`);
  }
}

const connected = (p, reconnects, ms) => until(p, `connected after ${reconnects} reconnect(s)`,
  (n) => document.getElementById('state').textContent === 'connected' &&
    document.getElementById('reconnects').textContent === `${n} reconnect${n === 1 ? '' : 's'}`,
  reconnects, ms);

// The member list, exactly: each user once, "(you)" after the page's own.
const members = (p, names, ms) => until(p, `showing members ${names.join(', ')}`,
  (want) => JSON.stringify([...document.querySelectorAll('#members li')]
    .map((li) => li.textContent.trim())) === JSON.stringify(want),
  names, ms);

const shows = (p, sender, text, ms) => until(p, `showing "${text}" from ${sender}`,
  ([s, t]) => [...document.querySelectorAll('#messages li')].some((li) =>
    li.querySelector('.sender').textContent === s && li.querySelector('.text').textContent === t),
  [sender, text], ms);

async function send(p, text) {
  step = `${p.name}: send "${text}"`;
  current = p;
  await p.page.fill('#text', text);
  await p.page.press('#text', 'Enter');
  // The box empties once the Shield acked the publish; an error would show in #error.
  await until(p, `acked "${text}"`, () => document.getElementById('text').value === '' &&
    !document.getElementById('send').disabled);
}

// Every message once, seqs consecutive and in order; the texts as expected.
async function expectLog(p, want) {
  step = `${p.name}: messages in seq order`;
  current = p;
  const got = await p.page.evaluate(() => [...document.querySelectorAll('#messages li')].map((li) =>
    ({ seq: Number(li.dataset.seq), line: `${li.querySelector('.sender').textContent}: ` +
      li.querySelector('.text').textContent })));
  const lines = got.map((m) => m.line);
  if (JSON.stringify(lines) !== JSON.stringify(want)) {
    throw new Error(`messages ${JSON.stringify(lines)}, expected ${JSON.stringify(want)}`);
  }
  for (let i = 1; i < got.length; i++) {
    if (got[i].seq !== got[i - 1].seq + 1) {
      throw new Error(`seqs ${got.map((m) => m.seq).join(',')} are not consecutive`);
    }
  }
}

async function open(name) {
  step = `${name}: open the page`;
  const context = await browser.newContext({ viewport: { width: 960, height: 620 } });
  const p = { name, page: await context.newPage(), errors: [], console: [] };
  pages.push(p);
  current = p;
  p.page.on('pageerror', (e) => p.errors.push(e.message));
  p.page.on('console', (m) => p.console.push(`${m.type()}: ${m.text()}`));
  // The token travels in the fragment, which the browser never sends to the server.
  const url = `http://127.0.0.1:${port}/#token=${encodeURIComponent(tokens[name])}`;
  const response = await p.page.goto(url, { timeout: STEP_MS });
  if (!response || response.status() !== 200) {
    throw new Error(`GET / answered ${response ? response.status() : 'nothing'}`);
  }
  return p;
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

  // alice joins the lobby from the fragment alone and speaks first.
  const alice = await open('alice');
  await connected(alice, 0);
  await members(alice, ['alice (you)']);
  await send(alice, 'hello from alice');
  await shows(alice, 'alice', 'hello from alice');

  // bob gets alice's message from history; each sees the other join.
  const bob = await open('bob');
  await connected(bob, 0);
  await shows(bob, 'alice', 'hello from alice');
  await members(bob, ['alice', 'bob (you)']);
  await members(alice, ['alice (you)', 'bob']);
  await send(bob, 'hi alice, héllo ✓');
  await shows(alice, 'bob', 'hi alice, héllo ✓');
  await shows(bob, 'bob', 'hi alice, héllo ✓');

  // The Shield crashes and comes back on the same port.
  step = 'restart the Shield';
  console.log('RESTART_SHIELD');
  await expectInput('SHIELD_RESTARTED', 60_000);
  await connected(alice, 1, RECOVER_MS);
  await connected(bob, 1, RECOVER_MS);
  await send(alice, 'back again');
  await shows(bob, 'alice', 'back again');
  await send(bob, 'me too');
  await shows(alice, 'bob', 'me too');
  // The crashed Shield's connections leave presence once the Brain expires them.
  await members(alice, ['alice (you)', 'bob'], RECOVER_MS);
  await members(bob, ['alice', 'bob (you)'], RECOVER_MS);
  const log = ['alice: hello from alice', 'bob: hi alice, héllo ✓', 'alice: back again', 'bob: me too'];
  await expectLog(alice, log);
  await expectLog(bob, log);

  if (screenshot) {
    step = 'screenshot';
    await alice.page.screenshot({ path: screenshot, fullPage: true, timeout: 5_000 });
    console.log(`screenshot: ${screenshot}`);
  }

  // bob leaves: alice sees it at once.
  step = 'bob: leave';
  current = bob;
  await bob.page.click('#leave');
  await members(alice, ['alice (you)']);
  await until(bob, 'showing no member', () => !document.querySelector('#members li'));

  step = 'page errors';
  for (const p of pages) {
    if (p.errors.length) throw new Error(`uncaught errors in ${p.name}'s page: ${p.errors.join('; ')}`);
  }
}

run().then(() => {
  step = 'done';
  console.log('demo_page: all checks passed');
  return finish(0);
}, (e) => finish(1, e.message.split('\n')[0]));
