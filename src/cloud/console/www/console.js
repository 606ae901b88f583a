// The CYPHONIC console page.  Everything it shows is set as text
// (textContent), never as HTML, so a name or a reason cannot become markup.
// The API is JSON out, forms in (docs/console.md); every POST but the
// login carries the session's CSRF token in X-CSRF-Token.
'use strict';

const $ = (id) => document.getElementById(id);
let csrf = null;
let rows = [];
let sortKey = 'fqdn';
let sortDir = 1;
let timer = null;
let configUrl = null;

async function api(path, fields) {
  const opts = { credentials: 'same-origin', headers: {} };
  if (fields) {
    opts.method = 'POST';
    opts.body = new URLSearchParams(fields);
    if (csrf) opts.headers['X-CSRF-Token'] = csrf;
  }
  const res = await fetch(path, opts);
  let body = null;
  try { body = await res.json(); } catch (e) { body = { error: res.statusText }; }
  if (res.status === 401 && path !== '/api/login') {
    loggedOut();
  }
  if (!res.ok) throw new Error(body && body.error ? body.error : res.statusText);
  return body;
}

function text(el, s) { el.textContent = s == null ? '' : String(s); }

function loggedIn(s) {
  csrf = s.csrf;
  text($('domain'), s.domain);
  text($('who-name'), s.name);
  $('who').hidden = false;
  $('login').hidden = true;
  $('app').hidden = false;
  refresh();
  loadPolicy();
  if (!timer) timer = setInterval(refresh, 2000);
}

function loggedOut() {
  csrf = null;
  if (timer) clearInterval(timer);
  timer = null;
  // nothing of the session stays in the page, not a node's config; an
  // unsaved policy edit does (every account sees the policy), for the
  // next login to save
  if (configUrl) URL.revokeObjectURL(configUrl);
  configUrl = null;
  $('enrol-download').hidden = true;
  $('enrol-download').removeAttribute('href');
  for (const id of ['enrol-result', 'gn-result', 'app-error']) text($(id), '');
  rows = [];
  $('nodes').tBodies[0].replaceChildren();
  $('figures').tBodies[0].replaceChildren();
  $('who').hidden = true;
  $('app').hidden = true;
  $('login').hidden = false;
}

// The user's input keeps the session alive (the refresh every two
// seconds does not): reported at most once a minute.
let lastTouch = 0;
function userActive() {
  const now = Date.now();
  if (!csrf || now - lastTouch < 60000) return;
  lastTouch = now;
  api('/api/touch', {}).catch(() => {});
}

function counts(c) {
  return `${c.enrolled} enrolled · ${c.registered} registered · ${c.revoked} revoked`;
}

async function refresh() {
  try {
    const [view, st] = await Promise.all([api('/api/view'), api('/api/stats')]);
    const ov = view.overview;
    text($('app-error'), '');
    text($('ov-nodes'), counts(ov.nodes));
    text($('ov-adapters'), counts(ov.adapters));
    text($('ov-gns'), counts(ov.gns));
    text($('ov-routes'), ov.routes
      ? `${ov.routes.selected} routes · ${ov.routes.relayed} relayed · ${ov.routes.punched} punched · ${ov.routes.failed} failed · ${ov.routes.denied} denied`
      : 'no NMS on this host');
    text($('ov-relays'), ov.relay_sessions == null ? 'no TRS on this host' : ov.relay_sessions);
    text($('ov-hosts'), ov.hosts.length
      ? ov.hosts.map((h) => `${h.name} (${h.registered})`).join(', ') : 'none registered');
    rows = view.nodes;
    drawNodes();
    drawFigures(st);
  } catch (e) {
    if (csrf) text($('app-error'), e.message);
  }
}

function state(r) { return r.revoked ? 'revoked' : r.registered ? 'registered' : 'enrolled'; }

function ago(t) {
  if (t == null) return '';
  const s = Math.max(0, Math.round(Date.now() / 1000 - t));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t * 1000).toISOString().slice(0, 10);
}

function cell(r, key) {
  switch (key) {
    case 'state': return state(r);
    case 'nat': return r.nat == null ? '' : r.nat ? 'yes' : 'no';
    case 'last_seen': return ago(r.last_seen);
    default: return r[key] == null ? '' : r[key];
  }
}

function sortValue(r, key) {
  if (key === 'last_seen') return r.last_seen || 0;
  return String(cell(r, key));
}

function drawNodes() {
  const q = $('search').value.trim().toLowerCase();
  const keys = ['fqdn', 'kind', 'vip4', 'vip6', 'state', 'observed', 'nat', 'host',
                'last_seen', 'adapter', 'mac', 'tags'];
  const shown = rows.filter((r) => !q || keys.some((k) =>
    String(cell(r, k)).toLowerCase().includes(q)));
  shown.sort((a, b) => {
    const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
    return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
  });
  const body = $('nodes').tBodies[0];
  const out = document.createDocumentFragment();
  for (const r of shown) {
    const tr = document.createElement('tr');
    tr.dataset.name = r.name;
    for (const k of keys) {
      const td = document.createElement('td');
      text(td, cell(r, k));
      if (k === 'state') {
        td.className = state(r);
        if (r.revoked) td.title = r.reason || '';
      }
      tr.appendChild(td);
    }
    const td = document.createElement('td');
    if (!r.revoked) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'revoke';
      text(b, 'Revoke');
      b.addEventListener('click', () => askRevoke(r.name, r.fqdn));
      td.appendChild(b);
    }
    tr.appendChild(td);
    out.appendChild(tr);
  }
  body.replaceChildren(out);
  for (const th of $('nodes').tHead.rows[0].cells) {
    th.classList.toggle('asc', th.dataset.key === sortKey && sortDir > 0);
    th.classList.toggle('desc', th.dataset.key === sortKey && sortDir < 0);
  }
}

function drawFigures(st) {
  const out = document.createDocumentFragment();
  const add = (label, v) => {
    const tr = document.createElement('tr');
    const a = document.createElement('td');
    const b = document.createElement('td');
    text(a, label);
    text(b, v);
    tr.append(a, b);
    out.appendChild(tr);
  };
  const walk = (prefix, o) => {
    for (const [k, v] of Object.entries(o || {})) {
      if (v && typeof v === 'object') walk(`${prefix}${k} `, v);
      else if (v != null) add(`${prefix}${k}`, v);
    }
  };
  walk('', st.cloud);
  walk('console ', st.console);
  $('figures').tBodies[0].replaceChildren(out);
  text($('figures-time'), new Date().toLocaleTimeString());
}

let revoking = null;

function askRevoke(name, fqdn) {
  revoking = name;
  text($('revoke-name'), fqdn);
  $('revoke-reason').value = '';
  $('revoke-dialog').showModal();
}

async function revoke() {
  const name = revoking;
  revoking = null;
  try {
    await api('/api/revoke', { name, reason: $('revoke-reason').value });
    await refresh();
  } catch (e) {
    text($('app-error'), e.message);
  }
}

function formFields(form) {
  const f = {};
  for (const el of form.elements) if (el.name) f[el.name] = el.value;
  return f;
}

async function enrol(ev) {
  ev.preventDefault();
  const dl = $('enrol-download');
  dl.hidden = true;
  if (configUrl) URL.revokeObjectURL(configUrl);
  configUrl = null;
  try {
    const n = await api('/api/enrol', formFields($('enrol-form')));
    text($('enrol-result'), `${n.fqdn} enrolled: ${n.vip4}, ${n.vip6}`);
    configUrl = URL.createObjectURL(new Blob([n.config], { type: 'text/plain' }));
    dl.href = configUrl;
    dl.download = `${n.name}.conf`;
    dl.hidden = false;
    for (const id of ['enrol-name', 'enrol-password', 'enrol-lan', 'enrol-tags']) $(id).value = '';
    await refresh();
  } catch (e) {
    text($('enrol-result'), e.message);
  }
}

async function enrolGn(ev) {
  ev.preventDefault();
  try {
    const n = await api('/api/gn', formFields($('gn-form')));
    text($('gn-result'), `${n.fqdn} enrolled: ${n.vip4}, ${n.vip6}`);
    for (const id of ['gn-name', 'gn-mac', 'gn-tags']) $(id).value = '';
    await refresh();
  } catch (e) {
    text($('gn-result'), e.message);
  }
}

async function login(ev) {
  ev.preventDefault();
  try {
    const s = await api('/api/login', { name: $('login-name').value,
                                        password: $('login-password').value });
    $('login-password').value = '';
    text($('login-error'), '');
    loggedIn(s);
  } catch (e) {
    text($('login-error'), e.message);
  }
}

async function logout() {
  try { await api('/api/logout', {}); } catch (e) { /* the session is gone either way */ }
  loggedOut();
}

// The text last loaded or saved: an edit not saved yet is never replaced
// by a load the user did not ask for.
let policyLoaded = null;

async function loadPolicy(asked) {
  const ta = $('policy-text');
  if (!asked && policyLoaded !== null && ta.value !== policyLoaded) return;
  try {
    const p = await api('/api/policy');
    text($('policy-path'), p.path);
    ta.value = p.text == null ? '' : p.text;
    policyLoaded = ta.value;
    text($('policy-result'), p.text == null ? 'no policy file: every pair is allowed' : '');
    $('policy-result').className = '';
    $('policy-save').disabled = false;
  } catch (e) {
    text($('policy-result'), e.message);
    $('policy-save').disabled = true;
  }
}

// The line an error names, selected in the editor.
function selectLine(ta, line) {
  const lines = ta.value.split('\n');
  let start = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
  const end = start + (lines[line - 1] || '').length;
  ta.focus();
  ta.setSelectionRange(start, end);
}

async function savePolicy() {
  const ta = $('policy-text');
  const res = await fetch('/api/policy', {
    method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf },
    body: new URLSearchParams({ text: ta.value }),
  });
  let body = {};
  try { body = await res.json(); } catch (e) { /* no body */ }
  if (res.ok) {
    policyLoaded = ta.value;
    $('policy-result').className = '';
    text($('policy-result'), 'saved: the NMS applies it now, to running tunnels too');
    return;
  }
  if (res.status === 401) loggedOut();
  $('policy-result').className = 'error';
  text($('policy-result'), body.error || res.statusText);
  if (body.line) selectLine(ta, body.line);
}

function lanShown() {
  const adapter = $('enrol-kind').value === 'adapter';
  $('enrol-lan-label').hidden = !adapter;
  $('enrol-lan').required = adapter;
}

document.addEventListener('DOMContentLoaded', async () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('enrol-form').addEventListener('submit', enrol);
  $('gn-form').addEventListener('submit', enrolGn);
  $('enrol-kind').addEventListener('change', lanShown);
  $('search').addEventListener('input', drawNodes);
  $('policy-save').addEventListener('click', savePolicy);
  $('policy-reload').addEventListener('click', () => loadPolicy(true));
  for (const ev of ['keydown', 'pointerdown', 'wheel']) {
    document.addEventListener(ev, userActive, { passive: true });
  }
  $('revoke-cancel').addEventListener('click', () => { revoking = null; $('revoke-dialog').close(); });
  $('revoke-form').addEventListener('submit', () => { revoke(); });
  for (const th of $('nodes').tHead.rows[0].cells) {
    if (!th.dataset.key) continue;
    th.addEventListener('click', () => {
      sortDir = sortKey === th.dataset.key ? -sortDir : 1;
      sortKey = th.dataset.key;
      drawNodes();
    });
  }
  lanShown();
  try {
    loggedIn(await api('/api/session'));
  } catch (e) {
    loggedOut();
  }
});
