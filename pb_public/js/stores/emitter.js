// A store's change notification. No DOM.

/** Emitter calls its listeners (with no arguments) on every change. */
export class Emitter {
  constructor() {
    this.listeners = new Set();
  }

  /** subscribe adds fn and returns the function that removes it. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit() {
    for (const fn of [...this.listeners]) fn();
  }
}

/**
 * errorKind sorts an SDK error for display: "network" (no answer),
 * "rate" (429), "notfound" (404), "auth" (401/403) or "other".
 */
export function errorKind(err) {
  const status = err?.status ?? 0;
  if (err?.isAbort) return 'abort';
  if (status === 0) return 'network';
  if (status === 429) return 'rate';
  if (status === 404) return 'notfound';
  if (status === 401 || status === 403) return 'auth';
  return 'other';
}

/**
 * fieldErrors is {field: message} from a PocketBase 400 answer;
 * translate(code, message) may reword a message by its code.
 */
export function fieldErrors(err, translate = (code, message) => message) {
  const data = err?.response?.data || {};
  const out = {};
  for (const [field, value] of Object.entries(data)) {
    if (value && typeof value === 'object' && typeof value.message === 'string') out[field] = translate(value.code, value.message);
  }
  return out;
}
