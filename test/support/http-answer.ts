/** Reading an undici response the way every HTTP test wants it: status, headers, text and JSON. */
import type { Dispatcher } from 'undici';

export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  readonly body: unknown;
}

export async function readAnswer(response: Dispatcher.ResponseData): Promise<RawAnswer> {
  const text = await response.body.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.statusCode, headers: response.headers, text, body };
}
