import test from 'node:test';
import assert from 'node:assert/strict';
import { PHOTO_MAX_SIDE, encodedName, fitWithin, needsReencode } from '../../pb_public/js/photos.js';

test('fitWithin scales the longest side down to 2048, keeping the ratio', () => {
  const cases = [
    [[4000, 3000], { width: 2048, height: 1536 }],
    [[3000, 4000], { width: 1536, height: 2048 }],
    [[8000, 8000], { width: 2048, height: 2048 }],
    [[4032, 3024], { width: 2048, height: 1536 }],
    [[2049, 1], { width: 2048, height: 1 }],
    [[100000, 10], { width: 2048, height: 1 }], // never 0 pixels
    [[2048, 1000], { width: 2048, height: 1000 }], // at the limit: as is
    [[160, 120], { width: 160, height: 120 }], // never scaled up
  ];
  for (const [[w, h], want] of cases) {
    const got = fitWithin(w, h);
    assert.deepEqual(got, want, `fitWithin(${w}, ${h})`);
    assert.ok(Math.max(got.width, got.height) <= PHOTO_MAX_SIDE, `fitWithin(${w}, ${h}) longest side`);
  }
  assert.deepEqual(fitWithin(1000, 500, 100), { width: 100, height: 50 });
});

test('needsReencode: too large a side, a type the server refuses, or too heavy', () => {
  const small = { type: 'image/jpeg', size: 300_000, width: 1600, height: 1200 };
  const cases = [
    [small, {}, false],
    [{ ...small, type: 'image/png' }, {}, false],
    [{ ...small, type: 'image/webp' }, {}, false],
    [{ ...small, type: 'image/gif' }, {}, false],
    [{ ...small, width: 2048, height: 2048 }, {}, false],
    [{ ...small, width: 2049 }, {}, true],
    [{ ...small, height: 4000 }, {}, true],
    [{ ...small, type: 'image/heic' }, {}, true],
    [{ ...small, type: 'image/bmp' }, {}, true],
    [{ ...small, type: '' }, {}, true],
    [{ ...small, size: 6 << 20 }, { maxBytes: 5 << 20 }, true],
    [{ ...small, size: 5 << 20 }, { maxBytes: 5 << 20 }, false],
    [{ ...small, width: 3000 }, { maxSide: 4096 }, false],
  ];
  for (const [photo, limits, want] of cases) {
    assert.equal(needsReencode(photo, limits), want, `needsReencode(${JSON.stringify(photo)}, ${JSON.stringify(limits)})`);
  }
});

test('encodedName takes the new type\'s extension', () => {
  const cases = [
    ['IMG_0001.HEIC', 'image/jpeg', 'IMG_0001.jpg'],
    ['bike.png', 'image/webp', 'bike.webp'],
    ['my.holiday.photo.jpeg', 'image/jpeg', 'my.holiday.photo.jpg'],
    ['noextension', 'image/webp', 'noextension.webp'],
    ['', 'image/jpeg', 'photo.jpg'],
    [undefined, 'image/webp', 'photo.webp'],
    ['.png', 'image/jpeg', 'photo.jpg'],
  ];
  for (const [name, type, want] of cases) {
    assert.equal(encodedName(name, type), want, `encodedName(${JSON.stringify(name)}, ${type})`);
  }
});
