// End-to-end test of the teaching page in headless Chromium (playwright-core).
//
//   node tests/browser/e2e.mjs PATH/TO/minijwt [SCREENSHOT_DIR]
//
// Starts `minijwt serve` on a free port with a 5-second access-token lifetime,
// drives the page like a person (click, type), and checks the log panel, the
// token view, the cookie and the security headers. Any console error, page
// error, failed request or HTTP status >= 400 that the current step did not
// declare fails the run. Exit 0 on success; otherwise one line per problem, exit 1.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';

const [binaryArg, shotsArg] = process.argv.slice(2);
if (!binaryArg) {
  console.error('usage: node tests/browser/e2e.mjs PATH/TO/minijwt [SCREENSHOT_DIR]');
  process.exit(2);
}
const BINARY = resolve(binaryArg);
const SHOTS = resolve(shotsArg || 'target/browser-screenshots');
const CHROMIUM = '/usr/bin/chromium';
const ACCESS_TTL = 5; // seconds: short, so that expiry happens during the run (with margin for a slow machine)
const RUN_LIMIT_MS = 150_000;
const WAIT_MS = 10_000; // longest wait for one thing on the page

const problems = [];
let stopping = false; // set on a signal or the watchdog: later failures are only its echoes
const fail = (line) => { if (!stopping) problems.push(line); };
let server = null;
let serverLog = ''; // the server's stderr, its last 20,000 characters
let browser = null;
let tempDir = null;
let stepName = 'start';
let allowed = []; // [{method, path, status: [..]}] failures the current step expects
const tally = { passed: 0, failed: 0 };

/** Kills what this run started; safe to call twice. */
async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((done) => {
      const force = setTimeout(() => { server.kill('SIGKILL'); done(); }, 3000);
      server.once('exit', () => { clearTimeout(force); done(); });
    });
  }
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  tempDir = null;
}

/** Stops the run from a signal or the watchdog: one problem line, then cleanup and exit 1. */
function abort(line) {
  if (stopping) return;
  fail(line);
  stopping = true;
  cleanup().finally(() => finish(1));
}

function finish(code) {
  for (const line of problems) console.log(`FAIL: ${line}`);
  // The plain closing line CI reads; a failure outside any step counts as one more.
  const failed = Math.max(tally.failed, code === 0 ? 0 : 1);
  console.log(`browser-e2e: ${tally.passed} passed, ${failed} failed`);
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => abort(`interrupted by ${signal} during step "${stepName}"`));
}
const watchdog = setTimeout(
  () => abort(`the run took longer than ${RUN_LIMIT_MS / 1000} s (during step "${stepName}")`), RUN_LIMIT_MS);

// ---- the server -------------------------------------------------------------

/** Starts the server; resolves with its base URL from the first stderr line. */
function startServer() {
  tempDir = mkdtempSync(join(tmpdir(), 'minijwt-e2e-'));
  const args = ['serve', '--addr', '127.0.0.1:0', '--db', join(tempDir, 'db.sqlite'),
    '--key-file', join(tempDir, 'key'), '--access-ttl', String(ACCESS_TTL)];
  server = spawn(BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolveUrl, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`the server did not say where it listens within 15 s: ${stderr.trim()}`)), 15_000);
    server.on('error', (e) => { clearTimeout(timer); reject(new Error(`cannot start ${BINARY}: ${e.message}`)); });
    server.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the server exited (${code}): ${stderr.trim()}`)); });
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (chunk) => {
      if (stderr.length < 20_000) stderr += chunk;
      serverLog = (serverLog + chunk).slice(-20_000);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match) { clearTimeout(timer); resolveUrl(match[1]); }
    });
  });
}

/** Chromium comes from Debian's package; it may still be being installed. */
async function waitForChromium() {
  for (let i = 0; i < 30 && !existsSync(CHROMIUM); i++) await new Promise((r) => setTimeout(r, 2000));
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
}

// ---- watching the page --------------------------------------------------------

function isAllowed(method, path, status) {
  return allowed.some((a) => (!method || a.method === method) && a.path === path && a.status.includes(status));
}

const inFlight = new Map(); // page -> requests sent and not yet answered

function watch(page) {
  inFlight.set(page, 0);
  page.on('request', () => inFlight.set(page, inFlight.get(page) + 1));
  page.on('requestfinished', () => inFlight.set(page, inFlight.get(page) - 1));
  page.on('requestfailed', () => inFlight.set(page, inFlight.get(page) - 1));
  page.on('pageerror', (e) => fail(`[${stepName}] page error: ${e.message}`));
  page.on('requestfailed', (r) => fail(`[${stepName}] request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    if (r.status() >= 400 && !isAllowed(r.request().method(), path, r.status())) {
      fail(`[${stepName}] unexpected ${r.status()} for ${r.request().method()} ${path}`);
    }
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const text = msg.text();
    // Chromium reports every fetch answered 4xx as a console error; those the step expects are fine.
    const status = /the server responded with a status of (\d+)/.exec(text);
    const url = msg.location()?.url;
    if (status && url && isAllowed(null, new URL(url).pathname, Number(status[1]))) return;
    fail(`[${stepName}] console error: ${text}${url ? ` (${url})` : ''}`);
  });
}

// ---- helpers -----------------------------------------------------------------

/** Runs one step; a thrown error becomes one problem line, and the run goes on. */
async function step(name, expectedFailures, body) {
  if (stopping) return;
  stepName = name;
  allowed = expectedFailures;
  const before = problems.length;
  const started = Date.now();
  try {
    await body();
  } catch (e) {
    fail(`[${name}] ${e.message.split('\n')[0]}`);
  }
  if (stopping) return;
  const ok = problems.length === before;
  tally[ok ? 'passed' : 'failed'] += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const rowSelector = ({ step, method, path, status, actor }) =>
  '#log-rows tr' + (step ? `[data-step~="${step}"]` : '') + (method ? `[data-method="${method}"]` : '') +
  (path ? `[data-path="${path}"]` : '') + (status ? `[data-status="${status}"]` : '') +
  (actor ? `[data-actor="${actor}"]` : '');

/** The log rows, oldest first, as plain objects. */
const logRows = (page) => page.$$eval('#log-rows tr', (rows) => rows.reverse().map((r) => ({
  step: r.dataset.step, actor: r.dataset.actor, method: r.dataset.method,
  path: r.dataset.path, status: Number(r.dataset.status), text: r.textContent,
})));

/** Waits until the log has `count` more rows than `before`; returns the new ones, oldest first. */
async function newRows(page, before, count) {
  await page.waitForFunction(([n]) => document.querySelectorAll('#log-rows tr').length >= n,
    [before + count], { timeout: WAIT_MS });
  return (await logRows(page)).slice(before);
}

const rowCount = (page) => page.$$eval('#log-rows tr', (rows) => rows.length);
const text = (page, selector) => page.textContent(selector);
const describe = (rows) => rows.map((r) => `${r.method} ${r.path} ${r.status} [${r.step}]`).join(', ');

function expectRows(rows, expected) {
  check(rows.length === expected.length && expected.every((e, i) =>
    rows[i].method === e[0] && rows[i].path === e[1] && rows[i].status === e[2] && rows[i].step.split(' ').includes(e[3])),
  `expected ${expected.map((e) => `${e[0]} ${e[1]} ${e[2]} [${e[3]}]`).join(', ')}; the log shows ${describe(rows)}`);
}

async function decodedPayload(page) {
  return JSON.parse(await text(page, '#decoded-payload'));
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

/** Texts of the diagram that reach outside its drawing (clipped on a 375 px screen as on any other). */
const clippedCaptions = (page) => page.$eval('svg.flow', (svg) => {
  const width = svg.viewBox.baseVal.width;
  return Array.from(svg.querySelectorAll('text')).filter((t) => t.textContent)
    .map((t) => ({ text: t.textContent, box: t.getBBox() }))
    .filter(({ box }) => box.x < 0 || box.x + box.width > width).map(({ text }) => text);
});

/** The diagram: steps lit now, steps seen before, and what each step last said. */
const litSteps = (page) => page.$$eval('svg.flow g[data-step]', (groups) => ({
  lit: groups.filter((g) => g.classList.contains('lit')).map((g) => Number(g.dataset.step)),
  seen: groups.filter((g) => g.classList.contains('seen')).map((g) => Number(g.dataset.step)),
  last: Object.fromEntries(groups.map((g) => [g.dataset.step, g.dataset.last ?? ''])),
}));

// axe-core is injected with page.evaluate (DevTools' Runtime.evaluate), which the page's
// CSP does not govern: the CSP stays as it is for the page's own code, and addScriptTag
// (an inline or external <script>) would be refused by it. The test never bypasses the CSP.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the page as it is now; fails on a serious or critical violation. */
async function accessible(page, stage) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}` +
        `${v.nodes.length > 3 ? ` and ${v.nodes.length - 3} more` : ''}`);
  });
  check(violations.length === 0, `axe, ${stage}: ${violations.join('; ')}`);
}

/** A screenshot of one part of the page (the pictures in docs/img come from these). */
async function screenshotOf(page, selector, name) {
  await page.locator(selector).screenshot({ path: join(SHOTS, name) });
}

/** Clicks and waits for `count` new log rows. */
async function clickAndLog(page, selector, count) {
  const before = await rowCount(page);
  await page.click(selector);
  return newRows(page, before, count);
}

/** The second `token explain` judged at, from its "Step 6 ... (now <utc> = <seconds>, ...)" line; null without one. */
const judgedAt = (out) => {
  const m = /^Step 6\. .*\(now \S+ = (-?\d+),/m.exec(out);
  return m ? Number(m[1]) : null;
};

/** `minijwt token explain [args] TOKEN` with the secret in MINIJWT_SECRET: its whole output, verdict and clock. */
function cliExplain(token, secret, args = []) {
  const run = spawnSync(BINARY, ['token', 'explain', ...args, token], {
    env: { ...process.env, MINIJWT_SECRET: secret }, encoding: 'utf8', timeout: 10_000,
  });
  const verdict = /^Verdict: (.*)$/m.exec(run.stdout)?.[1];
  check(verdict, `token explain said no verdict: ${run.stdout}${run.stderr}`);
  return { out: run.stdout, verdict, now: judgedAt(run.stdout) };
}

/** `minijwt token explain -` with the token on stdin (some tokens start with '-'); the CLI trims it, as the page does. */
function cliExplainStdin(token, secret) {
  const run = spawnSync(BINARY, ['token', 'explain', '-'], {
    input: token, env: { ...process.env, MINIJWT_SECRET: secret }, encoding: 'utf8', timeout: 10_000,
  });
  // A key the CLI refuses stops it before any verdict: its one line says why, as the page's verdict does.
  const refusedKey = /^minijwt: MINIJWT_SECRET: (.*)$/m.exec(run.stderr)?.[1];
  const verdict = /^Verdict: (.*)$/m.exec(run.stdout)?.[1] ??
    (refusedKey ? `REJECTED: ${refusedKey}` : `(no verdict) ${run.stderr.trim()}`);
  return { verdict, now: judgedAt(run.stdout) };
}

/**
 * The page's engine (web/verify.js, in this browser, with its WebCrypto) on each of `inputs`
 * ({ token, secret, encoding, typ, now }): the verdict lines. The token is trimmed as the
 * CLI and the debugger's field trim it (Rust's str::trim). `now` is the second the CLI
 * judged at, so that the two verdicts are compared exactly, however slow the machine.
 */
const engineVerdicts = (page, inputs) => page.evaluate(async (list) => Promise.all(list.map(async (x) =>
  (await StrictJwt.explain(StrictJwt.trim(x.token), { secret: x.secret, encoding: x.encoding, typ: x.typ, now: x.now ?? undefined })).verdict.text)),
inputs);

/**
 * The verdict the page shows (clock read on its own) and the CLI's agree but for the
 * seconds between "now" and a time: the page judged a moment before the CLI.
 */
function sameVerdictNear(page, cli) {
  const clocked = /(-?\d+) s (past it|from now)/;
  const norm = (v) => v.replace(clocked, 'N s $2');
  const seconds = (v) => Number(clocked.exec(v)?.[1] ?? 0);
  return norm(page) === norm(cli) && Math.abs(seconds(page) - seconds(cli)) <= 60;
}

/** Waits until the debugger shows the verdict for what its fields hold now. */
const debuggerSettled = (page) => page.waitForFunction(() => {
  const el = document.getElementById('dbg-verdict');
  return el.dataset.settled === 'yes' && el.textContent.startsWith('Verdict: ');
});

/** Fills the debugger and waits for its verdict; returns { verdict, code } (verdict without "Verdict: "). */
async function debug(page, { token, secret, encoding, typ = '' }) {
  await page.fill('#dbg-token', token);
  await page.fill('#dbg-secret', secret);
  await page.check(encoding === 'base64url' ? '#dbg-enc-b64' : '#dbg-enc-utf8');
  await page.fill('#dbg-typ', typ);
  await debuggerSettled(page);
  return page.$eval('#dbg-verdict', (el) => ({ verdict: el.textContent.replace(/^Verdict: /, ''), code: el.dataset.code }));
}

// ---- the run --------------------------------------------------------------------

async function main() {
  mkdirSync(SHOTS, { recursive: true });
  const base = await startServer();
  await waitForChromium();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  watch(page);
  const username = `alice_${Date.now() % 100000}`;
  const password = 'correct horse battery';
  let firstToken = '';

  await step('page loads with its security headers', [], async () => {
    const response = await page.goto(`${base}/`, { waitUntil: 'load' });
    check(response.status() === 200, `GET / answered ${response.status()}`);
    const headers = await response.allHeaders();
    const want = {
      'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'DENY',
    };
    for (const [name, value] of Object.entries(want)) {
      check(headers[name] === value, `${name} is ${JSON.stringify(headers[name])}, expected ${JSON.stringify(value)}`);
    }
    const docs = await page.request.get(`${base}/docs/how-jwt-works.md`);
    check(docs.status() === 200, `GET /docs/how-jwt-works.md answered ${docs.status()}`);
    await accessible(page, 'logged out');
  });

  await step('register and log in (steps 1-4)', [], async () => {
    await page.fill('#username', username);
    await page.fill('#password', password);
    expectRows(await clickAndLog(page, '#btn-register', 1), [['POST', '/auth/register', 201, 'setup']]);
    const rows = await clickAndLog(page, '#btn-login', 1);
    expectRows(rows, [['POST', '/auth/login', 200, '1']]);
    check(/Cache-Control: no-store/.test(rows[0].text), 'the login row does not show Cache-Control: no-store');
    check(/HttpOnly/.test(rows[0].text), 'the login row does not note the HttpOnly cookie');
    for (const seg of ['#token-header', '#token-payload', '#token-signature']) {
      check(/^[A-Za-z0-9_-]+$/.test(await text(page, seg)), `${seg} does not show a base64url segment`);
    }
    const header = JSON.parse(await text(page, '#decoded-header'));
    check(header.alg === 'HS256', `decoded header is ${JSON.stringify(header)}`);
    const payload = await decodedPayload(page);
    check(payload.username === username, `decoded payload username is ${payload.username}, expected ${username}`);
    check(payload.exp - payload.iat === ACCESS_TTL, `exp - iat is ${payload.exp - payload.iat}, expected ${ACCESS_TTL}`);
    check(/expires in \d+ s/.test(await text(page, '#countdown')), 'no countdown shown');
    firstToken = await text(page, '#token-signature');
    const lit = await litSteps(page);
    check(lit.lit.join(' ') === '1 2 3 4', `the diagram lights steps ${lit.lit.join(' ')} after login, expected 1 2 3 4`);
    check(lit.last[1] === 'POST /auth/login → 200', `step 1 says "${lit.last[1]}"`);

    const cookie = (await context.cookies()).find((c) => c.name === '__Host-minijwt_refresh');
    check(cookie, 'no __Host-minijwt_refresh cookie in the browser');
    check(cookie.httpOnly, 'the refresh cookie is not HttpOnly');
    check(cookie.sameSite === 'Strict', `the refresh cookie is SameSite=${cookie.sameSite}`);
    check(cookie.path === '/', `the refresh cookie's path is ${cookie.path}`);
    const visible = await page.evaluate(() => ({
      cookie: document.cookie,
      storage: [localStorage, sessionStorage].flatMap((s) => Object.keys(s).map((k) => s.getItem(k))),
    }));
    check(!visible.cookie.includes('__Host-minijwt_refresh'), 'document.cookie shows the refresh cookie');
    check(!visible.storage.some((v) => /eyJ|\./.test(v)), 'a token is kept in localStorage or sessionStorage');
    await screenshot(page, '01-logged-in.png');
  });

  await step('call protected resources (steps 5-7)', [], async () => {
    // A call with the access token lights step 5 when it is sent, before any answer.
    let release;
    const held = new Promise((r) => { release = r; });
    await page.route('**/me', async (route) => { await held; await route.continue(); });
    let rows;
    try {
      const count = await rowCount(page);
      await page.click('#btn-me');
      await page.waitForFunction(() => document.querySelector('svg.flow g[data-step="5"]')?.dataset.last === 'GET /me …');
      check((await litSteps(page)).lit.join(' ') === '5', 'step 5 is not the one lit while GET /me is on its way');
      release();
      rows = await newRows(page, count, 1);
    } finally {
      release();
      await page.unroute('**/me');
    }
    expectRows(rows, [['GET', '/me', 200, '5']]);
    check(/Authorization: Bearer eyJ[A-Za-z0-9_-]{7}…[A-Za-z0-9_-]{6}/.test(rows[0].text), `the /me row does not show a shortened Bearer token: ${rows[0].text}`);
    check((await text(page, '#api-result')).includes(`"username": "${username}"`), 'the /me answer is not shown');
    await page.fill('#note-text', 'remember the milk');
    expectRows(await clickAndLog(page, '#btn-add-note', 1), [['POST', '/notes', 201, '5']]);
    expectRows(await clickAndLog(page, '#btn-notes', 1), [['GET', '/notes', 200, '5']]);
    check((await text(page, '#api-result')).includes('remember the milk'), 'the note is not listed');
    await screenshot(page, '02-me.png');
  });

  await step('expired token: 401, refresh, retry (steps 8-14)', [{ method: 'GET', path: '/me', status: [401] }], async () => {
    check(await page.isChecked('#mode-expired'), '"refresh when the server says expired" is not the default mode');
    await accessible(page, 'logged in'); // while the token runs out
    await page.waitForFunction(() => document.getElementById('countdown').textContent === 'expired',
      null, { timeout: (ACCESS_TTL + 3) * 1000 });
    // The page must decide on the error code, not on the English text: the 401's
    // description is rewritten to another language on its way to the page.
    let rewritten = 0;
    await page.route('**/me', async (route) => {
      const response = await route.fetch();
      if (response.status() !== 401) return route.fulfill({ response });
      rewritten += 1;
      const json = await response.json();
      json.error_description = 'le jeton a expiré';
      return route.fulfill({ response, body: JSON.stringify(json) });
    });
    let rows;
    try {
      rows = await clickAndLog(page, '#btn-call-me', 3);
    } finally {
      await page.unroute('**/me'); // else a failure here rewrites every later 401
    }
    check(rewritten === 1, `the 401's description was rewritten ${rewritten} times, expected once`);
    expectRows(rows, [['GET', '/me', 401, '9'], ['POST', '/auth/refresh', 200, '12'], ['GET', '/me', 200, '14']]);
    check(/WWW-Authenticate: Bearer .*expired/.test(rows[0].text), `the 401 row does not show WWW-Authenticate: ${rows[0].text}`);
    check(/Cache-Control: no-store/.test(rows[1].text), 'the refresh row does not show Cache-Control: no-store');
    check((await text(page, '#token-signature')) !== firstToken, 'the token view still shows the first token');
    // Right after the retry, before the slow layout and axe checks below outlast the 5 s token.
    check(/expires in/.test(await text(page, '#countdown')), 'the countdown did not restart');
    const lit = await litSteps(page);
    check(lit.lit.join(' ') === '14', `after the retry the diagram lights ${lit.lit.join(' ')}, expected 14`);
    for (const [n, want] of [[5, 'GET /notes → 200'], [9, 'GET /me → 401'], [12, 'POST /auth/refresh → 200'], [14, 'GET /me → 200']]) {
      check(lit.last[n] === want, `step ${n} says "${lit.last[n]}", expected "${want}"`);
    }
    check(lit.seen.includes(8) && /^exp passed/.test(lit.last[8]), 'step 8 was not lit when the token expired');
    check((await text(page, '#flow-status')) === 'Step 14: GET /me → 200', `flow status: ${await text(page, '#flow-status')}`);
    await screenshotOf(page, '#flow', 'flow.png');
    // It reads on a 375 px phone: the drawing fits the screen, its text at least 9 px.
    await page.setViewportSize({ width: 375, height: 800 });
    const box = await page.$eval('svg.flow', (svg) => {
      const r = svg.getBoundingClientRect();
      // Rendered size of the smallest text: its font size in the drawing times the drawing's scale.
      const scale = r.width / svg.viewBox.baseVal.width;
      const smallest = scale * Math.min(...Array.from(svg.querySelectorAll('text'), (t) => parseFloat(getComputedStyle(t).fontSize)));
      return { left: r.left, right: r.right, smallest, page: document.documentElement.scrollWidth };
    });
    check(box.left >= 0 && box.right <= 375, `at 375 px the diagram spans ${box.left}–${box.right}`);
    check(box.smallest >= 9, `at 375 px the diagram's smallest text is ${box.smallest} px high`);
    check(box.page <= 375, `at 375 px the page scrolls sideways (${box.page} px wide)`);
    await screenshotOf(page, '#flow', 'flow-375.png');
    await accessible(page, 'at 375 px, after a refresh');
    await page.setViewportSize({ width: 1280, height: 900 });
    await screenshot(page, '03-expired-refreshed.png');
  });

  await step('debugger: the RFC 7515 A.1 token, as `token explain` shows it, nothing sent', [], async () => {
    const before = await rowCount(page);
    let requests = 0;
    const count = () => { requests += 1; };
    page.on('request', count);
    await page.click('#btn-dbg-rfc');
    await debuggerSettled(page);
    const shown = await text(page, '#dbg-verdict');
    const rfc = JSON.parse(readFileSync(new URL('../data/jws_hs256_vectors.json', import.meta.url), 'utf8'))[0];
    check(await page.inputValue('#dbg-token') === rfc.token, 'the RFC button did not load the RFC 7515 A.1 token');
    const cli = cliExplain(rfc.token, rfc.key_b64url);
    check(sameVerdictNear(shown.replace(/^Verdict: /, ''), cli.verdict), `page says "${shown}", token explain says "${cli.verdict}"`);
    const [engine] = await engineVerdicts(page, [{ token: rfc.token, secret: rfc.key_b64url, encoding: 'base64url', now: cli.now }]);
    check(engine === cli.verdict, `at the CLI's second ${cli.now}, the page's engine says "${engine}", token explain "${cli.verdict}"`);
    const computed = /computed {4}([0-9a-f]{64})/.exec(cli.out)[1];
    check(await text(page, '#dbg-computed-hex') === computed, 'the computed HMAC differs from token explain\'s');
    check((await text(page, '#dbg-computed-b64')) === rfc.token.split('.')[2], 'the computed base64url is not the token\'s signature');
    check(/^Match/.test(await text(page, '#dbg-match')), `no match shown: ${await text(page, '#dbg-match')}`);
    const headerBytes = await text(page, '#dbg-header-bytes');
    check(headerBytes === 'bytes (30): {"typ":"JWT",\\r\\n "alg":"HS256"}', `the header's bytes are shown as ${headerBytes}`);
    const exp = await page.$eval('#dbg-times li[data-claim="exp"]', (li) => li.textContent);
    check(/^exp {2}1300819380 {2}2011-03-22T18:43:00Z {2}REFUSED: token expired/.test(exp), `exp line: ${exp}`);
    // The secret is hidden as typed, shown on request; time claims that are floats written as the CLI writes them.
    check(await page.getAttribute('#dbg-secret', 'type') === 'password', 'the secret is shown as it is typed');
    await page.click('#btn-dbg-show');
    check(await page.getAttribute('#dbg-secret', 'type') === 'text' && await page.getAttribute('#btn-dbg-show', 'aria-pressed') === 'true',
      'Show does not show the secret');
    await page.click('#btn-dbg-show');
    check(await page.getAttribute('#dbg-secret', 'type') === 'password', 'Hide does not hide the secret');
    await screenshotOf(page, '#debugger', 'debugger-rfc.png');
    await accessible(page, 'debugger on the RFC vector');
    check(/header has member "alg" more than once/.test((await debug(page, {
      token: 'eyJhbGciOiJIUzI1NiIsImFsZyI6Im5vbmUifQ.e30.c2ln', secret: rfc.key_b64url, encoding: 'base64url',
    })).verdict), 'a duplicate alg is not named');
    page.off('request', count);
    check(requests === 0, `the debugger sent ${requests} requests`);
    check(await rowCount(page) === before, 'the debugger added log rows');
  });

  await step('debugger: the same verdict as `token explain` on every hostile token of tests/data', [], async () => {
    const data = JSON.parse(readFileSync(new URL('../data/jwt_negative_cases.json', import.meta.url), 'utf8'));
    const cases = data.cases.filter((c) => c.token && c.token.length <= 100_000);
    // The CLI first, one token after another (a loaded machine may take seconds), each
    // judged at its own second; then the page's engine on each token at that same second.
    const cli = cases.map((c) => cliExplainStdin(c.token, data.key_b64url));
    const shown = await engineVerdicts(page, cases.map((c, i) => ({
      token: c.token, secret: data.key_b64url, encoding: 'base64url', now: cli[i].now,
    })));
    const differ = [];
    cases.forEach((c, i) => {
      if (shown[i] !== cli[i].verdict) differ.push(`${c.name}: page "${shown[i]}", CLI "${cli[i].verdict}"`);
    });
    check(cases.length >= 60, `only ${cases.length} cases read`);
    check(differ.length === 0, `${differ.length} of ${cases.length} verdicts differ: ${differ.slice(0, 3).join('; ')}`);
  });

  await step('debugger: the same verdict as `token explain` on a padded key, Unicode spaces, tops that are no object, echoed names', [], async () => {
    const secret = Buffer.from('minijwt-e2e-edge-key-0123456789abcdef!!').toString('base64url');
    const sign = (header, payload) => {
      const input = `${Buffer.from(header).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
      return `${input}.${createHmac('sha256', Buffer.from(secret, 'base64url')).update(input).digest('base64url')}`;
    };
    const good = sign('{"alg":"HS256"}', '{"exp":4102444800}');
    const H = '{"alg":"HS256"}';
    const P = '{"exp":4102444800}';
    const cases = [
      // The key: trimmed, trailing '=' padding tolerated (Hs256Key::from_base64url).
      ['padded key', good, `${secret}=`],
      ['padded key, twice, with a newline', good, `${secret}==\n`],
      // Rust's str::trim strips U+0085 and keeps U+FEFF; JavaScript's trim does the opposite.
      ['token between U+0085', `\u0085${good}\u0085`, secret],
      ['token after U+FEFF', `\ufeff${good}`, secret],
      ['key after U+0085', good, `\u0085${secret}`],
      ['key after U+FEFF', good, `\ufeff${secret}`],
      // A top level that is JSON but no object, whatever is inside: NotAnObject.
      ...['[{"a":1,"a":2}]', '"\\udc00"', '["\\ud800"]', '[1e400]', `${'['.repeat(128)}${']'.repeat(128)}`,
        `${'['.repeat(2000)}${']'.repeat(2000)}`, '[{"a":1,"a":2},01]', '[{"a":1,"a":2}', ' 7 ',
        `${'['.repeat(2000)}1,${']'.repeat(2000)}`, '[{"a":1,}]', '[1,,2]', '[{"a" 1}]']
        .flatMap((top) => [[`header ${top.slice(0, 24)}`, sign(top, P), secret], [`payload ${top.slice(0, 24)}`, sign(H, top), secret]]),
      // Not JSON: serde_json's words, and where it says the error is (line, column in bytes).
      ...['{"alg":"HS256",}', '{"alg":tru}', '{"alg":"\\u12"}', '{"alg":1.}', '{"alg":-}', '{"alg":1e}', '{"x":"\\ud800\\u0041"}',
        '{"x":"\\udc00"}', '{"x":1e400}', '{"é€":1,"alg":x}', '{"a":\n"\\q"}', '[1,]', '[{"a":1,}]', 'nope', '{"alg":"HS256"', '{"a":"\\ud800"}']
        .map((json) => [`not JSON ${json}`, sign(json, P), secret]),
      // Echoed text in Rust's {:?} (\0, invisible characters as \u{..}), cut at 64 characters.
      ...['"HS256\\u0000"', '"\\u0085x"', '"a\\u00adb"', '"\\u200b\\u00a0 \\u0301"', `"${'x'.repeat(100)}"`]
        .map((alg) => [`alg ${alg}`, sign(`{"alg":${alg}}`, P), secret]),
      ['typ with controls', sign('{"alg":"HS256","typ":"a\\u0000\\u0085\\u200bb"}', P), secret],
      ['a long name twice', sign(`{"alg":"HS256","${'n'.repeat(80)}":1,"${'n'.repeat(80)}":2}`, P), secret],
      // More than 16 members: the library names the smallest repeated name.
      ['two names twice among 20', sign(`{"alg":"HS256",${Array.from({ length: 20 }, (_, k) => `"k${k}":1`).join(',')},"zz":1,"zz":2,"aa":1,"aa":2}`, P), secret],
    ];
    const cli = cases.map(([, token, key]) => cliExplainStdin(token, key));
    const shown = await engineVerdicts(page, cases.map(([, token, key], i) => ({ token, secret: key, encoding: 'base64url', now: cli[i].now })));
    const differ = cases.map(([name], i) => (shown[i] === cli[i].verdict ? null : `${name}: page "${shown[i]}", CLI "${cli[i].verdict}"`))
      .filter(Boolean);
    check(differ.length === 0, `${differ.length} of ${cases.length} verdicts differ: ${differ.slice(0, 3).join('; ')}`);
    // The padded key through the debugger's fields too.
    const padded = await debug(page, { token: good, secret: `${secret}=`, encoding: 'base64url' });
    check(padded.code === 'VALID', `a padded base64url key: the page says ${padded.code} (${padded.verdict})`);
    // A time claim that is a float, as `token explain` writes it (serde_json's float text).
    for (const exp of ['1e10', '-0.0', '1e300', '9999999999999999']) {
      const token = sign(H, `{"exp":${exp}}`);
      const cliOut = cliExplain(token, secret);
      const cliLine = /^ {2}(exp {2}.*)$/m.exec(cliOut.out)[1];
      const [pageLine] = await page.evaluate(async ({ t, key, now }) =>
        (await StrictJwt.explain(t, { secret: key, encoding: 'base64url', now })).times.filter((x) => x.name === 'exp').map((x) => `exp  ${x.line}`),
      { t: token, key: secret, now: cliOut.now });
      check(pageLine === cliLine, `exp ${exp}: page "${pageLine}", token explain "${cliLine}"`);
    }
    // Without a secret: neither a pass nor a failure.
    const unverified = await debug(page, { token: good, secret: '', encoding: 'base64url' });
    check(unverified.code === 'UNVERIFIED' && /NOT verified/.test(unverified.verdict),
      `no secret: the page says ${unverified.code} (${unverified.verdict})`);
    check(await page.$eval('#dbg-verdict', (el) => !el.classList.contains('good')), 'no secret: the verdict is styled as a pass');
  });

  await step('debugger on the server\'s own token: valid, tampered, wrong secret, wrong encoding', [], async () => {
    const key = readFileSync(join(tempDir, 'key'), 'utf8').trim();
    // A fresh token: the server's tokens live 5 s in this test.
    expectRows(await clickAndLog(page, '#btn-refresh', 1), [['POST', '/auth/refresh', 200, '12']]);
    const token = await page.evaluate(() => document.querySelector('.token-view .token').textContent);
    const cases = [
      ['valid', { token, secret: key, encoding: 'base64url', typ: 'at+jwt' }, 'VALID', ['--typ', 'at+jwt']],
      ['typ not expected', { token, secret: key, encoding: 'base64url' }, 'WrongType', []],
      ['tampered', { token: token.replace(/\.(.)/, (m, c) => `.${c === 'e' ? 'f' : 'e'}`), secret: key, encoding: 'base64url', typ: 'at+jwt' },
        'InvalidSignature', ['--typ', 'at+jwt']],
      ['wrong secret', { token, secret: 'not-the-server-key-but-long-enough-0123', encoding: 'utf8', typ: 'at+jwt' }, 'InvalidSignature', null],
      ['wrong encoding (base64url text read as UTF-8)', { token, secret: key, encoding: 'utf8', typ: 'at+jwt' }, 'InvalidSignature', null],
      ['wrong encoding (text read as base64url)', { token, secret: 'correct horse battery staple, 32+ bytes', encoding: 'base64url', typ: 'at+jwt' }, 'KeyEncoding', null],
      ['short secret', { token, secret: 'secret', encoding: 'utf8', typ: 'at+jwt' }, 'KeyTooShort', null],
    ];
    for (const [name, input, code, cliArgs] of cases) {
      const shown = await debug(page, input);
      check(shown.code === code, `${name}: the page says ${shown.code} (${shown.verdict}), expected ${code}`);
      if (cliArgs) {
        const cli = cliExplain(input.token, key, cliArgs);
        check(sameVerdictNear(shown.verdict, cli.verdict), `${name}: page says "${shown.verdict}", token explain says "${cli.verdict}"`);
        const [engine] = await engineVerdicts(page, [{ ...input, now: cli.now }]);
        check(engine === cli.verdict, `${name}: at the CLI's second, the page's engine says "${engine}", token explain "${cli.verdict}"`);
      }
    }
    await debug(page, cases[0][1]);
    await screenshotOf(page, '#debugger', 'debugger-server-token.png');
    await accessible(page, 'debugger on the server\'s token');
  });

  await step('refresh ahead of expiry (steps 12-13, no 401)', [], async () => {
    const tokenBefore = await text(page, '#token-signature');
    const before = await rowCount(page);
    await page.check('#mode-ahead');
    const rows = await newRows(page, before, 1);
    expectRows(rows.slice(0, 1), [['POST', '/auth/refresh', 200, '12']]);
    await page.waitForFunction((t) => document.getElementById('token-signature').textContent !== t, tokenBefore);
    await page.check('#mode-expired'); // stop the timer: the next steps want a quiet log
    // Let a refresh that was in flight when the mode changed land before going on.
    for (let i = 0; i < 50 && inFlight.get(page) > 0; i++) await page.waitForTimeout(100);
    await page.waitForTimeout(200);
    const all = (await logRows(page)).slice(before);
    check(all.every((r) => r.status < 400), `a request failed while refreshing ahead: ${describe(all)}`);
    await screenshot(page, '04-refresh-ahead.png');
  });

  await step('tampered token is refused (401)', [{ method: 'GET', path: '/me', status: [401] }], async () => {
    const tokenBefore = await text(page, '.token-view .token');
    const rows = await clickAndLog(page, '#btn-tamper', 1);
    expectRows(rows, [['GET', '/me', 401, 'attack']]);
    const result = await text(page, '#tamper-result');
    check(/signature/.test(result), `the tamper result does not mention the signature: ${result}`);
    check((await text(page, '.token-view .token')) === tokenBefore, 'tampering changed the real access token');
    await screenshot(page, '05-tampered.png');
    await accessible(page, 'after tampering');
  });

  await step('replayed refresh token: a retry gets the same successor, reuse revokes the family',
    [{ method: 'POST', path: '/auth/refresh', status: [401] }], async () => {
      const rows = await clickAndLog(page, '#btn-replay', 6);
      expectRows(rows, [['POST', '/auth/login', 200, '1'], ['POST', '/auth/refresh', 200, '12'],
        ['POST', '/auth/refresh', 200, '12'], ['POST', '/auth/refresh', 200, '12'],
        ['POST', '/auth/refresh', 401, '12'], ['POST', '/auth/refresh', 401, '12']]);
      check(rows.every((r) => r.actor === 'api-client'), 'the replay rows are not marked as the API client');
      check(rows.every((r) => !/X-Refresh-Cookie/.test(r.text)), 'the API client sent X-Refresh-Cookie');
      check(/reuse detected/.test(rows[4].text), `the replay was not reported as reuse: ${rows[4].text}`);
      check(/invalid_grant/.test(rows[5].text), `the newest token was not refused as invalid_grant: ${rows[5].text}`);
      const items = await page.$$eval('#replay-result li', (li) => li.map((x) => x.textContent));
      check(items.length === 6, `the replay demo shows ${items.length} lines, expected 6`);
      check(/same R2/.test(items[2]), `the retry did not get the same successor: ${items[2]}`);
      await screenshot(page, '06-replay.png');
      await accessible(page, 'after the replay demo');
    });

  await step('the browser session survived the replay demo', [], async () => {
    expectRows(await clickAndLog(page, '#btn-refresh', 1), [['POST', '/auth/refresh', 200, '12']]);
  });

  await step('attack gallery: every attack refused with its status and code, each rule linked to the tutorial',
    [{ method: 'GET', path: '/me', status: [401] }, { method: 'POST', path: '/auth/refresh', status: [401] }], async () => {
      const expected = {
        'alg-none': [401, 'invalid_token'], 'alg-none-case': [401, 'invalid_token'], 'alg-hs512': [401, 'invalid_token'],
        'alg-rs256': [401, 'invalid_token'], 'sig-stripped': [401, 'invalid_token'], 'payload-edited': [401, 'invalid_token'],
        'kid-traversal': [401, 'invalid_token'], 'exp-edited': [401, 'invalid_token'], expired: [401, 'invalid_token'],
        'exp-string': [401, 'invalid_token'], 'exp-duplicate': [401, 'invalid_token'], 'weak-secret': [401, 'invalid_token'],
        'refresh-as-access': [401, 'invalid_token'], 'refresh-replay': [401, 'invalid_grant'],
      };
      const badAlg = /unsupported algorithm/;
      const badSignature = /signature does not match/;
      const reasons = {
        'alg-none': badAlg, 'alg-none-case': badAlg, 'alg-hs512': badAlg, 'alg-rs256': badAlg,
        'sig-stripped': /signature segment is empty/, 'payload-edited': badSignature, 'kid-traversal': /unknown key id/,
        'exp-edited': badSignature, expired: /expired/, 'exp-string': badSignature, 'exp-duplicate': badSignature,
        'weak-secret': badSignature, 'refresh-as-access': /token type is "refresh\+jwt"/, 'refresh-replay': /reuse detected/,
      };
      const tokenBefore = await text(page, '.token-view .token');
      await page.click('#btn-attacks-run-all');
      await page.waitForFunction((n) => document.querySelectorAll('#gallery-rows tr[data-done="yes"]').length === n,
        Object.keys(expected).length, { timeout: 30_000 });
      const rows = await page.$$eval('#gallery-rows tr', (trs) => trs.map((tr) => ({
        id: tr.id.replace(/^attack-/, ''), status: Number(tr.dataset.status), error: tr.dataset.error,
        result: tr.cells[4].textContent, description: tr.cells[2].title, links: Array.from(tr.querySelectorAll('a'), (a) => a.getAttribute('href')),
        explained: tr.querySelectorAll('details').length > 0 && Array.from(tr.querySelectorAll('details p'), (p) => p.textContent).every((t) => t.length > 80),
      })));
      check(rows.length === Object.keys(expected).length, `the gallery has ${rows.length} attacks`);
      for (const row of rows) {
        const [status, error] = expected[row.id] ?? [];
        check(row.status === status && row.error === error,
          `${row.id}: the server answered ${row.status} ${row.error}, expected ${status} ${error}`);
        check(row.result === 'refused, as expected', `${row.id}: ${row.result}`);
        // The rule explained in the page (the tutorial is plain text: its anchors do not scroll).
        check(row.explained, `${row.id}: the rule is not explained in the page`);
        // The rule the page names is the one the server applied (its description, read by the test only).
        check(reasons[row.id].test(row.description), `${row.id}: the server said "${row.description}"`);
      }
      // Behind the signature: the debugger's engine on each forged token as if the attacker had the key.
      const deeper = { 'payload-edited': 'VALID', 'exp-edited': 'VALID', 'exp-string': 'InvalidClaim',
        'exp-duplicate': 'DuplicateMember', 'weak-secret': 'KeyTooShort' };
      const shownDeeper = await page.$$eval('#gallery-rows tr[data-deeper]', (trs) => Object.fromEntries(trs.map((tr) =>
        [tr.id.replace(/^attack-/, ''), [tr.dataset.deeper, tr.querySelector('.deeper').textContent]])));
      for (const [id, code] of Object.entries(deeper)) {
        check(shownDeeper[id]?.[0] === code, `${id}: behind the signature the debugger says ${shownDeeper[id]?.join(' ')}, expected ${code}`);
      }
      check(/claim "exp" must be a number/.test(shownDeeper['exp-string'][1]), `exp-string: ${shownDeeper['exp-string'][1]}`);
      check(/has member "exp" more than once/.test(shownDeeper['exp-duplicate'][1]), `exp-duplicate: ${shownDeeper['exp-duplicate'][1]}`);
      check(/HS256 key is 6 bytes/.test(shownDeeper['weak-secret'][1]), `weak-secret: ${shownDeeper['weak-secret'][1]}`);
      check(/^14 of 14 attacks refused as expected\.$/.test(await text(page, '#gallery-status')),
        `gallery status: ${await text(page, '#gallery-status')}`);
      // Every rule links to a section of the tutorial that exists (GitHub's heading anchors).
      const docs = await (await page.request.get(`${base}/docs/how-jwt-works.md`)).text();
      const anchors = new Set(docs.split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => l.replace(/^#+ /, '')
        .toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));
      const pageLinks = await page.$$eval('a[href*="#"]', (as) => as.map((a) => a.getAttribute('href')).filter((h) => h.startsWith('/docs/')));
      for (const href of [...rows.flatMap((r) => r.links), ...pageLinks]) {
        check(href.startsWith('/docs/how-jwt-works.md#') && anchors.has(href.split('#')[1]), `no such section: ${href}`);
      }
      check((await text(page, '.token-view .token')) === tokenBefore, 'the gallery changed the page\'s own access token');
      await page.click('#attack-exp-duplicate details summary');
      check(await page.isVisible('#attack-exp-duplicate details p'), 'a rule\'s explanation does not open');
      await screenshotOf(page, '#gallery', 'gallery.png');
      await accessible(page, 'after the gallery');
    });

  await step('the browser session survived the gallery', [], async () => {
    expectRows(await clickAndLog(page, '#btn-refresh', 1), [['POST', '/auth/refresh', 200, '12']]);
  });

  await step('sessions: this browser marked, another revoked, a password change ends the others', [], async () => {
    // Two more devices of the same user: API clients, with refresh tokens in JSON.
    const login = async () => (await page.request.post(`${base}/auth/login`, { data: { username, password } })).json();
    const phone = await login();
    const tablet = await login();
    expectRows(await clickAndLog(page, '#btn-sessions', 1), [['GET', '/auth/sessions', 200, '5']]);
    const sessions = async () => page.$$eval('#sessions-rows tr', (trs) => trs.map((tr) => ({
      id: tr.dataset.id, current: tr.dataset.current === 'true', text: tr.textContent })));
    let list = await sessions();
    check(list.filter((x) => x.current).length === 1 && /this browser/.test(list.find((x) => x.current).text),
      'this browser is not marked once in the session list');
    check(list.length >= 3, `${list.length} sessions listed, expected at least 3`);
    const phoneSid = JSON.parse(Buffer.from(phone.access_token.split('.')[1], 'base64url').toString()).sid;
    check(list.some((x) => x.id === phoneSid && !x.current), 'the phone\'s session is not listed as another');
    // Every caption the diagram shows meanwhile is recorded with whether it fits the drawing.
    await page.evaluate(() => {
      const svg = document.querySelector('svg.flow');
      window.captions = [];
      new MutationObserver(() => {
        for (const t of svg.querySelectorAll('text.live')) {
          const box = t.getBBox();
          if (t.textContent) window.captions.push({ text: t.textContent, fits: box.x >= 0 && box.x + box.width <= svg.viewBox.baseVal.width });
        }
      }).observe(svg, { subtree: true, characterData: true, childList: true });
    });
    const before = await rowCount(page);
    await page.click(`#sessions-rows tr[data-id="${phoneSid}"] button`);
    const rows = await newRows(page, before, 2);
    expectRows(rows, [['DELETE', `/auth/sessions/${phoneSid}`, 204, '5'], ['GET', '/auth/sessions', 200, '5']]);
    list = await sessions();
    check(!list.some((x) => x.id === phoneSid), 'the revoked session is still listed');
    check((await litSteps(page)).last[5] === 'GET /auth/sessions → 200', 'step 5 does not show the session list');
    const captions = await page.evaluate(() => window.captions);
    check(captions.some((c) => c.text === 'DELETE /auth/sessions/{id} → 204'), `the revoke is not shown as DELETE /auth/sessions/{id}: ${captions.map((c) => c.text).join(', ')}`);
    const clipped = [...new Set(captions.filter((c) => !c.fits).map((c) => c.text)), ...await clippedCaptions(page)];
    check(clipped.length === 0, `the diagram clips: ${clipped.join(', ')}`);
    const refresh = (r) => page.request.post(`${base}/auth/refresh`, { data: { refresh_token: r } });
    check((await refresh(phone.refresh_token)).status() === 401, 'the revoked phone can still refresh');

    // Change the password: the tablet's session ends, this browser's goes on; then change it back.
    const newPassword = 'staple battery horse correct';
    for (const [from, to] of [[password, newPassword], [newPassword, password]]) {
      // A fresh access token for each change (they live 5 s here; a loaded machine is slow).
      expectRows(await clickAndLog(page, '#btn-refresh', 1), [['POST', '/auth/refresh', 200, '12']]);
      await page.fill('#current-password', from);
      await page.fill('#new-password', to);
      const changed = await clickAndLog(page, '#btn-password', 2);
      expectRows(changed, [['POST', '/auth/password', 204, '5'], ['GET', '/auth/sessions', 200, '5']]);
      check(/every other session has ended/.test(await text(page, '#password-status')), 'the password change is not reported');
    }
    const tabletRefresh = await refresh(tablet.refresh_token);
    check(tabletRefresh.status() === 401, `the tablet refreshed after the password change: ${tabletRefresh.status()}`);
    list = await sessions();
    check(list.length === 1 && list[0].current, `after the password change ${list.length} sessions are listed`);
    expectRows(await clickAndLog(page, '#btn-refresh', 1), [['POST', '/auth/refresh', 200, '12']]);
    await screenshotOf(page, '#sessions', 'sessions.png');
    await accessible(page, 'sessions listed');
  });

  await step('grace window: a refresh whose answer is lost, retried, gets the same successor', [], async () => {
    const rows = await clickAndLog(page, '#btn-grace', 4);
    expectRows(rows, [['POST', '/auth/login', 200, '1'], ['POST', '/auth/refresh', 200, '12'],
      ['POST', '/auth/refresh', 200, '12'], ['POST', '/auth/logout', 204, 'logout']]);
    check(await page.$eval('#grace-result', (ol) => ol.dataset.same) === 'true', 'the retry did not get the same successor');
    await accessible(page, 'after the grace demo');
  });

  await step('keys: after a rotation the token names its key (kid), and the old one still verifies', [], async () => {
    check(/^No kid/.test(await text(page, '#token-kid')), `before any rotation: ${await text(page, '#token-kid')}`);
    const keyFile = join(tempDir, 'key');
    const rotate = spawnSync(BINARY, ['keys', 'rotate', '--key-file', keyFile], { encoding: 'utf8', timeout: 10_000 });
    check(rotate.status === 0, `keys rotate failed: ${rotate.stderr}`);
    // A fresh token first, so that it is still within its 5 s when it is tried after the rotation.
    expectRows(await clickAndLog(page, '#btn-refresh', 1), [['POST', '/auth/refresh', 200, '12']]);
    const oldToken = await page.evaluate(() => document.querySelector('.token-view .token').textContent);
    server.kill('SIGHUP');
    for (let i = 0; i < 50 && !/keys reloaded/.test(serverLog); i++) await page.waitForTimeout(100);
    check(/SIGHUP: keys reloaded/.test(serverLog), 'the server did not say it reloaded its keys');
    // At once, while the old token is within its 5 s.
    const old = await page.request.get(`${base}/me`, { headers: { Authorization: `Bearer ${oldToken}` } });
    check(old.status() === 200, `the access token from before the rotation is refused: ${old.status()} ${old.headers()['www-authenticate']}`);
    expectRows(await clickAndLog(page, '#btn-refresh', 1), [['POST', '/auth/refresh', 200, '12']]);
    const header = JSON.parse(await text(page, '#decoded-header'));
    check(typeof header.kid === 'string' && header.kid.length > 0, `no kid after the rotation: ${JSON.stringify(header)}`);
    check((await text(page, '#token-kid')).startsWith(`kid "${header.kid}"`), `the kid is not explained: ${await text(page, '#token-kid')}`);
    expectRows(await clickAndLog(page, '#btn-me', 1), [['GET', '/me', 200, '5']]);
  });

  await step('keyboard: every control reached with Tab, its focus visible; no motion when reduced motion is asked', [], async () => {
    // Number every control a keyboard user should reach (one per radio group: Tab reaches the checked one).
    const expected = await page.evaluate(() => {
      // (What a closed <details> holds is not reachable until it is opened: its summary is.)
      const all = Array.from(document.querySelectorAll('button, input, textarea, a[href], summary, [tabindex="0"]'))
        .filter((e) => !e.disabled && e.getClientRects().length > 0 && !(e.type === 'radio' && !e.checked) &&
          (e.tagName === 'SUMMARY' || !e.closest('details:not([open])')));
      all.forEach((e, i) => { e.dataset.kb = String(i); });
      return all.map((e) => e.id || e.getAttribute('aria-label') || e.textContent.trim().slice(0, 40));
    });
    await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
    const reached = new Set();
    const invisible = [];
    for (let i = 0; i < expected.length + 5; i++) {
      await page.keyboard.press('Tab');
      const focus = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const style = getComputedStyle(el);
        return { kb: el.dataset.kb, visible: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
      });
      if (!focus || focus.kb === undefined) continue;
      reached.add(focus.kb);
      if (!focus.visible) invisible.push(expected[Number(focus.kb)]);
    }
    const missed = expected.filter((_, i) => !reached.has(String(i)));
    check(missed.length === 0, `Tab never reaches: ${missed.join(', ')}`);
    check(invisible.length === 0, `no visible focus on: ${invisible.join(', ')}`);
    // A control works from the keyboard: Enter on a focused button.
    await page.focus('#btn-dbg-rfc');
    await page.keyboard.press('Enter');
    await debuggerSettled(page);
    check(/RFC|REJECTED: token expired/.test(await text(page, '#dbg-verdict')), 'Enter on "Load the RFC 7515 A.1 example" did nothing');
    // prefers-reduced-motion: the diagram's transitions are off.
    const duration = () => page.$eval('svg.flow .line', (l) => getComputedStyle(l).transitionDuration);
    check((await duration()) !== '0s', 'the diagram has no transition to turn off');
    await page.emulateMedia({ reducedMotion: 'reduce' });
    check((await duration()) === '0s', `with reduced motion the diagram still moves (${await duration()})`);
    await page.emulateMedia({ reducedMotion: null });
  });

  await step('log out, then refresh and /me fail',
    [{ method: 'POST', path: '/auth/refresh', status: [400, 401] }, { method: 'GET', path: '/me', status: [401] }],
    async () => {
      expectRows(await clickAndLog(page, '#btn-logout', 1), [['POST', '/auth/logout', 204, 'logout']]);
      check(await page.isHidden('#token-view'), 'the token view is still shown after logout');
      check(!(await context.cookies()).some((c) => c.name === '__Host-minijwt_refresh'), 'the refresh cookie is still set');
      const refresh = await clickAndLog(page, '#btn-refresh', 1);
      check(refresh[0].path === '/auth/refresh' && [400, 401].includes(refresh[0].status),
        `refresh after logout: ${describe(refresh)}`);
      check(/refresh failed/.test(await text(page, '#refresh-status')), 'the failed refresh is not shown');
      const me = await clickAndLog(page, '#btn-me', 1);
      expectRows(me, [['GET', '/me', 401, '5']]);
      check(!/Authorization/.test(me[0].text), '/me after logout still sent an Authorization header');
      await screenshot(page, '07-logged-out.png');
      await accessible(page, 'logged out again');
    });

  await step('log out everywhere revokes another device', [{ method: 'POST', path: '/auth/refresh', status: [400, 401] }], async () => {
    // A second browser profile plays another device of the same user.
    const other = await browser.newContext();
    const device = await other.newPage();
    watch(device);
    await device.goto(`${base}/`);
    await device.fill('#username', username);
    await device.fill('#password', password);
    expectRows(await clickAndLog(device, '#btn-login', 1), [['POST', '/auth/login', 200, '1']]);
    expectRows(await clickAndLog(page, '#btn-login', 1), [['POST', '/auth/login', 200, '1']]);
    const out = await clickAndLog(page, '#btn-logout-all', 1);
    check(out[0].method === 'POST' && out[0].path === '/auth/logout-all' && out[0].status === 204,
      `log out everywhere: ${describe(out)}`);
    check(await page.isHidden('#token-view'), 'the token view is still shown after logging out everywhere');
    check(!(await context.cookies()).some((c) => c.name === '__Host-minijwt_refresh'), 'the refresh cookie is still set');
    const refresh = await clickAndLog(device, '#btn-refresh', 1);
    expectRows(refresh, [['POST', '/auth/refresh', 401, '12']]);
    check(/revoked/.test(refresh[0].text), `the other device's refresh was not refused as revoked: ${refresh[0].text}`);
    await other.close();
  });
}

let exitCode = 1;
try {
  await main();
  exitCode = problems.length === 0 ? 0 : 1;
} catch (e) {
  fail(`[${stepName}] ${e.message.split('\n')[0]}`);
} finally {
  clearTimeout(watchdog);
  if (!stopping) await cleanup();
}
if (!stopping) finish(exitCode); // else abort() finishes once its cleanup is done
