// A post: photos, details, seller, and the Chat button; on their own post
// the seller sees how many chats it has and can change its status.

import { h, fill } from '../dom.js';
import { fileURL } from '../api.js';
import { formatAge } from '../format.js';
import { alertBox, avatar, displayName, priceText, statusBadge } from './widgets.js';

export function mount(ctx, main, { params: [id] }) {
  ctx.setHeader({ title: ctx.t('loading'), back: '#/' });
  const page = h('article', { class: 'page post-page', 'aria-labelledby': 'page-title' });
  main.append(page);
  const alert = alertBox();
  let post = null;
  let chatCount = null;
  let gone = false;
  let closed = false; // the page was left: late answers must not draw over the next one

  async function load() {
    try {
      post = await ctx.pb.collection('posts').getOne(id, { expand: ctx.me ? 'author' : '' });
      if (closed) return;
      draw();
      if (ctx.me && post.author === ctx.me.id) {
        const res = await ctx.pb.collection('rooms').getList(1, 1, { filter: ctx.pb.filter('post = {:id}', { id }) });
        chatCount = res.totalItems;
        if (!closed) draw();
      }
    } catch (err) {
      if (closed) return;
      ctx.setHeader({ title: ctx.t('error_not_found'), back: '#/' });
      fill(page, h('p', { class: 'notice', text: ctx.errorText(err) }));
    }
  }

  function draw() {
    if (gone) {
      ctx.setHeader({ title: ctx.t('room_post_gone'), back: '#/' });
      fill(page, h('p', { class: 'notice', text: ctx.t('room_post_gone') }));
      return;
    }
    const mine = ctx.me && post.author === ctx.me.id;
    ctx.setHeader({ title: post.title, back: '#/' });

    const names = post.images || [];
    const photos = names.map((name, i) => h('li', {},
      h('a', { href: fileURL(post, name), target: '_blank', rel: 'noopener' },
        h('img', { src: fileURL(post, name, '480x0'), alt: `${ctx.t('photo_of', { title: post.title })} (${i + 1})` }))));
    let gallery = null;
    if (photos.length) {
      const list = h('ul', { class: 'gallery', 'aria-label': ctx.t('post_photos') }, photos);
      const counter = h('span', { class: 'gallery-count', 'aria-hidden': 'true', text: `1 / ${photos.length}` });
      list.addEventListener('scroll', () => {
        const i = Math.round(list.scrollLeft / Math.max(1, list.clientWidth));
        counter.textContent = `${Math.min(photos.length, i + 1)} / ${photos.length}`;
      }, { passive: true });
      gallery = h('div', { class: 'gallery-wrap' }, list, photos.length > 1 ? counter : null);
    }

    const seller = post.expand?.author;
    const sellerBox = seller
      ? h('div', { class: 'seller' }, avatar(ctx, seller, 44),
        h('div', {}, h('p', { class: 'muted small', text: ctx.t('post_seller') }), h('p', { class: 'seller-name', text: displayName(ctx, seller) })))
      : null;

    let actions;
    if (mine) {
      const select = h('select', { name: 'status', id: 'post-status' },
        ['selling', 'reserved', 'sold'].map((s) => h('option', { value: s, selected: post.status === s, text: ctx.t(`status_${s}`) })));
      select.addEventListener('change', async () => {
        alert.set('');
        try {
          post = await ctx.pb.collection('posts').update(post.id, { status: select.value }, { expand: 'author' });
          draw();
        } catch (err) {
          alert.set(ctx.errorText(err));
        }
      });
      actions = h('div', { class: 'owner-box' },
        h('p', { class: 'muted', text: ctx.t('post_your_post') }),
        h('p', { class: 'chat-count', id: 'post-chat-count' },
          chatCount === null ? '' : h('a', { href: '#/chats', text: ctx.t('chats_count', { n: chatCount }) })),
        h('div', { class: 'field inline' }, h('label', { for: 'post-status', text: ctx.t('post_status_label') }), select),
        h('div', { class: 'button-row' },
          h('a', { class: 'button secondary', href: `#/edit/${post.id}`, text: ctx.t('post_edit') }),
          h('button', {
            type: 'button', class: 'button danger', text: ctx.t('post_delete'),
            onclick: async () => {
              if (!confirm(ctx.t('post_delete_confirm'))) return;
              try {
                await ctx.pb.collection('posts').delete(post.id);
                ctx.go('#/');
              } catch (err) {
                alert.set(ctx.errorText(err));
              }
            },
          })));
    } else {
      const chat = h('button', {
        type: 'button', class: 'button primary', id: 'chat-button',
        text: ctx.me ? ctx.t('post_chat') : ctx.t('post_chat_sign_in'),
        onclick: async () => {
          if (!ctx.me) {
            ctx.go(`#/signin?next=${encodeURIComponent(`/post/${post.id}`)}`);
            return;
          }
          chat.disabled = true;
          alert.set('');
          try {
            const room = await ctx.api.openChat(post.id);
            ctx.chats?.put(room);
            ctx.go(`#/room/${room.id}`);
          } catch (err) {
            alert.set(ctx.errorText(err));
            chat.disabled = false;
          }
        },
      });
      actions = h('div', { class: 'chat-bar' },
        h('p', { class: 'price big', text: priceText(ctx, post.price) }), chat);
    }

    const focusedId = document.activeElement?.id;
    fill(page,
      gallery,
      sellerBox,
      h('div', { class: 'post-details' },
        h('h2', { class: 'post-heading', text: post.title }),
        h('p', { class: 'post-price-line' }, statusBadge(ctx, post.status),
          mine ? h('span', { class: 'price', text: priceText(ctx, post.price) }) : null),
        h('p', { class: 'muted small' }, h('time', { datetime: post.created, text: formatAge(post.created, new Date(), ctx.lang) })),
        h('p', { class: 'post-body', text: post.body || '' })),
      alert,
      actions);
    if (focusedId) document.getElementById(focusedId)?.focus();
  }

  const off = ctx.bus.on('post', (e) => {
    if (e.record.id !== id || !post) return;
    if (e.action === 'delete') gone = true;
    else post = { ...e.record, expand: post.expand };
    draw();
  });
  load();
  return () => {
    closed = true;
    off();
  };
}
