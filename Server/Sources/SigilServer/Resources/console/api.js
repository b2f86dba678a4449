// The console's only way to the server: same-origin fetches to /v1 with the session cookie.
// The CSRF secret lives in this module's memory only (never storage, a URL or a log).

let csrf = null;
let onSignedOut = () => {};

export function setCSRF(value) { csrf = value; }
export function whenSignedOut(callback) { onSignedOut = callback; }

export class APIError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `the server answered HTTP ${status}`);
    this.status = status;
    this.code = body && body.error ? body.error : `http_${status}`;
    this.reason = body && body.reason ? body.reason : null;
    this.scope = body && body.scope ? body.scope : null;
  }
}

/** Calls the API; resolves to the parsed JSON (null for 204), rejects with an APIError. */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new APIError(0, { error: 'network', message: 'the server cannot be reached; check it is running' });
  }
  if (response.status === 204) return null;
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const error = new APIError(response.status, data);
    if (response.status === 401 && path !== '/v1/session') onSignedOut(error);
    throw error;
  }
  return data;
}

/** An API error in words a person can act on. */
export function describe(error) {
  if (!(error instanceof APIError)) return `Something went wrong: ${error && error.message ? error.message : error}`;
  switch (error.code) {
    case 'insufficient_scope':
      return `Your token may not do this (${error.scope || 'missing permission'}): ${error.message}.`;
    case 'invalid_token':
      // A member's session ended by the issuer (suspended, removed): the server's words.
      if (error.reason === 'member_suspended' || error.reason === 'member_removed') return error.message;
      return error.reason === 'session_expired'
        ? 'Your session ended. Sign in again.'
        : `The token was refused (${error.reason || 'invalid'}). Check it was pasted whole and is still active.`;
    case 'too_many_requests': return `Too many failed sign-ins from here: ${error.message}.`;
    case 'csrf_failed': return 'The request was refused as a possible cross-site request. Reload the page.';
    case 'conflict': return `Not possible in the token's current state: ${error.message}.`;
    case 'not_found': return `Not found: ${error.message}.`;
    case 'unavailable': return 'The server is busy. Try again in a moment.';
    default: return `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`;
  }
}
