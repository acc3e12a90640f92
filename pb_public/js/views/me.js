// My page: display name and photo, language, my posts, sign out.

import { h, fill } from '../dom.js';
import { alertBox, apiFieldErrors, avatar, field, showErrors } from './widgets.js';
import { postRow } from './feed.js';
import { shrinkPhoto } from '../photo-canvas.js';
import { AVATAR_MAX_BYTES } from '../photos.js';

export function mount(ctx, main) {
  ctx.setHeader({ title: ctx.t('me_title') });
  const me = ctx.me;

  const face = h('div', { class: 'profile-face' }, avatar(ctx, me, 72));
  const name = h('input', { name: 'name', type: 'text', maxlength: '50', autocomplete: 'nickname', value: me.name || '' });
  const photo = h('input', { name: 'avatar', type: 'file', id: 'avatar-input', accept: 'image/jpeg,image/png,image/webp,image/gif', class: 'visually-hidden' });
  let preview = '';
  photo.addEventListener('change', () => {
    if (preview) URL.revokeObjectURL(preview);
    preview = '';
    const file = photo.files[0];
    if (!file) return;
    preview = URL.createObjectURL(file);
    const img = h('img', { src: preview, alt: '' });
    const box = h('span', { class: 'avatar', 'aria-hidden': 'true' }, img);
    box.style.width = '72px';
    box.style.height = '72px';
    fill(face, box);
  });
  // The file input is hidden; its label is a button (keyboard focus shows on it).
  const avatarError = h('p', { class: 'field-error', id: 'avatar-error', hidden: true });
  photo.setAttribute('aria-describedby', avatarError.id);
  const avatarField = h('div', { class: 'field photo-field', dataset: { field: 'avatar' } }, photo,
    h('label', { for: 'avatar-input', class: 'button secondary small', text: ctx.t('me_avatar_change') }), avatarError);
  avatarField.error = avatarError;
  avatarField.control = photo;
  const alert = alertBox();
  const saved = h('p', { class: 'form-ok', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'button primary', text: ctx.t('me_save') });
  const form = h('form', { class: 'stack', id: 'profile-form', novalidate: true },
    h('div', { class: 'profile-photo' }, face, avatarField),
    field(ctx.t('auth_name'), name),
    alert, saved, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    alert.set('');
    saved.textContent = '';
    showErrors(form, {});
    const data = { name: name.value };
    submit.disabled = true;
    try {
      if (photo.files.length) data.avatar = await shrinkPhoto(photo.files[0], { maxBytes: AVATAR_MAX_BYTES });
      const user = await ctx.pb.collection('users').update(me.id, data);
      fill(face, avatar(ctx, user, 72));
      photo.value = '';
      saved.textContent = ctx.t('me_saved');
    } catch (err) {
      const errors = apiFieldErrors(ctx, err);
      const rest = showErrors(form, errors);
      alert.set(Object.values(rest).join(' ') || (Object.keys(errors).length ? '' : ctx.errorText(err)));
    } finally {
      submit.disabled = false;
    }
  });

  const lang = h('select', { name: 'lang' },
    h('option', { value: 'en', lang: 'en', selected: ctx.lang === 'en', text: 'English' }),
    h('option', { value: 'ko', lang: 'ko', selected: ctx.lang === 'ko', text: '한국어' }));
  lang.addEventListener('change', () => {
    ctx.setLang(lang.value);
  });

  const myPosts = h('ul', { class: 'post-list' });
  const postsStatus = h('p', { class: 'list-status', text: ctx.t('loading') });

  const signedOut = () => {
    ctx.pb.authStore.clear();
    location.hash = '#/';
    location.reload();
  };
  const signOut = h('button', {
    type: 'button', class: 'button secondary', id: 'sign-out', text: ctx.t('me_sign_out'), onclick: signedOut,
  });
  const signOutAlert = alertBox();
  const signOutEverywhere = h('button', {
    type: 'button', class: 'button secondary', id: 'sign-out-everywhere', text: ctx.t('me_sign_out_everywhere'),
    onclick: async () => {
      if (!confirm(ctx.t('me_sign_out_everywhere_confirm'))) return;
      signOutAlert.set('');
      signOutEverywhere.disabled = true;
      try {
        await ctx.api.signOutEverywhere();
        signedOut();
      } catch (err) {
        signOutAlert.set(ctx.errorText(err));
        signOutEverywhere.disabled = false;
      }
    },
  });

  main.append(h('section', { class: 'page narrow' },
    h('h2', { class: 'section-title', text: ctx.t('me_profile') }), form,
    h('h2', { class: 'section-title', text: ctx.t('me_language') }), h('div', { class: 'field' }, lang),
    h('h2', { class: 'section-title', text: ctx.t('me_my_posts') }), myPosts, postsStatus,
    h('div', { class: 'button-row' }, signOut, signOutEverywhere), signOutAlert));
  lang.setAttribute('aria-label', ctx.t('me_language'));

  ctx.pb.collection('posts').getList(1, 50, { filter: ctx.pb.filter('author = {:me}', { me: me.id }), sort: '-created' })
    .then((res) => {
      fill(myPosts, res.items.map((p) => h('li', {}, postRow(ctx, p))));
      postsStatus.textContent = res.items.length ? '' : ctx.t('me_no_posts');
    })
    .catch((err) => { postsStatus.textContent = ctx.errorText(err); });
  return null;
}
