// Pieces several views share: photos, avatars, status badges, prices and
// form fields with their error slots.

import { h } from '../dom.js';
import { fileURL } from '../api.js';
import { formatPrice } from '../format.js';
import { fieldErrors } from '../stores/emitter.js';

/** postPhoto is a post's first photo (or a placeholder), as a thumbnail. */
export function postPhoto(ctx, post, thumb = '100x100', cls = 'thumb') {
  const name = post?.images?.[0];
  if (!name) return h('div', { class: `${cls} thumb-empty`, role: 'img', 'aria-label': ctx.t('no_photo') }, h('span', { 'aria-hidden': 'true', text: '📦' }));
  return h('img', {
    class: cls, src: fileURL(post, name, thumb), alt: ctx.t('photo_of', { title: post.title }),
    loading: 'lazy', decoding: 'async', width: '96', height: '96',
  });
}

/** statusBadge shows selling / reserved / sold. */
export function statusBadge(ctx, status) {
  const s = status || 'selling';
  return h('span', { class: `status status-${s}`, dataset: { status: s }, text: ctx.t(`status_${s}`) });
}

/** priceText is a post's price in the current language ("Free" for 0). */
export function priceText(ctx, price) {
  return formatPrice(price, ctx.lang, ctx.t('free'));
}

/** displayName is a user's name, or a stand-in for a user we cannot see. */
export function displayName(ctx, user) {
  return (user && user.name) || ctx.t('someone');
}

/** avatar is a user's photo, or their initial on a coloured disc. */
export function avatar(ctx, user, size = 40) {
  const box = h('span', { class: 'avatar', 'aria-hidden': 'true' });
  box.style.width = `${size}px`;
  box.style.height = `${size}px`;
  if (user?.avatar) {
    box.append(h('img', { src: fileURL(user, user.avatar, '100x100'), alt: '', loading: 'lazy' }));
  } else {
    const name = displayName(ctx, user);
    box.textContent = [...name][0]?.toUpperCase() || '?';
    box.classList.add(`hue-${hue(user?.id || name)}`);
  }
  return box;
}

function hue(text) {
  let n = 0;
  for (const ch of String(text)) n = (n * 31 + ch.codePointAt(0)) % 6;
  return n;
}

let fieldSeq = 0;

/**
 * field is a labelled form control with a hint and an error slot wired to
 * it through aria-describedby. control is an <input>, <textarea> or
 * <select>; it gets an id. Returns the wrapper; its .error is the slot.
 */
export function field(label, control, hint = '') {
  const id = `f${++fieldSeq}`;
  control.id = id;
  const hintEl = hint ? h('p', { class: 'field-hint', id: `${id}-hint`, text: hint }) : null;
  const errorEl = h('p', { class: 'field-error', id: `${id}-error`, hidden: true });
  control.setAttribute('aria-describedby', [hintEl && hintEl.id, errorEl.id].filter(Boolean).join(' '));
  const wrap = h('div', { class: 'field', dataset: { field: control.name || '' } },
    h('label', { for: id, text: label }), control, hintEl, errorEl);
  wrap.error = errorEl;
  wrap.control = control;
  return wrap;
}

/** showErrors puts {field: message} beside the fields of form (by name); returns the ones with no field. */
export function showErrors(form, errors) {
  const rest = { ...errors };
  for (const wrap of form.querySelectorAll('.field')) {
    const name = wrap.dataset.field;
    const msg = errors[name];
    wrap.error.hidden = !msg;
    wrap.error.textContent = msg || '';
    if (msg) wrap.control.setAttribute('aria-invalid', 'true');
    else wrap.control.removeAttribute('aria-invalid');
    delete rest[name];
  }
  const first = form.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
  return rest;
}

/** alertBox is a form's general error line (role=alert), hidden until set. */
export function alertBox() {
  const el = h('p', { class: 'form-alert', role: 'alert', hidden: true });
  el.set = (text) => {
    el.textContent = text || '';
    el.hidden = !text;
  };
  return el;
}

/**
 * formReady clears the form's messages and marks its empty required
 * fields, before asking the server. It reports whether none is empty.
 */
export function formReady(ctx, form, alert) {
  alert.set('');
  const errors = {};
  for (const control of form.querySelectorAll('[required]')) {
    if (!String(control.value).trim()) errors[control.name] = ctx.t('form_required');
  }
  showErrors(form, errors);
  return Object.keys(errors).length === 0;
}

/** apiFieldErrors is fieldErrors with the common codes in the current language. */
export function apiFieldErrors(ctx, err) {
  return fieldErrors(err, (code, message) => (code === 'validation_required' ? ctx.t('form_required') : message));
}
