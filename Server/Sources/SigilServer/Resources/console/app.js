// Entry point: sign-in, sign-out, and the hash router (#/tokens, #/create, #/token/<guid>, #/audit,
// #/members).
import { api, setCSRF, whenSignedOut, describe } from './api.js';
import { h, field, errorBox, announce, pageHeading } from './ui.js';
import { tokensPage } from './tokens.js';
import { createPage } from './create.js';
import { detailPage } from './detail.js';
import { auditPage } from './audit.js';
import { offerSSO } from './sso.js';
import { membersPage } from './members.js';

const main = document.getElementById('main');
const bar = document.getElementById('bar');
let me = null;
let rules = null;

/** The signed-in token, as GET/POST /v1/session describe it. */
const session = {
  get me() { return me; },
  can(permission) { return Boolean(me && me.permissions.includes(permission)); },
  /** The issuer's limits and enumerations (GET /v1/rules): the console keeps none of its own. */
  async rules() {
    if (!rules) rules = await api('GET', '/v1/rules');
    return rules;
  },
};

function signedIn(info) {
  me = info;
  setCSRF(info.csrf_token);
  bar.hidden = false;
  // A person (a member's single sign-on) by name and email; a token by audience and GUID.
  const who = document.getElementById('who');
  if (info.member) {
    who.textContent = `Signed in as ${info.member.name} (${info.member.email})`;
    who.title = info.actor;
  } else {
    who.textContent = `Signed in: ${info.audience} · ${info.guid.slice(0, 8)}…`;
    who.title = info.actor || `token:${info.guid}`;
  }
  document.getElementById('nav-create').hidden = !session.can('tokens.create');
  document.getElementById('nav-audit').hidden = !session.can('audit.list');
  document.getElementById('nav-tokens').hidden = !session.can('tokens.list');
  document.getElementById('nav-members').hidden = !session.can('members.list');
}

function signedOut(message) {
  me = null;
  rules = null;
  setCSRF(null);
  bar.hidden = true;
  showSignIn(message);
}

function showSignIn(message) {
  const errors = errorBox();
  const [tokenField, input] = field('API token', h('input', {
    type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'sgl_…',
  }), 'Paste a Sigil token. It is exchanged for a session cookie and never stored by this page.');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to Sigil'), tokenField, errors.node, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errors.clear();
    submit.disabled = true;
    try {
      const info = await api('POST', '/v1/session', { token: input.value.trim() });
      input.value = '';
      signedIn(info);
      if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/tokens';
      else route();
    } catch (error) {
      errors.show(describe(error));
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  main.replaceChildren(form);
  offerSSO(form);
  if (message) errors.show(message);
  input.focus();
}

let routeCount = 0;

async function route() {
  if (!me) return;
  const current = ++routeCount;
  const hash = location.hash || '#/tokens';
  const [, page, arg] = hash.split('/');
  for (const link of bar.querySelectorAll('nav a')) {
    if (link.getAttribute('href') === `#/${page}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  let view;
  try {
    if (page === 'create') view = await createPage(session);
    else if (page === 'token' && arg) view = await detailPage(session, decodeURIComponent(arg));
    else if (page === 'audit') view = await auditPage(session);
    else if (page === 'members') view = await membersPage(session);
    else view = await tokensPage(session);
  } catch (error) {
    if (!me) return;
    view = h('section', {}, pageHeading('Something went wrong'), h('p', { class: 'error', role: 'alert' }, describe(error)));
  }
  if (!me) return;  // signed out while the page loaded (its token was refused): stay on sign-in
  if (current !== routeCount) return;  // a later navigation won
  main.replaceChildren(view);
  const heading = main.querySelector('h1');
  if (heading) heading.focus();
}

document.getElementById('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/v1/session'); } catch { /* the session is gone either way */ }
  signedOut();
  history.replaceState(null, '', '#/tokens');
  announce('Signed out.');
});

whenSignedOut((error) => { if (me) signedOut(describe(error)); });
window.addEventListener('hashchange', route);

(async () => {
  try {
    signedIn(await api('GET', '/v1/session'));
    route();
  } catch (error) {
    // No session is the normal start; a session that ended (revoked token, expiry) says so.
    const ended = error.status === 401 && error.reason && error.reason !== 'missing_token';
    signedOut(ended ? describe(error) : undefined);
  }
})();
