// Photos are shrunk in the browser before upload: what size, whether to
// re-encode, what the new file is called. No DOM: unit-tested under node.
// The canvas work is in photo-canvas.js.
//
// A phone photo is 12 to 50 megapixels and several MB; nobody needs more
// than PHOTO_MAX_SIDE pixels on a side in a chat or a listing. A photo
// already within that, in a type the server takes and light enough for
// the field, is sent as is.

/** PHOTO_MAX_SIDE bounds the longest side of an uploaded photo. */
export const PHOTO_MAX_SIDE = 2048;

/** PHOTO_TYPES are the types the server takes (the migrations' imageMimeTypes). */
export const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];

/** ENCODE_TYPES are tried in order: WebP where the browser encodes it, else JPEG. */
export const ENCODE_TYPES = ['image/webp', 'image/jpeg'];

/** PHOTO_QUALITY is the encoder quality (0..1) for WebP and JPEG. */
export const PHOTO_QUALITY = 0.85;

/** Upload limits per file of the contract, in bytes. */
export const POST_IMAGE_MAX_BYTES = 5 << 20;
export const AVATAR_MAX_BYTES = 5 << 20;
export const ATTACHMENT_MAX_BYTES = 10 << 20;

/**
 * fitWithin is the size of a width × height image scaled down (never up)
 * so that its longest side is at most maxSide: whole pixels, at least 1,
 * the aspect ratio kept.
 */
export function fitWithin(width, height, maxSide = PHOTO_MAX_SIDE) {
  const longest = Math.max(width, height);
  if (!(longest > maxSide)) return { width, height };
  const scale = maxSide / longest;
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

/**
 * needsReencode reports whether a photo must be redrawn before upload:
 * larger than maxSide on a side, in a type the server does not take
 * (HEIC, BMP…), or heavier than maxBytes.
 */
export function needsReencode({ type, size, width, height }, { maxSide = PHOTO_MAX_SIDE, maxBytes = Infinity } = {}) {
  return !PHOTO_TYPES.includes(type) || Math.max(width, height) > maxSide || size > maxBytes;
}

const extensions = { 'image/webp': 'webp', 'image/jpeg': 'jpg', 'image/png': 'png', 'image/gif': 'gif' };

/** encodedName is name with the extension of type: "IMG_1.HEIC" → "IMG_1.jpg". */
export function encodedName(name, type) {
  const base = String(name || '').replace(/\.[^./\\]*$/, '') || 'photo';
  return `${base}.${extensions[type] || 'jpg'}`;
}
