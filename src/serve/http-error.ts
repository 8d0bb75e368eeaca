// An error that is an HTTP answer: its status, one line saying why, and headers such as Retry-After.
// Whose fault each status is: 4xx the client's (408: it sent too slowly; 400: its request was
// malformed or its body ended early), 503 the service's (overloaded: retry after Retry-After), 500
// the service's own bug, and 499 (nginx's convention) a client that left before its answer.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
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
