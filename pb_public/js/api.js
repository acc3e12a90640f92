// The app's calls to the marketchat API, through the official JS SDK.
// Every call here is also an example for frontend developers.

import PocketBase from '../vendor/pocketbase.es.mjs';

export const pb = new PocketBase('/');

// The SDK cancels a request when another with the same method and path
// starts; this app runs several list calls at once (feed, chats, room), so
// it turns that off.
pb.autoCancellation(false);

export const ROOM_EXPAND = 'participants,post';

/** olderThan is the filter for records after `before` in a newest-first list. */
function olderThan(before) {
  return pb.filter('(created < {:c} || (created = {:c} && id < {:id}))', { c: before.created, id: before.id });
}

export const api = {
  /** listPosts: the feed, newest first, a page older than `before`. */
  async listPosts({ before, limit }) {
    const res = await pb.collection('posts').getList(1, limit, {
      sort: '-created,-id',
      filter: before ? olderThan(before) : '',
      skipTotal: true,
    });
    return res.items;
  },

  /** listRooms: all my rooms (the API shows only rooms I am in). */
  listRooms() {
    return pb.collection('rooms').getFullList({
      sort: '-last_message_at,-created',
      expand: ROOM_EXPAND,
      batch: 200,
    });
  },

  /** listMessages: a room's messages newest first, a page older than `before`. */
  async listMessages({ room, before, limit }) {
    const inRoom = pb.filter('room = {:room}', { room });
    const res = await pb.collection('messages').getList(1, limit, {
      sort: '-created,-id',
      filter: before ? `${inRoom} && ${olderThan(before)}` : inRoom,
      skipTotal: true,
    });
    return res.items;
  },

  /** listMessagesSince: everything stored in a room at or after `since`, oldest first. */
  listMessagesSince({ room, since }) {
    return pb.collection('messages').getFullList({
      sort: 'created,id',
      filter: pb.filter('room = {:room} && created >= {:since}', { room, since }),
      batch: 200,
    });
  },

  /**
   * createMessage stores a message with the client-made id; files (File
   * objects) make the SDK send multipart form data.
   */
  createMessage({ id, room, text, files }) {
    const body = { id, room, text };
    if (files && files.length) body.attachments = files;
    return pb.collection('messages').create(body);
  },

  getMessage(id) {
    return pb.collection('messages').getOne(id);
  },

  /** markRead: POST /api/rooms/{id}/read (204). */
  markRead(roomId) {
    return pb.send(`/api/rooms/${encodeURIComponent(roomId)}/read`, { method: 'POST' });
  },

  /**
   * signOutEverywhere: POST /api/auth/revoke (204). Every token of mine,
   * on every device, stops working at once; their live streams close.
   */
  signOutEverywhere() {
    return pb.send('/api/auth/revoke', { method: 'POST' });
  },

  /** openChat: the chat button, POST /api/posts/{id}/chat (201 new, 200 existing). */
  openChat(postId) {
    return pb.send(`/api/posts/${encodeURIComponent(postId)}/chat`, {
      method: 'POST',
      query: { expand: ROOM_EXPAND },
    });
  },
};

let fileToken = { value: '', at: 0 };

/**
 * protectedFileToken returns a token for protected files (message
 * photos), reused for two minutes (PocketBase's tokens last three).
 */
export async function protectedFileToken() {
  if (fileToken.value && Date.now() - fileToken.at < 120_000) return fileToken.value;
  const value = await pb.files.getToken();
  fileToken = { value, at: Date.now() };
  return value;
}

/** fileURL is the URL of a record's file, optionally a thumbnail. */
export function fileURL(record, name, thumb, token) {
  const opts = {};
  if (thumb) opts.thumb = thumb;
  if (token) opts.token = token;
  return pb.files.getURL(record, name, opts);
}
