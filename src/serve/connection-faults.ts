// What the HTTP parser reports about a connection ('clientError'), as an answer that says whose fault
// it is. A request being answered on that connection gets the fault as its own answer (its body ended
// before its Content-Length: 400; it arrived too slowly: 408; its client left: 499). A connection
// with no request yet (headers too slow, malformed, too large) is answered here, on the socket.

import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ClientClosedError, HttpError } from './http-error.js';

/** Ends the request in flight on a connection with `reason` (its handler answers). */
export type EndRequest = (reason: HttpError) => void;

/** The answer to a parser error about a connection; `inRequest`: a request's headers had arrived. */
export function connectionFault(err: NodeJS.ErrnoException, timeoutMs: number, inRequest: boolean): HttpError {
  switch (err.code) {
    case 'HPE_INVALID_EOF_STATE':
      // The client closed its sending side (it may still read) inside a message it had begun.
      return new HttpError(400, inRequest ? 'the body ended before the length its Content-Length (or chunked encoding) announced' : 'the connection ended inside the request headers');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError(408, `the request ${inRequest ? 'body' : 'headers'} did not arrive within ${timeoutMs} ms`);
    case 'HPE_HEADER_OVERFLOW':
      return new HttpError(431, 'the request headers are too large');
    default:
      if (err.code?.startsWith('HPE_')) return new HttpError(400, `malformed HTTP request (${err.code})`);
      return new ClientClosedError(inRequest ? 'mid-request' : 'before sending a request');
  }
}

/** A one-line JSON answer written straight to a socket that has no request object; the socket then closes. */
export function answerOnSocket(socket: Duplex, fault: HttpError): void {
  const body = JSON.stringify({ status: fault.status, message: fault.message });
  socket.end(`HTTP/1.1 ${fault.status} ${STATUS_CODES[fault.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  // A client that never reads or closes does not keep the socket.
  setTimeout(() => socket.destroy(), 1000).unref();
}
