/**
 * Server-sent events framing. Data is one line of JSON (JSON.stringify escapes newlines), so a
 * frame is always `event:`, optional `id:`, one `data:` line and a blank line. The id is the
 * revision the event completes: an EventSource that reconnects sends it back as Last-Event-ID,
 * which the watch route turns into `fromRevision = id + 1`.
 */
import type { WatchEvent } from '../../kv/index.ts';

export function sseFrame(event: string, data: unknown, id?: number): string {
  const idLine = id === undefined ? '' : `id: ${id}\n`;
  return `event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`;
}

/** A change as the contract sends it: the kv fields, `prev` only when the watcher asked. */
export function changeFrame(event: WatchEvent, prevValue: boolean): string {
  const { type, prev, ...change } = event;
  const data = prevValue && prev !== undefined ? { ...change, prev } : change;
  return sseFrame(type, data, event.modRevision);
}
