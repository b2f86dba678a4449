// Single sign-on: "Sign in with <provider>" beside token sign-in when the server has a provider
// (GET /v1/oidc). The button is a plain link to /v1/oidc/login: the browser leaves for the
// provider and comes back signed in (a session cookie, as token sign-in gives).
import { h } from './ui.js';

let answer = null;

/** The server's single sign-on settings, asked once: {configured, provider, login}. */
async function settings() {
  if (!answer) {
    answer = fetch('/v1/oidc', { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } })
      .then((response) => (response.ok ? response.json() : { configured: false }))
      .catch(() => ({ configured: false }));
  }
  return answer;
}

/** Adds the provider's button to the sign-in form, before the token field, when configured. */
export async function offerSSO(form) {
  const sso = await settings();
  if (!sso.configured || !form.isConnected) return;
  const link = h('a', { class: 'button primary sso', id: 'sso-login', href: sso.login }, `Sign in with ${sso.provider}`);
  const block = h('div', { class: 'sso-block' }, link, h('p', { class: 'hint' }, 'or sign in with an API token:'));
  form.querySelector('h1').after(block);
}
