// A room: the post card on top, messages (mine on the right, day
// separators, times, read state), older history on scrolling up, live
// messages, sending with Enter (shown at once, confirmed when stored,
// retry on failure), photos, and the people in the room.

import { h, fill, icon, reconcile } from '../dom.js';
import { ROOM_EXPAND, fileURL, protectedFileToken } from '../api.js';
import { formatDay, formatTime } from '../format.js';
import { FAILED, SENDING, isPending, readers, withDaySeparators } from '../messages.js';
import { RoomStore } from '../stores/room.js';
import { shrinkPhotos } from '../photo-canvas.js';
import { ATTACHMENT_MAX_BYTES } from '../photos.js';
import { alertBox, avatar, displayName, postPhoto, priceText, statusBadge } from './widgets.js';
import { roomName } from './chats.js';

const MAX_TEXT = 2000;
const MAX_FILES = 4;

export function mount(ctx, main, { params: [roomId] }) {
  document.body.classList.add('room-mode');
  const me = ctx.me;
  const store = new RoomStore(ctx.api, roomId, me.id);
  const offs = [];
  const objectURLs = new Map(); // File -> blob: URL of pending photos
  let room = ctx.chats?.get(roomId) || null;
  let post = room?.expand?.post || null;
  let unsubscribeMessages = null;
  let closed = false;

  const peopleButton = h('button', {
    type: 'button', class: 'icon-button', id: 'people-button', 'aria-expanded': 'false', 'aria-controls': 'people-panel',
    'aria-label': ctx.t('room_people'), title: ctx.t('room_people'),
  }, icon('people'));

  const card = h('div', { class: 'post-card', id: 'room-post' });
  const olderBox = h('div', { class: 'older' });
  const list = h('ol', { class: 'message-list', id: 'message-list' });
  const scroller = h('div', {
    class: 'messages', id: 'messages', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions',
    'aria-label': ctx.t('room_title'), tabindex: '0',
  }, olderBox, list);
  const people = h('section', { class: 'people-panel', id: 'people-panel', hidden: true, 'aria-labelledby': 'people-title' });

  // composer
  const text = h('textarea', {
    id: 'composer-text', name: 'text', rows: '1', maxlength: String(MAX_TEXT),
    placeholder: ctx.t('room_placeholder'), 'aria-label': ctx.t('room_message_label'), enterkeyhint: 'send',
  });
  const fileInput = h('input', { type: 'file', id: 'composer-files', accept: 'image/jpeg,image/png,image/webp,image/gif', multiple: true, class: 'visually-hidden' });
  const attachLabel = h('label', { for: 'composer-files', class: 'icon-button attach', title: ctx.t('room_attach') },
    icon('camera'), h('span', { class: 'visually-hidden', text: ctx.t('room_attach') }));
  const chosen = h('div', { class: 'chosen', hidden: true, 'aria-live': 'polite' });
  const sendButton = h('button', { type: 'submit', class: 'icon-button send', id: 'send-button', 'aria-label': ctx.t('room_send'), title: ctx.t('room_send') }, icon('send'));
  const composerAlert = alertBox();
  const composer = h('form', { class: 'composer', id: 'composer', novalidate: true },
    chosen, composerAlert,
    h('div', { class: 'composer-row' }, fileInput, attachLabel, text, sendButton));

  main.append(h('section', { class: 'room', 'aria-labelledby': 'page-title' }, card, people, scroller, composer));

  let files = [];
  function drawChosen() {
    chosen.hidden = files.length === 0;
    fill(chosen, files.length
      ? [h('span', { text: ctx.t('room_attachments', { n: files.length }) }),
        h('button', { type: 'button', class: 'link-button', text: ctx.t('room_clear_attachments'), onclick: () => { files = []; drawChosen(); } })]
      : []);
  }
  fileInput.addEventListener('change', () => {
    files = files.concat([...fileInput.files]).slice(0, MAX_FILES);
    fileInput.value = '';
    drawChosen();
    text.focus();
  });

  function header() {
    const title = room ? roomName(ctx, room) : ctx.t('room_title');
    ctx.setHeader({ title, back: '#/chats', actions: [peopleButton] });
  }

  // ---- post card --------------------------------------------------------

  let postGone = false;
  function drawCard() {
    if (!post) {
      // A group chat has no post; a deleted post leaves a note.
      card.hidden = !postGone;
      fill(card, postGone ? h('p', { class: 'muted', text: ctx.t('room_post_gone') }) : null);
      return undefined;
    }
    card.hidden = false;
    const mine = post.author === me.id;
    let control = null;
    if (mine) {
      const select = h('select', { id: 'room-post-status', 'aria-label': ctx.t('room_status_change') },
        ['selling', 'reserved', 'sold'].map((s) => h('option', { value: s, selected: post.status === s, text: ctx.t(`status_${s}`) })));
      select.addEventListener('change', async () => {
        try {
          post = await ctx.pb.collection('posts').update(post.id, { status: select.value });
          drawCard();
        } catch (err) {
          composerAlert.set(ctx.errorText(err));
        }
      });
      control = select;
    }
    const focused = document.activeElement?.id;
    fill(card,
      h('a', { class: 'post-card-link', href: `#/post/${post.id}` },
        postPhoto(ctx, post, '100x100', 'card-thumb'),
        h('span', { class: 'post-card-info' },
          h('span', { class: 'post-card-title', text: post.title }),
          h('span', { class: 'post-card-price' }, statusBadge(ctx, post.status), h('span', { class: 'price', text: priceText(ctx, post.price) })))),
      control);
    if (focused === 'room-post-status') document.getElementById('room-post-status')?.focus();
    return undefined;
  }

  // ---- people -----------------------------------------------------------

  // The people panel is built once, on first open; room events then only
  // refresh its list, so a search being typed is never lost.
  const peopleList = h('ul', { class: 'people-list' });
  const inviteResults = h('ul', { class: 'invite-results', 'aria-live': 'polite' });
  let peopleBuilt = false;

  function buildPeople() {
    const search = h('input', { type: 'search', id: 'invite-search', autocomplete: 'off' });
    const alert = alertBox();
    const status = h('p', { class: 'muted small', id: 'people-status', role: 'status' });
    async function invite(u) {
      try {
        room = await ctx.pb.collection('rooms').update(room.id, { 'participants+': u.id }, { expand: ROOM_EXPAND });
        ctx.chats?.put(room);
        room = ctx.chats?.get(roomId) || room;
        alert.set('');
        search.value = '';
        fill(inviteResults);
        header();
        drawPeople();
        drawMessages();
        status.textContent = ctx.t('room_invited', { name: displayName(ctx, u) });
      } catch (err) {
        alert.set(ctx.errorText(err));
      }
    }
    async function find() {
      const q = search.value.trim();
      if (!q) {
        fill(inviteResults);
        return;
      }
      try {
        const res = await ctx.pb.collection('users').getList(1, 8, {
          filter: ctx.pb.filter('name ~ {:q}', { q }), sort: 'name', skipTotal: true,
        });
        if (search.value.trim() !== q) return; // a newer search is on its way
        const candidates = res.items.filter((u) => !(room.participants || []).includes(u.id));
        fill(inviteResults, candidates.length
          ? candidates.map((u) => h('li', { class: 'person' }, avatar(ctx, u, 32), h('span', { class: 'person-name', text: displayName(ctx, u) }),
            h('button', { type: 'button', class: 'button small', text: ctx.t('room_invite'), onclick: () => invite(u) })))
          : [h('li', { class: 'muted', text: ctx.t('room_invite_none') })]);
      } catch (err) {
        alert.set(ctx.errorText(err));
      }
    }
    let timer = 0;
    search.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(find, 250);
    });
    fill(people,
      h('div', { class: 'people-head' },
        h('h2', { id: 'people-title', tabindex: '-1', text: ctx.t('room_people_title') }),
        h('button', { type: 'button', class: 'link-button', text: ctx.t('room_close_people'), onclick: togglePeople })),
      peopleList,
      h('div', { class: 'field' }, h('label', { for: 'invite-search', text: ctx.t('room_invite_label') }), search),
      inviteResults, alert, status,
      h('button', {
        type: 'button', class: 'button danger', id: 'leave-button', text: ctx.t('room_leave'),
        onclick: async () => {
          if (!confirm(ctx.t('room_leave_confirm'))) return;
          try {
            await ctx.pb.collection('rooms').update(room.id, { 'participants-': me.id });
            ctx.chats?.remove(room.id);
            ctx.go('#/chats');
          } catch (err) {
            alert.set(ctx.errorText(err));
          }
        },
      }));
    peopleBuilt = true;
  }

  function drawPeople() {
    if (people.hidden || !room) return;
    if (!peopleBuilt) buildPeople();
    const everyone = (room.participants || []).map((id) => (room.expand?.participants || []).find((u) => u.id === id) || { id });
    fill(peopleList, everyone.map((u) => h('li', { class: 'person' }, avatar(ctx, u, 32),
      h('span', { class: 'person-name', text: u.id === me.id ? `${displayName(ctx, u)} (${ctx.t('room_you')})` : displayName(ctx, u) }))));
  }

  function togglePeople() {
    people.hidden = !people.hidden;
    peopleButton.setAttribute('aria-expanded', String(!people.hidden));
    drawPeople();
    (people.hidden ? peopleButton : people.querySelector('h2'))?.focus();
  }
  peopleButton.addEventListener('click', togglePeople);

  // ---- messages ---------------------------------------------------------

  const usersById = () => new Map((room?.expand?.participants || []).map((u) => [u.id, u]));
  const isGroup = () => (room?.participants || []).length > 2;

  function attachmentsBox(message) {
    if (isPending(message)) {
      if (!message.files?.length) return null;
      return h('div', { class: 'attachments' }, message.files.map((f) => {
        if (!objectURLs.has(f)) objectURLs.set(f, URL.createObjectURL(f));
        return h('img', { src: objectURLs.get(f), alt: ctx.t('photo_preview'), class: 'attachment' });
      }));
    }
    if (!message.attachments?.length) return null;
    return h('div', { class: 'attachments' }, message.attachments.map((name) => {
      const img = h('img', { alt: ctx.t('photo_preview'), class: 'attachment', width: '200', height: '150' });
      const link = h('a', { target: '_blank', rel: 'noopener' }, img);
      img.addEventListener('load', keepBottom);
      protectedFileToken().then((token) => {
        img.src = fileURL(message, name, '480x0', token);
        link.href = fileURL(message, name, '', token);
      }).catch(() => { img.alt = ctx.t('error_generic'); });
      return link;
    }));
  }

  function metaFor(message) {
    const meta = h('span', { class: 'msg-meta' });
    if (message.status === SENDING) {
      meta.append(h('span', { class: 'msg-status', text: ctx.t('room_sending') }));
    } else if (message.status === FAILED) {
      let why = ctx.t('room_failed');
      if (message.error === 'rate') why += ` ${ctx.t('room_too_fast')}`;
      else if (message.error === 'network') why += ` ${ctx.t('error_network')}`;
      else if (message.error && message.error !== 'other') why += ` ${message.error}`;
      meta.append(h('span', { class: 'msg-status failed', text: why }),
        h('button', { type: 'button', class: 'link-button retry', onclick: () => store.retry(message.id) }, icon('retry'), ctx.t('room_retry')));
    } else {
      if (message.sender === me.id) {
        const n = readers(message, room).length;
        if (n > 0) meta.append(h('span', { class: 'msg-read', text: isGroup() ? ctx.t('room_read_by', { n }) : ctx.t('room_read') }));
      }
      meta.append(h('time', { datetime: message.created, text: formatTime(message.created, ctx.lang) }));
    }
    return meta;
  }

  function messageSig(message, showSender) {
    return [message.status || 'stored', message.error || '', readers(message, room).length, showSender, ctx.lang,
      usersById().get(message.sender)?.name || '', message.updated || ''].join('|');
  }

  function messageEl(message, showSender) {
    const mine = message.sender === me.id;
    const sender = usersById().get(message.sender);
    const li = h('li', {
      class: `msg ${mine ? 'mine' : 'theirs'}`,
      dataset: {
        id: message.id, status: message.status || 'sent', read: String(mine && readers(message, room).length > 0),
      },
    });
    const bubble = h('div', { class: 'bubble' },
      attachmentsBox(message),
      message.text ? h('p', { class: 'msg-text', text: message.text }) : null);
    if (!mine) {
      li.append(showSender ? avatar(ctx, sender, 32) : h('span', { class: 'avatar-gap', 'aria-hidden': 'true' }));
      li.append(h('div', { class: 'msg-body' },
        showSender && isGroup() ? h('p', { class: 'msg-sender', text: displayName(ctx, sender) }) : null,
        h('div', { class: 'msg-line' }, bubble, metaFor(message))));
    } else {
      li.append(h('div', { class: 'msg-body' }, h('div', { class: 'msg-line' }, metaFor(message), bubble)));
    }
    // Screen readers hear who said it.
    li.prepend(h('span', { class: 'visually-hidden', text: `${mine ? ctx.t('room_you') : displayName(ctx, sender)}: ` }));
    return li;
  }

  function nearBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 120;
  }
  let stick = true;
  function keepBottom() {
    if (stick) scroller.scrollTop = scroller.scrollHeight;
  }

  /** firstVisible is the first list entry on screen and its offset, to keep the reader's place. */
  function firstVisible() {
    const top = scroller.getBoundingClientRect().top;
    for (const el of list.children) {
      if (el.classList.contains('day')) continue; // a day's separator moves when older messages come in
      const r = el.getBoundingClientRect();
      if (r.bottom > top) return { el, top: r.top };
    }
    return null;
  }

  let lastCount = 0;
  function drawMessages() {
    const wasAtBottom = nearBottom();
    const anchor = wasAtBottom ? null : firstVisible();
    const items = withDaySeparators(store.messages);
    let prevSender = '';
    const entries = items.map((item) => {
      if (item.type === 'day') {
        prevSender = '';
        return item;
      }
      const showSender = item.message.sender !== prevSender;
      prevSender = item.message.sender;
      return { ...item, showSender };
    });
    reconcile(list, entries, (e) => e.key, (e) => {
      if (e.type === 'day') {
        return h('li', { class: 'day' }, h('span', { text: formatDay(e.date, ctx.lang) }));
      }
      const li = messageEl(e.message, e.showSender);
      li.sig = messageSig(e.message, e.showSender);
      return li;
    }, (li, e) => {
      if (e.type === 'day') return;
      const sig = messageSig(e.message, e.showSender);
      if (li.sig === sig) return;
      const fresh = messageEl(e.message, e.showSender);
      li.className = fresh.className;
      Object.assign(li.dataset, fresh.dataset);
      li.replaceChildren(...fresh.childNodes);
      li.sig = sig;
    });

    // older history
    fill(olderBox, store.hasOlder
      ? h('button', { type: 'button', class: 'link-button', id: 'older-button', disabled: store.loadingOlder, text: store.loadingOlder ? ctx.t('loading') : ctx.t('room_older'), onclick: () => store.loadOlder() })
      : store.loaded
        ? h('p', { class: 'muted small center', text: store.messages.length ? ctx.t('room_start') : ctx.t('room_empty') })
        : h('p', { class: 'muted small center', text: store.error ? ctx.errorText(store.error) : ctx.t('loading') }));

    const newest = store.messages[store.messages.length - 1];
    const mineAdded = store.messages.length > lastCount && newest?.sender === me.id && isPending(newest);
    if (wasAtBottom || mineAdded || !lastCount) {
      stick = true;
      scroller.scrollTop = scroller.scrollHeight;
    } else if (anchor?.el.isConnected) {
      // Older messages or a photo above: keep the reader's place.
      scroller.scrollTop += anchor.el.getBoundingClientRect().top - anchor.top;
    }
    lastCount = store.messages.length;
    // Too few messages to scroll: fetch older ones until the screen is full.
    if (store.loaded && store.hasOlder && !store.loadingOlder && !store.error && scroller.scrollHeight <= scroller.clientHeight) {
      queueMicrotask(() => store.loadOlder());
    }
  }

  scroller.addEventListener('scroll', () => {
    stick = nearBottom();
    if (scroller.scrollTop < 80 && store.hasOlder && !store.loadingOlder) store.loadOlder();
  });

  // ---- read state -------------------------------------------------------

  let readTimer = 0;
  /** markRead tells the server I have read the room (at most once a second). */
  function markRead() {
    if (closed || document.visibilityState !== 'visible' || readTimer) return;
    readTimer = setTimeout(() => {
      readTimer = 0;
      if (!closed) ctx.chats?.markRead(roomId).catch(() => {});
    }, 300);
  }

  // ---- sending ----------------------------------------------------------

  let shrinking = Promise.resolve();
  async function submit() {
    const body = text.value.trim();
    if (!body && !files.length) return;
    if (body.length > MAX_TEXT) return;
    composerAlert.set('');
    const picked = files;
    text.value = '';
    files = [];
    drawChosen();
    autosize();
    stick = true;
    // Photos are shrunk first; a message never overtakes an earlier one
    // whose photos are still shrinking.
    const ready = shrinking.then(() => shrinkPhotos(picked, { maxBytes: ATTACHMENT_MAX_BYTES }));
    shrinking = ready.catch(() => {});
    const toSend = await ready;
    await store.send({ text: body, files: toSend });
  }
  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit();
    text.focus();
  });
  text.addEventListener('keydown', (ev) => {
    // Enter sends; Shift+Enter is a new line; Enter that ends an IME
    // composition (Korean, Japanese…) only ends the composition.
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      submit();
    }
  });
  function autosize() {
    text.style.height = 'auto';
    text.style.height = `${Math.min(text.scrollHeight, 160)}px`;
  }
  text.addEventListener('input', autosize);

  // ---- wiring -----------------------------------------------------------

  function drawAll() {
    header();
    drawCard();
    drawMessages();
    drawPeople();
  }

  offs.push(store.subscribe(() => {
    drawMessages();
    drawCard();
  }));
  offs.push(ctx.bus.on('room', (e) => {
    if (e.record.id !== roomId) return;
    if (e.action === 'delete' || !(e.record.participants || []).includes(me.id)) {
      ctx.go('#/chats');
      return;
    }
    room = ctx.chats?.get(roomId) || e.record;
    const fresh = room.expand?.post;
    if (fresh && (!post || post.id !== fresh.id || fresh.updated >= post.updated)) post = fresh;
    header();
    drawCard();
    drawMessages();
    drawPeople();
    if (room.unread > 0) markRead();
  }));
  offs.push(ctx.bus.on('post', (e) => {
    if (!post || e.record.id !== post.id) return;
    if (e.action === 'delete') {
      post = null;
      postGone = true;
    } else {
      post = e.record;
    }
    drawCard();
  }));
  offs.push(ctx.bus.on('live-reset', () => { unsubscribeMessages = null; }));
  offs.push(ctx.bus.on('reconnect', () => {
    if (!unsubscribeMessages) subscribeMessages();
    store.catchUp();
    markRead();
  }));
  const onVisible = () => { if (document.visibilityState === 'visible') markRead(); };
  document.addEventListener('visibilitychange', onVisible);
  offs.push(() => document.removeEventListener('visibilitychange', onVisible));

  async function subscribeMessages() {
    try {
      unsubscribeMessages = await ctx.pb.collection('messages').subscribe('*', (e) => {
        store.onEvent(e);
        if (e.action === 'create' && e.record.sender !== me.id) markRead();
      }, { filter: ctx.pb.filter('room = {:room}', { room: roomId }) });
    } catch (err) {
      console.warn('messages realtime unavailable', err);
    }
  }

  async function start() {
    drawAll();
    // Subscribe before loading so that nothing sent in between is missed.
    await subscribeMessages();
    if (closed) {
      unsubscribeMessages?.();
      return;
    }
    try {
      room = await ctx.pb.collection('rooms').getOne(roomId, { expand: ROOM_EXPAND });
      ctx.chats?.put(room);
      room = ctx.chats?.get(roomId) || room;
      post = room.expand?.post || null;
    } catch (err) {
      if (!room) {
        ctx.setHeader({ title: ctx.t('error_not_found'), back: '#/chats' });
        fill(main.querySelector('.room'), h('p', { class: 'notice', text: ctx.errorText(err) }));
        return;
      }
    }
    await store.load();
    drawAll();
    markRead();
    if (!matchMedia('(pointer: coarse)').matches) text.focus({ preventScroll: true });
  }
  start();

  return () => {
    closed = true;
    clearTimeout(readTimer);
    for (const off of offs) off();
    unsubscribeMessages?.();
    for (const url of objectURLs.values()) URL.revokeObjectURL(url);
  };
}
