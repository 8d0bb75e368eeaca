// Reading request bodies from strangers: every body is bounded (413 beyond maxBody), and all the
// bodies being read at once share one byte budget (503 beyond it), so many concurrent uploads cannot
// make the process buffer without bound. Multipart bodies are split here with a part count limit.

import type { IncomingMessage } from 'node:http';
import { ClientClosedError, HttpError } from './http-error.js';

export class BodyBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  get inUse(): number {
    return this.used;
  }

  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
  }
}

/** Reads the whole body, at most maxBody bytes; the bytes count against `budget` until `release`. */
export async function readBody(req: IncomingMessage, maxBody: number, budget: BodyBudget): Promise<{ body: Buffer; release: () => void }> {
  const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  if (declared !== undefined && declared > maxBody) throw new HttpError(413, `the body is ${declared} bytes; at most ${maxBody} are accepted`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBody) throw new HttpError(413, `the body is over ${maxBody} bytes; at most ${maxBody} are accepted`);
      if (!budget.take(chunk.length)) {
        size -= chunk.length;
        throw new HttpError(503, 'too many request bytes are being read at once; retry shortly', { 'Retry-After': '1' });
      }
      chunks.push(chunk);
    }
  } catch (err) {
    budget.give(size);
    // Node ends the body stream with 'aborted' (ECONNRESET) when the connection closes mid-body.
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') throw new ClientClosedError(`after ${size} bytes of the body`);
    throw err;
  }
  let released = false;
  return {
    body: Buffer.concat(chunks, size),
    release: () => {
      if (!released) budget.give(size);
      released = true;
    },
  };
}

export interface Part {
  /** The part's file name (or field name) for messages. */
  name: string;
  data: Buffer;
}

/** The parts of a multipart/form-data body, at most maxParts; names default to `part N`. */
export function multipartParts(body: Buffer, contentType: string, maxParts: number): Part[] {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!match) throw new HttpError(400, 'multipart body without a boundary in Content-Type');
  const delimiter = Buffer.from(`--${match[1] ?? match[2]}`);
  const parts: Part[] = [];
  let at = body.indexOf(delimiter);
  if (at < 0) throw new HttpError(400, 'multipart body: boundary not found');
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString() === '--') break; // closing delimiter
    if (body.subarray(at, at + 2).toString() !== '\r\n') throw new HttpError(400, 'multipart body: malformed boundary line');
    const headerEnd = body.indexOf('\r\n\r\n', at);
    if (headerEnd < 0) throw new HttpError(400, 'multipart body: part headers never end');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd + 4);
    if (next < 0) throw new HttpError(400, 'multipart body: no closing boundary');
    if (parts.length === maxParts) throw new HttpError(413, `more than ${maxParts} parts in one request`);
    const headers = body.subarray(at + 2, headerEnd).toString('latin1');
    const name = /filename="([^"]*)"/i.exec(headers)?.[1] || /name="([^"]*)"/i.exec(headers)?.[1] || `part ${parts.length}`;
    parts.push({ name, data: body.subarray(headerEnd + 4, next) });
    at = next + 2;
  }
  if (parts.length === 0) throw new HttpError(422, 'multipart body holds no parts');
  return parts;
}
