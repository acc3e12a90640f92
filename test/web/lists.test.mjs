import test from 'node:test';
import assert from 'node:assert/strict';
import {
  applyFeedEvent, fresher, mergeById, mergeFirstPage, newestFirst, removeById,
} from '../../pb_public/js/lists.js';
import { at, ids } from './records.mjs';

const post = (id, t, extra = {}) => ({ id, created: at(t), updated: at(t), ...extra });

test('fresher keeps the copy saved last and an expand it lacks', () => {
  const old = { id: 'a', updated: at(1000), title: 'old', expand: { author: { id: 'u' } } };
  const neu = { id: 'a', updated: at(2000), title: 'new' };
  assert.equal(fresher(old, neu).title, 'new');
  assert.deepEqual(fresher(old, neu).expand, old.expand);
  assert.equal(fresher(neu, old).title, 'new', 'a stale copy arriving late loses');
  assert.equal(fresher(undefined, neu), neu);
  const tie = { id: 'a', updated: at(2000), title: 'tie' };
  assert.equal(fresher(neu, tie).title, 'tie', 'on a tie the incoming copy wins');
});

test('mergeById de-duplicates and orders newest first', () => {
  const list = [post('b', 2000), post('a', 1000)];
  const got = mergeById(list, [post('c', 3000), post('a', 1000, { updated: at(5000), title: 'x' }), post('c', 3000)], newestFirst);
  assert.deepEqual(ids(got), ['c', 'b', 'a']);
  assert.equal(got[2].title, 'x');
  assert.deepEqual(ids(list), ['b', 'a'], 'input untouched');
  assert.deepEqual(ids(removeById(got, 'b')), ['c', 'a']);
});

test('newestFirst breaks ties by id so every client agrees', () => {
  const got = [post('a', 1000), post('c', 1000), post('b', 1000)].sort(newestFirst);
  assert.deepEqual(ids(got), ['c', 'b', 'a']);
});

test('applyFeedEvent', () => {
  const feed = [post('c', 3000), post('b', 2000)];
  const cases = [
    ['create new post on top', { action: 'create', record: post('d', 4000) }, true, ['d', 'c', 'b']],
    ['create twice (event after fetch)', { action: 'create', record: post('c', 3000) }, true, ['c', 'b']],
    ['update shown', { action: 'update', record: post('b', 2000, { updated: at(9000) }) }, true, ['c', 'b']],
    ['update of an older, unloaded post', { action: 'update', record: post('a', 1000, { updated: at(9000) }) }, true, ['c', 'b']],
    ['update of an older post when all is loaded', { action: 'update', record: post('a', 1000, { updated: at(9000) }) }, false, ['c', 'b', 'a']],
    ['delete', { action: 'delete', record: post('c', 3000) }, true, ['b']],
    ['delete unknown', { action: 'delete', record: post('z', 3000) }, true, ['c', 'b']],
  ];
  for (const [name, event, hasMore, want] of cases) {
    assert.deepEqual(ids(applyFeedEvent(feed, event, hasMore)), want, name);
  }
  const updated = applyFeedEvent(feed, { action: 'update', record: post('b', 2000, { updated: at(9000), status: 'sold' }) }, true);
  assert.equal(updated[1].status, 'sold');
});

test('mergeFirstPage after a reconnect', () => {
  // held: f e d c b (page size 3, two pages loaded)
  const held = [post('f', 6000), post('e', 5000), post('d', 4000), post('c', 3000), post('b', 2000)];
  // meanwhile: g and h were posted, e was deleted, f changed
  const page = [post('h', 8000), post('g', 7000), post('f', 6000, { updated: at(9000), status: 'sold' })];
  const got = mergeFirstPage(held, page, 3);
  assert.deepEqual(ids(got), ['h', 'g', 'f', 'e', 'd', 'c', 'b'], 'older items stay behind the fresh page');
  assert.equal(got[2].status, 'sold');

  const page2 = [post('g', 7000), post('f', 6000), post('d', 4000)];
  assert.deepEqual(ids(mergeFirstPage(held, page2, 3)), ['g', 'f', 'd', 'c', 'b'], 'e, deleted inside the page range, goes');

  const short = [post('g', 7000), post('d', 4000)];
  assert.deepEqual(ids(mergeFirstPage(held, short, 3)), ['g', 'd'], 'a short page is the whole feed');
});
