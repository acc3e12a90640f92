// Record fields for the web app tests (not a test file): datetimes, ids.

import { pbDate } from '../../pb_public/js/format.js';

/** at is a PocketBase datetime string for epoch ms t (UTC). */
export function at(t) {
  return pbDate(new Date(t));
}

/** ids lists the ids of records, in order. */
export function ids(list) {
  return list.map((r) => r.id);
}

/** id15 makes a valid 15-character record id from a short label. */
export function id15(label) {
  return String(label).toLowerCase().replace(/[^a-z0-9]/g, '').padEnd(15, '0').slice(0, 15);
}
