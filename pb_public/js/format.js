// Dates, times and prices for display. No DOM: unit-tested under node.
//
// PocketBase writes datetimes as "2025-03-04 05:06:07.890Z" (UTC, a space
// instead of the "T"); an empty string means "not set".

/** parseDate turns a PocketBase datetime into a Date, or null when empty or invalid. */
export function parseDate(value) {
  if (!value) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  const d = new Date(String(value).replace(' ', 'T'));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** toMillis is parseDate as epoch milliseconds (0 when empty). */
export function toMillis(value) {
  const d = parseDate(value);
  return d ? d.getTime() : 0;
}

/** pbDate formats a Date the way PocketBase stores it, for filters. */
export function pbDate(date) {
  return date.toISOString().replace('T', ' ');
}

/** dayKey is the local calendar day of a datetime, "YYYY-MM-DD". */
export function dayKey(value) {
  const d = parseDate(value);
  if (!d) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

const locales = { en: 'en-GB', ko: 'ko-KR' };

function locale(lang) {
  return locales[lang] || 'en-GB';
}

/** formatTime is the local time of day, e.g. "14:05" or "오후 2:05". */
export function formatTime(value, lang) {
  const d = parseDate(value);
  if (!d) return '';
  return new Intl.DateTimeFormat(locale(lang), { hour: 'numeric', minute: '2-digit' }).format(d);
}

/** formatDay is a day separator's label, e.g. "Tuesday 4 March 2025". */
export function formatDay(value, lang) {
  const d = parseDate(value);
  if (!d) return '';
  return new Intl.DateTimeFormat(locale(lang), {
    weekday: 'long', year: 'numeric', month: 'long', day: 'numeric',
  }).format(d);
}

/**
 * formatAge says how long ago value was, relative to now: "just now",
 * "5 min ago", "3 hours ago", "2 days ago", then the date.
 */
export function formatAge(value, now, lang) {
  const d = parseDate(value);
  if (!d) return '';
  const seconds = Math.max(0, Math.round((now.getTime() - d.getTime()) / 1000));
  const rtf = new Intl.RelativeTimeFormat(locale(lang), { numeric: 'auto', style: 'short' });
  if (seconds < 45) return rtf.format(0, 'second');
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return rtf.format(-minutes, 'minute');
  const hours = Math.round(minutes / 60);
  if (hours < 24) return rtf.format(-hours, 'hour');
  const days = Math.round(hours / 24);
  if (days < 7) return rtf.format(-days, 'day');
  return new Intl.DateTimeFormat(locale(lang), { year: 'numeric', month: 'short', day: 'numeric' }).format(d);
}

/** formatListTime is a chat row's time: the time today, else the date. */
export function formatListTime(value, now, lang) {
  const d = parseDate(value);
  if (!d) return '';
  if (dayKey(d) === dayKey(now)) return formatTime(d, lang);
  return new Intl.DateTimeFormat(locale(lang), { month: 'short', day: 'numeric' }).format(d);
}

/**
 * formatPrice shows an integer price with the language's digit grouping;
 * 0 is "free" (the caller supplies the word).
 */
export function formatPrice(price, lang, freeWord) {
  const n = Number(price) || 0;
  if (n === 0) return freeWord;
  const digits = new Intl.NumberFormat(locale(lang)).format(n);
  return lang === 'ko' ? `${digits}원` : digits;
}
