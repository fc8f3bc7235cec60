/**
 * A deliberately dumb HTTP/1.1 client over a raw socket, for hostile-input tests: it sends the
 * request target, headers and body bytes exactly as given (undici refuses NUL, spaces and
 * other bytes a hostile client can still put on the wire), then reads one answer.
 *
 * The outcome is either an answer (status, headers, body text) or `closed` when the server
 * closed or reset the connection without answering. An event stream is cut right after its
 * headers (an abrupt disconnect). A server that neither answers nor closes within the bound is
 * a hang, and rejects.
 */
import net from 'node:net';

export interface RawRequest {
  readonly method: string;
  /** The request target, sent verbatim. */
  readonly target: string;
  /** Header lines, sent verbatim and in order (duplicates allowed). */
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Uint8Array;
}

export type RawOutcome =
  | { readonly kind: 'answer'; readonly status: number; readonly headers: ReadonlyMap<string, string>; readonly text: string }
  | { readonly kind: 'closed' };

const HEADER_END = Buffer.from('\r\n\r\n');

interface Head {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly bodyStart: number;
}

function parseHead(buffer: Buffer): Head | null {
  const end = buffer.indexOf(HEADER_END);
  if (end < 0) return null;
  const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (match === null) throw new Error(`not an HTTP status line: ${JSON.stringify(lines[0])}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(match[1]), headers, bodyStart: end + HEADER_END.length };
}

/** The body of a chunked answer, or null while the terminating chunk has not arrived. */
function dechunk(bytes: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) return null;
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) throw new Error('malformed chunk size');
    if (size === 0) return Buffer.concat(parts);
    if (bytes.length < lineEnd + 2 + size + 2) return null;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/** The complete body once it has all arrived (by content-length or chunks), else null. */
function completeBody(head: Head, received: Buffer): Buffer | null {
  const rest = received.subarray(head.bodyStart);
  if (head.headers.get('transfer-encoding')?.toLowerCase() === 'chunked') return dechunk(rest);
  const length = head.headers.get('content-length');
  if (length !== undefined) return rest.length >= Number(length) ? rest.subarray(0, Number(length)) : null;
  return null;
}

export function rawHttp(host: string, port: number, raw: RawRequest, timeoutMs = 15_000): Promise<RawOutcome> {
  const lines = [`${raw.method} ${raw.target} HTTP/1.1`, `host: ${host}:${port}`, 'connection: close'];
  for (const [name, value] of raw.headers) lines.push(`${name}: ${value}`);
  if (raw.body !== undefined) lines.push(`content-length: ${raw.body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return new Promise<RawOutcome>((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (outcome: RawOutcome | Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const timer = setTimeout(
      () => finish(new Error(`no answer and no close within ${timeoutMs} ms for ${raw.method} ${JSON.stringify(raw.target.slice(0, 200))}`)),
      timeoutMs,
    );
    const settleFrom = (received: Buffer, ended: boolean): void => {
      let parsed: Head | null;
      try {
        parsed = parseHead(received);
      } catch (error) {
        finish(error as Error);
        return;
      }
      if (parsed === null) {
        if (ended) finish({ kind: 'closed' });
        return;
      }
      const answer = (text: string): RawOutcome => ({ kind: 'answer', status: parsed.status, headers: parsed.headers, text });
      if (parsed.headers.get('content-type')?.startsWith('text/event-stream') === true) {
        finish(answer(''));
        return;
      }
      let body: Buffer | null;
      try {
        body = completeBody(parsed, received);
      } catch (error) {
        finish(error as Error);
        return;
      }
      if (body !== null) finish(answer(body.toString('utf8')));
      else if (ended) finish(answer(received.subarray(parsed.bodyStart).toString('utf8')));
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      settleFrom(Buffer.concat(chunks), false);
    });
    socket.on('error', () => settleFrom(Buffer.concat(chunks), true));
    socket.on('close', () => settleFrom(Buffer.concat(chunks), true));
    socket.on('connect', () => {
      socket.write(head);
      if (raw.body !== undefined && raw.body.length > 0) socket.write(raw.body);
    });
  });
}
