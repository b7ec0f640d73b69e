import jsqr from 'jsqr';
import { PNG } from 'pngjs';

/**
 * Decodes a PNG containing one QR code (for the smoke checks and the tests) and returns the raw bytes of its payload.
 * jsQR's `binaryData` holds the byte-mode payload untouched, whereas `data` is a
 * text decoding that would mangle binary payloads such as nextAuth's login QR data.
 */
export function decodeQrPng(png: Buffer): Buffer {
  const image = PNG.sync.read(png);
  // jsqr is CommonJS with typings that say `export default`, so under NodeNext TypeScript
  // types the default import as the whole module and the function as `.default`. At runtime
  // module.exports is jsQR itself and jsqr sets `jsQR.default = jsQR`, so `.default` is the
  // function however the default import is interop'd (Node or vitest).
  const code = jsqr.default(new Uint8ClampedArray(image.data), image.width, image.height);
  if (code === null) throw new Error('no QR code found in PNG');
  return Buffer.from(code.binaryData);
}
