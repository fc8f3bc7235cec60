/**
 * Every error the server sends has the contract's shape, `{"error": {"code", "message", ...}}`,
 * whoever raised it: a ConcordError from the service or the state machine, fastify's own
 * (malformed JSON, schema validation, body too large, unknown content type, unknown route), or a
 * bug (a 500 with no stack trace; the trace goes to the log). The status comes from
 * ERROR_CODES, the one mapping in src/common/errors.ts.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConcordError, ERROR_CODES, type ErrorCode } from '../common/errors.ts';

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly [detail: string]: unknown };
}

/** A status and body ready to send. */
export interface ErrorAnswer {
  readonly status: number;
  readonly body: ErrorBody;
}

/** Statuses after which a client should wait before trying again. */
const RETRYABLE_STATUSES = new Set([429, 503]);

export function contractError(code: ErrorCode, message: string, details: Readonly<Record<string, unknown>> = {}): ConcordError {
  return new ConcordError(code, message, details);
}

function answer(status: number, code: string, message: string, details: Readonly<Record<string, unknown>> = {}): ErrorAnswer {
  return { status, body: { error: { ...details, code, message } } };
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && ('statusCode' in error || 'validation' in error || 'code' in error);
}

/** The contract code for a 4xx fastify raised itself. */
function codeForClientStatus(status: number): ErrorCode {
  if (status === 404) return 'not_found';
  if (status === 413) return 'payload_too_large';
  return 'invalid_argument';
}

function fromFastifyError(error: FastifyError): ErrorAnswer | null {
  if (error.validation !== undefined) {
    // fastify's message already names the part and field: "body/value must be string".
    return answer(400, 'invalid_argument', error.message);
  }
  const status = error.statusCode;
  if (status === undefined || status < 400 || status >= 500) return null;
  // 415 (no parser for the content type) has no code of its own in the contract: it is a
  // malformed request, like malformed JSON.
  const code = codeForClientStatus(status);
  return answer(ERROR_CODES[code], code, error.message);
}

/** Maps anything thrown while serving a request to the answer the contract prescribes. */
export function toErrorAnswer(error: unknown): ErrorAnswer {
  if (error instanceof ConcordError) {
    const status = error.status;
    // Internal codes (storage_failure) stay in the log; a client sees only that the node failed.
    if (status >= 500 && status !== 503 && status !== 504) return answer(500, 'internal', 'internal error');
    return answer(status, error.code, error.message, error.details);
  }
  if (isFastifyError(error)) {
    const mapped = fromFastifyError(error);
    if (mapped !== null) return mapped;
  }
  return answer(500, 'internal', 'internal error');
}

/** Sends `answer`, with `retry-after` where the contract asks for it. */
export function sendErrorAnswer(reply: FastifyReply, errorAnswer: ErrorAnswer, retryAfterSeconds: number): FastifyReply {
  // An error may know better how long to wait (a token's rate bucket: until it refills).
  const ownRetryAfter = errorAnswer.body.error['retryAfterSeconds'];
  const seconds = typeof ownRetryAfter === 'number' ? ownRetryAfter : retryAfterSeconds;
  if (RETRYABLE_STATUSES.has(errorAnswer.status)) reply.header('retry-after', String(seconds));
  return reply.code(errorAnswer.status).type('application/json; charset=utf-8').send(errorAnswer.body);
}

/** Installs the error and not-found handlers that keep every error in the contract's shape. */
export function installErrorHandlers(app: FastifyInstance, retryAfterSeconds: number): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const errorAnswer = toErrorAnswer(error);
    if (errorAnswer.status >= 500 && errorAnswer.status !== 503 && errorAnswer.status !== 504) {
      request.log.error({ err: error }, 'request failed');
    } else {
      request.log.debug({ code: errorAnswer.body.error.code }, errorAnswer.body.error.message);
    }
    if (errorAnswer.status === 413) keepConnectionToDiscardBody(request, reply);
    return sendErrorAnswer(reply, errorAnswer, retryAfterSeconds);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    sendErrorAnswer(reply, answer(404, 'not_found', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`), retryAfterSeconds),
  );
}

/**
 * Bodies over the limit whose declared length is at most this are read and discarded, so that
 * their sender gets its 413; beyond it the connection is closed unread.
 */
export const MAX_DISCARDED_BODY_BYTES = 16 * 1024 * 1024;

/**
 * fastify answers a body over the limit with `connection: close` and without reading it. Closing
 * a socket that still holds unread data resets the connection, so a client still sending its
 * body (a 3 MB one on loopback, about one time in three on this machine) got EPIPE or
 * ECONNRESET instead of the 413. When the declared length is moderate, the connection stays
 * open: Node reads the rest of the body and discards it (its parser knows where the body ends,
 * so the next request on the connection is read correctly), and the client reads its answer.
 */
function keepConnectionToDiscardBody(request: FastifyRequest, reply: FastifyReply): void {
  const declared = Number(request.headers['content-length']);
  if (!Number.isSafeInteger(declared) || declared > MAX_DISCARDED_BODY_BYTES) return;
  if (reply.getHeader('connection') === 'close') reply.removeHeader('connection');
}

/**
 * What a connection gets when Node's HTTP parser refuses the request before fastify sees it
 * (headers beyond Node's 16 KiB, a NUL or space in the request line, a bad method, conflicting
 * framing headers, a request that did not arrive in time). fastify's default answer there is
 * `{"error": "Bad Request", "statusCode": 400}` — or 431 / 408, statuses the contract does not
 * have — so this writes the contract's shape instead, then closes the connection (the parser
 * cannot resync on a broken stream). Oversized headers are 413 payload_too_large, the rest
 * 400 invalid_argument.
 */
export function contractClientErrorHandler(nodeId: string): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const errorAnswer =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? answer(413, 'payload_too_large', 'request headers exceed the 16 KiB limit')
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? answer(400, 'invalid_argument', 'the request did not arrive in time')
          : answer(400, 'invalid_argument', 'malformed HTTP request');
    const body = JSON.stringify(errorAnswer.body);
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${errorAnswer.status} ${errorAnswer.status === 413 ? 'Payload Too Large' : 'Bad Request'}\r\n` +
          `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
          `x-concord-node: ${nodeId}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}
