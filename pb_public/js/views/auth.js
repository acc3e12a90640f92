// Sign in and sign up (e-mail and password; no e-mail verification needed).

import { h } from '../dom.js';
import { alertBox, apiFieldErrors, field, formReady, showErrors } from './widgets.js';

function nextHash(query) {
  const next = query.get('next') || '/';
  return next.startsWith('/') && !next.startsWith('//') ? `#${next}` : '#/';
}

async function afterSignIn(ctx, query) {
  await ctx.signedIn();
  ctx.go(nextHash(query));
}

export function mountSignIn(ctx, main, { query }) {
  if (ctx.me) {
    ctx.go(nextHash(query));
    return null;
  }
  ctx.setHeader({ title: ctx.t('auth_sign_in_title'), back: '#/' });
  const email = h('input', { name: 'identity', type: 'email', autocomplete: 'email', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const alert = alertBox();
  const submit = h('button', { type: 'submit', class: 'button primary wide', text: ctx.t('auth_sign_in') });
  const form = h('form', { class: 'stack auth-form', id: 'signin-form', novalidate: true },
    field(ctx.t('auth_email'), email),
    field(ctx.t('auth_password'), password),
    alert, submit,
    h('p', { class: 'center' }, h('a', { href: `#/signup?${query}`, text: ctx.t('auth_to_sign_up') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!formReady(ctx, form, alert)) return;
    submit.disabled = true;
    try {
      await ctx.pb.collection('users').authWithPassword(email.value.trim(), password.value);
      await afterSignIn(ctx, query);
    } catch (err) {
      submit.disabled = false;
      alert.set(err?.status === 400 ? ctx.t('auth_failed') : ctx.errorText(err));
    }
  });
  main.append(h('section', { class: 'page narrow' }, form));
  email.focus();
  return null;
}

export function mountSignUp(ctx, main, { query }) {
  if (ctx.me) {
    ctx.go(nextHash(query));
    return null;
  }
  ctx.setHeader({ title: ctx.t('auth_sign_up_title'), back: '#/signin' });
  const name = h('input', { name: 'name', type: 'text', autocomplete: 'nickname', maxlength: '50', required: true });
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', required: true });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', minlength: '8', required: true });
  const confirmPw = h('input', { name: 'passwordConfirm', type: 'password', autocomplete: 'new-password', required: true });
  const alert = alertBox();
  const submit = h('button', { type: 'submit', class: 'button primary wide', text: ctx.t('auth_sign_up') });
  const form = h('form', { class: 'stack auth-form', id: 'signup-form', novalidate: true },
    field(ctx.t('auth_name'), name),
    field(ctx.t('auth_email'), email),
    field(ctx.t('auth_password'), password, ctx.t('auth_password_hint')),
    field(ctx.t('auth_password_confirm'), confirmPw),
    alert, submit,
    h('p', { class: 'center' }, h('a', { href: `#/signin?${query}`, text: ctx.t('auth_to_sign_in') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!formReady(ctx, form, alert)) return;
    if (password.value !== confirmPw.value) {
      showErrors(form, { passwordConfirm: ctx.t('auth_passwords_differ') });
      return;
    }
    submit.disabled = true;
    try {
      await ctx.pb.collection('users').create({
        name: name.value, email: email.value.trim(), password: password.value, passwordConfirm: confirmPw.value,
      });
      await ctx.pb.collection('users').authWithPassword(email.value.trim(), password.value);
      await afterSignIn(ctx, query);
    } catch (err) {
      submit.disabled = false;
      const errors = apiFieldErrors(ctx, err);
      const rest = showErrors(form, errors);
      const extra = Object.values(rest).join(' ');
      alert.set(extra || (Object.keys(errors).length ? '' : ctx.errorText(err)));
    }
  });
  main.append(h('section', { class: 'page narrow' }, form));
  name.focus();
  return null;
}
