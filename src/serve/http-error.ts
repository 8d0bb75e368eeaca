// What an error answers over HTTP. Whose fault each status is: 4xx the client's (408: it sent too
// slowly; 400: its request was malformed or its body ended early), 503 the service's (overloaded or
// its GPU lost: retry after Retry-After), 500 the service's own bug, and 499 (nginx's convention) a
// client that left before its answer. An HttpError names its own status; every other error answers
// by its kind (errors.ts), through STATUS_OF_KIND, the one table of it.

import { type ErrorKind, kindOf, RcaeError } from '../errors.js';

/** The answer to an error of each kind that names no status of its own. */
export const STATUS_OF_KIND: Readonly<Record<ErrorKind, { status: number; headers?: Record<string, string> }>> = {
  usage: { status: 400 },
  // The request's body (an image, a .npy) cannot be used or does not parse: unprocessable content.
  input: { status: 422 },
  format: { status: 422 },
  limit: { status: 413 },
  // The model is being re-created after a device loss, which takes seconds.
  device: { status: 503, headers: { 'Retry-After': '5' } },
  // The message stays in the server's log; the client learns only that it was the service's fault.
  internal: { status: 500 },
};

/** The kind of an answer with `status`: what the family calls the fault the status reports. */
function kindOfStatus(status: number): ErrorKind {
  if (status === 413 || status === 431) return 'limit';
  if (status === 408 || status === 422 || status === CLIENT_CLOSED) return 'input';
  if (status >= 500) return status === 500 ? 'internal' : 'device';
  return 'usage';
}

/** An error that is an HTTP answer: its status, one line saying why, and headers such as Retry-After. */
export class HttpError extends RcaeError {
  readonly kind: ErrorKind;

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.kind = kindOfStatus(status);
  }
}

/** The status a request is counted and logged with when its client closed the connection before the answer. */
export const CLIENT_CLOSED = 499;

/** The client closed the connection before its answer: nothing is sent, the request is counted as 499. */
export class ClientClosedError extends HttpError {
  constructor(when: string) {
    super(CLIENT_CLOSED, `the client closed the connection ${when}`);
  }
}

/** The status, headers and one-line reason `err` answers with; `internal` holds what a 500 keeps from the client. */
export function answerOf(err: unknown): { status: number; message: string; headers: Record<string, string>; internal?: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message, headers: err.headers };
  const message = err instanceof Error ? err.message : String(err);
  const { status, headers = {} } = STATUS_OF_KIND[kindOf(err)];
  if (status === 500) return { status, message: 'internal error (see the server log)', headers, internal: message };
  return { status, message, headers };
}
