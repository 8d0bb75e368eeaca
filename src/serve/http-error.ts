// An error that is an HTTP answer: its status, one line saying why, and headers such as Retry-After.

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
