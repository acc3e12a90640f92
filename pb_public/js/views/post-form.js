// New post and edit post: title, price, description, up to 5 photos, and
// (when editing) the status. The API's field errors show beside the field.

import { h, fill, icon } from '../dom.js';
import { fileURL } from '../api.js';
import { shrinkPhotos } from '../photo-canvas.js';
import { POST_IMAGE_MAX_BYTES } from '../photos.js';
import { alertBox, apiFieldErrors, field, formReady, showErrors } from './widgets.js';

const MAX_PHOTOS = 5;
const ACCEPT = 'image/jpeg,image/png,image/webp,image/gif';

export function mount(ctx, main, { params: [id] }) {
  const editing = Boolean(id);
  ctx.setHeader({ title: ctx.t(editing ? 'form_edit_title' : 'form_new_title'), back: editing ? `#/post/${id}` : '#/' });
  const page = h('section', { class: 'page form-page' });
  main.append(page);
  const previews = [];
  let cancelled = false;

  async function start() {
    let post = null;
    if (editing) {
      try {
        post = await ctx.pb.collection('posts').getOne(id);
      } catch (err) {
        fill(page, h('p', { class: 'notice', text: ctx.errorText(err) }));
        return;
      }
      if (post.author !== ctx.me.id) {
        fill(page, h('p', { class: 'notice', text: ctx.t('error_not_found') }));
        return;
      }
    }
    if (!cancelled) build(post);
  }

  function build(post) {
    const title = h('input', { name: 'title', type: 'text', required: true, maxlength: '100', autocomplete: 'off', value: post?.title || '' });
    const price = h('input', { name: 'price', type: 'number', min: '0', step: '1', inputmode: 'numeric', required: true, value: post ? String(post.price) : '' });
    const body = h('textarea', { name: 'body', rows: '6', maxlength: '5000', placeholder: ctx.t('form_body_hint'), value: post?.body || '' });
    const status = editing
      ? h('select', { name: 'status' }, ['selling', 'reserved', 'sold'].map((s) => h('option', { value: s, selected: post.status === s, text: ctx.t(`status_${s}`) })))
      : null;
    const files = h('input', { name: 'images', type: 'file', accept: ACCEPT, multiple: true, class: 'visually-hidden' });
    const photoList = h('ul', { class: 'photo-picker', 'aria-live': 'polite' });
    const photosField = field(ctx.t('form_photos'), files, ctx.t('form_photos_hint', { n: MAX_PHOTOS }));
    // The file input is hidden; its label is the visible "add" tile.
    const addLabel = photosField.querySelector('label');
    addLabel.className = 'photo-add';
    fill(addLabel, icon('camera'), h('span', { class: 'visually-hidden', text: ctx.t('form_photos') }), h('span', { class: 'photo-count' }));

    let kept = [...(post?.images || [])];
    let added = [];

    function drawPhotos() {
      for (const url of previews.splice(0)) URL.revokeObjectURL(url);
      const count = kept.length + added.length;
      addLabel.querySelector('.photo-count').textContent = `${count}/${MAX_PHOTOS}`;
      const items = [
        ...kept.map((name, i) => ({ src: fileURL(post, name, '100x100'), remove: () => { kept.splice(i, 1); drawPhotos(); } })),
        ...added.map((file, i) => {
          const url = URL.createObjectURL(file);
          previews.push(url);
          return { src: url, remove: () => { added.splice(i, 1); drawPhotos(); } };
        }),
      ];
      fill(photoList, items.map((item, i) => h('li', { class: 'photo-tile' },
        h('img', { src: item.src, alt: '' }),
        h('button', { type: 'button', class: 'photo-remove', 'aria-label': ctx.t('form_photo_remove', { n: i + 1 }), onclick: item.remove }, icon('close')))));
    }

    files.addEventListener('change', () => {
      const picked = [...files.files];
      files.value = '';
      const room = MAX_PHOTOS - kept.length - added.length;
      added = added.concat(picked.slice(0, Math.max(0, room)));
      showErrors(form, picked.length > room ? { images: ctx.t('form_photos_too_many', { n: MAX_PHOTOS }) } : {});
      drawPhotos();
    });

    const alert = alertBox();
    const submit = h('button', { type: 'submit', class: 'button primary wide', text: ctx.t(editing ? 'form_save_changes' : 'form_save') });
    const form = h('form', { class: 'stack', novalidate: true },
      h('div', { class: 'photo-row' }, photosField, photoList),
      field(ctx.t('form_title'), title),
      field(ctx.t('form_price'), price, ctx.t('form_price_hint')),
      status ? field(ctx.t('post_status_label'), status) : null,
      field(ctx.t('form_body'), body),
      alert,
      submit);

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!formReady(ctx, form, alert)) return;
      const data = { title: title.value, price: price.value === '' ? 0 : Number(price.value), body: body.value };
      if (status) data.status = status.value;
      submit.disabled = true;
      submit.textContent = ctx.t('form_saving');
      try {
        const photos = await shrinkPhotos(added, { maxBytes: POST_IMAGE_MAX_BYTES });
        let saved;
        if (editing) {
          const removed = post.images.filter((n) => !kept.includes(n));
          if (removed.length) data['images-'] = removed;
          if (photos.length) data['images+'] = photos;
          saved = await ctx.pb.collection('posts').update(post.id, data);
        } else {
          if (photos.length) data.images = photos;
          saved = await ctx.pb.collection('posts').create(data);
        }
        ctx.go(`#/post/${saved.id}`);
      } catch (err) {
        const rest = showErrors(form, apiFieldErrors(ctx, err));
        const extra = Object.values(rest).join(' ');
        alert.set(extra || (Object.keys(apiFieldErrors(ctx, err)).length ? '' : ctx.errorText(err)));
        submit.disabled = false;
        submit.textContent = ctx.t(editing ? 'form_save_changes' : 'form_save');
      }
    });

    fill(page, form);
    drawPhotos();
  }

  start();
  return () => {
    cancelled = true;
    for (const url of previews) URL.revokeObjectURL(url);
  };
}
