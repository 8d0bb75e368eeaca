// Counts the scans of a JPEG by walking its marker segments, without decoding. libjpeg decodes a
// progressive JPEG once per scan over the whole image, so a small file with thousands of scans
// costs minutes; counting them first lets the decoder refuse such a file in microseconds.

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;

/** Number of start-of-scan markers, counting no further than `stopAfter` (null when not a JPEG). */
export function countJpegScans(bytes: Uint8Array, stopAfter: number): number | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) return null;
  let scans = 0;
  let p = 2;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) {
      p++; // entropy-coded data or padding between segments
      continue;
    }
    const marker = bytes[p + 1];
    // 0xFF00 is a stuffed data byte; RSTn and fill bytes (0xFF) carry no length.
    if (marker === 0x00 || marker === 0xff || (marker >= 0xd0 && marker <= 0xd7)) {
      p += marker === 0xff ? 1 : 2;
      continue;
    }
    if (marker === EOI) break;
    if (marker === SOS && ++scans > stopAfter) break;
    const length = (bytes[p + 2] << 8) | bytes[p + 3];
    if (length < 2) break; // corrupt: the decoder will say so
    p += 2 + length;
  }
  return scans;
}
