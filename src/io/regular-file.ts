// Reading a file named by a stranger. A path given as a model, .npy, thresholds file, archive or
// image may name a character device (/dev/zero reads forever), a FIFO (blocks, then streams without
// end) or a directory; only a regular file of known size is read, never past the size it had when
// opened, so memory is bounded by the file before any byte is parsed.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { type ErrorKind, RcaeError } from '../errors.js';

/** A path that is missing, unreadable or not a regular file; the message names it. */
export class FileRefusedError extends RcaeError {
  readonly kind: ErrorKind = 'input';
}

/** A regular file larger than its role allows: refused before a byte is read. */
export class FileTooLargeError extends FileRefusedError {
  override readonly kind = 'limit';
}

// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The one-line reason a path cannot be opened, from the errno code rather than Node's wording. */
function openProblem(path: string, err: NodeJS.ErrnoException): FileRefusedError {
  const why: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    ENOTDIR: 'no such file (a parent is not a directory)',
    ELOOP: 'too many levels of symbolic links',
    ENAMETOOLONG: 'file name too long',
  };
  return new FileRefusedError(`${path}: cannot read: ${why[err.code ?? ''] ?? err.message}`, { subject: path });
}

/** Throws unless `st` is a regular file of at most `maxBytes`; `what` names the file's role. */
export function checkRegular(path: string, st: Stats, maxBytes: number, what: string): void {
  if (!st.isFile()) throw new FileRefusedError(`${path}: is ${kindOf(st)}, not a regular file; refusing to read it as ${what}`);
  if (st.size > maxBytes) throw new FileTooLargeError(`${path}: ${st.size} bytes is too large for ${what} (limit ${maxBytes})`);
}

/** A refusal as it is, any other failure while reading as one line naming `path`. */
function readProblem(path: string, err: unknown): FileRefusedError {
  return err instanceof FileRefusedError ? err : new FileRefusedError(`${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
}

/** The whole content of a regular file of at most `maxBytes`; errors are one line naming `path`. */
export function readRegularFile(path: string, maxBytes: number, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    throw openProblem(path, err as NodeJS.ErrnoException);
  }
  try {
    const st = fstatSync(fd);
    checkRegular(path, st, maxBytes, what);
    const out = Buffer.allocUnsafe(st.size);
    let n = 0;
    while (n < out.length) {
      const got = readSync(fd, out, n, out.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return out.subarray(0, n);
  } catch (err) {
    throw readProblem(path, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a regular file of at most `maxBytes` for reading, without blocking on a FIFO; the caller
 * closes the handle and reads no more than `size`, its size when opened.
 */
export async function openRegularFile(path: string, maxBytes: number, what: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (err) {
    throw openProblem(path, err as NodeJS.ErrnoException);
  }
  try {
    const st = await handle.stat();
    checkRegular(path, st, maxBytes, what);
    return { handle, size: st.size };
  } catch (err) {
    await handle.close();
    throw readProblem(path, err);
  }
}

/** As readRegularFile, without blocking the event loop; `beforeRead` learns the size before any byte is read. */
export async function readRegularFileAsync(path: string, maxBytes: number, what: string, beforeRead?: (bytes: number) => Promise<void>): Promise<Buffer> {
  const { handle, size } = await openRegularFile(path, maxBytes, what);
  try {
    await beforeRead?.(size);
    const out = Buffer.allocUnsafe(size);
    let n = 0;
    while (n < out.length) {
      const { bytesRead } = await handle.read(out, n, out.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return out.subarray(0, n);
  } catch (err) {
    throw readProblem(path, err);
  } finally {
    await handle.close();
  }
}
