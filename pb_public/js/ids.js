// Client-made record ids. No DOM: unit-tested under node.
//
// The contract lets a client choose a message's id (15 characters a-z0-9),
// so that retrying a send can never store the message twice: the retry
// reuses the id and the server refuses the duplicate.

const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** ID_PATTERN is what PocketBase accepts as a client-made id. */
export const ID_PATTERN = /^[a-z0-9]{15}$/;

/**
 * newRecordId returns a random 15-character id from a-z0-9, drawn without
 * modulo bias. random(n) must return a Uint8Array of n random bytes.
 */
export function newRecordId(random = defaultRandom) {
  let id = '';
  while (id.length < 15) {
    for (const byte of random(32)) {
      // 252 = 7 * 36: bytes at or above it would favour the first letters.
      if (byte < 252) id += alphabet[byte % 36];
      if (id.length === 15) break;
    }
  }
  return id;
}

function defaultRandom(n) {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}
