import test from 'node:test';
import assert from 'node:assert/strict';
import { ID_PATTERN, newRecordId } from '../../pb_public/js/ids.js';

test('newRecordId makes 15 characters of a-z0-9', () => {
  for (let i = 0; i < 1000; i++) {
    const id = newRecordId();
    assert.match(id, ID_PATTERN, `newRecordId() = ${JSON.stringify(id)}; want 15 chars a-z0-9`);
  }
});

test('newRecordId does not repeat in 20,000 draws', () => {
  const seen = new Set();
  for (let i = 0; i < 20000; i++) seen.add(newRecordId());
  assert.equal(seen.size, 20000);
});

test('newRecordId skips bytes that would bias the alphabet', () => {
  // 252..255 are dropped; 0 -> "a", 35 -> "9", 36 -> "a".
  const bytes = [255, 252, 0, 35, 36, 253, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const random = (n) => Uint8Array.from({ length: n }, (_, i) => bytes[i] ?? 0);
  assert.equal(newRecordId(random), 'a9abcdefghijklm');
});
