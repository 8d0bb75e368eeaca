// What decoding one image may cost, the same in Node (sharp) and in the browser (createImageBitmap),
// bounded before any pixel is decoded: a 6 x 9,999,999 TIFF passes the pixel limit but not the side
// limit; a progressive JPEG is decoded once per scan; a TIFF or GIF may hold thousands of pages (only
// the first is decoded, but every page's header is read); the time budget (Node) catches what the
// other limits miss.

/** Largest image accepted (8192 x 8192); its RGB pixels alone take 192 MiB. */
export const MAX_INPUT_PIXELS = 8192 * 8192;

export const IMAGE_LIMITS = {
  maxFileBytes: 256 * 1024 * 1024,
  /**
   * Node: the file and its decoded pixels together (decode.ts's estimate from the header). Only a
   * crafted file reaches it: 8192 x 8192 RGBA with an EXIF rotation (512 MiB of pixels) behind more
   * than 128 MiB of filler. With it one decode fits the CLI's 1 GiB beside the model.
   */
  maxDecodeBytes: 640 * 1024 * 1024,
  maxSide: 16384,
  maxJpegScans: 100,
  maxPages: 256,
  timeoutSeconds: 10,
};
