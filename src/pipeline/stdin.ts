// `-` as an INPUT: standard input read whole, up to a bound, holding one image or one .npy tensor.

/** The INPUT argument that means standard input. */
export const STDIN_INPUT = '-';

/** 1 GiB: a .npy of about 5,400 samples at 3x128x128, or any image sharp accepts. */
export const MAX_STDIN_BYTES = 1 << 30;

export async function readStdin(stream: NodeJS.ReadableStream = process.stdin, limit = MAX_STDIN_BYTES): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += bytes.length;
    if (total > limit) throw new Error(`standard input: more than ${limit} bytes`);
    chunks.push(bytes);
  }
  if (total === 0) throw new Error('standard input: empty (expected an image or a .npy tensor)');
  return Buffer.concat(chunks, total);
}

/** Whether the bytes start with the .npy magic string. */
export function isNpyBytes(bytes: Uint8Array): boolean {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}
