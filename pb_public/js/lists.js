// Keeping ordered lists of records right while live events, pages and
// catch-up fetches arrive in any order. No DOM: unit-tested under node.
//
// Every function returns a new array and leaves its input alone.

import { toMillis } from './format.js';

/**
 * fresher picks which of two copies of the same record to keep: the one
 * PocketBase saved later ("updated"), the incoming one on a tie. A copy
 * without expand keeps the expand of the other, so that a live event
 * (which may lack it) does not erase names and photos already shown.
 */
export function fresher(existing, incoming) {
  if (!existing) return incoming;
  const keep = toMillis(incoming.updated) >= toMillis(existing.updated) ? incoming : existing;
  const other = keep === incoming ? existing : incoming;
  if (!keep.expand && other.expand) return { ...keep, expand: other.expand };
  return keep;
}

/**
 * mergeById adds items to list: one entry per id, choose(existing,
 * incoming) deciding between two copies, the result sorted by compare.
 */
export function mergeById(list, items, compare, choose = fresher) {
  const byId = new Map();
  for (const item of list) byId.set(item.id, item);
  for (const item of items) byId.set(item.id, choose(byId.get(item.id), item));
  return [...byId.values()].sort(compare);
}

/** removeById drops the record with id. */
export function removeById(list, id) {
  return list.filter((item) => item.id !== id);
}

/** newestFirst orders records by "created", newest first, then by id. */
export function newestFirst(a, b) {
  return toMillis(b.created) - toMillis(a.created) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/**
 * applyFeedEvent applies a realtime posts event ({action, record}) to the
 * feed, which holds the newest posts down to its oldest loaded one:
 * a new post goes in; a changed post is replaced where it is shown, or
 * added when it falls inside the loaded range; a deleted post goes away.
 */
export function applyFeedEvent(posts, event, hasMore) {
  const { action, record } = event;
  if (action === 'delete') return removeById(posts, record.id);
  const shown = posts.some((p) => p.id === record.id);
  if (!shown && action === 'update' && hasMore && posts.length > 0) {
    const oldest = posts[posts.length - 1];
    if (newestFirst(record, oldest) > 0) return posts; // older than what is loaded
  }
  return mergeById(posts, [record], newestFirst);
}

/**
 * mergeFirstPage folds a fresh first page of a newest-first list into the
 * list held before a reconnect. The fresh page is the truth for its range
 * (posts missing from it inside that range were deleted); older items
 * already loaded stay behind it. With a short page (the whole list) the
 * page replaces everything.
 */
export function mergeFirstPage(list, page, pageSize, compare = newestFirst) {
  const fresh = [...page].sort(compare);
  if (fresh.length < pageSize) return fresh;
  const boundary = fresh[fresh.length - 1];
  const older = list.filter((item) => compare(item, boundary) > 0 && !fresh.some((f) => f.id === item.id));
  return mergeById(fresh, older, compare);
}
