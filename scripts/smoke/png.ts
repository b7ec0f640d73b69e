/**
 * The QR PNG's size, read from its header before anything decodes it: a PNG declares its width
 * and height in IHDR, and a decoder allocates width × height × 4 bytes for them whatever the
 * file's own size (a 3 KB answer declaring 5000 × 5000 pixels asks for 100 MB).
 */

/** The side the smoke run asks for (`?img=png&s=…`); nextAuth and the sandbox draw s × s pixels. */
export const QR_PNG_SIDE = 300;

/**
 * The largest side accepted: four times what is asked, room for an upstream that rounds up to
 * whole QR modules or draws for a high-density screen, yet at most 1200 × 1200 × 4 ≈ 5.8 MB decoded.
 */
const MAX_QR_PNG_SIDE = 4 * QR_PNG_SIDE;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Width and height from a PNG's IHDR chunk (PNG spec §11.2.2: the first chunk, right after the
 * 8-byte signature: length, "IHDR", width, height as 32-bit big-endian), or `undefined` when
 * the bytes do not start as a PNG does.
 *
 * @example
 * pngSize(bytes); // { width: 300, height: 300 }
 */
function pngSize(bytes: Buffer): { width: number; height: number } | undefined {
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Why these bytes are not a QR PNG the smoke run will decode, or `undefined` when they may be. */
export function refusePng(bytes: Buffer): string | undefined {
  const size = pngSize(bytes);
  if (!size) return 'not a PNG (no PNG signature and IHDR header)';
  if (size.width > MAX_QR_PNG_SIDE || size.height > MAX_QR_PNG_SIDE) {
    return `a PNG of ${size.width} × ${size.height} pixels, larger than ${MAX_QR_PNG_SIDE} × ${MAX_QR_PNG_SIDE} for a QR code asked at ${QR_PNG_SIDE}: not decoded`;
  }
  return undefined;
}
