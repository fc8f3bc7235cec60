/**
 * A server-sent events parser (the WHATWG framing): feed it text as it arrives, get complete
 * events back. Comments (`: keepalive`) are dropped; `data` lines of one event are joined by
 * newlines; the JSON in `data` is parsed when it is JSON.
 */

export interface SseEvent {
  readonly event: string;
  readonly id?: string;
  readonly data: unknown;
}

export class SseParser {
  private buffer = '';

  /** Adds `chunk`; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const events: SseEvent[] = [];
    for (;;) {
      const match = /\r\n\r\n|\n\n|\r\r/.exec(this.buffer);
      if (match === null) break;
      const block = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = parseBlock(block);
      if (event !== null) events.push(event);
    }
    return events;
  }
}

function parseBlock(block: string): SseEvent | null {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (data.length === 0) return null;
  const text = data.join('\n');
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    // not JSON: keep the text
  }
  return { event, ...(id === undefined ? {} : { id }), data: parsed };
}

/** The events of a stream of text chunks. */
export async function* sseEvents(chunks: AsyncIterable<string>): AsyncGenerator<SseEvent> {
  const parser = new SseParser();
  for await (const chunk of chunks) for (const event of parser.push(chunk)) yield event;
}
