// The web app's entry: language, sign-in state, the live connection and
// the router. Views (./views/*.js) mount into <main>; the logic they show
// lives in DOM-free modules (stores, lists, messages, rooms) tested under
// node.

import { pb, api, ROOM_EXPAND } from './api.js';
import { h, fill, icon } from './dom.js';
import { pickLang, translator } from './i18n.js';
import { pageTitle } from './rooms.js';
import { FeedStore } from './stores/feed.js';
import { ChatsStore } from './stores/chats.js';
import { errorKind } from './stores/emitter.js';
import { routes } from './views/routes.js';

const LANG_KEY = 'marketchat.lang';

/** Bus passes live events to whichever views are mounted. */
class Bus {
  constructor() { this.handlers = new Map(); }
  on(name, fn) {
    if (!this.handlers.has(name)) this.handlers.set(name, new Set());
    this.handlers.get(name).add(fn);
    return () => this.handlers.get(name).delete(fn);
  }
  emit(name, value) {
    for (const fn of [...(this.handlers.get(name) || [])]) {
      try { fn(value); } catch (err) { console.error(err); }
    }
  }
}

const ctx = {
  pb,
  api,
  bus: new Bus(),
  feed: new FeedStore(api),
  chats: null,
  lang: 'en',
  t: translator('en'),
  viewTitle: '',

  /** me is the signed-in user record, or null. */
  get me() {
    return pb.authStore.isValid ? pb.authStore.record : null;
  },

  go(hash) {
    if (location.hash === hash) render();
    else location.hash = hash;
  },

  /** errorText is a sentence for an SDK error. */
  errorText(err) {
    switch (errorKind(err)) {
      case 'network': return ctx.t('error_network');
      case 'rate': return ctx.t('error_rate');
      case 'notfound': return ctx.t('error_not_found');
      default: return err?.response?.message || ctx.t('error_generic');
    }
  },

  /**
   * setHeader fills the top bar: a back link (when back is a hash), the
   * page's title as its h1, and extra actions on the right.
   */
  setHeader({ title, back = '', actions = [] }) {
    ctx.viewTitle = title;
    const bar = document.getElementById('topbar');
    const refocus = bar.contains(document.activeElement) ? document.activeElement : null;
    const backLink = back
      ? h('a', { class: 'icon-button', href: back, 'aria-label': ctx.t('back'), title: ctx.t('back') }, icon('back'))
      : null;
    const heading = h('h1', { class: 'page-title', id: 'page-title', tabindex: '-1', text: title });
    const langButton = h('button', {
      type: 'button', class: 'lang-switch', lang: ctx.lang === 'en' ? 'ko' : 'en',
      'aria-label': ctx.t('lang_switch_label'), text: ctx.t('lang_switch'),
      onclick: () => setLang(ctx.lang === 'en' ? 'ko' : 'en'),
    });
    fill(bar, backLink || h('a', { class: 'brand-mark', href: '#/', title: ctx.t('app_name') }, h('img', { src: '/favicon.svg', alt: ctx.t('app_name'), width: '30', height: '30' })),
      heading, h('div', { class: 'topbar-actions' }, actions, langButton));
    if (refocus && refocus.isConnected && document.activeElement !== refocus) refocus.focus();
    updateTitle();
  },

  /** signedIn is called by the sign-in and sign-up forms. */
  async signedIn() {
    await startSignedIn();
    updateNav();
  },
};

function updateTitle() {
  const base = ctx.viewTitle && ctx.viewTitle !== ctx.t('app_name')
    ? `${ctx.viewTitle} · ${ctx.t('app_name')}` : ctx.t('app_name');
  document.title = pageTitle(base, ctx.chats ? ctx.chats.unread : 0);
}

function updateNav() {
  const total = ctx.chats ? ctx.chats.unread : 0;
  const badge = document.getElementById('unread-total');
  badge.hidden = total === 0;
  badge.textContent = total > 99 ? '99+' : String(total);
  const chatsTab = document.querySelector('[data-tab="chats"]');
  chatsTab.setAttribute('aria-label', total > 0 ? `${ctx.t('nav_chats')}, ${ctx.t('chats_unread', { n: total })}` : ctx.t('nav_chats'));
  const meLabel = document.getElementById('nav-me-label');
  meLabel.textContent = ctx.me ? ctx.t('nav_me') : ctx.t('nav_sign_in');
  document.querySelector('[data-tab="me"]').setAttribute('href', ctx.me ? '#/me' : '#/signin');
  document.body.dataset.signedIn = ctx.me ? 'true' : 'false';
  updateTitle();
}

function translateStatic() {
  document.documentElement.lang = ctx.lang;
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = ctx.t(el.dataset.i18n);
  document.getElementById('tabbar').setAttribute('aria-label', ctx.t('app_name'));
}

ctx.setLang = setLang;

function setLang(lang) {
  ctx.lang = lang;
  ctx.t = translator(lang);
  try { localStorage.setItem(LANG_KEY, lang); } catch { /* private mode */ }
  translateStatic();
  updateNav();
  render();
}

/**
 * checkSignIn refreshes a stored sign-in in the background and drops a
 * rejected one: signed out on every device, a new password, a deleted
 * account. A network error changes nothing.
 */
function checkSignIn() {
  if (!pb.authStore.isValid) return;
  pb.collection('users').authRefresh().catch((err) => {
    if (err?.status === 401 || err?.status === 403 || err?.status === 404) {
      pb.authStore.clear();
      location.reload();
    }
  });
}

// ---- live connection --------------------------------------------------

let connectedBefore = false;

function showConnection(ok) {
  const banner = document.getElementById('conn');
  banner.textContent = ok ? '' : ctx.t('reconnecting');
  banner.hidden = ok;
}

/**
 * onConnect runs on every PB_CONNECT. After a dropped connection the SDK
 * reconnects and resubscribes by itself, but events sent meanwhile are
 * gone: refetch the feed's first page, my rooms and the open room's
 * newest messages, merging by id (nothing lost, nothing doubled).
 */
function onConnect() {
  showConnection(true);
  if (connectedBefore) {
    ctx.feed.catchUp();
    ctx.chats?.load();
    ctx.bus.emit('reconnect');
  }
  connectedBefore = true;
}

function subscribeRooms() {
  const chats = ctx.chats;
  return pb.collection('rooms').subscribe('*', (e) => {
    chats.onEvent(e);
    ctx.bus.emit('room', e);
  }, { expand: ROOM_EXPAND });
}

/**
 * startLive opens the event stream: PB_CONNECT, the feed and (signed in)
 * my rooms. The SDK retries a stream that drops, but not one that never
 * opened: then this tries again a little later, and the next PB_CONNECT
 * catches up.
 */
async function startLive() {
  pb.realtime.onDisconnect = (subscriptions) => {
    if (subscriptions.length) showConnection(false);
    // The server closes my streams when my sign-in is revoked.
    checkSignIn();
  };
  try {
    await pb.realtime.subscribe('PB_CONNECT', onConnect);
    await pb.collection('posts').subscribe('*', (e) => {
      ctx.feed.onEvent(e);
      ctx.bus.emit('post', e);
    });
    if (ctx.chats) await subscribeRooms();
  } catch (err) {
    console.warn('realtime unavailable, retrying', err);
    showConnection(false);
    connectedBefore = true; // the next PB_CONNECT catches up
    await pb.realtime.unsubscribe().catch(() => {});
    ctx.bus.emit('live-reset'); // views drop their own subscriptions and renew them on 'reconnect'
    setTimeout(startLive, 5000);
  }
}

async function startSignedIn() {
  if (ctx.chats || !ctx.me) return;
  const chats = new ChatsStore(api, ctx.me.id);
  ctx.chats = chats;
  chats.subscribe(updateNav);
  // The chat list may have been rendered before the store existed.
  if (document.body.dataset.view === 'chats') render();
  // Subscribe first, then load: nothing falls in between.
  if (pb.realtime.isConnected) {
    try {
      await subscribeRooms();
    } catch (err) {
      console.warn('rooms realtime unavailable', err);
    }
  }
  await chats.load();
}

// ---- router -------------------------------------------------------------

let cleanup = null;
let firstRender = true;

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs = ''] = raw.split('?');
  return { path, query: new URLSearchParams(qs) };
}

function render() {
  if (cleanup) {
    try { cleanup(); } catch (err) { console.error(err); }
    cleanup = null;
  }
  const { path, query } = parseHash();
  const main = document.getElementById('main');
  fill(main);
  document.body.className = '';
  for (const route of routes) {
    const m = path.match(route.pattern);
    if (!m) continue;
    if (route.auth && !ctx.me) {
      ctx.go(`#/signin?next=${encodeURIComponent(path)}`);
      return;
    }
    document.body.dataset.view = route.name;
    for (const tab of document.querySelectorAll('[data-tab]')) {
      if (tab.dataset.tab === route.tab) tab.setAttribute('aria-current', 'page');
      else tab.removeAttribute('aria-current');
    }
    cleanup = route.mount(ctx, main, { params: m.slice(1).map(decodeURIComponent), query }) || null;
    if (!firstRender) document.getElementById('page-title')?.focus({ preventScroll: true });
    firstRender = false;
    return;
  }
  ctx.setHeader({ title: ctx.t('error_not_found'), back: '#/' });
  fill(main, h('p', { class: 'notice', text: ctx.t('error_not_found') }));
}

// ---- start ----------------------------------------------------------------

async function start() {
  let saved = '';
  try { saved = localStorage.getItem(LANG_KEY) || ''; } catch { /* private mode */ }
  ctx.lang = pickLang(saved, navigator.languages?.length ? navigator.languages : [navigator.language]);
  ctx.t = translator(ctx.lang);
  translateStatic();
  for (const slot of document.querySelectorAll('[data-icon]')) slot.append(icon(slot.dataset.icon));
  document.getElementById('skip').addEventListener('click', () => document.getElementById('main').focus());

  checkSignIn();

  updateNav();
  window.addEventListener('hashchange', render);
  render();
  // Load and subscribe at once; once the subscription stands, fetch the
  // first page again so that a post made in between is not missed.
  ctx.feed.load();
  await startLive();
  ctx.feed.catchUp();
  await startSignedIn();
  updateNav();
}

start();
