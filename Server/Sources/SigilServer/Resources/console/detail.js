// Token detail: every field, edit name and description, deactivate/activate, revoke,
// delete, its audit events and the tokens it created.
import { api, describe } from './api.js';
import {
  h, field, errorBox, announce, confirmAction, copyText, formatTime, scopeSummary, statusBadge, pageHeading,
  actorLabel,
} from './ui.js';

function row(label, ...value) { return [h('dt', {}, label), h('dd', {}, ...value)]; }

function eventList(events, emptyText) {
  if (events.length === 0) return h('p', { class: 'muted' }, emptyText);
  return h('ul', { class: 'events' }, events.map((e) => h('li', {},
    h('time', {}, formatTime(e.at)), ' ', h('strong', {}, e.action), ' by ', actorLabel(e.actor, e.actor_name),
    Object.keys(e.details).length ? h('span', { class: 'muted' }, ` ${JSON.stringify(e.details)}`) : null)));
}

export async function detailPage(session, guid) {
  const token = await api('GET', `/v1/tokens/${encodeURIComponent(guid)}`);
  const errors = errorBox();
  const status = token.status === 'active' ? 'Active' : token.status === 'inactive' ? 'Inactive' : 'Revoked';

  const details = h('dl', { class: 'details' },
    row('Name', token.name),
    row('Description', token.description || '—'),
    row('GUID', h('code', {}, token.guid), ' ', h('button', {
      type: 'button', class: 'icon', onclick: () => copyText(token.guid), 'aria-label': 'Copy GUID',
    }, 'Copy')),
    row('Status', statusBadge(token.status), token.revoked_at ? ` since ${formatTime(token.revoked_at)}` : ''),
    row('Audience', token.audience),
    row('Scope', scopeSummary(token.scope)),
    row('Valid from', formatTime(token.valid_from)),
    row('Expires', token.valid_to === null ? 'never' : formatTime(token.valid_to)),
    row('Created', formatTime(token.created_at), ' by ',
      h('span', { id: 'created-by' }, actorLabel(token.created_by, token.created_by_name, { detail: true }))),
    row('Updated', formatTime(token.updated_at)),
    row('Key ID', h('code', {}, token.kid)),
    row('Created by token', token.parent ? h('a', { href: `#/token/${token.parent}` }, token.parent) : '—'));

  // Edit name and description (the rest is sealed into the token).
  let editForm = null;
  // The issuer lets a revoked token be renamed (its record stays readable): so does the page.
  if (session.can('tokens.update')) {
    const rules = await session.rules();
    const [nameField, nameInput] = field('Name', h('input', { type: 'text', id: 'edit-name', value: token.name, required: true, maxlength: rules.name.max_bytes }));
    const [descriptionField, descriptionInput] = field('Description',
      h('textarea', { id: 'edit-description', rows: 2 }, token.description));
    const saveEdit = h('button', { type: 'submit', class: 'primary', id: 'edit-save' }, 'Save changes');
    editForm = h('form', { class: 'card', 'aria-label': 'Edit name and description' },
      h('h2', {}, 'Edit'), nameField, descriptionField,
      h('p', { class: 'hint' }, 'Scope, audience and validity are sealed into the token: issue a new token to change them.'),
      h('div', { class: 'actions' }, saveEdit));
    nameInput.addEventListener('input', () => { saveEdit.disabled = !nameInput.value.trim(); });
    editForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      errors.clear();
      try {
        await api('PATCH', `/v1/tokens/${token.guid}`, { name: nameInput.value.trim(), description: descriptionInput.value.trim() });
        announce('Saved.');
        window.dispatchEvent(new HashChangeEvent('hashchange'));
      } catch (error) { errors.show(describe(error)); }
    });
  }

  async function change(action, label, message, danger) {
    if (!(await confirmAction(`${label} “${token.name}”?`, message, label, danger))) return;
    errors.clear();
    try {
      if (action === 'delete') await api('DELETE', `/v1/tokens/${token.guid}`);
      else await api('POST', `/v1/tokens/${token.guid}/${action}`);
      announce(`${label}: done.`);
      if (action === 'delete') location.hash = '#/tokens';
      else window.dispatchEvent(new HashChangeEvent('hashchange'));
    } catch (error) { errors.show(describe(error)); }
  }

  const buttons = [];
  if (token.status === 'active' && session.can('tokens.deactivate')) {
    buttons.push(h('button', { type: 'button', class: 'secondary', id: 'deactivate', onclick: () => change('deactivate', 'Deactivate', 'The token stops working until it is activated again.', false) }, 'Deactivate'));
  }
  if (token.status === 'inactive' && session.can('tokens.activate')) {
    buttons.push(h('button', { type: 'button', class: 'secondary', id: 'activate', onclick: () => change('activate', 'Activate', 'The token works again.', false) }, 'Activate'));
  }
  if (session.can('tokens.revoke')) {
    buttons.push(h('button', {
      type: 'button', class: 'danger', id: 'revoke', disabled: token.status === 'revoked',
      onclick: () => change('revoke', 'Revoke', 'The token stops working for good; services refuse it once they fetch the next revocation list.', true),
    }, token.status === 'revoked' ? 'Revoked' : 'Revoke'));
  }
  if (session.can('tokens.delete')) {
    buttons.push(h('button', { type: 'button', class: 'danger', id: 'delete', onclick: () => change('delete', 'Delete', 'The token is revoked and leaves the list. This cannot be undone.', true) }, 'Delete'));
  }

  // Its audit events, and the tokens it created (its "issue" events as actor).
  let events = h('p', { class: 'muted' }, 'Your token may not read the audit log.');
  let children = events.cloneNode(true);
  if (session.can('audit.list')) {
    try {
      const about = await api('GET', `/v1/audit?guid=${token.guid}&limit=50`);
      events = eventList(about.events, 'No events.');
      const issued = await api('GET', `/v1/audit?actor=${encodeURIComponent(`token:${token.guid}`)}&action=issue&limit=100`);
      const guids = [...new Set(issued.events.flatMap((e) => e.guids))];
      children = guids.length === 0 ? h('p', { class: 'muted' }, 'This token created no tokens.')
        : h('ul', { class: 'children' }, guids.map((g) => h('li', {}, h('a', { href: `#/token/${g}` }, g))));
    } catch (error) {
      events = h('p', { class: 'error' }, describe(error));
    }
  }

  return h('section', { class: 'page' },
    h('p', {}, h('a', { href: '#/tokens' }, '← All tokens')),
    pageHeading(`${token.name} (${status})`),
    errors.node,
    h('div', { class: 'card' }, details, buttons.length ? h('div', { class: 'actions left' }, buttons) : null),
    editForm,
    h('section', { class: 'card', 'aria-labelledby': 'events-title' }, h('h2', { id: 'events-title' }, 'Audit events'), events),
    h('section', { class: 'card', 'aria-labelledby': 'children-title' }, h('h2', { id: 'children-title' }, 'Tokens it created'), children));
}
