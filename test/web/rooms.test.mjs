import test from 'node:test';
import assert from 'node:assert/strict';
import {
  activity, applyRoomEvent, compareRooms, isMember, markedRead, others, pageTitle, replaceRooms, unreadTotal,
} from '../../pb_public/js/rooms.js';
import { at, ids } from './records.mjs';

const room = (id, created, lastAt, extra = {}) => ({
  id, created: at(created), updated: at(Math.max(created, lastAt || 0)), last_message_at: lastAt ? at(lastAt) : '',
  participants: ['me', 'ann'], unread: 0, ...extra,
});

test('rooms order by newest activity; a room without messages counts from its creation', () => {
  const list = [room('old', 1000, 2000), room('fresh', 5000, 0), room('busy', 1000, 9000)];
  assert.deepEqual(ids(list.sort(compareRooms)), ['busy', 'fresh', 'old']);
  assert.equal(activity(room('x', 5000, 0)), 5000);
});

test('applyRoomEvent', () => {
  const list = [room('a', 1000, 3000, { expand: { post: { id: 'p' } } }), room('b', 1000, 2000)];
  const cases = [
    ['new room', { action: 'create', record: room('c', 8000, 0) }, ['c', 'a', 'b']],
    ['new message moves a room up', { action: 'update', record: room('b', 1000, 9000, { unread: 1 }) }, ['b', 'a']],
    ['deleted', { action: 'delete', record: room('a', 1000, 3000) }, ['b']],
    ['I left (not a participant any more)', { action: 'update', record: room('a', 1000, 9000, { participants: ['ann'] }) }, ['b']],
  ];
  for (const [name, event, want] of cases) {
    assert.deepEqual(ids(applyRoomEvent(list, event, 'me')), want, name);
  }
  const got = applyRoomEvent(list, { action: 'update', record: room('a', 1000, 9000, { unread: 2 }) }, 'me');
  assert.deepEqual(got[0].expand, { post: { id: 'p' } }, 'an event without expand keeps the known one');
  assert.equal(got[0].unread, 2);
  assert.equal(isMember(room('a', 1, 1), 'ann'), true);
});

test('replaceRooms keeps known expands and orders', () => {
  const list = [room('a', 1000, 3000, { expand: { post: { id: 'p' } } })];
  const got = replaceRooms(list, [room('b', 1000, 1000), room('a', 1000, 5000)]);
  assert.deepEqual(ids(got), ['a', 'b']);
  assert.deepEqual(got[0].expand, { post: { id: 'p' } });
});

test('unreadTotal, markedRead and pageTitle', () => {
  const list = [room('a', 1, 1, { unread: 2 }), room('b', 1, 1, { unread: 3 }), room('c', 1, 1, { unread: undefined })];
  assert.equal(unreadTotal(list), 5);
  assert.equal(unreadTotal(markedRead(list, 'b')), 2);
  assert.equal(unreadTotal([]), 0);
  assert.equal(pageTitle('Market chat', 5), '(5) Market chat');
  assert.equal(pageTitle('Market chat', 0), 'Market chat');
  assert.equal(pageTitle('Market chat', 120), '(99+) Market chat');
});

test('others lists the other participants, expanded when known', () => {
  const r = room('a', 1, 1, { participants: ['me', 'ann', 'bob'], expand: { participants: [{ id: 'ann', name: 'Ann' }, { id: 'me', name: 'Me' }] } });
  assert.deepEqual(others(r, 'me'), [{ id: 'ann', name: 'Ann' }, { id: 'bob' }]);
});
