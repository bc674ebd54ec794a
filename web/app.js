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
  expiredShown: null, // the token whose expiry the diagram has shown (step 8)
  firstToken: null, // the first access token of this page: the gallery's truly expired token, once it is
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
  // Steps light when the request is sent; when they depend on the answer, `opts.sending` is lit meanwhile.
  let settle = null;
  if (typeof opts.steps === 'string') Flow.sent(opts.steps, method, path);
  else if (opts.sending) settle = Flow.sentAs(opts.sending, method, path);
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
  if (settle) settle(steps || '');
  Flow.answered(steps || '', method, path, status);
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
  if (token && !state.firstToken) state.firstToken = token;
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
  const kid = decoded.header.kid;
  $('token-kid').textContent = typeof kid === 'string'
    ? `kid "${kid}": the name of the key in the server's key ring that signed this token (after minijwt keys rotate).`
    : 'No kid: signed with the server\'s first key, from before any key rotation.';
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
    if (state.expiredShown !== state.accessToken) {
      state.expiredShown = state.accessToken;
      Flow.light('8', `exp passed (token #${state.version})`);
    }
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
    sending: '5', // a request with the access token; whether it is step 5 or 9 the answer says
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

// ---- sessions, password, grace window ------------------------------------------------

const when = (seconds) => new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');

async function listSessions() {
  const status = $('sessions-status');
  if (!state.accessToken) {
    status.textContent = 'Log in first: the list is asked for with your access token.';
    return;
  }
  const result = await authed('GET', '/auth/sessions');
  if (result.status !== 200) {
    status.textContent = `Could not list the sessions: ${describeError(result)}`;
    return;
  }
  const rows = $('sessions-rows');
  rows.textContent = '';
  for (const session of result.json.sessions) {
    const row = rows.insertRow();
    row.dataset.id = session.id;
    row.dataset.current = String(session.current);
    const id = row.insertCell();
    id.className = 'mono';
    id.textContent = session.id.slice(0, 8);
    if (session.current) {
      const badge = document.createElement('strong');
      badge.className = 'badge';
      badge.textContent = 'this browser';
      id.append(' ', badge);
    }
    row.insertCell().textContent = when(session.created_at);
    row.insertCell().textContent = when(session.last_used_at);
    const agent = row.insertCell();
    agent.className = 'small';
    agent.textContent = session.user_agent || '(none)';
    const action = row.insertCell();
    if (!session.current) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'small-button';
      button.textContent = 'Revoke';
      button.setAttribute('aria-label', `Revoke session ${session.id.slice(0, 8)}`);
      button.addEventListener('click', () => revokeSession(session.id, button));
      action.append(button);
    }
  }
  $('sessions-table').hidden = false;
  const others = result.json.sessions.length - 1;
  status.textContent = `${result.json.sessions.length} live session${others === 0 ? '' : 's'}: this browser` +
    `${others > 0 ? ` and ${others} other${others === 1 ? '' : 's'}` : ' only'}.`;
}

async function revokeSession(id, button) {
  button.disabled = true;
  const result = await authed('DELETE', `/auth/sessions/${id}`);
  $('sessions-status').textContent = result.status === 204
    ? `Session ${id.slice(0, 8)} revoked: its refresh token no longer works.`
    : `Could not revoke session ${id.slice(0, 8)}: ${describeError(result)}`;
  if (result.status === 204) await listSessions();
  else button.disabled = false;
}

async function changePassword() {
  const status = $('password-status');
  const current = $('current-password').value;
  const next = $('new-password').value;
  if (!state.accessToken) {
    status.textContent = 'Log in first.';
    return;
  }
  if (next.length < 8) {
    status.textContent = 'The new password must have at least 8 characters.';
    return;
  }
  const result = await authed('POST', '/auth/password', { current_password: current, new_password: next });
  if (result.status === 204) {
    $('password').value = next; // so that "Log in" above uses the new one
    $('current-password').value = '';
    $('new-password').value = '';
    status.textContent = 'Password changed: every other session has ended; this one goes on.';
    await listSessions();
  } else {
    status.textContent = `Password not changed: ${describeError(result)}`;
  }
}

/**
 * An API client refreshes and "loses" the answer (the page throws it away unread),
 * then retries with the same refresh token: within the grace window the server gives
 * the same successor again. The client then logs out, so no session is left behind.
 */
async function grace() {
  const list = $('grace-result');
  list.textContent = '';
  const say = (text, ok) => {
    const item = document.createElement('li');
    item.textContent = text;
    item.className = ok ? 'good' : 'bad';
    list.append(item);
  };
  const creds = credentials();
  if (!creds) {
    say('Fill in the username and password in section 1 first (the API client logs in with them).', false);
    return;
  }
  const opts = { actor: 'api-client' };
  const login = await api('POST', '/auth/login', { ...opts, body: creds, steps: '1 2 3 4' });
  if (login.status !== 200) {
    say(`API client login failed: ${describeError(login)}`, false);
    return;
  }
  const r1 = login.json.refresh_token;
  say(`The API client logs in: R1 = ${shorten(r1)}.`, true);
  const lost = await api('POST', '/auth/refresh', { ...opts, body: { refresh_token: r1 }, steps: '12 13' });
  if (lost.status !== 200) {
    say(`Refresh with R1 failed: ${describeError(lost)}`, false);
    return;
  }
  say(`Refresh with R1 → ${lost.status}, but the answer is lost: the client never sees R2.`, true);
  const retry = await api('POST', '/auth/refresh', { ...opts, body: { refresh_token: r1 }, steps: '12 13' });
  const same = retry.status === 200 && retry.json.refresh_token === lost.json.refresh_token;
  say(same
    ? `Retry with R1 → 200 with the same R2 = ${shorten(retry.json.refresh_token)}: a retry within the grace window is not theft.`
    : `Retry with R1 → ${describeError(retry)}: not the same successor.`, same);
  list.dataset.same = String(same);
  if (retry.status === 200) {
    const out = await api('POST', '/auth/logout', { ...opts, body: { refresh_token: retry.json.refresh_token }, steps: 'logout' });
    say(`The API client logs out (${out.status}): no session is left behind.`, out.status === 204);
  }
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
  const token = StrictJwt.trim($('dbg-token').value); // as Rust's str::trim, like the CLI
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

  const showJson = (part, el, bytesEl) => {
    // The decoded bytes verbatim, as `token explain` prints them (whitespace and
    // line breaks made visible: RFC 7515 A.1's header has \r\n and a space).
    bytesEl.textContent = part?.bytes == null ? '' : `bytes (${part.byteLength}): ${StrictJwt.visible(part.bytes)}`;
    if (!part) {
      el.textContent = '';
    } else if (part.json) {
      el.textContent = JSON.stringify(part.json.value, null, 2);
    } else {
      el.textContent = part.error;
    }
  };
  showJson(report.header, $('dbg-header'), $('dbg-header-bytes'));
  showJson(report.payload, $('dbg-payload'), $('dbg-payload-bytes'));
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
  match.className = `status ${!report.key ? 'neutral' : sig.match ? 'good' : 'bad'}`;

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
  // Without a secret nothing is verified: a neutral state, neither a pass nor a failure.
  const unverified = report.verdict.ok && !report.key;
  verdict.className = `verdict ${unverified ? 'neutral' : report.verdict.ok ? 'good' : 'bad'}`;
  verdict.dataset.code = report.verdict.code ?? (unverified ? 'UNVERIFIED' : 'VALID');
  verdict.dataset.settled = 'yes';
}

// ---- section 7: the attack gallery ------------------------------------------------

const DOCS = '/docs/how-jwt-works.md';

/** base64url of JSON (an object) or of exact JSON text (a string). */
const enc = (part) => StrictJwt.b64uEncode(new TextEncoder().encode(typeof part === 'string' ? part : JSON.stringify(part)));

/** The current access token taken apart: segments, header and payload. */
function ownToken() {
  const [h, p, s] = state.accessToken.split('.');
  const { header, payload } = decodeJwt(state.accessToken);
  return { h, p, s, header, payload };
}

/** Sends a forged access token as the attacker would: GET /me with it as Bearer. */
const sendForged = (token) => api('GET', '/me', { bearer: token, steps: 'attack', actor: 'attacker' });

/** Logs in as an API client (the refresh token comes in the JSON body). */
async function apiClientLogin() {
  const creds = credentials();
  if (!creds) throw new Error('fill in the username and password in section 1 first');
  const login = await api('POST', '/auth/login', { body: creds, steps: 'attack', actor: 'attacker' });
  if (login.status !== 200) throw new Error(`the API client could not log in: ${describeError(login)}`);
  return login.json;
}

const refreshAs = (refreshToken) => api('POST', '/auth/refresh', {
  body: { refresh_token: refreshToken }, steps: 'attack', actor: 'attacker',
});

/**
 * The gallery. Each attack builds its token from the page's access token and sends it;
 * `expect` is the status and error code the server must answer, `rule` the check that
 * refuses it first (with the section of docs/how-jwt-works.md that explains it), `also`
 * the rule that would refuse it next, had the attacker the key.
 */
const ATTACKS = [
  { id: 'alg-none', name: 'alg "none", signature empty', expect: [401, 'invalid_token'],
    rule: ['alg must be exactly "HS256"', 'why-the-algorithm-is-pinned'],
    forge: ({ header, payload }) => `${enc({ ...header, alg: 'none' })}.${enc(payload)}.` },
  { id: 'alg-none-case', name: 'alg "nOnE" (mixed case)', expect: [401, 'invalid_token'],
    rule: ['alg must be exactly "HS256" (no case folding)', 'why-the-algorithm-is-pinned'],
    forge: ({ header, payload }) => `${enc({ ...header, alg: 'nOnE' })}.${enc(payload)}.` },
  { id: 'alg-hs512', name: 'alg swapped to HS512', expect: [401, 'invalid_token'],
    rule: ['alg must be exactly "HS256"', 'why-the-algorithm-is-pinned'],
    forge: ({ header, p, s }) => `${enc({ ...header, alg: 'HS512' })}.${p}.${s}` },
  { id: 'alg-rs256', name: 'alg swapped to RS256 (key confusion)', expect: [401, 'invalid_token'],
    rule: ['alg must be exactly "HS256"', 'why-the-algorithm-is-pinned'],
    forge: ({ header, p, s }) => `${enc({ ...header, alg: 'RS256' })}.${p}.${s}` },
  { id: 'sig-stripped', name: 'signature stripped', expect: [401, 'invalid_token'],
    rule: ['the signature segment must not be empty', '4-the-signing-input-and-the-signature'],
    forge: ({ h, p }) => `${h}.${p}.` },
  { id: 'payload-edited', name: 'payload edited (username "admin"), old signature', expect: [401, 'invalid_token'],
    rule: ['HMAC-SHA256 must match', '4-the-signing-input-and-the-signature'], deeper: 'random',
    forge: ({ h, payload, s }) => `${h}.${enc({ ...payload, sub: '1', username: 'admin' })}.${s}` },
  { id: 'kid-traversal', name: 'kid "../../etc/passwd"', expect: [401, 'invalid_token'],
    rule: ['kid only names a key the server holds', 'why-a-kid-cannot-pick-a-file'],
    forge: ({ header, p, s }) => `${enc({ ...header, kid: '../../etc/passwd' })}.${p}.${s}` },
  { id: 'exp-edited', name: 'exp pushed a year later, old signature', expect: [401, 'invalid_token'],
    rule: ['HMAC-SHA256 must match', '4-the-signing-input-and-the-signature'], deeper: 'random',
    forge: ({ h, payload, s }) => `${h}.${enc({ ...payload, exp: payload.exp + 365 * 86_400 })}.${s}` },
  { id: 'expired', name: 'a truly expired token (this page\'s first)', expect: [401, 'invalid_token'],
    rule: ['exp must be after now', '5-the-claims-against-the-clock'],
    run: async () => {
      const left = secondsLeft(state.firstToken);
      if (left === null || left > 0) {
        return { skipped: `needs time: this page's first token expires in ${Math.ceil(left)} s; run it again then` };
      }
      return { token: state.firstToken, result: await sendForged(state.firstToken) };
    } },
  { id: 'exp-string', name: 'exp as a string', expect: [401, 'invalid_token'],
    rule: ['HMAC-SHA256 must match', '4-the-signing-input-and-the-signature'],
    also: ['claim "exp" must be a number', '5-the-claims-against-the-clock'], deeper: 'random',
    forge: ({ h, payload, s }) => `${h}.${enc({ ...payload, exp: String(payload.exp + 365 * 86_400) })}.${s}` },
  { id: 'exp-duplicate', name: 'exp twice (the second a year later)', expect: [401, 'invalid_token'],
    rule: ['HMAC-SHA256 must match', '4-the-signing-input-and-the-signature'],
    also: ['no member name twice', 'why-a-repeated-member-name-is-refused'], deeper: 'random',
    forge: ({ h, payload, s }) => `${h}.${enc(JSON.stringify(payload).replace(/\}$/, `,"exp":${payload.exp + 365 * 86_400}}`))}.${s}` },
  { id: 'weak-secret', name: 'signed with the secret "secret"', expect: [401, 'invalid_token'],
    rule: ['HMAC-SHA256 must match (the server\'s key is 32 random bytes)', 'why-keys-must-be-at-least-32-bytes'],
    also: ['a key is at least 32 bytes', 'why-keys-must-be-at-least-32-bytes'], deeper: 'weak',
    forge: ({ header, payload }) =>
      StrictJwt.sign(header, { ...payload, sub: '1', username: 'admin' }, new TextEncoder().encode('secret')) },
  { id: 'refresh-as-access', name: 'a refresh token presented as an access token', expect: [401, 'invalid_token'],
    rule: ['typ must be "at+jwt"', 'why-does-each-token-say-what-type-it-is'],
    run: async () => {
      const pair = await apiClientLogin();
      const result = await sendForged(pair.refresh_token);
      // Tidy up: end the session this attack opened.
      await api('POST', '/auth/logout', { body: { refresh_token: pair.refresh_token }, steps: 'attack', actor: 'attacker' });
      return { token: pair.refresh_token, result };
    } },
  { id: 'refresh-replay', name: 'a replayed refresh token', expect: [401, 'invalid_grant'],
    rule: ['a refresh token works once; reuse revokes the family', 'part-4-why-does-the-refresh-token-change-every-time'],
    run: async () => {
      const pair = await apiClientLogin();
      const second = await refreshAs(pair.refresh_token);
      if (second.status !== 200) throw new Error(`refresh failed: ${describeError(second)}`);
      const third = await refreshAs(second.json.refresh_token);
      if (third.status !== 200) throw new Error(`refresh failed: ${describeError(third)}`);
      // The first token again, after its successor was used: no grace, the whole family ends.
      return { token: pair.refresh_token, result: await refreshAs(pair.refresh_token) };
    } },
];

/**
 * The rule behind the signature: the server's answer only ever says "bad signature" for a
 * forged token, so the debugger's engine checks it as if the attacker had the key. The
 * forged header.payload is signed again with a throwaway random 32-byte key (for the weak
 * secret: checked with that 6-byte secret as the key) and run through StrictJwt.explain.
 * Nothing is sent. Resolves with { key, verdict }.
 */
async function deeperVerdict(attack, token) {
  const [h, p] = token.split('.');
  if (attack.deeper === 'weak') {
    const report = await StrictJwt.explain(token, { secret: 'secret', encoding: 'utf8', typ: 'at+jwt' });
    return { key: 'checked with "secret" as the key', verdict: report.verdict };
  }
  const key = crypto.getRandomValues(new Uint8Array(32));
  const resigned = await StrictJwt.signInput(`${h}.${p}`, key);
  const report = await StrictJwt.explain(resigned, { secret: StrictJwt.b64uEncode(key), encoding: 'base64url', typ: 'at+jwt' });
  return { key: 're-signed with a random 32-byte key, as if the attacker had the key', verdict: report.verdict };
}

/**
 * Each rule in a few sentences, written here: the tutorial is served as plain text
 * (text/markdown), where a browser cannot scroll to a heading, so its link is "read more".
 */
const RULE_TEXT = {
  'why-the-algorithm-is-pinned': 'The header is written by whoever made the token, so it cannot choose how the ' +
    'token is checked. Libraries that let alg choose have accepted "none" with no signature, or checked an RS256 ' +
    'token with HMAC keyed by the public RSA key. minijwt accepts the exact string "HS256" and nothing else, ' +
    'before it looks at the signature.',
  '4-the-signing-input-and-the-signature': 'The signature is HMAC-SHA256 over the first two segments exactly as ' +
    'sent, with the server\'s secret key. Change one character of the header or payload and the HMAC differs; ' +
    'without the key nobody can compute the new one. All 32 bytes are compared, in constant time; an empty or ' +
    'shorter signature is refused.',
  'why-a-kid-cannot-pick-a-file': 'kid only names one of the keys the server already holds (after a key ' +
    'rotation). It is never a file name or a query: an unknown kid is refused, and the server never tries its ' +
    'keys one after the other.',
  '5-the-claims-against-the-clock': 'exp, nbf and iat are numbers of seconds since 1970 (UTC). A token is ' +
    'expired once exp <= now - leeway; exp is required; a string, a boolean or an out-of-range number is an ' +
    'error, never "no exp".',
  'why-a-repeated-member-name-is-refused': 'JSON does not say which of two "exp" members counts: parsers differ, ' +
    'so one check could read one and another the other. minijwt refuses a name given twice, in the header and ' +
    'the payload, at any depth, after unescaping.',
  'why-keys-must-be-at-least-32-bytes': 'Anyone with one token can try keys offline, as fast as they can compute ' +
    'HMACs. A key shorter than the hash (32 bytes for SHA-256, RFC 7518 §3.2), or a word like "secret", falls to ' +
    'a dictionary; minijwt refuses keys under 32 bytes, and minijwt keygen makes 32 random ones.',
  'why-does-each-token-say-what-type-it-is': 'Access and refresh tokens are signed with the same key; without a ' +
    'type a two-week refresh token would pass as an access token. Each header names its type (at+jwt, ' +
    'refresh+jwt) and each endpoint demands its own.',
  'part-4-why-does-the-refresh-token-change-every-time': 'Each refresh returns a new refresh token and retires ' +
    'the old one. A retired token presented again (after a short grace for a lost answer) means a copy exists: ' +
    'the server revokes the whole family and writes the reuse to its audit trail.',
};

/** A rule, explained in place (a disclosure), with the tutorial's section as "read more". */
function ruleDetails(rule, prefix = '') {
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = `${prefix}${rule[0]}`;
  const text = document.createElement('p');
  text.className = 'small';
  const more = document.createElement('a');
  more.href = `${DOCS}#${rule[1]}`;
  more.textContent = 'read more';
  more.setAttribute('aria-label', `read more: ${rule[0]} (the tutorial, as plain text)`);
  text.append(`${RULE_TEXT[rule[1]] ?? ''} `, more);
  details.append(summary, text);
  return details;
}

/** One table row per attack, built once. */
function buildGallery() {
  const body = $('gallery-rows');
  for (const attack of ATTACKS) {
    const row = body.insertRow();
    row.id = `attack-${attack.id}`;
    const name = row.insertCell();
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'small-button';
    button.textContent = 'Run';
    button.setAttribute('aria-label', `Run: ${attack.name}`);
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await runAttack(attack);
      } finally {
        button.disabled = false;
      }
    });
    name.append(button, ` ${attack.name}`);
    const token = row.insertCell();
    token.className = 'mono small token-cell';
    row.insertCell().className = 'nowrap';
    const rule = row.insertCell();
    rule.append(ruleDetails(attack.rule));
    if (attack.also) {
      const also = ruleDetails(attack.also, 'also refused for: ');
      also.classList.add('small');
      rule.append(also);
    }
    row.insertCell();
  }
}

async function runAttack(attack) {
  const row = $(`attack-${attack.id}`);
  const [, tokenCell, answerCell, , resultCell] = row.cells;
  delete row.dataset.status;
  delete row.dataset.error;
  row.dataset.done = 'no';
  let outcome;
  try {
    if (!state.accessToken) throw new Error('log in first: the attacks start from your access token');
    outcome = attack.run ? await attack.run() : { token: await attack.forge(ownToken()) };
    if (outcome.token && !outcome.result) outcome.result = await sendForged(outcome.token);
  } catch (error) {
    outcome = { skipped: error.message };
  }
  if (outcome.skipped) {
    tokenCell.textContent = '';
    answerCell.textContent = '';
    resultCell.textContent = `not run: ${outcome.skipped}`;
    resultCell.className = 'muted';
    row.dataset.done = 'skipped';
    return false;
  }
  // The header says most about an attack; the token itself is long, so shortened (full in the title).
  tokenCell.textContent = '';
  const headerLine = document.createElement('div');
  try {
    headerLine.textContent = JSON.stringify(decodeJwt(outcome.token).header);
  } catch {
    headerLine.textContent = '(header not JSON)';
  }
  const tokenLine = document.createElement('div');
  tokenLine.className = 'muted';
  tokenLine.textContent = shorten(outcome.token);
  tokenCell.append(headerLine, tokenLine);
  tokenCell.title = outcome.token;
  const { status, json } = outcome.result;
  answerCell.textContent = `${status} ${json?.error ?? ''}`;
  answerCell.title = json?.error_description ?? '';
  row.dataset.status = String(status);
  row.dataset.error = json?.error ?? '';
  const refused = status === attack.expect[0] && json?.error === attack.expect[1];
  resultCell.textContent = refused ? 'refused, as expected' : `NOT as expected (${attack.expect.join(' ')})`;
  resultCell.className = refused ? 'good' : 'bad';
  if (attack.deeper) {
    const ruleCell = row.cells[3];
    ruleCell.querySelector('.deeper')?.remove();
    const { key, verdict } = await deeperVerdict(attack, outcome.token);
    const line = document.createElement('div');
    line.className = 'deeper small';
    const code = verdict.code ?? 'VALID';
    line.textContent = code === 'VALID'
      ? `The debugger, ${key}: VALID: every other check passes; only the signature stops this token.`
      : `The debugger, ${key}: ${code}: ${verdict.text}`;
    ruleCell.append(line);
    row.dataset.deeper = code;
  }
  row.dataset.done = 'yes';
  return refused;
}

async function runAllAttacks() {
  const status = $('gallery-status');
  status.textContent = 'Running…';
  let refused = 0;
  let skipped = 0;
  for (const attack of ATTACKS) {
    if (await runAttack(attack)) refused += 1;
    else if ($(`attack-${attack.id}`).dataset.done === 'skipped') skipped += 1;
  }
  const failed = ATTACKS.length - refused - skipped;
  status.textContent = `${refused} of ${ATTACKS.length} attacks refused as expected` +
    `${skipped ? `, ${skipped} not run` : ''}${failed ? `, ${failed} NOT as expected` : ''}.`;
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
  Flow.mount($('flow-diagram'), $('flow-status'));
  buildGallery();
  onClick('btn-sessions', listSessions);
  onClick('btn-password', changePassword);
  onClick('btn-grace', grace);
  onClick('btn-attacks-run-all', runAllAttacks);
  for (const id of ['dbg-token', 'dbg-secret', 'dbg-typ', 'dbg-leeway']) $(id).addEventListener('input', runDebugger);
  for (const id of ['dbg-enc-utf8', 'dbg-enc-b64']) $(id).addEventListener('change', runDebugger);
  $('btn-dbg-show').addEventListener('click', () => {
    // The secret is hidden as it is typed (someone may be looking), shown on request.
    const field = $('dbg-secret');
    const show = field.type === 'password';
    field.type = show ? 'text' : 'password';
    $('btn-dbg-show').setAttribute('aria-pressed', String(show));
    $('btn-dbg-show').textContent = show ? 'Hide' : 'Show';
  });
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
