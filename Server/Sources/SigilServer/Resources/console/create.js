// Create: a form that offers only what the signed-in token may grant, and a dialog that
// shows the new token once.
import { api, describe } from './api.js';
import {
  h, field, errorBox, openDialog, copyText, formatTime, pageHeading, uid, randomGUID, announce,
} from './ui.js';

/** UTF-8 length: the issuer limits names and descriptions in bytes, not characters. */
function byteLength(text) { return new TextEncoder().encode(text).length; }

/** `datetime-local` text (local time) as Unix seconds, or null when empty or invalid. */
function localSeconds(text) {
  if (!text) return null;
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

function radio(name, value, label, { checked = false, disabled = false, hint } = {}) {
  const input = h('input', { type: 'radio', name, value, id: uid(name), checked, disabled });
  return h('div', { class: `choice${disabled ? ' disabled' : ''}` }, input, h('label', { for: input.id }, label),
    hint ? h('span', { class: 'hint' }, hint) : null);
}

export async function createPage(session) {
  const me = session.me;
  if (!session.can('tokens.create')) {
    return h('section', { class: 'page' }, pageHeading('Create token'),
      h('p', {}, 'Your token may not create tokens (it lacks tokens.create).'));
  }
  const catalog = await api('GET', '/v1/catalog');
  // Every limit, pattern and message below comes from the issuer (GET /v1/rules, GET /v1/session).
  const rules = await session.rules();
  const audiencePattern = new RegExp(`^(?:${rules.audience.pattern})$`);
  const grantable = new Set(me.grantable.pairs);
  const errors = errorBox();

  // The GUID the token will get, drawn here before it exists (so it can be written down or put
  // in a config first) and sent as `guid`; the issuer refuses one it ever used (409).
  const guidInput = h('input', {
    type: 'text', id: 'token-guid', readonly: true, spellcheck: 'false', class: 'guid-preview', value: randomGUID(),
  });
  const [guidField] = field('GUID of the new token', guidInput,
    'Drawn at random in your browser. The token gets exactly this GUID when you create it.');
  const copyGUID = h('button', {
    type: 'button', class: 'secondary', id: 'copy-guid', onclick: () => copyText(guidInput.value, guidInput),
  }, 'Copy GUID');
  const regenerate = h('button', {
    type: 'button', class: 'secondary', id: 'regenerate-guid',
    onclick: () => { guidInput.value = randomGUID(); announce('A new GUID was drawn.'); },
  }, 'Regenerate');
  guidField.append(h('div', { class: 'actions left' }, copyGUID, regenerate));

  const [nameField, nameInput] = field('Name (required)', h('input', { type: 'text', id: 'token-name', maxlength: rules.name.max_bytes, required: true }));
  const [descriptionField, descriptionInput] = field('Description',
    h('textarea', { id: 'token-description', rows: 2, maxlength: rules.description.max_bytes }));
  let audienceControl;
  if (me.audiences === null) {
    audienceControl = h('input', { type: 'text', id: 'token-audience', required: true, spellcheck: 'false', pattern: rules.audience.pattern });
  } else {
    audienceControl = h('select', { id: 'token-audience' }, me.audiences.map((a) => h('option', { value: a }, a)));
  }
  const [audienceField] = field('Audience', audienceControl,
    me.audiences === null ? `The service the token is for: ${rules.audience.message.replace(/^audience /, '')}.` : 'Your token manages this audience only.');

  // Scope.
  const scopeAll = radio('scope-kind', 'all', 'All permissions', { disabled: !me.grantable.all });
  const scopeRead = radio('scope-kind', 'read-only', 'Read only', { disabled: !me.grantable['read-only'] });
  const scopeCustom = radio('scope-kind', 'custom', 'Custom', { disabled: grantable.size === 0 });
  const firstEnabled = [scopeAll, scopeRead, scopeCustom].find((c) => !c.querySelector('input').disabled);
  if (firstEnabled) firstEnabled.querySelector('input').checked = true;
  const customBox = h('div', { class: 'catalog', id: 'custom-scope', hidden: true });
  for (const resource of Object.keys(catalog.resources).sort()) {
    const actions = Object.keys(catalog.resources[resource]).sort();
    const allowed = actions.filter((a) => grantable.has(`${resource}.${a}`));
    const resourceBox = h('input', { type: 'checkbox', id: uid('res'), dataset: { resource }, disabled: allowed.length === 0 });
    const actionBoxes = actions.map((action) => {
      const pair = `${resource}.${action}`;
      const box = h('input', { type: 'checkbox', id: uid('act'), dataset: { pair }, disabled: !grantable.has(pair) });
      box.addEventListener('change', () => {
        const enabled = actionBoxes.filter((b) => !b.disabled);
        resourceBox.checked = enabled.length > 0 && enabled.every((b) => b.checked);
        resourceBox.indeterminate = !resourceBox.checked && enabled.some((b) => b.checked);
      });
      return box;
    });
    resourceBox.addEventListener('change', () => {
      for (const box of actionBoxes) if (!box.disabled) box.checked = resourceBox.checked;
      resourceBox.indeterminate = false;
    });
    const hintID = uid('hint');
    resourceBox.setAttribute('aria-describedby', hintID);
    customBox.append(h('fieldset', { class: 'resource' },
      h('legend', {}, resourceBox, h('label', { for: resourceBox.id }, `${resource}: every action listed today`)),
      h('p', { class: 'hint', id: hintID }, `Actions added to ${resource} later are not included.`),
      h('div', { class: 'actions-list' }, actionBoxes.map((box, i) => h('span', { class: 'choice' }, box,
        h('label', { for: box.id }, actions[i], ' ', h('span', { class: 'muted' }, `(${catalog.resources[resource][actions[i]]})`),
          box.disabled ? h('span', { class: 'muted' }, ' — not yours to grant') : null))))));
  }
  const scopeSet = h('fieldset', { class: 'group' }, h('legend', {}, 'Scope'), scopeAll, scopeRead, scopeCustom, customBox);

  // Window.
  const [fromField, fromInput] = field('Valid from (your local time; empty means now)',
    h('input', { type: 'datetime-local', id: 'token-valid-from' }));
  const callerEnd = me.valid_to;
  const callerStart = me.valid_from ?? null;
  const expiryYear = radio('expiry', 'default', callerEnd ? `One year (or ${formatTime(callerEnd)}, when your token expires, if sooner)` : 'One year (default)', { checked: true });
  const expiryNever = radio('expiry', 'never', 'Never expires', {
    disabled: callerEnd !== null, hint: callerEnd !== null ? '(only a token that never expires may grant this)' : undefined,
  });
  const expiryAt = radio('expiry', 'at', 'On a date');
  const [atField, atInput] = field('Expires at (your local time)', h('input', { type: 'datetime-local', id: 'token-valid-to' }));
  atField.hidden = true;
  const windowSet = h('fieldset', { class: 'group' }, h('legend', {}, 'Validity'), fromField, expiryYear, expiryNever, expiryAt, atField);

  const problems = h('ul', { class: 'problems', id: 'create-problems', 'aria-live': 'polite' });
  const save = h('button', { type: 'submit', class: 'primary', id: 'create-save', disabled: true, 'aria-describedby': 'create-problems' }, 'Create token');
  const form = h('form', { class: 'card create', novalidate: true, 'aria-labelledby': 'create-title' },
    guidField, nameField, descriptionField, audienceField, scopeSet, windowSet, problems, errors.node,
    h('div', { class: 'actions' }, h('a', { href: '#/tokens', class: 'button secondary' }, 'Cancel'), save));

  function kind() { return form.querySelector('input[name=scope-kind]:checked')?.value; }
  function expiryKind() { return form.querySelector('input[name=expiry]:checked')?.value; }
  function pairs() { return [...customBox.querySelectorAll('input[data-pair]:checked')].map((b) => b.dataset.pair); }

  /** The request body, or the list of what is still wrong. */
  function check() {
    const wrong = [];
    const now = Math.floor(Date.now() / 1000);
    if (!nameInput.value.trim()) wrong.push('Give the token a name.');
    if (byteLength(nameInput.value.trim()) > rules.name.max_bytes) wrong.push(`The name is longer than ${rules.name.max_bytes} bytes (UTF-8).`);
    if (byteLength(descriptionInput.value.trim()) > rules.description.max_bytes) {
      wrong.push(`The description is longer than ${rules.description.max_bytes} bytes (UTF-8).`);
    }
    const audience = audienceControl.value.trim();
    if (!audiencePattern.test(audience)) wrong.push(`The ${rules.audience.message}.`);
    let scope = kind();
    if (!scope) wrong.push('Your token may grant no scope.');
    if (scope === 'custom') {
      scope = pairs();
      if (scope.length === 0) wrong.push('Tick at least one action for a custom scope.');
    }
    const from = localSeconds(fromInput.value);
    if (fromInput.value && from === null) wrong.push('Valid from is not a date.');
    // The caller's window is the issuer's delegation rule, with the session's values.
    if (from !== null && callerStart !== null && from < callerStart) {
      wrong.push(`Valid from may not be earlier than your own token's (${formatTime(callerStart)}).`);
    }
    const body = {
      guid: guidInput.value, name: nameInput.value.trim(), description: descriptionInput.value.trim(), audience, scope,
    };
    if (from !== null) body.valid_from = new Date(from * 1000).toISOString().replace('.000Z', 'Z');
    const expiry = expiryKind();
    if (expiry === 'never') body.valid_to = null;
    if (expiry === 'at') {
      const to = localSeconds(atInput.value);
      if (to === null) wrong.push('Pick the expiry date and time.');
      else if (to <= now) wrong.push('The expiry is in the past: pick a later date.');
      else if (from !== null && to <= from) wrong.push('The expiry must come after Valid from.');
      else if (callerEnd !== null && to > callerEnd) wrong.push(`The expiry must be no later than your own token's (${formatTime(callerEnd)}).`);
      else body.valid_to = new Date(to * 1000).toISOString().replace('.000Z', 'Z');
    }
    return { body, wrong };
  }

  // The audience's lifetime policy, from the session: a hint only, as the issuer decides at
  // submit time (a policy set after sign-in is not in this page's copy).
  const policyHint = h('p', { class: 'hint', id: 'policy-hint', 'aria-live': 'polite' });
  audienceField.append(policyHint);
  function showPolicy() {
    const policy = (me.policies || []).find((p) => p.audience === audienceControl.value.trim());
    policyHint.textContent = policy
      ? `Audience ${policy.audience}: lifetime at most ${policy.max_lifetime}${policy.allow_never_expires ? '' : ', never-expiring tokens refused'}.`
      : '';
  }

  function refresh() {
    showPolicy();
    customBox.hidden = kind() !== 'custom';
    atField.hidden = expiryKind() !== 'at';
    const { wrong } = check();
    problems.replaceChildren(...wrong.map((w) => h('li', {}, w)));
    save.disabled = wrong.length > 0;
  }
  form.addEventListener('input', refresh);
  form.addEventListener('change', refresh);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const { body, wrong } = check();
    if (wrong.length > 0) return;
    errors.clear();
    save.disabled = true;
    try {
      const created = await api('POST', '/v1/tokens', body);
      showOnce(created);
    } catch (error) {
      if (error.code === 'conflict' && /^guid /.test(error.message)) {
        // The issuer never reuses a GUID: draw another and let the person look before retrying.
        guidInput.value = randomGUID();
        errors.show(`That GUID was already used in this ledger, so a new one was drawn: ${guidInput.value}. Create again to use it.`);
      } else {
        errors.show(describe(error));
      }
      save.disabled = false;
    }
  });
  refresh();

  return h('section', { class: 'page' }, pageHeading('Create token'), h('span', { id: 'create-title', hidden: true }, 'Create token'), form);
}

/** The shown-once dialog: Copy, Download, and Close only after the tick. */
function showOnce(created) {
  let token = created.token;
  delete created.token;
  const text = h('textarea', {
    id: 'new-token', readonly: true, rows: 3, spellcheck: 'false', class: 'secret', 'aria-label': 'Your new token',
  });
  text.value = token;
  const tick = h('input', { type: 'checkbox', id: 'copied-tick' });
  const close = h('button', { type: 'button', class: 'primary', id: 'close-token', disabled: true }, 'Close');
  tick.addEventListener('change', () => { close.disabled = !tick.checked; });
  const copy = h('button', { type: 'button', class: 'secondary', id: 'copy-token', onclick: () => copyText(token, text) }, 'Copy');
  const download = h('button', {
    type: 'button', class: 'secondary', id: 'download-token',
    onclick: () => {
      const url = URL.createObjectURL(new Blob([`${token}\n`], { type: 'text/plain' }));
      const link = h('a', { href: url, download: `sigil-token-${created.guid.slice(0, 8)}.txt`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    },
  }, 'Download');
  const body = h('div', {},
    h('p', { class: 'warning' }, 'This is the only time the token is shown. Sigil never stores it: copy it now.'),
    h('p', {}, `“${created.name}” · ${created.audience} · GUID `, h('code', {}, created.guid)),
    text,
    h('div', { class: 'actions left' }, copy, download),
    h('div', { class: 'choice' }, tick, h('label', { for: tick.id }, 'I have copied my token to a safe place')));
  const dialog = openDialog({ title: 'Your new token', body, actions: [close], canClose: () => tick.checked });
  close.addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    text.value = '';
    token = null;
    location.hash = `#/token/${created.guid}`;
  });
  text.focus();
  text.select();
}
