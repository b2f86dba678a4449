// Members: the people who sign in with the organization's identity provider (docs/MEMBERS.md).
// List, add, edit, suspend (optionally deactivating the tokens they created), activate and
// remove. Every rule (who may grant what, the email's form, a unique email) is the server's:
// the page offers what GET /v1/session says the signed-in caller may grant, and shows the
// server's answer in words.

/** An API error about a member in words: a conflict is the server's own sentence (as it is:
 * it may start with an email). */
function say(error) {
  if (error && error.code === 'conflict') return `${error.message}.`;
  return describe(error);
}
import { api, describe } from './api.js';
import {
  h, field, errorBox, announce, confirmAction, openDialog, formatTime, scopeSummary, pageHeading, uid, actorLabel,
} from './ui.js';

const PAGE_SIZE = 25;
const state = { status: '', cursors: [null] };

function memberBadge(status) {
  return h('span', { class: `badge ${status === 'active' ? 'active' : 'inactive'}` },
    status === 'active' ? 'Active' : 'Suspended');
}

/**
 * The rights controls of a member form: audience, and scope all / read-only / custom (the
 * pairs the caller may grant). Returns the controls and a reader of their values.
 */
function rightsControls(me, rules, prefix, initial = { audience: '', scope: 'read-only' }) {
  let audienceControl;
  if (me.audiences === null) {
    audienceControl = h('input', {
      type: 'text', id: `${prefix}-audience`, required: true, spellcheck: 'false',
      value: initial.audience,
    });
  } else {
    audienceControl = h('select', { id: `${prefix}-audience` }, me.audiences.map((a) => h('option', { value: a }, a)));
    if (initial.audience) audienceControl.value = initial.audience;
  }
  const [audienceField] = field('Audience', audienceControl,
    me.audiences === null ? 'sigil: every audience (the organization); another: that service only.' : 'You manage this audience only.');
  const group = `${prefix}-scope`;
  const kinds = [['all', 'All permissions', me.grantable.all], ['read-only', 'Read only', me.grantable['read-only']],
    ['custom', 'Custom', me.grantable.pairs.length > 0]];
  const initialKind = Array.isArray(initial.scope) ? 'custom' : initial.scope;
  const radios = kinds.map(([value, label, allowed]) => {
    const input = h('input', { type: 'radio', name: group, value, id: `${group}-${value}`, disabled: !allowed, checked: value === initialKind });
    return h('div', { class: `choice${allowed ? '' : ' disabled'}` }, input, h('label', { for: input.id }, label));
  });
  const chosen = new Set(Array.isArray(initial.scope) ? initial.scope : []);
  const pairBoxes = me.grantable.pairs.map((pair) => {
    const box = h('input', { type: 'checkbox', id: uid(`${prefix}-pair`), dataset: { pair }, checked: chosen.has(pair) });
    return h('span', { class: 'choice' }, box, h('label', { for: box.id }, pair));
  });
  const custom = h('div', { class: 'catalog member-pairs', hidden: initialKind !== 'custom' }, pairBoxes);
  const scopeSet = h('fieldset', { class: 'group' }, h('legend', {}, 'Rights (scope)'), radios, custom);
  scopeSet.addEventListener('change', () => {
    custom.hidden = scopeSet.querySelector(`input[name="${group}"]:checked`)?.value !== 'custom';
  });
  function values() {
    const kind = scopeSet.querySelector(`input[name="${group}"]:checked`)?.value;
    const scope = kind === 'custom'
      ? [...custom.querySelectorAll('input[data-pair]:checked')].map((b) => b.dataset.pair) : kind;
    return { audience: audienceControl.value.trim(), scope };
  }
  return { nodes: [audienceField, scopeSet], values };
}

export async function membersPage(session) {
  if (!session.can('members.list')) {
    return h('section', { class: 'page' }, pageHeading('Members'),
      h('p', {}, 'You may not list members (members.list).'));
  }
  const me = session.me;
  const rules = await session.rules();
  const errors = errorBox();
  const tbody = h('tbody');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite', id: 'members-summary' });
  const prev = h('button', { type: 'button', class: 'secondary', id: 'members-prev' }, 'Previous');
  const next = h('button', { type: 'button', class: 'secondary', id: 'members-next' }, 'Next');

  const statusSelect = h('select', { id: 'members-status' }, h('option', { value: '' }, 'Any status'),
    (rules.member_statuses || ['active', 'suspended']).map((s) => h('option', { value: s }, s === 'active' ? 'Active' : 'Suspended')));
  statusSelect.value = state.status;
  const [statusField] = field('Status', statusSelect);
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter members' }, statusField);
  filters.addEventListener('submit', (event) => event.preventDefault());
  statusSelect.addEventListener('change', () => { state.status = statusSelect.value; state.cursors = [null]; load(); });

  async function run(promise, done) {
    errors.clear();
    try {
      const result = await promise;
      if (done) announce(done(result));
      await load();
      return result;
    } catch (error) {
      errors.show(say(error));
      return null;
    }
  }

  function editDialog(m) {
    const dialogErrors = errorBox();
    const [nameField, nameInput] = field('Name', h('input', { type: 'text', id: 'edit-member-name', value: m.name, maxlength: rules.name.max_bytes }));
    const rights = rightsControls(me, rules, 'edit-member', { audience: m.audience, scope: m.scope });
    const save = h('button', { type: 'button', class: 'primary', id: 'edit-member-save' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const dialog = openDialog({
      title: `Edit ${m.name}`, body: h('div', {}, h('p', { class: 'muted' }, m.email), nameField, ...rights.nodes, dialogErrors.node),
      actions: [cancel, save],
    });
    cancel.addEventListener('click', () => dialog.close());
    save.addEventListener('click', async () => {
      const { audience, scope } = rights.values();
      const body = {};
      if (nameInput.value.trim() !== m.name) body.name = nameInput.value.trim();
      if (audience !== m.audience) body.audience = audience;
      if (JSON.stringify(scope) !== JSON.stringify(m.scope)) body.scope = scope;
      if (Object.keys(body).length === 0) { dialog.close(); return; }
      dialogErrors.clear();
      try {
        await api('PATCH', `/v1/members/${m.id}`, body);
        dialog.close();
        announce(`Saved ${nameInput.value.trim()}.`);
        await load();
      } catch (error) { dialogErrors.show(say(error)); }
    });
  }

  function suspendDialog(m) {
    const tick = h('input', { type: 'checkbox', id: 'suspend-cascade', disabled: !session.can('tokens.deactivate') });
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'danger', id: 'suspend-confirm' }, 'Suspend');
    const dialog = openDialog({
      title: `Suspend ${m.name}?`,
      body: h('div', {},
        h('p', {}, `${m.name} (${m.email}) can no longer sign in, and their open sessions end at their next request.`),
        h('div', { class: 'choice' }, tick, h('label', { for: tick.id }, 'Also deactivate the active tokens they created')),
        session.can('tokens.deactivate') ? null : h('p', { class: 'hint' }, 'You may not deactivate tokens (tokens.deactivate).')),
      actions: [cancel, confirm],
    });
    cancel.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', async () => {
      const cascade = tick.checked;
      dialog.close();
      await run(api('POST', `/v1/members/${m.id}/suspend`, { cascade }), (result) => {
        const n = result.deactivated.length;
        return cascade ? `Suspended ${m.name}; ${n} token${n === 1 ? '' : 's'} deactivated.` : `Suspended ${m.name}.`;
      });
    });
  }

  function row(m) {
    const actions = [];
    if (session.can('members.update')) {
      actions.push(h('button', { type: 'button', class: 'icon', dataset: { act: 'edit' }, onclick: () => editDialog(m) }, 'Edit'));
      if (m.status === 'active') {
        actions.push(h('button', { type: 'button', class: 'icon', dataset: { act: 'suspend' }, onclick: () => suspendDialog(m) }, 'Suspend'));
      } else {
        actions.push(h('button', {
          type: 'button', class: 'icon', dataset: { act: 'activate' },
          onclick: () => run(api('POST', `/v1/members/${m.id}/activate`), () => `Activated ${m.name}.`),
        }, 'Activate'));
      }
    }
    if (session.can('members.delete')) {
      actions.push(h('button', {
        type: 'button', class: 'icon danger', dataset: { act: 'remove' },
        onclick: async () => {
          const ok = await confirmAction(`Remove ${m.name}?`,
            `${m.name} (${m.email}) leaves the members and their sessions end. The tokens they created stay; suspend with "deactivate their tokens" first to stop those.`,
            'Remove', true);
          if (ok) await run(api('DELETE', `/v1/members/${m.id}`), () => `Removed ${m.name}.`);
        },
      }, 'Remove'));
    }
    return h('tr', { dataset: { id: m.id, email: m.email } },
      h('td', { 'data-label': 'Name' }, m.name),
      h('td', { 'data-label': 'Email' }, m.email),
      h('td', { 'data-label': 'Audience' }, m.audience),
      h('td', { 'data-label': 'Rights' }, scopeSummary(m.scope)),
      h('td', { 'data-label': 'Status' }, memberBadge(m.status)),
      h('td', { 'data-label': 'Added by' }, actorLabel(m.created_by, m.created_by_name)),
      h('td', { 'data-label': 'Last sign-in' }, m.last_sign_in_at === null ? 'never' : formatTime(m.last_sign_in_at)),
      h('td', { 'data-label': 'Actions', class: 'row-actions' }, actions));
  }

  async function load() {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (state.status) params.set('status', state.status);
    const cursor = state.cursors[state.cursors.length - 1];
    if (cursor) params.set('cursor', cursor);
    try {
      const page = await api('GET', `/v1/members?${params}`);
      tbody.replaceChildren(...page.members.map(row));
      if (page.members.length === 0) tbody.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No member matches.')));
      const first = (state.cursors.length - 1) * PAGE_SIZE;
      summary.textContent = page.members.length === 0 ? 'No members shown.'
        : `Showing ${first + 1}–${first + page.members.length}${page.next_cursor ? ' (more on the next page)' : ''}.`;
      prev.disabled = state.cursors.length === 1;
      next.disabled = !page.next_cursor;
      next.onclick = () => { state.cursors.push(page.next_cursor); load(); };
    } catch (error) {
      errors.show(say(error));
    }
  }
  prev.addEventListener('click', () => { state.cursors.pop(); load(); });

  // Add a member.
  let addForm = null;
  if (session.can('members.create')) {
    const addErrors = errorBox();
    const [emailField, emailInput] = field('Email', h('input', {
      type: 'email', id: 'member-email', required: true, spellcheck: 'false', autocomplete: 'off',
      maxlength: rules.email ? rules.email.max_bytes : 254,
    }), 'The address the identity provider vouches for; stored lower-cased.');
    const [nameField, nameInput] = field('Name', h('input', { type: 'text', id: 'member-name', required: true, maxlength: rules.name.max_bytes }));
    const rights = rightsControls(me, rules, 'member');
    const submit = h('button', { type: 'submit', class: 'primary', id: 'member-add' }, 'Add member');
    // novalidate: the server's answer (its rules and words) is shown, not the browser's guess.
    addForm = h('form', { class: 'card', 'aria-labelledby': 'add-member-title', id: 'add-member', novalidate: true },
      h('h2', { id: 'add-member-title' }, 'Add a member'), emailField, nameField, ...rights.nodes, addErrors.node,
      h('p', { class: 'hint' }, 'You can give only rights you hold yourself; the server checks.'),
      h('div', { class: 'actions' }, submit));
    addForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      addErrors.clear();
      const { audience, scope } = rights.values();
      submit.disabled = true;
      try {
        const m = await api('POST', '/v1/members', { email: emailInput.value.trim(), name: nameInput.value.trim(), audience, scope });
        announce(`Added ${m.name} (${m.email}).`);
        emailInput.value = '';
        nameInput.value = '';
        await load();
      } catch (error) {
        addErrors.show(say(error));
      } finally {
        submit.disabled = false;
      }
    });
  }

  const table = h('table', { class: 'tokens members', 'aria-describedby': 'members-summary' },
    h('caption', { class: 'visually-hidden' }, 'Members'),
    h('thead', {}, h('tr', {}, ['Name', 'Email', 'Audience', 'Rights', 'Status', 'Added by', 'Last sign-in', 'Actions']
      .map((c) => h('th', { scope: 'col' }, c)))),
    tbody);
  const view = h('section', { class: 'page' }, pageHeading('Members'), filters, errors.node,
    h('div', { class: 'table-wrap' }, table), h('div', { class: 'pager' }, prev, next, summary), addForm);
  await load();
  return view;
}
