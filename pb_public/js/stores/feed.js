// The live feed of posts, newest first, loaded a page at a time. No DOM:
// the api is injected (see ../api.js), so this is unit-tested under node.

import { Emitter } from './emitter.js';
import { applyFeedEvent, mergeById, mergeFirstPage, newestFirst } from '../lists.js';

export class FeedStore extends Emitter {
  /**
   * api.listPosts({before, limit}) answers posts newest first, older than
   * the post "before" when given.
   */
  constructor(api, pageSize = 20) {
    super();
    this.api = api;
    this.pageSize = pageSize;
    this.posts = [];
    this.hasMore = true;
    this.loaded = false;
    this.loading = false;
    this.error = null;
  }

  /** load fetches the first page (live events that came first are kept). */
  async load() {
    await this.fetch(null);
  }

  /** loadMore fetches the page after the oldest post shown. */
  async loadMore() {
    if (this.loading || !this.hasMore) return;
    await this.fetch(this.posts[this.posts.length - 1] || null);
  }

  async fetch(before) {
    this.loading = true;
    this.emit();
    try {
      const items = await this.api.listPosts({ before, limit: this.pageSize });
      this.posts = mergeById(this.posts, items, newestFirst);
      this.hasMore = items.length === this.pageSize;
      this.loaded = true;
      this.error = null;
    } catch (err) {
      this.error = err;
    } finally {
      this.loading = false;
      this.emit();
    }
  }

  /** onEvent applies a realtime posts event. */
  onEvent(event) {
    this.posts = applyFeedEvent(this.posts, event, this.hasMore);
    this.emit();
  }

  /**
   * catchUp runs after a reconnect: the first page is fetched again and
   * folded in, so posts created, changed or deleted meanwhile show.
   */
  async catchUp() {
    try {
      const items = await this.api.listPosts({ before: null, limit: this.pageSize });
      this.posts = mergeFirstPage(this.posts, items, this.pageSize);
      if (items.length < this.pageSize) this.hasMore = false;
      this.loaded = true;
      this.error = null;
    } catch (err) {
      this.error = err;
    }
    this.emit();
  }
}
