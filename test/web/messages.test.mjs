import test from 'node:test';
import assert from 'node:assert/strict';
import {
  FAILED, SENDING, catchUpSince, compareMessages, mergeMessages, newestStored, oldestStored, readers, setStatus, withDaySeparators,
} from '../../pb_public/js/messages.js';
import { toMillis } from '../../pb_public/js/format.js';
import { at, ids } from './records.mjs';

const msg = (id, t, extra = {}) => ({ id, room: 'r', sender: 'u1', text: id, created: at(t), ...extra });
const pending = (id, seq, status = SENDING) => ({ id, room: 'r', sender: 'me', text: id, created: '', status, seq });

test('compareMessages: stored by created then id, pending last in typing order', () => {
  const list = [pending('p2', 2), msg('b', 2000), pending('p1', 1, FAILED), msg('c', 1000), msg('a', 2000)];
  assert.deepEqual(ids(list.sort(compareMessages)), ['c', 'a', 'b', 'p1', 'p2']);
});

test('mergeMessages: one per id, the stored copy beats the pending one in any order', () => {
  const base = [msg('a', 1000), pending('x', 1)];
  const stored = msg('x', 2000, { sender: 'me' });
  const afterStore = mergeMessages(base, [stored]);
  assert.deepEqual(ids(afterStore), ['a', 'x']);
  assert.equal(afterStore[1].status, undefined);
  // A late "pending" copy (e.g. a retry started before the live event) never hides the stored one.
  const again = mergeMessages(afterStore, [pending('x', 1)]);
  assert.equal(again.find((m) => m.id === 'x').status, undefined);
  // Same live event twice, and the create answer: still one.
  assert.deepEqual(ids(mergeMessages(again, [stored, stored, msg('a', 1000)])), ['a', 'x']);
});

test('setStatus changes only pending copies', () => {
  const list = [msg('a', 1000), pending('x', 1)];
  assert.equal(setStatus(list, 'x', FAILED, 'network')[1].status, FAILED);
  assert.equal(setStatus(list, 'x', FAILED, 'network')[1].error, 'network');
  assert.equal(setStatus(list, 'a', FAILED)[0].status, undefined);
});

test('newestStored, oldestStored and catchUpSince skip pending messages', () => {
  const list = [msg('a', 1000), msg('b', 60_000), pending('x', 1)];
  assert.equal(newestStored(list).id, 'b');
  assert.equal(oldestStored(list).id, 'a');
  assert.equal(catchUpSince(list).getTime(), 55_000);
  assert.equal(catchUpSince(list, 0).getTime(), 60_000);
  assert.equal(catchUpSince([pending('x', 1)]), '');
  assert.equal(newestStored([]), null);
});

test('withDaySeparators puts a separator before each local day', () => {
  const day1 = new Date(2025, 0, 1, 23, 0).getTime();
  const day2 = new Date(2025, 0, 2, 8, 0).getTime();
  const list = [msg('a', day1), msg('b', day1 + 60_000), msg('c', day2), pending('p', 1)];
  const items = withDaySeparators(list, new Date(2025, 0, 2, 9, 0));
  assert.deepEqual(items.map((i) => i.key), ['day-2025-01-01', 'a', 'b', 'day-2025-01-02', 'c', 'p']);
  const later = withDaySeparators(list, new Date(2025, 0, 3, 9, 0));
  assert.deepEqual(later.map((i) => i.key).slice(-2), ['day-2025-01-03', 'p'], 'a pending message belongs to today');
});

test('readers: others whose last read is at or after the message', () => {
  const room = { participants: ['me', 'ann', 'bob'], reads: { ann: at(5000), bob: at(3000), me: at(9000) } };
  const cases = [
    [msg('m', 3000, { sender: 'me' }), ['ann', 'bob']],
    [msg('m', 4000, { sender: 'me' }), ['ann']],
    [msg('m', 6000, { sender: 'me' }), []],
    [msg('m', 1000, { sender: 'ann' }), ['me', 'bob']],
    [pending('p', 1), []],
  ];
  for (const [message, want] of cases) {
    assert.deepEqual(readers(message, room), want, `readers(${message.id}@${toMillis(message.created)} from ${message.sender})`);
  }
  assert.deepEqual(readers(msg('m', 1), { participants: ['me', 'x'] }), [], 'no reads yet');
  assert.deepEqual(readers(msg('m', 1), null), []);
});
