// The local console's script: plain browser JavaScript, no framework, no build step.
// Every call goes through `call()`, which logs the request the page made and the answer it got,
// so the log doubles as documentation of the API. API calls carry the development token (from
// /_console/config) as `Authorization: Bearer …`, except Svix logout, which carries the app token.

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

const state = {
  /** @type {{serverId: string, devToken: string | null}} */
  config: { serverId: '', devToken: null },
  nonce: '',
  qrUrl: '',
  appToken: '',
  pollTimer: 0,
  pollInFlight: false,
  pollAgain: false,
  lastPollSignature: '',
  auditSignature: '',
};

const LOG_BODY_CHARS = 600;
const FAULTS = {
  latency: { latencyMs: 500 },
  429: { status: 429, retryAfter: 1 },
  500: { status: 500 },
  503: { status: 503 },
  reset: { reset: true },
  hang: { hang: true },
};

// ---- HTTP, with a log entry per call ---------------------------------------------------------

function isApiPath(path) {
  return !path.startsWith('/_sandbox') && !path.startsWith('/_console');
}

function shortToken(token) {
  return token.length > 24 ? `${token.slice(0, 16)}…${token.slice(-4)}` : token;
}

function truncate(text, max = LOG_BODY_CHARS) {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {{headers?: Record<string,string>, json?: unknown, body?: string, bearer?: string, bearerLabel?: string,
 *          binary?: boolean, log?: boolean, note?: string}} [options]
 *   bearer: a token to send instead of the dev token (API paths get the dev token by default).
 */
async function call(method, path, options = {}) {
  const headers = { ...(options.headers ?? {}) };
  const shown = { ...headers };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['Content-Type'] = 'application/json';
  }
  if (body !== undefined && !headers['Content-Type']) headers['Content-Type'] = 'application/json';
  if (headers['Content-Type']) shown['Content-Type'] = headers['Content-Type'];
  const bearer = options.bearer ?? (isApiPath(path) ? state.config.devToken : null);
  if (bearer) {
    headers.Authorization = `Bearer ${bearer}`;
    shown.Authorization = `Bearer ${shortToken(bearer)} (${options.bearerLabel ?? 'dev token'})`;
  }
  const record = { method, path, headers: shown, body, status: 0, statusText: '', ms: 0, text: '', note: options.note ?? '' };
  const started = performance.now();
  const result = { ok: false, status: 0, data: undefined, text: '', blob: undefined, record };
  try {
    const res = await fetch(path, { method, headers, body });
    result.ok = res.ok;
    result.status = record.status = res.status;
    record.statusText = res.statusText;
    const type = res.headers.get('content-type') ?? '';
    if (options.binary && res.ok) {
      result.blob = await res.blob();
      record.text = `<${type || 'binary'}, ${result.blob.size} bytes>`;
    } else {
      result.text = await res.text();
      record.text = result.text;
      try {
        result.data = result.text ? JSON.parse(result.text) : undefined;
      } catch {
        // not JSON: nextAuth errors are plain text
      }
      if (retryAfter(res)) record.note = [record.note, `Retry-After: ${retryAfter(res)}`].filter(Boolean).join(' · ');
    }
  } catch (err) {
    record.text = `network error: ${err instanceof Error ? err.message : String(err)}`;
  }
  record.ms = Math.round(performance.now() - started);
  if (options.log !== false) addLog(record);
  return result;
}

function retryAfter(res) {
  return res.headers.get('retry-after');
}

function addLog(record) {
  const li = document.createElement('li');
  li.dataset.testid = 'log-entry';
  const line = document.createElement('div');
  line.className = 'line';
  const statusClass = `code s${String(record.status).charAt(0)}`;
  for (const [cls, text] of [
    ['time', new Date().toLocaleTimeString()],
    ['method', record.method],
    ['path', record.path],
    [statusClass, record.status === null ? '' : record.status ? `${record.status} ${record.statusText}`.trim() : 'no answer'],
    ['ms', record.ms === null ? '' : `${record.ms} ms`],
    ['note', record.note],
  ]) {
    if (!text) continue;
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    line.append(span);
  }
  li.append(line);
  const request = Object.entries(record.headers).map(([k, v]) => `${k}: ${v}`);
  if (record.body !== undefined) request.push(truncate(record.body, 300));
  if (request.length) {
    const pre = document.createElement('pre');
    pre.className = 'req';
    pre.textContent = `→ ${request.join('\n  ')}`;
    li.append(pre);
  }
  if (record.text) {
    const pre = document.createElement('pre');
    pre.textContent = `← ${truncate(record.text)}`;
    li.append(pre);
  }
  $('log').prepend(li);
}

function note(text) {
  addLog({ method: '·', path: text, headers: {}, body: undefined, status: null, statusText: '', ms: null, text: '', note: '' });
}

/** Wires a button; it is disabled while its action runs, and errors land in the log. */
function on(testid, action) {
  const button = $(testid);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await action();
    } catch (err) {
      note(`error: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      button.disabled = false;
    }
  });
}

// ---- nextAuth QR login -------------------------------------------------------------------------

// base64url: a server id's '/' must not reach API Gateway's router, even as %2F (docs/upstream/nextauth-sessions.md#server-id).
const serverPath = () => `/servers/${state.config.serverId.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;

function newNonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function startSession() {
  state.nonce = newNonce();
  state.lastPollSignature = '';
  $('qr-nonce').textContent = state.nonce;
  renderStatus(null);
  schedulePoll(0);
  await loadQr();
}

async function loadQr() {
  const nonce = state.nonce;
  const image = $('qr-image');
  const placeholder = $('qr-placeholder');
  placeholder.textContent = 'loading the QR code…';
  const r = await call('GET', `${serverPath()}/sessions/qr/login?img=png&s=240`, { headers: { 'X-Nonce': nonce }, binary: true });
  if (nonce !== state.nonce) return;
  if (state.qrUrl) URL.revokeObjectURL(state.qrUrl);
  state.qrUrl = '';
  if (r.ok && r.blob) {
    // The gateway answers application/octet-stream; say what the bytes are for the <img>.
    state.qrUrl = URL.createObjectURL(new Blob([r.blob], { type: 'image/png' }));
    image.src = state.qrUrl;
    image.hidden = false;
    placeholder.hidden = true;
  } else {
    image.hidden = true;
    placeholder.hidden = false;
    placeholder.textContent = `no QR code: ${r.status || 'no answer'} ${truncate(r.text, 160)}`;
  }
}

function schedulePoll(delay) {
  if (state.pollInFlight) {
    state.pollAgain = true;
    return;
  }
  clearTimeout(state.pollTimer);
  state.pollTimer = setTimeout(poll, delay);
}

async function poll() {
  state.pollInFlight = true;
  const nonce = state.nonce;
  try {
    const r = await call('GET', `${serverPath()}/sessions/`, { headers: { 'X-Nonce': nonce }, log: false, note: 'poll' });
    if (nonce !== state.nonce) return;
    renderStatus(r);
    // One log line per change, not one a second.
    const signature = `${nonce} ${r.status} ${r.text}`;
    if (signature !== state.lastPollSignature) {
      state.lastPollSignature = signature;
      addLog(r.record);
    }
  } finally {
    state.pollInFlight = false;
    const again = state.pollAgain;
    state.pollAgain = false;
    schedulePoll(again ? 0 : 1000);
  }
}

function renderStatus(r) {
  const status = $('qr-status');
  const json = $('qr-status-json');
  if (r === null) {
    status.dataset.state = 'unknown';
    status.textContent = 'polling…';
    json.textContent = '';
    return;
  }
  const s = r.data;
  if (r.ok && s && typeof s === 'object') {
    if (s.loggedin) {
      status.dataset.state = 'logged-in';
      status.textContent = `logged in as ${s.userid} (account ${s.accountid})`;
    } else {
      status.dataset.state = 'logged-out';
      status.textContent = s.canprovoke ? 'not logged in · push login possible' : 'not logged in · waiting for a scan';
    }
    const shown = { ...s };
    if (typeof shown.loginqrdata === 'string') shown.loginqrdata = truncate(shown.loginqrdata, 24);
    json.textContent = `LoginStatus ${JSON.stringify(shown, null, 1)}`;
  } else {
    status.dataset.state = 'error';
    status.textContent = `getSession answered ${r.status || 'nothing'}`;
    json.textContent = truncate(r.text, 300);
  }
}

function phone(action, extra = {}) {
  return call('POST', `/_sandbox/nextauth/${action}`, { json: { serverid: state.config.serverId, nonce: state.nonce, ...extra } });
}

// ---- Svix app portal ---------------------------------------------------------------------------

const appId = () => $('svix-app').value.trim();

async function checkToken() {
  const badge = $('svix-token-state');
  if (!state.appToken) {
    badge.dataset.valid = '';
    badge.textContent = 'no token yet';
    return;
  }
  const r = await call('GET', `/_sandbox/svix/tokens/${encodeURIComponent(state.appToken)}`);
  if (r.ok && r.data) {
    badge.dataset.valid = String(Boolean(r.data.valid));
    badge.textContent = r.data.valid ? `valid until ${r.data.expiresAt}` : `invalid (${r.data.reason})`;
  } else {
    badge.dataset.valid = '';
    badge.textContent = `check failed: ${r.status}`;
  }
}

// ---- Jobs --------------------------------------------------------------------------------------

function exampleJob(kind) {
  const app = appId() || 'app_demo';
  if (kind === 'expire-all') return { appId: app, expiry: 0 };
  return {
    targets: [
      { serverid: state.config.serverId, nonce: state.nonce },
      { appId: app, sessionIds: ['web-1'] },
    ],
  };
}

/**
 * A run as `npm run job` prints it: one line a delivery (done, deferred and continued, dead-lettered),
 * then the summary; the whole report (targets, continuation state) below it.
 */
function showJobRun(res) {
  if (!Array.isArray(res.data?.lines)) return `${res.status} ${res.data !== undefined ? JSON.stringify(res.data, null, 2) : res.text}`;
  const { lines, ...report } = res.data;
  return `${lines.join('\n')}\n\n${JSON.stringify(report, null, 2)}`;
}

function fillJobExample() {
  $('job-message').value = JSON.stringify(exampleJob($('job-kind').value), null, 2);
}

// ---- Sandbox faults ----------------------------------------------------------------------------

function showFaults(data) {
  const faults = data?.faults ?? {};
  $('fault-table').textContent = Object.keys(faults).length ? `active: ${JSON.stringify(faults, null, 1)}` : 'no faults: the sandbox behaves';
}

async function loadFaults() {
  const r = await call('GET', '/_sandbox/faults');
  const select = $('fault-route');
  select.replaceChildren();
  for (const route of ['*', ...(r.data?.routes ?? [])]) {
    const option = document.createElement('option');
    option.value = route;
    option.textContent = route === '*' ? '* (every upstream call)' : route;
    select.append(option);
  }
  if (r.data?.routes?.includes('svix.app-portal-access')) select.value = 'svix.app-portal-access';
  showFaults(r.data);
}

// ---- Sandbox rate limit ------------------------------------------------------------------------

function showRateLimit(data) {
  if (!data?.limit) {
    $('rate-limit-state').textContent = 'off: no rate limit';
    return;
  }
  const lines = [`on: ${data.limit.rate}/s per credential, burst ${data.limit.burst}`];
  for (const [credential, counts] of Object.entries(data.credentials ?? {})) {
    lines.push(`${credential}  allowed ${counts.allowed}, refused ${counts.refused}`);
  }
  $('rate-limit-state').textContent = lines.join('\n');
}

async function loadRateLimit() {
  const r = await call('GET', '/_sandbox/rate-limit');
  if (r.ok) showRateLimit(r.data);
}

// ---- Audit -------------------------------------------------------------------------------------
// Each record comes with `shown`: its caller, target and result read as `npm start`'s audit lines
// read them (local/audit.ts), so the two never disagree.

const AUDIT_REFRESH_MS = 2000;

function auditStatusClass(r) {
  if (typeof r.status === 'number') return `s${String(r.status).charAt(0)}`;
  return r.outcome === 'done' ? 's2' : r.outcome ? 's5' : '';
}

function renderAudit(records) {
  const rows = $('audit-rows');
  rows.replaceChildren();
  if (!records.length) {
    const tr = document.createElement('tr');
    tr.className = 'empty';
    const td = document.createElement('td');
    td.colSpan = 7;
    td.textContent = 'no audit records yet';
    tr.append(td);
    rows.append(tr);
    return;
  }
  for (const r of records) {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'audit-row';
    tr.dataset.operation = r.operation ?? '';
    const time = typeof r.time === 'string' ? new Date(r.time).toLocaleTimeString() : '-';
    const source = [r.sourceIp, r.userAgent].filter(Boolean).join(' · ') || '-';
    for (const [cls, text] of [
      ['time', time],
      ['caller', r.shown?.caller ?? '-'],
      ['operation', r.operation ?? '-'],
      ['target', r.shown?.target ?? '-'],
      [`code ${auditStatusClass(r)}`, r.shown?.result ?? '-'],
      ['ms', r.durationMs !== undefined ? String(r.durationMs) : '-'],
      ['source', source],
    ]) {
      const td = document.createElement('td');
      td.className = cls;
      td.textContent = text;
      tr.append(td);
    }
    rows.append(tr);
  }
}

async function refreshAudit() {
  try {
    const r = await call('GET', '/_console/audit', { log: false });
    const records = Array.isArray(r.data?.records) ? r.data.records : [];
    const signature = JSON.stringify(records);
    if (signature !== state.auditSignature) {
      state.auditSignature = signature;
      renderAudit(records);
    }
    $('audit-state').textContent = r.ok ? `${records.length} record(s) · ${new Date().toLocaleTimeString()}` : `audit unavailable: ${r.status}`;
  } finally {
    setTimeout(refreshAudit, AUDIT_REFRESH_MS);
  }
}

// ---- Start -------------------------------------------------------------------------------------

async function main() {
  const r = await call('GET', '/_console/config');
  state.config = { serverId: r.data?.serverId ?? '', devToken: r.data?.devToken ?? null };
  $('config-server-id').textContent = state.config.serverId;
  $('config-token').textContent = state.config.devToken
    ? `development token, sent as Authorization: Bearer ${shortToken(state.config.devToken)}`
    : 'none (API calls go without Authorization)';

  on('qr-new-nonce', startSession);
  on('qr-scan', async () => {
    await phone('scan', { accountid: Number($('qr-account').value) });
    schedulePoll(0);
  });
  on('qr-logout', async () => {
    await call('POST', `${serverPath()}/sessions/logout`, { headers: { 'X-Nonce': state.nonce } });
    schedulePoll(0);
  });
  on('qr-provoke', async () => {
    await call('POST', `${serverPath()}/sessions/provokelogin`, { headers: { 'X-Nonce': state.nonce } });
  });
  on('qr-confirm', async () => {
    await phone('push/confirm');
    schedulePoll(0);
  });
  on('qr-reject', async () => {
    await phone('push/reject');
    schedulePoll(0);
  });

  on('svix-portal', async () => {
    const res = await call('POST', `/api/v1/auth/app-portal-access/${encodeURIComponent(appId())}/`, { json: {} });
    if (res.ok && res.data?.token) {
      state.appToken = res.data.token;
      const link = $('svix-link');
      link.href = res.data.url;
      link.textContent = res.data.url;
      link.classList.remove('muted');
      const token = $('svix-token');
      token.textContent = res.data.token;
      token.classList.remove('muted');
    }
    await checkToken();
  });
  on('svix-expire-all', async () => {
    await call('POST', `/api/v1/auth/app/${encodeURIComponent(appId())}/expire-all/`, { json: { expiry: 0 } });
    await checkToken();
  });
  on('svix-logout', async () => {
    if (!state.appToken) return note('get a portal link first: logout needs an app token');
    await call('POST', '/api/v1/auth/logout/', { bearer: state.appToken, bearerLabel: 'app token' });
    await checkToken();
  });
  on('svix-check', checkToken);

  $('job-kind').addEventListener('change', fillJobExample);
  on('job-example', async () => fillJobExample());
  on('job-submit', async () => {
    const kind = $('job-kind').value;
    const text = $('job-message').value;
    try {
      JSON.parse(text);
    } catch (err) {
      $('job-result').textContent = `not JSON: ${err instanceof Error ? err.message : String(err)}`;
      return;
    }
    $('job-result').textContent = 'running… (a message the upstream was too busy for is delivered again after its delay)';
    const res = await call('POST', `/_console/jobs/${kind}`, { body: text });
    $('job-result').textContent = showJobRun(res);
  });

  on('fault-apply', async () => {
    const route = $('fault-route').value;
    const kind = $('fault-kind').value;
    const path = `/_sandbox/faults/${encodeURIComponent(route)}`;
    const r = kind === 'none' ? await call('DELETE', path) : await call('PUT', path, { json: FAULTS[kind] });
    if (r.ok) showFaults(r.data);
  });
  on('fault-clear', async () => {
    const r = await call('DELETE', '/_sandbox/faults');
    if (r.ok) showFaults(r.data);
  });
  on('rate-limit-apply', async () => {
    const json = { rate: Number($('rate-limit-rate').value), burst: Number($('rate-limit-burst').value) };
    const r = await call('PUT', '/_sandbox/rate-limit', { json });
    if (r.ok) showRateLimit(r.data);
  });
  on('rate-limit-off', async () => {
    const r = await call('DELETE', '/_sandbox/rate-limit');
    if (r.ok) showRateLimit(r.data);
  });
  on('rate-limit-refresh', loadRateLimit);
  on('log-clear', async () => $('log').replaceChildren());

  await startSession();
  fillJobExample();
  await loadFaults();
  await loadRateLimit();
  await refreshAudit();
  document.body.dataset.ready = 'true';
}

main().catch((err) => note(`console failed to start: ${err instanceof Error ? err.message : String(err)}`));
