import test from 'node:test';
import assert from 'node:assert/strict';
import { LANGS, pickLang, strings, translator } from '../../pb_public/js/i18n.js';

const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');

test('every language has the same keys and placeholders as English', () => {
  for (const lang of LANGS) {
    const missing = Object.keys(strings.en).filter((k) => !(k in strings[lang]));
    const extra = Object.keys(strings[lang]).filter((k) => !(k in strings.en));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `keys of ${lang}`);
    for (const [key, text] of Object.entries(strings.en)) {
      assert.equal(placeholders(strings[lang][key]), placeholders(text), `placeholders of ${lang}.${key}`);
      assert.notEqual(strings[lang][key].trim(), '', `${lang}.${key} is empty`);
    }
  }
});

test('pickLang: saved choice, then browser languages, then English', () => {
  const cases = [
    ['', ['ko-KR', 'en-US'], 'ko'],
    ['', ['en-GB'], 'en'],
    ['', ['fr-FR', 'ko'], 'ko'],
    ['', ['fr-FR'], 'en'],
    ['', [], 'en'],
    ['ko', ['en-US'], 'ko'],
    ['en', ['ko-KR'], 'en'],
    ['xx', ['KO-kr'], 'ko'],
  ];
  for (const [saved, langs, want] of cases) {
    assert.equal(pickLang(saved, langs), want, `pickLang(${JSON.stringify(saved)}, ${JSON.stringify(langs)})`);
  }
});

test('translator fills placeholders, picks _one for 1 and falls back', () => {
  const t = translator('en');
  assert.equal(t('chats_count', { n: 3 }), '3 chats');
  assert.equal(t('chats_count', { n: 1 }), '1 chat');
  assert.equal(t('chats_group', { name: 'Ann', n: 2 }), 'Ann and 2 others');
  assert.equal(t('no_such_key'), 'no_such_key');
  const ko = translator('ko');
  assert.equal(ko('room_read'), '읽음');
  assert.equal(ko('chats_group', { name: '민수', n: 2 }), '민수 외 2명');
  const partial = translator('ko', { en: { only_en: 'English {x}' }, ko: {} });
  assert.equal(partial('only_en', { x: 1 }), 'English 1');
  assert.equal(t('photo_of', { title: '<b>x</b>' }), 'Photo of <b>x</b>', 'params are plain text, not markup');
});
