// Small DOM helpers shared by the pages: element building (text nodes only, never markup),
// dialogs that keep focus inside, confirmations, the status line and formatting.

/** Builds an element: h('button', {type: 'button', onclick: f}, 'Save'). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let fieldCounter = 0;
/** A unique id for label/for pairs. */
export function uid(prefix) { fieldCounter += 1; return `${prefix}-${fieldCounter}`; }

/** A labelled field: returns [wrapper, control]. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hintNode = h('p', { class: 'hint', id: uid('hint') }, hint);
    control.setAttribute('aria-describedby', hintNode.id);
    parts.push(hintNode);
  }
  return [h('div', { class: 'field' }, parts), control];
}

let statusTimer = null;
/** Shows a short message in the live region (read out by screen readers). */
export function announce(message, kind = 'info') {
  const status = document.getElementById('status');
  status.textContent = message;
  status.dataset.kind = kind;
  status.classList.add('shown');
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => status.classList.remove('shown'), kind === 'error' ? 9000 : 4000);
}

/** An inline error box for a form or page. */
export function errorBox() {
  const box = h('p', { class: 'error', role: 'alert', hidden: true });
  return {
    node: box,
    show(message) { box.textContent = message; box.hidden = false; },
    clear() { box.textContent = ''; box.hidden = true; },
  };
}

function focusable(root) {
  return [...root.querySelectorAll('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])')]
    .filter((el) => !el.disabled && !el.hidden && el.offsetParent !== null);
}

/**
 * Opens a modal dialog. Focus stays inside (Tab and Shift+Tab wrap) and returns to the
 * element that had it when the dialog closes. `canClose` guards Escape.
 */
export function openDialog({ title, body, actions, canClose = () => true, labelledBy }) {
  const heading = h('h2', { id: uid('dlg') }, title);
  const dialog = h('dialog', { 'aria-labelledby': labelledBy || heading.id, class: 'dialog' },
    heading, body, h('div', { class: 'actions' }, actions));
  const opener = document.activeElement;
  dialog.addEventListener('keydown', (event) => {
    if (event.key !== 'Tab') return;
    const items = focusable(dialog);
    if (items.length === 0) { event.preventDefault(); return; }
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && document.activeElement === last) { event.preventDefault(); first.focus(); }
  });
  dialog.addEventListener('cancel', (event) => { if (!canClose()) event.preventDefault(); });
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = focusable(dialog).find((el) => !el.classList.contains('danger')) || focusable(dialog)[0];
  if (first) first.focus();
  return dialog;
}

/** Asks to confirm; resolves true when the person confirms. */
export function confirmAction(title, message, confirmLabel, danger = true) {
  return new Promise((resolve) => {
    let answer = false;
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel');
    const confirm = h('button', {
      type: 'button', class: danger ? 'danger' : 'primary',
      onclick: () => { answer = true; dialog.close(); },
    }, confirmLabel);
    const dialog = openDialog({ title, body: h('p', {}, message), actions: [cancel, confirm] });
    dialog.addEventListener('close', () => resolve(answer));
  });
}

/** Copies text; falls back to selecting it in `source` when the Clipboard API is refused. */
export async function copyText(text, source) {
  try {
    await navigator.clipboard.writeText(text);
    announce('Copied to the clipboard.');
    return true;
  } catch {
    if (source && source.select) {
      source.focus();
      source.select();
      if (document.execCommand && document.execCommand('copy')) { announce('Copied to the clipboard.'); return true; }
    }
    announce('Copying was blocked by the browser: select the text and copy it yourself.', 'error');
    return false;
  }
}

/** Unix seconds as "2026-11-28 13:40 UTC". */
export function formatTime(seconds) {
  if (seconds === null || seconds === undefined) return 'never';
  return `${new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A token's scope in a few words. */
export function scopeSummary(scope) {
  if (scope === 'all') return 'All permissions';
  if (scope === 'read-only') return 'Read only';
  if (!Array.isArray(scope)) return String(scope);
  const byResource = new Map();
  for (const pair of scope) {
    const [resource, action] = pair.split('.');
    if (!byResource.has(resource)) byResource.set(resource, []);
    byResource.get(resource).push(action);
  }
  return [...byResource].map(([resource, actions]) => `${resource}: ${actions.join(', ')}`).join('; ');
}

export function statusLabel(status) {
  return { active: 'Active', inactive: 'Inactive', revoked: 'Revoked' }[status] || status;
}

export function statusBadge(status) {
  return h('span', { class: `badge ${status}` }, statusLabel(status));
}

/** A page heading that takes focus, so keyboard and screen-reader users land on it. */
export function pageHeading(text) {
  return h('h1', { tabindex: '-1', class: 'page-title' }, text);
}

/**
 * A fresh random version-4 UUID, drawn in the browser: `crypto.randomUUID` where the page is a
 * secure context, else 16 bytes from `crypto.getRandomValues` with the version and variant
 * bits set (RFC 9562). The server decides whether it may be used (ChosenGUID); this only draws.
 */
export function randomGUID() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Who made a change, for people: the name the server sent (`created_by_name`, `actor_name`)
 * with the raw actor in a tooltip, or the raw actor (a `token:<GUID>` shortened) when the
 * ledger knows no name. `detail` also writes the token's GUID (linked) or the member's email.
 */
export function actorLabel(actor, name, { detail = false } = {}) {
  const tokenGUID = actor.startsWith('token:') ? actor.slice(6) : null;
  const email = actor.startsWith('member:') ? actor.slice(7) : null;
  if (!name) {
    if (tokenGUID) {
      return detail ? h('span', { class: 'actor' }, 'token ', h('a', { href: `#/token/${tokenGUID}` }, h('code', {}, tokenGUID)))
        : h('span', { class: 'actor', title: actor }, `token:${tokenGUID.slice(0, 8)}…`);
    }
    return h('span', { class: 'actor', title: actor }, actor);
  }
  if (!detail) return h('span', { class: 'actor', title: actor }, name);
  if (tokenGUID) {
    return h('span', { class: 'actor' }, name, ' (token ', h('a', { href: `#/token/${tokenGUID}` }, h('code', {}, tokenGUID)), ')');
  }
  if (email) return h('span', { class: 'actor' }, name, ' ', h('span', { class: 'muted' }, `(${email})`));
  return h('span', { class: 'actor', title: actor }, name);
}
