// My chats: every room I am in, newest activity first, live.

import { h, reconcile } from '../dom.js';
import { formatListTime } from '../format.js';
import { others } from '../rooms.js';
import { avatar, displayName, postPhoto } from './widgets.js';

/** roomName is how a room is called in lists and headers: the other people's names. */
export function roomName(ctx, room) {
  const people = others(room, ctx.me.id);
  if (!people.length) return ctx.t('room_left_alone');
  const first = displayName(ctx, people[0]);
  if (people.length === 1) return first;
  return ctx.t('chats_group', { name: first, n: people.length - 1 });
}

function preview(ctx, room) {
  if (!room.last_message) return ctx.t('chats_no_messages');
  return room.last_message === '📷' ? `📷 ${ctx.t('photo_preview')}` : room.last_message;
}

function chatRow(ctx, room, now) {
  const people = others(room, ctx.me.id);
  const post = room.expand?.post;
  const unread = Number(room.unread) || 0;
  return h('a', { class: 'chat-row', href: `#/room/${room.id}`, dataset: { roomId: room.id, unread: String(unread) } },
    avatar(ctx, people[0], 48),
    h('div', { class: 'chat-main' },
      h('p', { class: 'chat-top' },
        h('span', { class: 'chat-name', text: roomName(ctx, room) }),
        h('time', { class: 'chat-time', datetime: room.last_message_at || room.created, text: formatListTime(room.last_message_at || room.created, now, ctx.lang) })),
      post ? h('p', { class: 'chat-post', text: post.title }) : null,
      h('p', { class: 'chat-preview', text: preview(ctx, room) })),
    unread > 0 ? h('span', { class: 'badge unread', 'aria-label': ctx.t('chats_unread', { n: unread }), text: unread > 99 ? '99+' : String(unread) }) : null,
    post ? postPhoto(ctx, post, '100x100', 'chat-thumb') : null);
}

function signature(ctx, room) {
  return [room.updated, room.unread, room.last_message, room.last_message_at, JSON.stringify(room.participants),
    room.expand ? 'x' : '', ctx.lang].join('|');
}

export function mount(ctx, main) {
  ctx.setHeader({ title: ctx.t('chats_title') });
  const list = h('ul', { class: 'chat-list', id: 'chat-list', 'aria-labelledby': 'page-title' });
  const status = h('p', { class: 'list-status', role: 'status' });
  main.append(h('section', { class: 'page chats' }, list, status));
  const store = ctx.chats;
  if (!store) {
    // Opened (or reloaded) before the app has started my rooms: the app
    // renders this page again once they exist.
    status.textContent = ctx.t('loading');
    return null;
  }

  function draw() {
    const now = new Date();
    reconcile(list, store.rooms, (r) => r.id, (r) => {
      const li = h('li', {}, chatRow(ctx, r, now));
      li.sig = signature(ctx, r);
      return li;
    }, (li, r) => {
      const sig = signature(ctx, r);
      if (li.sig === sig) return;
      li.replaceChildren(chatRow(ctx, r, now));
      li.sig = sig;
    });
    let text = '';
    if (store.error && !store.rooms.length) text = ctx.errorText(store.error);
    else if (!store.loaded) text = ctx.t('loading');
    else if (!store.rooms.length) text = ctx.t('chats_empty');
    status.textContent = text;
    status.classList.toggle('empty', store.loaded && !store.rooms.length);
  }
  const unsubscribe = store.subscribe(draw);
  draw();
  const tick = setInterval(draw, 60_000);
  return () => {
    unsubscribe();
    clearInterval(tick);
  };
}
