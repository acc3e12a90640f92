// A room's messages: merging stored, live and not-yet-stored messages,
// day separators and read receipts. No DOM: unit-tested under node.
//
// A message the app is still sending carries status "sending" or
// "failed"; the stored copy (from the create answer, a live event or a
// catch-up fetch) has no status and always replaces it: it has the same
// client-made id.

import { toMillis, dayKey } from './format.js';

export const SENDING = 'sending';
export const FAILED = 'failed';

/** isPending reports whether message exists only in this browser so far. */
export function isPending(message) {
  return message.status === SENDING || message.status === FAILED;
}

/**
 * compareMessages orders a room oldest first by the server's "created"
 * (then id, so every client agrees), with messages still being sent
 * after all stored ones in the order they were typed.
 */
export function compareMessages(a, b) {
  const pa = isPending(a) ? 1 : 0;
  const pb = isPending(b) ? 1 : 0;
  if (pa !== pb) return pa - pb;
  if (pa) return (a.seq || 0) - (b.seq || 0);
  return toMillis(a.created) - toMillis(b.created) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** keepStored decides between two copies of a message: a stored copy wins. */
function keepStored(existing, incoming) {
  if (!existing) return incoming;
  if (isPending(incoming) && !isPending(existing)) return existing;
  return incoming;
}

/**
 * mergeMessages adds incoming messages to list: one per id, the stored copy
 * over a pending one, in room order.
 */
export function mergeMessages(list, incoming) {
  const byId = new Map();
  for (const m of list) byId.set(m.id, m);
  for (const m of incoming) byId.set(m.id, keepStored(byId.get(m.id), m));
  return [...byId.values()].sort(compareMessages);
}

/** setStatus returns list with message id's status changed (pending copies only). */
export function setStatus(list, id, status, error = '') {
  return list.map((m) => (m.id === id && isPending(m) ? { ...m, status, error } : m));
}

/** newestStored is the newest message the server has confirmed, or null. */
export function newestStored(list) {
  for (let i = list.length - 1; i >= 0; i--) if (!isPending(list[i])) return list[i];
  return null;
}

/** oldestStored is the oldest stored message, or null. */
export function oldestStored(list) {
  return list.find((m) => !isPending(m)) || null;
}

/**
 * withDaySeparators interleaves a {type: 'day', key, date} entry before the
 * first message of every local day; messages become {type: 'message',
 * key, message}. Pending messages count as today (now).
 */
export function withDaySeparators(list, now = new Date()) {
  const out = [];
  let last = '';
  for (const message of list) {
    const date = isPending(message) ? now : message.created;
    const day = dayKey(date);
    if (day && day !== last) {
      out.push({ type: 'day', key: `day-${day}`, date });
      last = day;
    }
    out.push({ type: 'message', key: message.id, message });
  }
  return out;
}

/**
 * readers lists the participants other than the sender who have read a
 * stored message: their last read time (room.reads) is at or after its
 * "created".
 */
export function readers(message, room) {
  if (!room || isPending(message)) return [];
  const created = toMillis(message.created);
  const reads = room.reads || {};
  return (room.participants || []).filter(
    (id) => id !== message.sender && reads[id] && toMillis(reads[id]) >= created,
  );
}

/**
 * catchUpSince is the time to fetch from after a reconnect: the newest
 * stored message's "created" minus a margin, so that a message stored a
 * little out of order is fetched too (duplicates are dropped by id).
 * Empty when nothing is stored yet.
 */
export function catchUpSince(list, marginMs = 5000) {
  const newest = newestStored(list);
  if (!newest) return '';
  return new Date(toMillis(newest.created) - marginMs);
}
