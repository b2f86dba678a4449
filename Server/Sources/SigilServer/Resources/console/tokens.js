// Tokens: search, filter, sort, page, select, and change many at once.
import { api, describe } from './api.js';
import {
  h, field, errorBox, announce, confirmAction, copyText, formatTime, scopeSummary, statusBadge, pageHeading,
  actorLabel,
} from './ui.js';

const PAGE_SIZE = 25;
// Kept across visits so coming back from a token keeps the search.
const state = { name: '', guid: '', scope: '', status: '', sort: 'created', mine: false, cursors: [null] };

const BULK = [
  { action: 'deactivate', label: 'Deactivate', done: 'Deactivated', permission: 'tokens.deactivate', danger: false },
  { action: 'revoke', label: 'Revoke', done: 'Revoked', permission: 'tokens.revoke', danger: true },
  { action: 'delete', label: 'Delete', done: 'Deleted', permission: 'tokens.delete', danger: true },
];

function plural(n) { return `${n} token${n === 1 ? '' : 's'}`; }

export async function tokensPage(session) {
  const errors = errorBox();
  const selected = new Set();
  const tbody = h('tbody');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite', id: 'list-summary' });
  const selectAll = h('input', { type: 'checkbox', 'aria-label': 'Select every token on this page', id: 'select-all' });
  const selectionText = h('span', { id: 'selection-count' }, 'No token selected');
  const bulkButtons = BULK.filter((b) => session.can(b.permission)).map((b) => h('button', {
    type: 'button', class: b.danger ? 'danger' : 'secondary', disabled: true, dataset: { bulk: b.action },
    onclick: () => runBulk(b),
  }, b.label));
  const canBulk = bulkButtons.length > 0;
  const prev = h('button', { type: 'button', class: 'secondary', id: 'prev-page' }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary', id: 'next-page' }, 'Next');
  const pageText = h('span', { class: 'muted' });

  const [nameField, nameInput] = field('Name contains (every word)',
    h('input', { type: 'search', id: 'search-name', value: state.name }));
  const [guidField, guidInput] = field('GUID starts with',
    h('input', { type: 'search', id: 'search-guid', value: state.guid, spellcheck: 'false' }));
  const scopeSelect = h('select', { id: 'filter-scope' },
    h('option', { value: '' }, 'Any scope'), h('option', { value: 'all' }, 'All permissions'),
    h('option', { value: 'read-only' }, 'Read only'));
  const catalog = await api('GET', '/v1/catalog');
  for (const resource of Object.keys(catalog.resources).sort()) {
    for (const action of Object.keys(catalog.resources[resource]).sort()) {
      scopeSelect.append(h('option', { value: `${resource}.${action}` }, `Grants ${resource}.${action}`));
    }
  }
  scopeSelect.value = state.scope;
  const [scopeField] = field('Scope', scopeSelect);
  const rules = await session.rules();
  const capitalized = (text) => text.charAt(0).toUpperCase() + text.slice(1);
  const statusSelect = h('select', { id: 'filter-status' }, h('option', { value: '' }, 'Any status'),
    rules.statuses.map((s) => h('option', { value: s }, capitalized(s))));
  statusSelect.value = state.status;
  const [statusField] = field('Status', statusSelect);
  const sortSelect = h('select', { id: 'sort' }, rules.sorts.map((s) => h('option', { value: s }, capitalized(s))));
  sortSelect.value = state.sort;
  const [sortField] = field('Sort by', sortSelect);
  // The server knows who "me" is (the session's actor): the page only asks created_by_me=true.
  const mineBox = h('input', { type: 'checkbox', id: 'filter-mine', checked: state.mine });
  const mineField = h('div', { class: 'field choice mine' }, mineBox, h('label', { for: mineBox.id }, 'Created by me'));

  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Find tokens' },
    nameField, guidField, scopeField, statusField, sortField, mineField,
    h('button', { type: 'submit', class: 'secondary', id: 'search-apply' }, 'Search'));

  function updateSelection() {
    const n = selected.size;
    selectionText.textContent = n === 0 ? 'No token selected' : `${plural(n)} selected`;
    for (const button of bulkButtons) button.disabled = n === 0;
    const boxes = [...tbody.querySelectorAll('input[type=checkbox]')];
    selectAll.checked = boxes.length > 0 && boxes.every((b) => b.checked);
  }

  function row(t) {
    const box = h('input', {
      type: 'checkbox', 'aria-label': `Select ${t.name}`, dataset: { guid: t.guid }, checked: selected.has(t.guid),
    });
    box.addEventListener('change', () => {
      if (box.checked) selected.add(t.guid); else selected.delete(t.guid);
      updateSelection();
    });
    const guidText = h('code', { title: t.guid }, `${t.guid.slice(0, 8)}…`);
    return h('tr', { dataset: { guid: t.guid } },
      canBulk ? h('td', {}, box) : null,
      h('td', { 'data-label': 'Name' }, h('a', { href: `#/token/${t.guid}` }, t.name)),
      h('td', { 'data-label': 'GUID', class: 'guid' }, guidText, ' ', h('button', {
        type: 'button', class: 'icon', 'aria-label': `Copy GUID of ${t.name}`,
        onclick: () => copyText(t.guid),
      }, 'Copy')),
      h('td', { 'data-label': 'Audience' }, t.audience),
      h('td', { 'data-label': 'Scope' }, scopeSummary(t.scope)),
      h('td', { 'data-label': 'Creator' }, actorLabel(t.created_by, t.created_by_name)),
      h('td', { 'data-label': 'Valid from' }, formatTime(t.valid_from)),
      h('td', { 'data-label': 'Expires' }, t.valid_to === null ? 'never' : formatTime(t.valid_to)),
      h('td', { 'data-label': 'Status' }, statusBadge(t.status)));
  }

  async function load() {
    errors.clear();
    const params = new URLSearchParams({ sort: state.sort, limit: String(PAGE_SIZE) });
    if (state.name.trim()) params.set('name', state.name.trim());
    if (state.guid.trim()) params.set('guid', state.guid.trim());
    if (state.scope) params.set('scope', state.scope);
    if (state.status) params.set('status', state.status);
    if (state.mine) params.set('created_by_me', 'true');
    const cursor = state.cursors[state.cursors.length - 1];
    if (cursor) params.set('cursor', cursor);
    try {
      const page = await api('GET', `/v1/tokens?${params}`);
      tbody.replaceChildren(...page.tokens.map(row));
      if (page.tokens.length === 0) {
        tbody.append(h('tr', {}, h('td', { colspan: canBulk ? 9 : 8, class: 'muted' }, 'No token matches.')));
      }
      const first = (state.cursors.length - 1) * PAGE_SIZE;
      summary.textContent = page.tokens.length === 0 ? 'No tokens shown.'
        : `Showing ${first + 1}–${first + page.tokens.length}${page.next_cursor ? ' (more on the next page)' : ''}.`;
      pageText.textContent = `Page ${state.cursors.length}`;
      prev.disabled = state.cursors.length === 1;
      next.disabled = !page.next_cursor;
      next.onclick = () => { state.cursors.push(page.next_cursor); load(); };
      updateSelection();
    } catch (error) {
      errors.show(describe(error));
    }
  }

  prev.addEventListener('click', () => { state.cursors.pop(); load(); });
  selectAll.addEventListener('change', () => {
    for (const box of tbody.querySelectorAll('input[type=checkbox]')) {
      box.checked = selectAll.checked;
      if (box.checked) selected.add(box.dataset.guid); else selected.delete(box.dataset.guid);
    }
    updateSelection();
  });

  let debounce = null;
  function refilter() {
    state.name = nameInput.value;
    state.guid = guidInput.value;
    state.scope = scopeSelect.value;
    state.status = statusSelect.value;
    state.sort = sortSelect.value;
    state.mine = mineBox.checked;
    state.cursors = [null];
    selected.clear();
    load();
  }
  filters.addEventListener('submit', (event) => { event.preventDefault(); refilter(); });
  for (const input of [nameInput, guidInput]) {
    input.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(refilter, 250); });
  }
  for (const select of [scopeSelect, statusSelect, sortSelect, mineBox]) select.addEventListener('change', refilter);

  async function runBulk(b) {
    const n = selected.size;
    if (n === 0) return;
    const consequence = {
      deactivate: 'They stop working until activated again.',
      revoke: 'They stop working for good; services refuse them once they fetch the next revocation list.',
      delete: 'They are revoked and leave this list; this cannot be undone.',
    }[b.action];
    const ok = await confirmAction(`${b.label} ${plural(n)}?`, `${b.label} ${plural(n)}? ${consequence}`,
      `${b.label} ${plural(n)}`, b.danger);
    if (!ok) return;
    try {
      const result = await api('POST', '/v1/tokens/bulk', { action: b.action, guids: [...selected] });
      announce(`${b.done} ${plural(result.count)}.`);
      selected.clear();
      await load();
    } catch (error) {
      errors.show(describe(error));
    }
  }

  const table = h('table', { class: 'tokens', 'aria-describedby': 'list-summary' },
    h('caption', { class: 'visually-hidden' }, 'Tokens'),
    h('thead', {}, h('tr', {},
      canBulk ? h('th', { scope: 'col' }, selectAll) : null, ...['Name', 'GUID', 'Audience', 'Scope', 'Creator', 'Valid from', 'Expires',
        'Status'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody);

  const view = h('section', { class: 'page' },
    h('div', { class: 'page-head' }, pageHeading('Tokens'),
      session.can('tokens.create') ? h('a', { href: '#/create', class: 'button primary' }, 'Create token') : null),
    filters,
    canBulk ? h('div', { class: 'bulk', role: 'group', 'aria-label': 'Change the selected tokens' },
      selectionText, bulkButtons) : null,
    errors.node,
    h('div', { class: 'table-wrap' }, table),
    h('div', { class: 'pager' }, prev, pageText, next, summary));
  await load();
  return view;
}
