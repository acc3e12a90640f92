// The feed: posts newest first, live, with infinite scroll (and a button
// for keyboards and screen readers).

import { h, icon, reconcile } from '../dom.js';
import { formatAge } from '../format.js';
import { postPhoto, priceText, statusBadge } from './widgets.js';

export function postRow(ctx, post, now = new Date()) {
  return h('a', { class: 'post-row', href: `#/post/${post.id}`, dataset: { postId: post.id } },
    postPhoto(ctx, post),
    h('div', { class: 'post-info' },
      h('h2', { class: 'post-title', text: post.title }),
      h('p', { class: 'post-meta' }, h('time', { datetime: post.created, text: formatAge(post.created, now, ctx.lang) })),
      h('p', { class: 'post-price' }, statusBadge(ctx, post.status),
        h('span', { class: 'price', text: priceText(ctx, post.price) }))));
}

/** signature is what a row shows; a row is rebuilt only when it changes. */
function signature(ctx, post) {
  return [post.updated, post.title, post.price, post.status, (post.images || []).join(','), ctx.lang].join('|');
}

export function mount(ctx, main) {
  ctx.setHeader({ title: ctx.t('feed_title') });
  const store = ctx.feed;

  const list = h('ul', { class: 'post-list', id: 'feed-list', 'aria-labelledby': 'page-title' });
  const status = h('p', { class: 'list-status', role: 'status' });
  const more = h('button', { type: 'button', class: 'button secondary wide', text: ctx.t('load_more'), onclick: () => store.loadMore() });
  const sentinel = h('div', { class: 'sentinel', 'aria-hidden': 'true' });
  const sell = h('a', { class: 'fab', href: ctx.me ? '#/new' : '#/signin?next=%2Fnew', 'aria-label': ctx.t('feed_new_label') },
    icon('plus'), h('span', { text: ctx.t('feed_new') }));
  main.append(h('section', { class: 'page feed' }, list, status, more, sentinel), sell);

  function draw() {
    const now = new Date();
    reconcile(list, store.posts, (p) => p.id, (p) => {
      const li = h('li', {}, postRow(ctx, p, now));
      li.sig = signature(ctx, p);
      return li;
    }, (li, p) => {
      const sig = signature(ctx, p);
      if (li.sig !== sig) {
        li.replaceChildren(postRow(ctx, p, now));
        li.sig = sig;
      } else {
        const time = li.querySelector('time');
        if (time) time.textContent = formatAge(p.created, now, ctx.lang);
      }
    });
    let text = '';
    if (store.error && !store.posts.length) text = ctx.errorText(store.error);
    else if (!store.loaded) text = ctx.t('loading');
    else if (!store.posts.length) text = ctx.t('feed_empty');
    else if (!store.hasMore) text = ctx.t('feed_end');
    status.textContent = text;
    status.classList.toggle('empty', store.loaded && !store.posts.length);
    more.hidden = !store.loaded || !store.hasMore;
    more.disabled = store.loading;
    // A short page leaves the sentinel on screen: keep loading until it
    // is pushed out (the observer only reports changes).
    if (sentinelVisible && store.loaded && store.hasMore && !store.loading && !store.error) queueMicrotask(() => store.loadMore());
  }
  let sentinelVisible = false;

  const unsubscribe = store.subscribe(draw);
  draw();

  const observer = new IntersectionObserver((entries) => {
    sentinelVisible = entries.some((e) => e.isIntersecting);
    if (sentinelVisible && store.loaded && store.hasMore) store.loadMore();
  }, { rootMargin: '400px' });
  observer.observe(sentinel);
  const ages = setInterval(draw, 60_000);

  return () => {
    unsubscribe();
    observer.disconnect();
    clearInterval(ages);
  };
}
