// minijwt demo page: walks through the access/refresh token flow against this server.
//
// Rules this file keeps (the server's Content-Security-Policy enforces most of them):
// no inline code or styles, no innerHTML: every server text goes in with textContent.
// The access token lives in the variable below only, never in localStorage,
// sessionStorage or a cookie; the browser's refresh token is in an HttpOnly
// cookie that this code cannot read at all.
'use strict';

const REFRESH_AHEAD_SECONDS = 3;

const state = {
  accessToken: null, // the current access token (a string) or null
  version: 0, // how many access tokens this page has held, for the "#n" label
  refreshing: null, // the refresh in flight, so that two callers share one
  aheadTimer: null, // the "refresh ahead of expiry" timer
};

const $ = (id) => document.getElementById(id);

// ---- base64url and JWT decoding -------------------------------------------

/** Decodes one base64url segment to text (UTF-8). */
function base64urlToText(segment) {
  let b64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  while (b64.length % 4 !== 0) b64 += '=';
  const binary = atob(b64);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

/** Splits a compact JWT and decodes its header and payload (no signature check). */
function decodeJwt(token) {
  const [header, payload, signature] = token.split('.');
  return {
    segments: { header, payload, signature },
    header: JSON.parse(base64urlToText(header)),
    payload: JSON.parse(base64urlToText(payload)),
  };
}

/** Seconds until the token's `exp`, or null when it cannot be read. */
function secondsLeft(token) {
  try {
    const exp = decodeJwt(token).payload.exp;
    return typeof exp === 'number' ? exp - Date.now() / 1000 : null;
  } catch {
    return null;
  }
}

/** `eyJhbGciOi…abc123`: enough to tell tokens apart, not enough to use one. */
function shorten(token) {
  if (typeof token !== 'string') return String(token);
  return token.length <= 20 ? token : `${token.slice(0, 10)}…${token.slice(-6)}`;
}

// ---- the log panel ----------------------------------------------------------

function addCell(row, text, className) {
  const cell = row.insertCell();
  cell.textContent = text;
  if (className) cell.className = className;
  return cell;
}

/**
 * Adds one exchange to the log, newest first. `steps` is a space-separated list
 * ("9 10 11", "attack", "setup") stored in data-step for the browser test.
 */
function logExchange({ steps, actor, method, path, status, notes }) {
  const row = document.createElement('tr');
  row.dataset.step = steps;
  row.dataset.actor = actor;
  row.dataset.method = method;
  row.dataset.path = path;
  row.dataset.status = String(status);
  row.className = status >= 400 || status === 0 ? 'bad' : 'good';
  const nums = steps.split(' ');
  const label = /^\d+$/.test(nums[0]) && nums.length > 1 ? `${nums[0]}–${nums[nums.length - 1]}` : steps;
  addCell(row, actor === 'browser' ? label : `${label} (${actor})`, 'nowrap');
  addCell(row, `${method} ${path}`, 'mono nowrap');
  addCell(row, status === 0 ? 'network error' : String(status), 'nowrap');
  const cell = row.insertCell();
  cell.className = 'mono small';
  for (const note of notes) {
    const line = document.createElement('div');
    line.textContent = note;
    cell.appendChild(line);
  }
  $('log-rows').prepend(row);
}

/** A request body as shown in the log: tokens shortened, the password hidden. */
function bodyForLog(body) {
  const shown = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === 'password') shown[key] = '••••••••';
    else if (key.endsWith('_token')) shown[key] = shorten(value);
    else shown[key] = value;
  }
  return JSON.stringify(shown);
}

// ---- HTTP -----------------------------------------------------------------

/**
 * Sends one request and logs it. Options:
 *   body      JSON body (sent as application/json)
 *   bearer    access token for the Authorization header
 *   cookie    true: browser mode, `X-Refresh-Cookie: 1` (the refresh token is the cookie)
 *   steps     seed steps, or a function (status, json) => steps, decided on the answer
 *   actor     'browser' (default), 'api-client' or 'attacker'
 * Returns { status, json, headers }; status 0 on a network error.
 */
async function api(method, path, opts = {}) {
  const headers = {};
  const notes = [];
  if (opts.bearer) {
    headers.Authorization = `Bearer ${opts.bearer}`;
    notes.push(`Authorization: Bearer ${shorten(opts.bearer)}`);
  }
  if (opts.cookie) {
    headers['X-Refresh-Cookie'] = '1';
    notes.push('X-Refresh-Cookie: 1 (the refresh token travels in the cookie)');
  }
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    notes.push(`body: ${bodyForLog(opts.body)}`);
  }
  let status = 0;
  let json = null;
  let responseHeaders = new Headers();
  try {
    // same-origin credentials: the browser attaches the cookie to /auth/* by itself,
    // but the server only uses it when X-Refresh-Cookie: 1 is present.
    const response = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
    status = response.status;
    responseHeaders = response.headers;
    const text = await response.text();
    if (text) json = JSON.parse(text);
  } catch (error) {
    notes.push(`failed: ${error.message}`);
  }
  const www = responseHeaders.get('WWW-Authenticate');
  if (www) notes.push(`WWW-Authenticate: ${www}`);
  if (json && json.access_token) {
    notes.push(`Cache-Control: ${responseHeaders.get('Cache-Control') ?? '(none)'}`);
    notes.push(`answer: access_token ${shorten(json.access_token)}, expires_in ${json.expires_in}`);
    if (json.refresh_token) notes.push(`answer: refresh_token ${shorten(json.refresh_token)} (visible: API client mode)`);
  }
  if (opts.cookie && status === 200) {
    notes.push('Set-Cookie: __Host-minijwt_refresh=… (HttpOnly: JavaScript cannot read it)');
  } else if (opts.cookie && status === 204) {
    notes.push('Set-Cookie: __Host-minijwt_refresh=; Max-Age=0 (cookie cleared)');
  }
  if (json && json.error) notes.push(`error: ${json.error}: ${json.error_description}`);
  const steps = typeof opts.steps === 'function' ? opts.steps(status, json) : opts.steps;
  logExchange({ steps: steps || '', actor: opts.actor || 'browser', method, path, status, notes });
  return { status, json, headers: responseHeaders };
}

/** "409 username_taken: that username is already taken" */
function describeError(result) {
  if (result.status === 0) return 'the server could not be reached';
  if (result.json && result.json.error) return `${result.status} ${result.json.error}: ${result.json.error_description}`;
  return `HTTP ${result.status}`;
}

/**
 * Whether an answer refuses the access token we sent, decided on the machine-readable
 * code only (RFC 6750 `invalid_token`), never on the English `error_description`.
 * The server gives no finer code for "expired"; for a token the server itself issued,
 * any `invalid_token` (expired, signed by a retired key, its user gone) is worth one
 * refresh, which the server then grants or refuses with a code of its own.
 */
const refusesToken = (r, sent) => Boolean(sent) && r.status === 401 && r.json?.error === 'invalid_token';

// ---- token view -----------------------------------------------------------

function setAccessToken(token) {
  state.accessToken = token;
  if (token) state.version += 1;
  renderToken();
  scheduleAhead();
}

function renderToken() {
  const token = state.accessToken;
  $('token-view').hidden = !token;
  if (!token) return;
  const decoded = decodeJwt(token);
  $('token-header').textContent = decoded.segments.header;
  $('token-payload').textContent = decoded.segments.payload;
  $('token-signature').textContent = decoded.segments.signature;
  $('decoded-header').textContent = JSON.stringify(decoded.header, null, 2);
  $('decoded-payload').textContent = JSON.stringify(decoded.payload, null, 2);
  $('token-version').textContent = `#${state.version}`;
  updateCountdown();
}

function updateCountdown() {
  if (!state.accessToken) return;
  const left = secondsLeft(state.accessToken);
  const el = $('countdown');
  if (left === null) {
    el.textContent = 'no exp claim';
  } else if (left <= 0) {
    el.textContent = 'expired';
    el.classList.add('expired');
  } else {
    el.textContent = `expires in ${Math.ceil(left)} s`;
    el.classList.remove('expired');
  }
}

// ---- refresh ----------------------------------------------------------------

/**
 * Steps 12–13 in browser mode: the cookie carries the refresh token, the body the
 * access token. One refresh at a time: a second caller waits for the first, because
 * a refresh token works once and presenting it twice looks like a replay.
 */
function refresh(reason) {
  if (!state.refreshing) {
    state.refreshing = (async () => {
      const body = state.accessToken ? { access_token: state.accessToken } : {};
      const result = await api('POST', '/auth/refresh', { body, cookie: true, steps: '12 13' });
      if (result.status === 200) {
        setAccessToken(result.json.access_token);
        $('refresh-status').textContent = `${reason}: new access token #${state.version}, and the refresh cookie rotated too.`;
      } else {
        $('refresh-status').textContent = `${reason}: refresh failed: ${describeError(result)}`;
        stopAhead();
      }
      return result;
    })().finally(() => {
      state.refreshing = null;
    });
  }
  return state.refreshing;
}

const mode = () => ($('mode-ahead').checked ? 'ahead' : 'expired');

function stopAhead() {
  clearTimeout(state.aheadTimer);
  state.aheadTimer = null;
}

/** "Refresh ahead": read `exp` and refresh a few seconds before it (at once if less is left). */
function scheduleAhead() {
  stopAhead();
  if (mode() !== 'ahead' || !state.accessToken) return;
  const left = secondsLeft(state.accessToken);
  if (left === null) return;
  const wait = Math.max(0, (left - REFRESH_AHEAD_SECONDS) * 1000);
  state.aheadTimer = setTimeout(() => {
    state.aheadTimer = null;
    refresh(`Refreshed ahead of expiry (${Math.max(0, Math.round(secondsLeft(state.accessToken)))} s were left)`);
  }, wait);
}

/**
 * A request with the access token (steps 5–7). In "refresh when the server says
 * expired" mode, a 401 `invalid_token` for the token we sent (steps 9–11) leads to a
 * refresh (12–13) and one retry with the new token (14).
 */
async function authed(method, path, body, extra = {}) {
  const sent = state.accessToken;
  const first = await api(method, path, {
    ...extra,
    body,
    bearer: sent,
    steps: (status, json) => (refusesToken({ status, json }, sent) ? '9 10 11' : '5 6 7'),
  });
  if (!refusesToken(first, sent) || mode() !== 'expired') return first;
  const refreshed = await refresh('The server said the token expired');
  if (refreshed.status !== 200) return first;
  return api(method, path, { ...extra, body, bearer: state.accessToken, steps: '14' });
}

function showResult(result) {
  $('api-result').textContent = result.json
    ? `${result.status}\n${JSON.stringify(result.json, null, 2)}`
    : `${result.status}${result.status === 204 ? ' (no content)' : ''}`;
  if (!state.accessToken) $('api-result').textContent += '\n(no access token: log in first)';
}

// ---- section 1: register and log in -------------------------------------------

function credentials() {
  const username = $('username').value.trim();
  const password = $('password').value;
  if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username)) {
    $('auth-status').textContent = 'The username must be 3–32 characters of A–Z a–z 0–9 _ . -';
    return null;
  }
  if (password.length < 8) {
    $('auth-status').textContent = 'The password must have at least 8 characters.';
    return null;
  }
  return { username, password };
}

async function register() {
  const creds = credentials();
  if (!creds) return;
  const result = await api('POST', '/auth/register', { body: creds, steps: 'setup' });
  $('auth-status').textContent = result.status === 201
    ? `Registered "${result.json.username}" (id ${result.json.id}). Now log in.`
    : `Registration failed: ${describeError(result)}`;
}

async function login() {
  const creds = credentials();
  if (!creds) return;
  const result = await api('POST', '/auth/login', { body: creds, cookie: true, steps: '1 2 3 4' });
  if (result.status !== 200) {
    const retry = result.headers.get('Retry-After');
    $('auth-status').textContent = `Login failed: ${describeError(result)}${retry ? ` (retry in ${retry} s)` : ''}`;
    return;
  }
  setAccessToken(result.json.access_token);
  $('auth-status').textContent = `Logged in as ${creds.username}. The access token is below; the refresh token is in an HttpOnly cookie.`;
}

// ---- section 4: attacks ---------------------------------------------------------

/** Flips one character in the middle of the payload to another base64url character. */
async function tamper() {
  if (!state.accessToken) {
    $('tamper-result').textContent = 'Log in first: there is no token to tamper with.';
    return;
  }
  const [header, payload, signature] = state.accessToken.split('.');
  const i = Math.floor(payload.length / 2);
  const swapped = payload[i] === 'A' ? 'B' : 'A';
  const forged = `${header}.${payload.slice(0, i)}${swapped}${payload.slice(i + 1)}.${signature}`;
  const view = $('tamper-token');
  view.textContent = '';
  const mark = document.createElement('mark');
  mark.textContent = swapped;
  view.append(`${header}.${payload.slice(0, i)}`, mark, `${payload.slice(i + 1)}.${signature}`);
  // Sent directly, never through the refresh logic; state.accessToken is untouched.
  const result = await api('GET', '/me', { bearer: forged, steps: 'attack', actor: 'attacker' });
  $('tamper-result').textContent = result.status === 401
    ? `Refused: ${describeError(result)}. Character ${i + 1} of the payload was "${payload[i]}", now "${swapped}".`
    : `Unexpected answer: ${describeError(result)}`;
}

/**
 * Plays an API client (no cookie header, so the refresh token comes in the JSON):
 * log in → R1; refresh with R1 → R2; R1 again at once (a retry) → the same R2;
 * refresh with R2 → R3; replay R1 → reuse detected; try R3 → revoked.
 */
async function replay() {
  const list = $('replay-result');
  list.textContent = '';
  const say = (text, ok) => {
    const item = document.createElement('li');
    item.textContent = text;
    item.className = ok ? 'good' : 'bad';
    list.appendChild(item);
  };
  const creds = credentials();
  if (!creds) {
    say('Fill in the username and password above first (the API client logs in with them).', false);
    return;
  }
  const opts = { actor: 'api-client' };
  const login1 = await api('POST', '/auth/login', { ...opts, body: creds, steps: '1 2 3 4' });
  if (login1.status !== 200 || !login1.json.refresh_token) {
    say(`API client login failed: ${describeError(login1)}`, false);
    return;
  }
  const r1 = login1.json.refresh_token;
  say(`API client logs in without the cookie header: the refresh token comes in the JSON body, R1 = ${shorten(r1)}.`, true);
  const refresh1 = await api('POST', '/auth/refresh', {
    ...opts, body: { refresh_token: r1, access_token: login1.json.access_token }, steps: '12 13',
  });
  if (refresh1.status !== 200) {
    say(`Refresh with R1 failed: ${describeError(refresh1)}`, false);
    return;
  }
  const r2 = refresh1.json.refresh_token;
  say(`Refresh with R1 → 200: new tokens, R2 = ${shorten(r2)}. R1 is now used up.`, true);
  const retried = await api('POST', '/auth/refresh', { ...opts, body: { refresh_token: r1 }, steps: '12 13' });
  const same = retried.status === 200 && retried.json.refresh_token === r2;
  say(same
    ? `R1 again at once, as a client whose answer was lost would: 200 with the same R2 (the grace window: a retry is not theft while R2 is unused).`
    : `R1 again at once → ${describeError(retried)}, not the same R2.`, same);
  const refresh2 = await api('POST', '/auth/refresh', { ...opts, body: { refresh_token: r2 }, steps: '12 13' });
  if (refresh2.status !== 200) {
    say(`Refresh with R2 failed: ${describeError(refresh2)}`, false);
    return;
  }
  const r3 = refresh2.json.refresh_token;
  say(`The real client moves on: R2 → 200, R3 = ${shorten(r3)}. Now R1 and R2 are used up for good.`, true);
  const replayed = await api('POST', '/auth/refresh', { ...opts, body: { refresh_token: r1 }, steps: '12 13' });
  say(`Replay R1 (as a thief with a copy would) → ${describeError(replayed)}. The server revokes the whole family.`,
    replayed.status === 401);
  const after = await api('POST', '/auth/refresh', { ...opts, body: { refresh_token: r3 }, steps: '12 13' });
  say(`Try R3, the newest token → ${describeError(after)}. The real client must log in again: the thief gets nothing.`,
    after.status === 401);
}

// ---- section 5: log out -----------------------------------------------------------

function forgetSession(text) {
  stopAhead();
  state.accessToken = null;
  renderToken();
  $('logout-status').textContent = text;
  $('auth-status').textContent = 'Logged out.';
}

async function logout() {
  const result = await api('POST', '/auth/logout', { body: {}, cookie: true, steps: 'logout' });
  if (result.status === 204) {
    forgetSession('Logged out: the refresh token is revoked, the cookie cleared, the access token forgotten.');
  } else if (result.status === 400 || result.status === 401) {
    // No cookie, or one that can never work again: there is no session left to end.
    forgetSession(`Nothing left to revoke (${describeError(result)}); the access token is forgotten.`);
  } else {
    $('logout-status').textContent = `Log out failed: ${describeError(result)}`;
  }
}

async function logoutAll() {
  if (!state.accessToken) {
    $('logout-status').textContent = 'Log in first: "log out everywhere" needs an access token to say who you are.';
    return;
  }
  // X-Refresh-Cookie: 1 lets the server clear this browser's cookie as well.
  const result = await authed('POST', '/auth/logout-all', undefined, { cookie: true });
  if (result.status === 204) {
    forgetSession('Logged out everywhere: every refresh token of this account is revoked, on every device.');
  }
  else $('logout-status').textContent = `Log out everywhere failed: ${describeError(result)}`;
}

// ---- section 6: the token debugger (nothing leaves the browser) -----------------

/** RFC 7515 Appendix A.1: the example token and its key (tests/data/jws_hs256_vectors.json). */
const RFC_7515_A1 = {
  token: 'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
  key: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow',
};

let debugRun = 0; // the newest run: an older one that finishes late shows nothing

function debuggerOptions() {
  const leeway = Number.parseInt($('dbg-leeway').value, 10);
  return {
    secret: $('dbg-secret').value,
    encoding: $('dbg-enc-b64').checked ? 'base64url' : 'utf8',
    typ: $('dbg-typ').value.trim() || undefined,
    leeway: Number.isFinite(leeway) && leeway >= 0 ? leeway : 0,
  };
}

/** Runs the strict checks (web/verify.js) on what the fields hold, and shows each step. */
async function runDebugger() {
  const run = ++debugRun;
  const token = $('dbg-token').value.trim();
  const verdict = $('dbg-verdict');
  verdict.dataset.settled = 'no'; // 'yes' once the newest input's verdict is shown
  if (!token) {
    $('dbg-output').hidden = true;
    verdict.textContent = '';
    verdict.className = 'verdict';
    delete verdict.dataset.code;
    verdict.dataset.settled = 'yes';
    return;
  }
  const report = await StrictJwt.explain(token, debuggerOptions());
  if (run !== debugRun) return;
  $('dbg-output').hidden = false;

  const colored = $('dbg-colored');
  colored.textContent = '';
  if (report.segments) {
    const seg = (text, className) => {
      const span = document.createElement('span');
      span.className = className;
      span.textContent = text;
      return span;
    };
    colored.append(seg(report.segments.header, 'seg-header'), '.', seg(report.segments.payload, 'seg-payload'),
      '.', seg(report.segments.signature, 'seg-signature'));
  } else {
    colored.textContent = `found ${report.segmentCount} segments: a JWS has exactly 3`;
  }

  const showJson = (part, el) => {
    if (!part) {
      el.textContent = '';
    } else if (part.json) {
      el.textContent = JSON.stringify(part.json.value, null, 2);
    } else {
      el.textContent = `${part.bytes === null ? '' : `${part.bytes}\n`}${part.error}`;
    }
  };
  showJson(report.header, $('dbg-header'));
  showJson(report.payload, $('dbg-payload'));
  $('dbg-input').textContent = report.signingInput ?? '';

  const sig = report.signature || {};
  $('dbg-computed-hex').textContent = sig.computedHex ?? (report.key?.ok === false ? 'no key' : '—');
  $('dbg-computed-b64').textContent = sig.computedB64 ?? '';
  $('dbg-token-hex').textContent = sig.error ?? (sig.tokenHex !== undefined ? `${sig.tokenHex} (${sig.tokenLength} bytes)` : '');
  $('dbg-token-b64').textContent = sig.tokenB64 ?? '';
  const match = $('dbg-match');
  if (report.key && !report.key.ok) match.textContent = `The secret is refused: ${report.key.message}`;
  else if (!report.key) match.textContent = 'No secret: the signature is not checked, so the token is NOT verified.';
  else if (sig.match === true) match.textContent = `Match: the token was made with this ${report.key.length}-byte secret (all 32 bytes compared).`;
  else if (sig.match === false) match.textContent = 'NO MATCH: another secret made this token, or the token was altered.';
  else match.textContent = '';
  match.className = `status ${sig.match ? 'good' : 'bad'}`;

  const times = $('dbg-times');
  times.textContent = '';
  const clock = document.createElement('li');
  clock.textContent = `now ${StrictJwt.utc(report.now)} = ${report.now}, leeway ${report.leeway} s`;
  times.append(clock);
  for (const t of report.times ?? []) {
    const item = document.createElement('li');
    item.dataset.claim = t.name;
    item.className = t.ok ? 'good' : 'bad';
    item.textContent = `${t.name}  ${t.line}`;
    times.append(item);
  }
  if (!report.times) {
    const item = document.createElement('li');
    item.textContent = 'skipped: the payload is not a JSON object';
    times.append(item);
  }

  verdict.textContent = `Verdict: ${report.verdict.text}`;
  verdict.className = `verdict ${report.verdict.ok ? 'good' : 'bad'}`;
  verdict.dataset.code = report.verdict.code ?? 'VALID';
  verdict.dataset.settled = 'yes';
}

// ---- wiring -------------------------------------------------------------------

/** Runs a click handler with its button disabled, so one click makes one request. */
function onClick(id, handler) {
  const button = $(id);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await handler();
    } finally {
      button.disabled = false;
    }
  });
}

document.addEventListener('DOMContentLoaded', () => {
  onClick('btn-register', register);
  onClick('btn-login', login);
  onClick('btn-me', async () => showResult(await authed('GET', '/me')));
  onClick('btn-notes', async () => showResult(await authed('GET', '/notes')));
  onClick('btn-add-note', async () => showResult(await authed('POST', '/notes', { text: $('note-text').value })));
  onClick('btn-call-me', async () => {
    const result = await authed('GET', '/me');
    $('refresh-status').textContent = result.status === 200
      ? `GET /me → 200 with access token #${state.version}.`
      : `GET /me → ${describeError(result)}`;
  });
  onClick('btn-refresh', () => refresh('Refreshed on request'));
  onClick('btn-tamper', tamper);
  onClick('btn-replay', replay);
  onClick('btn-logout', logout);
  onClick('btn-logout-all', logoutAll);
  $('btn-clear-log').addEventListener('click', () => {
    $('log-rows').textContent = '';
  });
  for (const id of ['dbg-token', 'dbg-secret', 'dbg-typ', 'dbg-leeway']) $(id).addEventListener('input', runDebugger);
  for (const id of ['dbg-enc-utf8', 'dbg-enc-b64']) $(id).addEventListener('change', runDebugger);
  $('btn-dbg-rfc').addEventListener('click', () => {
    $('dbg-token').value = RFC_7515_A1.token;
    $('dbg-secret').value = RFC_7515_A1.key;
    $('dbg-enc-b64').checked = true;
    $('dbg-typ').value = '';
    runDebugger();
  });
  $('btn-dbg-mine').addEventListener('click', () => {
    if (!state.accessToken) {
      $('dbg-verdict').textContent = 'Log in first: there is no access token yet.';
      return;
    }
    $('dbg-token').value = state.accessToken;
    $('dbg-typ').value = 'at+jwt';
    runDebugger();
  });
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener('change', scheduleAhead);
  }
  setInterval(updateCountdown, 250);
});
