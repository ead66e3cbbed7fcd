// The reports site: signs in with the built-in issuer (authorization code with PKCE, as the
// public client `dw-reports`), keeps the access token in memory only, and draws every number
// from the service's own OData API with it. Values are written as text, never as markup.
'use strict';

const CLIENT_ID = 'dw-reports';
const SERVICE = '/ReportingService/DataWarehouseFEService';
const REDIRECT_URI = location.origin + '/reports/';
const PENDING = 'dw-reports-sign-in';

let token = null;

const $ = (id) => document.getElementById(id);

function base64url(bytes) {
  let text = '';
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomText() {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return base64url(bytes);
}

// Leaves for the sign-in page; the page the user was on (its fragment) is kept for the return.
async function signIn() {
  const verifier = randomText();
  const state = randomText();
  const challenge = base64url(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, fragment: location.hash }));
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  });
  location.assign('/oauth2/authorize?' + query.toString());
}

// Exchanges the code the sign-in page sent back for an access token, and removes the code
// from the address bar.
async function redeem(params) {
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', '/reports/' + ((pending && pending.fragment) || ''));
  if (!pending || pending.state !== params.get('state')) {
    throw new Error('The sign-in did not come back to the page that started it. Sign in again.');
  }
  const response = await fetch('/oauth2/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: params.get('code'),
      redirect_uri: REDIRECT_URI,
      client_id: CLIENT_ID,
      code_verifier: pending.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.access_token) {
    throw new Error(body.error_description || 'The sign-in failed. Sign in again.');
  }
  token = body.access_token;
}

// The JSON answer of an OData request (`path` under the service root); an expired session
// signs in again, an error of the service is thrown with its message.
async function odata(path) {
  const response = await fetch(SERVICE + path, {
    headers: { Authorization: 'Bearer ' + token, Accept: 'application/json' },
  });
  if (response.status === 401) {
    token = null;
    await signIn();
    throw new Error('Your session ended; signing in again…');
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = body.error && body.error.message;
    throw new Error(message || 'The service answered ' + response.status + '.');
  }
  return body;
}

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
}

function showRequest(id, path) {
  $(id).textContent = location.origin + SERVICE + path;
}

// A CSV download of `rows` under `header`. Every cell is quoted, and a text cell a spreadsheet
// would read as a formula (=, +, -, @, tab, return first: names are attacker-chosen) starts
// with an apostrophe.
function csvLink(id, header, rows) {
  const quote = (v) => {
    let text = String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return '"' + text.replace(/"/g, '""') + '"';
  };
  const text = [header, ...rows].map((r) => r.map(quote).join(',')).join('\r\n') + '\r\n';
  $(id).href = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
}

const COMPLIANT = ['Compliant', 'InGracePeriod'];
const NOT_COMPLIANT = ['Noncompliant', 'Unknown'];

async function complianceOverview() {
  const byState = '/devices?api-version=v1.0&$apply=filter(isDeleted eq false)' +
    '/groupby((complianceState/complianceStatus),aggregate($count as devices))';
  const answer = await odata(byState);
  const groups = answer.value.map((g) => ({
    state: (g.complianceState && g.complianceState.complianceStatus) || 'Unknown',
    devices: g.devices,
  }));
  groups.sort((a, b) => b.devices - a.devices);
  const sum = (states) => groups
    .filter((g) => states.includes(g.state))
    .reduce((n, g) => n + g.devices, 0);
  $('compliant').textContent = sum(COMPLIANT).toLocaleString('en-US');
  $('noncompliant').textContent = sum(NOT_COMPLIANT).toLocaleString('en-US');
  $('total').textContent = groups.reduce((n, g) => n + g.devices, 0).toLocaleString('en-US');
  const body = $('states');
  body.replaceChildren();
  for (const g of groups) {
    const row = document.createElement('tr');
    cell(row, g.state);
    cell(row, g.devices.toLocaleString('en-US'), 'number');
    body.appendChild(row);
  }
  csvLink('states-csv', ['complianceStatus', 'devices'], groups.map((g) => [g.state, g.devices]));
  showRequest('states-request', byState);
  $('totals').hidden = false;
  $('by-state').hidden = false;

  const recent = '/devices?api-version=v1.0&$filter=isDeleted eq false and ' +
    "complianceState/complianceStatus eq 'Noncompliant'" +
    '&$orderby=lastSyncDateTime desc&$top=20&$select=deviceName,osVersion,lastSyncDateTime';
  const devices = await odata(recent);
  const list = $('devices');
  list.replaceChildren();
  for (const d of devices.value) {
    const row = document.createElement('tr');
    cell(row, d.deviceName);
    cell(row, d.osVersion);
    cell(row, (d.lastSyncDateTime || '').replace('T', ' ').replace(/\.\d+Z$|Z$/, ''));
    list.appendChild(row);
  }
  showRequest('devices-request', recent);
  $('noncompliant-devices').hidden = false;
}

function signOut() {
  token = null;
  for (const id of ['totals', 'by-state', 'noncompliant-devices']) $(id).hidden = true;
  $('sign-out').hidden = true;
  const status = $('status');
  status.replaceChildren();
  status.append('You are signed out. ');
  const again = document.createElement('button');
  again.type = 'button';
  again.textContent = 'Sign in';
  again.addEventListener('click', () => signIn());
  status.appendChild(again);
}

async function start() {
  $('sign-out').addEventListener('click', signOut);
  const params = new URLSearchParams(location.search);
  const status = $('status');
  try {
    if (params.has('error')) {
      history.replaceState(null, '', '/reports/');
      throw new Error(params.get('error_description') || 'The sign-in was refused.');
    }
    if (!params.has('code')) {
      await signIn();
      return;
    }
    await redeem(params);
    $('sign-out').hidden = false;
    status.textContent = 'Loading…';
    await complianceOverview();
    status.textContent = 'Devices not deleted, as of the latest publication.';
  } catch (e) {
    status.className = 'error';
    status.textContent = e.message;
  }
}

start();
