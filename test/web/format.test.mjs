import test from 'node:test';
import assert from 'node:assert/strict';
import {
  dayKey, formatAge, formatDay, formatListTime, formatPrice, formatTime, parseDate, pbDate, toMillis,
} from '../../pb_public/js/format.js';

test('parseDate reads PocketBase datetimes and rejects empty ones', () => {
  const cases = [
    ['2025-03-04 05:06:07.890Z', Date.UTC(2025, 2, 4, 5, 6, 7, 890)],
    ['2025-03-04T05:06:07Z', Date.UTC(2025, 2, 4, 5, 6, 7)],
    ['', null],
    [null, null],
    ['not a date', null],
  ];
  for (const [input, want] of cases) {
    const got = parseDate(input);
    assert.equal(got ? got.getTime() : null, want, `parseDate(${JSON.stringify(input)})`);
  }
  assert.equal(toMillis(''), 0);
});

test('pbDate writes what PocketBase stores, and parseDate reads it back', () => {
  const d = new Date(Date.UTC(2024, 11, 31, 23, 59, 58, 7));
  assert.equal(pbDate(d), '2024-12-31 23:59:58.007Z');
  assert.equal(parseDate(pbDate(d)).getTime(), d.getTime());
});

test('dayKey is the local calendar day', () => {
  const local = new Date(2025, 0, 2, 0, 30); // 00:30 local time
  assert.equal(dayKey(local), '2025-01-02');
  assert.equal(dayKey(''), '');
});

test('formatAge buckets', () => {
  const now = new Date(Date.UTC(2025, 5, 10, 12, 0, 0));
  const ago = (ms) => new Date(now.getTime() - ms);
  const cases = [
    [ago(10_000), 'en', /now/],
    [ago(5 * 60_000), 'en', /5 min/],
    [ago(3 * 3600_000), 'en', /3 hr/],
    [ago(2 * 86400_000), 'en', /2 days ago/],
    [ago(5 * 60_000), 'ko', /5분 전/],
    [ago(30 * 86400_000), 'en', /2025/],
  ];
  for (const [date, lang, want] of cases) {
    assert.match(formatAge(date, now, lang), want, `formatAge(${date.toISOString()}, ${lang})`);
  }
});

test('formatTime, formatDay and formatListTime', () => {
  const d = new Date(2025, 2, 4, 14, 5);
  assert.equal(formatTime(d, 'en'), '14:05');
  assert.match(formatTime(d, 'ko'), /2:05/);
  assert.match(formatDay(d, 'en'), /Tuesday.*4 March 2025/);
  assert.match(formatDay(d, 'ko'), /2025년 3월 4일 화요일/);
  assert.equal(formatListTime(d, new Date(2025, 2, 4, 20, 0), 'en'), '14:05');
  assert.match(formatListTime(d, new Date(2025, 2, 6), 'en'), /4 Mar/);
});

test('formatPrice groups digits and calls 0 free', () => {
  const cases = [
    [0, 'en', 'Free'],
    [12000, 'en', '12,000'],
    [12000, 'ko', '12,000원'],
    ['', 'en', 'Free'],
  ];
  for (const [price, lang, want] of cases) {
    assert.equal(formatPrice(price, lang, 'Free'), want, `formatPrice(${price}, ${lang})`);
  }
});
