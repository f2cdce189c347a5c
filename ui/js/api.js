// @ts-check
/**
 * Talking to the server: the token (asked once, kept in sessionStorage, or
 * taken from ?token= which `npm start` prints), JSON requests with it, and
 * the WebSocket URL.
 */

const KEY = 'autopatch.token';

/** Moves ?token= from the address bar into sessionStorage, so it is not left in history or screenshots. */
export function adoptTokenFromUrl() {
  const url = new URL(location.href);
  const t = url.searchParams.get('token');
  if (t) {
    sessionStorage.setItem(KEY, t);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  }
}

/** @returns {string | null} */
export function getToken() {
  return sessionStorage.getItem(KEY);
}

/** @type {Set<() => void>} */
const tokenListeners = new Set();

/** Called whenever the token is set or cleared on this page (token box, e-stop). @param {() => void} listener */
export function onTokenChange(listener) {
  tokenListeners.add(listener);
}

/** @param {string | null} token */
export function setToken(token) {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
  for (const l of tokenListeners) l();
}

/**
 * Does the server accept the token this page holds? true or false; null
 * when the server could not be asked.
 * @returns {Promise<boolean | null>}
 */
export async function verifyToken() {
  if (!getToken()) return false;
  try {
    return (await fetch('/api/auth', { headers: authHeaders() })).ok;
  } catch {
    return null;
  }
}

/** @returns {Record<string, string>} */
function authHeaders() {
  const t = getToken();
  /** @type {Record<string, string>} */
  const headers = t ? { authorization: `Bearer ${t}` } : {};
  // who pressed the button, for the rig's records (the name typed at session start)
  const op = localStorage.getItem('autopatch.operator');
  if (op && /^[\w .@-]{1,64}$/.test(op)) headers['x-autopatch-operator'] = op;
  return headers;
}

/**
 * @param {string} path
 * @returns {Promise<any>}
 */
export async function getJson(path) {
  const res = await fetch(path, { headers: authHeaders() });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error ?? `${res.status} ${res.statusText}`);
  return body;
}

/**
 * @param {string} path
 * @returns {Promise<ArrayBuffer>}
 */
export async function getBinary(path) {
  const res = await fetch(path, { headers: authHeaders() });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new Error(body?.error ?? `${res.status} ${res.statusText}`);
  }
  return res.arrayBuffer();
}

/**
 * A control request. Never throws: the answer says what happened.
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<{ok: boolean, status: number, error?: string}>}
 */
export async function post(path, body) {
  try {
    const res = await fetch(path, {
      method: 'POST',
      headers: { ...authHeaders(), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await res.json().catch(() => ({}));
    return { ok: res.ok && answer.ok !== false, status: res.status, error: answer.error };
  } catch (err) {
    return { ok: false, status: 0, error: `server unreachable: ${err instanceof Error ? err.message : err}` };
  }
}

export function wsUrl() {
  const url = new URL('/ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const t = getToken();
  if (t) url.searchParams.set('token', t);
  return url.toString();
}
