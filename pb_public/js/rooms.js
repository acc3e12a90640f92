// "My chats": ordering rooms by activity, live room events, unread totals.
// No DOM: unit-tested under node.

import { toMillis } from './format.js';
import { fresher, mergeById, removeById } from './lists.js';

/** activity is when a room last changed for its reader: its newest message, else its creation. */
export function activity(room) {
  return toMillis(room.last_message_at) || toMillis(room.created);
}

/** compareRooms orders rooms newest activity first (then id, for a stable order). */
export function compareRooms(a, b) {
  return activity(b) - activity(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

/** isMember reports whether userId is one of room's participants. */
export function isMember(room, userId) {
  return Array.isArray(room.participants) && room.participants.includes(userId);
}

/**
 * applyRoomEvent applies a realtime rooms event ({action, record}) to my
 * rooms: deleted rooms, and rooms I am no longer in, go away; others are
 * added or replaced, keeping the expand already known if the event has none.
 */
export function applyRoomEvent(rooms, event, myId) {
  const { action, record } = event;
  if (action === 'delete' || !isMember(record, myId)) return removeById(rooms, record.id);
  return mergeById(rooms, [record], compareRooms, fresher);
}

/** replaceRooms swaps in a fresh list, keeping known expands for rooms that lack one. */
export function replaceRooms(rooms, fresh) {
  const known = new Map(rooms.map((r) => [r.id, r]));
  return fresh
    .map((r) => (r.expand || !known.get(r.id)?.expand ? r : { ...r, expand: known.get(r.id).expand }))
    .sort(compareRooms);
}

/** unreadTotal sums the rooms' unread counts. */
export function unreadTotal(rooms) {
  return rooms.reduce((sum, r) => sum + (Number(r.unread) > 0 ? Number(r.unread) : 0), 0);
}

/** markedRead returns rooms with roomId's unread set to 0 (shown at once, confirmed by the next event). */
export function markedRead(rooms, roomId) {
  return rooms.map((r) => (r.id === roomId && r.unread ? { ...r, unread: 0 } : r));
}

/**
 * others is the room's participants other than me, as expanded user
 * records when known (else as {id} stubs), in the room's order.
 */
export function others(room, myId) {
  const expanded = new Map((room.expand?.participants || []).map((u) => [u.id, u]));
  return (room.participants || []).filter((id) => id !== myId).map((id) => expanded.get(id) || { id });
}

/** pageTitle is the document title with the total unread in front, as chat apps do. */
export function pageTitle(base, total) {
  return total > 0 ? `(${total > 99 ? '99+' : total}) ${base}` : base;
}
