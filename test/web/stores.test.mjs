// The stores against an in-memory fake of the API: sending with retries,
// live events racing answers, and catching up after a dropped connection.

import test from 'node:test';
import assert from 'node:assert/strict';
import { RoomStore } from '../../pb_public/js/stores/room.js';
import { FeedStore } from '../../pb_public/js/stores/feed.js';
import { ChatsStore } from '../../pb_public/js/stores/chats.js';
import { FAILED, SENDING } from '../../pb_public/js/messages.js';
import { newestFirst } from '../../pb_public/js/lists.js';
import { toMillis } from '../../pb_public/js/format.js';
import { at, id15, ids } from './records.mjs';

/** apiError mimics the SDK's ClientResponseError. */
function apiError(status, data = {}) {
  const err = new Error(`status ${status}`);
  err.status = status;
  err.response = { status, message: 'x', data };
  return err;
}

/**
 * fakeServer stores messages like PocketBase: "created" from a clock,
 * duplicate ids refused with a 400 naming "id", lists newest first.
 */
function fakeServer() {
  const s = {
    clock: 1_000_000,
    messages: [],
    failNext: null, // an error for the next create, after storing (lost answer) or before
    storeThenFail: false,
    creates: 0,
    store(room, text, sender = 'ann', id = id15(`m${s.messages.length}${text}`)) {
      s.clock += 1000;
      const m = { id, room, sender, text, attachments: [], created: at(s.clock), updated: at(s.clock) };
      s.messages.push(m);
      return m;
    },
    sorted(room) {
      return s.messages.filter((m) => m.room === room)
        .sort((a, b) => toMillis(a.created) - toMillis(b.created) || (a.id < b.id ? -1 : 1));
    },
  };
  s.api = {
    async listMessages({ room, before, limit }) {
      let list = s.sorted(room).reverse();
      if (before) list = list.filter((m) => toMillis(m.created) < toMillis(before.created) || (m.created === before.created && m.id < before.id));
      return list.slice(0, limit);
    },
    async listMessagesSince({ room, since }) {
      return s.sorted(room).filter((m) => toMillis(m.created) >= since.getTime());
    },
    async createMessage({ id, room, text }) {
      s.creates++;
      if (s.failNext && !s.storeThenFail) {
        const err = s.failNext;
        s.failNext = null;
        throw err;
      }
      if (s.messages.some((m) => m.id === id)) throw apiError(400, { id: { code: 'validation_invalid_id', message: 'taken' } });
      const m = s.store(room, text, 'me', id);
      if (s.failNext) {
        const err = s.failNext;
        s.failNext = null;
        throw err;
      }
      return { ...m };
    },
    async getMessage(id) {
      const m = s.messages.find((x) => x.id === id);
      if (!m) throw apiError(404);
      return { ...m };
    },
  };
  return s;
}

let n = 0;
const newId = () => id15(`c${++n}`);

test('send shows the message at once, then the stored copy replaces it', async () => {
  const server = fakeServer();
  server.store('r', 'hello');
  const store = new RoomStore(server.api, 'r', 'me', { newId });
  await store.load();
  const sending = store.send({ text: '  hi there  ' });
  assert.equal(store.messages.at(-1).status, SENDING, 'shown before the answer');
  assert.equal(store.messages.at(-1).text, 'hi there');
  const id = await sending;
  assert.deepEqual(ids(store.messages), ids(server.sorted('r')));
  assert.equal(store.messages.find((m) => m.id === id).status, undefined);
  assert.equal(server.creates, 1);
});

test('a live event arriving before the create answer does not double the message', async () => {
  const server = fakeServer();
  const store = new RoomStore(server.api, 'r', 'me', { newId });
  await store.load();
  const realCreate = server.api.createMessage;
  server.api.createMessage = async (body) => {
    const stored = await realCreate(body);
    store.onEvent({ action: 'create', record: { ...stored } }); // realtime first
    return stored;
  };
  await store.send({ text: 'race' });
  assert.equal(store.messages.length, 1);
  assert.equal(store.messages[0].status, undefined);
});

test('a failed send is marked and a retry reuses its id', async () => {
  const server = fakeServer();
  const store = new RoomStore(server.api, 'r', 'me', { newId });
  await store.load();
  server.failNext = apiError(0);
  const id = await store.send({ text: 'offline' });
  assert.equal(store.messages[0].status, FAILED);
  assert.equal(store.messages[0].error, 'network');
  assert.equal(store.failedCount, 1);
  await store.retry(id);
  assert.deepEqual(ids(store.messages), [id]);
  assert.equal(store.messages[0].status, undefined);
  assert.equal(server.messages.length, 1);
});

test('a retry after a lost answer finds the stored message instead of storing it twice', async () => {
  const server = fakeServer();
  const store = new RoomStore(server.api, 'r', 'me', { newId });
  await store.load();
  server.failNext = apiError(0);
  server.storeThenFail = true; // stored, but the answer never came
  const id = await store.send({ text: 'once' });
  assert.equal(store.messages[0].status, FAILED);
  server.storeThenFail = false;
  await store.retry(id);
  assert.equal(server.messages.length, 1, 'the server holds it once');
  assert.deepEqual(ids(store.messages), [id]);
  assert.equal(store.messages[0].status, undefined, 'the retry ends confirmed');
});

test('429 and validation errors are kept for the user to read', async () => {
  const server = fakeServer();
  const store = new RoomStore(server.api, 'r', 'me', { newId });
  server.failNext = apiError(429);
  await store.send({ text: 'too fast' });
  assert.equal(store.messages[0].error, 'rate');
  server.failNext = apiError(400, { text: { code: 'validation_length_out_of_range', message: 'Too long.' } });
  await store.send({ text: 'x' });
  assert.equal(store.messages[1].error, 'Too long.');
});

test('catch-up after a dropped connection: nothing lost, nothing doubled, order kept', async () => {
  const server = fakeServer();
  for (let i = 0; i < 5; i++) server.store('r', `old${i}`);
  const store = new RoomStore(server.api, 'r', 'me', { newId, pageSize: 3 });
  await store.load();
  assert.deepEqual(ids(store.messages), ids(server.sorted('r').slice(-3)));

  // Live: two messages arrive as events.
  for (let i = 0; i < 2; i++) store.onEvent({ action: 'create', record: server.store('r', `live${i}`) });
  // The stream drops. Meanwhile 4 are stored (one of which was also
  // delivered just before the drop), another room's message too, and I
  // start a send that is still pending.
  const missed = [];
  for (let i = 0; i < 4; i++) missed.push(server.store('r', `missed${i}`));
  store.onEvent({ action: 'create', record: missed[0] });
  server.store('other', 'not mine');
  server.failNext = apiError(0);
  await store.send({ text: 'typed offline' });

  await store.catchUp();
  const stored = store.messages.filter((m) => !m.status);
  assert.deepEqual(ids(stored), ids(server.sorted('r').slice(-9)), 'every stored message once, in order');
  assert.equal(store.messages.at(-1).status, FAILED, 'the failed send stays last, for a retry');
  assert.equal(new Set(ids(store.messages)).size, store.messages.length, 'no duplicates');

  // History still pages back to the start without gaps.
  while (store.hasOlder) await store.loadOlder();
  assert.deepEqual(ids(store.messages.filter((m) => !m.status)), ids(server.sorted('r')));
});

test('catch-up with nothing loaded loads the newest page', async () => {
  const server = fakeServer();
  const store = new RoomStore(server.api, 'r', 'me', { newId });
  server.store('r', 'a');
  await store.catchUp();
  assert.equal(store.messages.length, 1);
  assert.equal(store.loaded, true);
});

test('events for other rooms are ignored', () => {
  const store = new RoomStore({}, 'r', 'me', { newId });
  store.onEvent({ action: 'create', record: { id: 'x', room: 'other', created: at(1) } });
  assert.equal(store.messages.length, 0);
});

function fakePosts(count) {
  const posts = [];
  for (let i = 0; i < count; i++) posts.push({ id: id15(`p${i}`), created: at(1000 * (i + 1)), updated: at(1000 * (i + 1)), title: `post ${i}` });
  return {
    posts,
    api: {
      async listPosts({ before, limit }) {
        let list = [...posts].sort(newestFirst);
        if (before) list = list.filter((p) => newestFirst(p, before) > 0);
        return list.slice(0, limit);
      },
    },
  };
}

test('feed pages, takes live posts and catches up after a reconnect', async () => {
  const server = fakePosts(7);
  const feed = new FeedStore(server.api, 3);
  await feed.load();
  assert.deepEqual(ids(feed.posts), ids([...server.posts].sort(newestFirst).slice(0, 3)));
  await feed.loadMore();
  await feed.loadMore();
  assert.equal(feed.posts.length, 7);
  assert.equal(feed.hasMore, false);

  const live = { id: id15('live'), created: at(50_000), updated: at(50_000), title: 'live' };
  server.posts.push(live);
  feed.onEvent({ action: 'create', record: live });
  feed.onEvent({ action: 'create', record: live });
  assert.equal(feed.posts[0].id, live.id);
  assert.equal(feed.posts.length, 8);

  // Missed while away: two new posts and a deletion.
  server.posts.push({ id: id15('new1'), created: at(60_000), updated: at(60_000), title: 'n1' });
  server.posts.push({ id: id15('new2'), created: at(61_000), updated: at(61_000), title: 'n2' });
  const gone = server.posts.splice(0, 1)[0];
  await feed.catchUp();
  assert.deepEqual(ids(feed.posts).slice(0, 3), [id15('new2'), id15('new1'), live.id]);
  // The deleted post lies beyond the refetched first page, so it stays
  // until the next load (opening it says it is gone): 8 held + 2 new.
  assert.equal(feed.posts.length, 10);
  assert.ok(feed.posts.some((p) => p.id === gone.id));
  assert.equal(new Set(ids(feed.posts)).size, feed.posts.length, 'no duplicates');
});

test('chats: load, live events, unread total, and a reload that keeps newer live copies', async () => {
  let rooms = [
    { id: 'a', created: at(1000), updated: at(2000), last_message_at: at(2000), participants: ['me', 'ann'], unread: 1 },
    { id: 'b', created: at(1000), updated: at(3000), last_message_at: at(3000), participants: ['me', 'bob'], unread: 2 },
  ];
  let release;
  const marked = [];
  const api = {
    listRooms: () => new Promise((resolve) => { release = () => resolve(rooms.map((r) => ({ ...r }))); }),
    markRead: async (id) => { marked.push(id); },
  };
  const chats = new ChatsStore(api, 'me');
  const loading = chats.load();
  // While the list request runs, a new room and a newer copy of "a" arrive live.
  chats.onEvent({ action: 'create', record: { id: 'c', created: at(9000), updated: at(9000), last_message_at: '', participants: ['me', 'cat'], unread: 0 } });
  chats.onEvent({ action: 'update', record: { ...rooms[0], updated: at(8000), last_message_at: at(8000), unread: 3 } });
  release();
  await loading;
  assert.deepEqual(ids(chats.rooms), ['c', 'a', 'b']);
  assert.equal(chats.unread, 5);

  await chats.markRead('b');
  assert.deepEqual(marked, ['b']);
  assert.equal(chats.unread, 3);

  // A reconnect reload: "b" was left meanwhile (gone from the answer).
  rooms = [{ ...rooms[0], updated: at(8000), last_message_at: at(8000), unread: 3 }, { id: 'c', created: at(9000), updated: at(9000), last_message_at: '', participants: ['me', 'cat'], unread: 0 }];
  const reload = chats.load();
  release();
  await reload;
  assert.deepEqual(ids(chats.rooms), ['c', 'a']);
  chats.remove('c');
  assert.deepEqual(ids(chats.rooms), ['a']);
});
