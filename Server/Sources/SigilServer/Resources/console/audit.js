// Audit: the event log, newest first, filtered by actor, action and time.
import { api, describe } from './api.js';
import { h, field, errorBox, formatTime, pageHeading, actorLabel } from './ui.js';

export async function auditPage(session) {
  if (!session.can('audit.list')) {
    return h('section', { class: 'page' }, pageHeading('Audit'), h('p', {}, 'Your token may not read the audit log (audit.list).'));
  }
  const rules = await session.rules();
  const errors = errorBox();
  const [actorField, actorInput] = field('Actor', h('input', { type: 'search', id: 'audit-actor', spellcheck: 'false' }),
    'e.g. alice, token:<GUID>, member:<email>, sigil-server');
  const actionSelect = h('select', { id: 'audit-action' }, h('option', { value: '' }, 'Any action'),
    rules.audit_actions.map((a) => h('option', { value: a }, a)));
  const [actionField] = field('Action', actionSelect);
  const [sinceField, sinceInput] = field('Since (your local time)', h('input', { type: 'datetime-local', id: 'audit-since' }));
  const apply = h('button', { type: 'submit', class: 'primary' }, 'Apply');
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter events' }, actorField, actionField, sinceField, apply);
  const tbody = h('tbody');
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older events');
  let cursor = null;

  async function load(append) {
    errors.clear();
    const params = new URLSearchParams({ limit: '50' });
    if (actorInput.value.trim()) params.set('actor', actorInput.value.trim());
    if (actionSelect.value) params.set('action', actionSelect.value);
    if (sinceInput.value) params.set('since', new Date(sinceInput.value).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    if (append && cursor) params.set('cursor', cursor);
    try {
      const page = await api('GET', `/v1/audit?${params}`);
      const rows = page.events.map((e) => h('tr', {},
        h('td', { 'data-label': 'When' }, formatTime(e.at)),
        h('td', { 'data-label': 'Actor' }, actorLabel(e.actor, e.actor_name)),
        h('td', { 'data-label': 'Action' }, e.action),
        h('td', { 'data-label': 'Tokens' }, e.guids.map((g) => h('a', { href: `#/token/${g}`, class: 'guid-link' }, `${g.slice(0, 8)}… `))),
        h('td', { 'data-label': 'Details' }, Object.keys(e.details).length ? JSON.stringify(e.details) : '')));
      if (append) tbody.append(...rows); else tbody.replaceChildren(...rows);
      if (!append && rows.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No event matches.')));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) { errors.show(describe(error)); }
  }
  form.addEventListener('submit', (event) => { event.preventDefault(); load(false); });
  actionSelect.addEventListener('change', () => load(false));
  more.addEventListener('click', () => load(true));
  const view = h('section', { class: 'page' }, pageHeading('Audit'), form, errors.node,
    h('div', { class: 'table-wrap' }, h('table', { class: 'events-table' },
      h('caption', { class: 'visually-hidden' }, 'Audit events, newest first'),
      h('thead', {}, h('tr', {}, ['When', 'Actor', 'Action', 'Tokens', 'Details'].map((c) => h('th', { scope: 'col' }, c)))),
      tbody)),
    h('div', { class: 'pager' }, more));
  await load(false);
  return view;
}
