// Shrinking photos before upload, with the browser's own decoder and a
// canvas: decode, draw at the size photos.js decides, encode as WebP
// where the browser can, else JPEG. The original is never uploaded once
// a copy is made.

import { ENCODE_TYPES, PHOTO_QUALITY, encodedName, fitWithin, needsReencode } from './photos.js';

/**
 * shrinkPhoto returns file as is when it may be sent so (see
 * needsReencode), else a re-encoded copy at most PHOTO_MAX_SIDE pixels on
 * its longest side. A file the browser cannot decode or encode is sent as
 * is: the server decides about it.
 */
export async function shrinkPhoto(file, { maxBytes } = {}) {
  let bitmap;
  try {
    // EXIF orientation is applied ('from-image'), so the copy stands up.
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return file;
  }
  try {
    const photo = { type: file.type, size: file.size, width: bitmap.width, height: bitmap.height };
    if (!needsReencode(photo, { maxBytes })) return file;
    const { width, height } = fitWithin(bitmap.width, bitmap.height);
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const g = canvas.getContext('2d');
    g.imageSmoothingEnabled = true;
    g.imageSmoothingQuality = 'high';
    for (const type of ENCODE_TYPES) {
      g.clearRect(0, 0, width, height);
      if (type === 'image/jpeg') {
        g.fillStyle = '#fff'; // JPEG has no transparency: white, not black
        g.fillRect(0, 0, width, height);
      }
      g.drawImage(bitmap, 0, 0, width, height);
      const blob = await new Promise((resolve) => { canvas.toBlob(resolve, type, PHOTO_QUALITY); });
      // A browser that cannot encode the type gives PNG instead.
      if (blob && blob.type === type) {
        return new File([blob], encodedName(file.name, type), { type, lastModified: file.lastModified });
      }
    }
    return file;
  } catch {
    return file;
  } finally {
    bitmap.close();
  }
}

/** shrinkPhotos is shrinkPhoto for each file, one at a time (memory). */
export async function shrinkPhotos(files, options) {
  const out = [];
  for (const file of files) out.push(await shrinkPhoto(file, options));
  return out;
}
