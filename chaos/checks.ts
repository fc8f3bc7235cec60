/**
 * What a chaos run checks once the faults stop. Each check says ok, violated or skipped (a
 * workload that did not run), with a one-line detail for the summary table; a violation also
 * carries a report for the run folder.
 */
import { request } from 'undici';
import { checkLinearizable, formatHistory, type HistoryRecord } from '../test/sim/checkers/linearizability.ts';
import type { ChaosHttp } from './client.ts';
import type { FencedWrite, Grant } from './workloads/lock.ts';
import type { AckedWrite } from './workloads/register.ts';

export interface CheckResult {
  readonly name: string;
  readonly verdict: 'ok' | 'violated' | 'skipped';
  readonly detail: string;
  /** Longer evidence for the run folder (the failing key's operations, ...). */
  readonly report?: string;
}

export function checkRegisterLinearizable(records: readonly HistoryRecord[], maxStatesPerKey: number): CheckResult {
  const name = 'register linearizable';
  if (records.length === 0) return { name, verdict: 'skipped', detail: 'no register operations' };
  const result = checkLinearizable(records, { maxStatesPerKey });
  if (result.ok === true) {
    return { name, verdict: 'ok', detail: `${records.length} ops on ${result.keysChecked} keys, ${result.statesExplored} states` };
  }
  if (result.ok === 'inconclusive') {
    // Not proven either way: a run that cannot vouch for its history does not pass.
    return { name, verdict: 'violated', detail: `inconclusive on key ${result.key} after ${result.statesExplored} states` };
  }
  return { name, verdict: 'violated', detail: result.reason, report: `${result.reason}\n\n${formatHistory(result.ops)}\n` };
}

/** The token each fenced value starts with ("<token>:<writer>"). */
function tokenOf(value: string): number {
  return Number(value.slice(0, value.indexOf(':')));
}

/**
 * Fenced writes, in the order they were applied (revision), never carry a smaller token than an
 * earlier one: from the acknowledged writes, and from the resource key's whole write history
 * (which includes writes whose answer was lost) when the watch history still holds it.
 */
export function checkFencedTokens(acked: readonly FencedWrite[], applied: readonly FencedWrite[] | string, grants: number, replayNote = ''): CheckResult {
  const name = 'fenced tokens monotonic';
  if (grants === 0 && acked.length === 0) return { name, verdict: 'skipped', detail: 'no lock operations' };
  const problems: string[] = [];
  const scan = (writes: readonly FencedWrite[], what: string): void => {
    // Each resource key on its own (one per lock window): tokens of different locks do not compare.
    const byKey = new Map<string, FencedWrite[]>();
    for (const write of writes) byKey.set(write.key ?? '', [...(byKey.get(write.key ?? '') ?? []), write]);
    for (const [key, list] of byKey) {
      const ordered = [...list].sort((a, b) => a.revision - b.revision);
      for (let i = 1; i < ordered.length; i++) {
        const before = ordered[i - 1];
        const after = ordered[i];
        if (before !== undefined && after !== undefined && after.token < before.token) {
          problems.push(`${what}${key === '' ? '' : ` to ${key}`}: token ${after.token} (${after.value}, revision ${after.revision}) applied after token ${before.token} (${before.value}, revision ${before.revision})`);
        }
      }
    }
  };
  scan(acked, 'acknowledged writes');
  if (typeof applied !== 'string') scan(applied, 'applied writes');
  const appliedNote = typeof applied === 'string' ? `; full write history not checked: ${applied}` : `, ${applied.length} applied${replayNote}`;
  if (problems.length > 0) return { name, verdict: 'violated', detail: problems[0] ?? '', report: problems.join('\n') };
  return { name, verdict: 'ok', detail: `${acked.length} acknowledged fenced writes${appliedNote}` };
}

/** A lock granted after another grant completed has a greater token. */
export function checkGrantOrder(grants: readonly Grant[]): CheckResult {
  const name = 'lock tokens grow in real time';
  if (grants.length === 0) return { name, verdict: 'skipped', detail: 'no lock granted' };
  const byCompletion = [...grants].sort((a, b) => a.completeMs - b.completeMs);
  const byInvocation = [...grants].sort((a, b) => a.invokeMs - b.invokeMs);
  let maxDone: Grant | null = null;
  let next = 0;
  for (const grant of byInvocation) {
    while (next < byCompletion.length && (byCompletion[next]?.completeMs ?? Infinity) < grant.invokeMs) {
      const done = byCompletion[next++];
      if (done !== undefined && (maxDone === null || done.token > maxDone.token)) maxDone = done;
    }
    if (maxDone !== null && grant.token <= maxDone.token) {
      const detail = `client ${grant.client} got token ${grant.token} at ${grant.invokeMs.toFixed(0)} ms, after token ${maxDone.token} was granted (at ${maxDone.completeMs.toFixed(0)} ms)`;
      return { name, verdict: 'violated', detail };
    }
  }
  return { name, verdict: 'ok', detail: `${grants.length} grants` };
}

/** Every acknowledged insert-only write reads back with its value (linearizable reads). */
/**
 * The write histories of every resource key (one per lock window); keys whose history the watch
 * no longer holds (the last 10,000 events are kept) are counted in the note, not checked.
 */
export async function replayAllFencedWrites(url: string, http: ChaosHttp, keys: Iterable<string>): Promise<{ readonly writes: FencedWrite[]; readonly note: string }> {
  const writes: FencedWrite[] = [];
  const missed: string[] = [];
  let replayed = 0;
  for (const key of keys) {
    const replay = await replayFencedWrites(url, http, key);
    if (typeof replay === 'string') missed.push(`${key}: ${replay}`);
    else {
      replayed++;
      writes.push(...replay);
    }
  }
  const note = ` (write history of ${replayed} resource keys${missed.length === 0 ? '' : `; ${missed.length} not replayed, e.g. ${missed[0] ?? ''}`})`;
  return { writes, note };
}

export async function checkAckedWritesPresent(acked: readonly AckedWrite[], urls: readonly string[], http: ChaosHttp, when: string): Promise<CheckResult> {
  const name = `acknowledged writes present (${when})`;
  if (acked.length === 0) return { name, verdict: 'skipped', detail: 'no acknowledged inserts' };
  const missing: string[] = [];
  let cursor = 0;
  const worker = async (lane: number): Promise<void> => {
    for (let index = cursor++; index < acked.length; index = cursor++) {
      const write = acked[index];
      if (write === undefined) continue;
      // A read that does not answer is retried on another node: absence must be an answer.
      let verdict: string | null = 'no answer from any node';
      for (let attempt = 0; attempt < 6 && verdict !== null; attempt++) {
        const url = urls[(lane + attempt) % urls.length] ?? '';
        const reply = await http.call(url, 'GET', `/v1/kv/${write.key}`, undefined, 3_000);
        if (reply.kind !== 'answer' || reply.status >= 500) continue;
        const value = (reply.body as { value?: unknown }).value;
        verdict = reply.status === 200 && value === write.value ? null : `${write.key} (revision ${write.revision}): ${reply.status === 200 ? `value ${String(value)}` : `status ${reply.status}`}`;
      }
      if (verdict !== null) missing.push(verdict);
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, lane) => worker(lane)));
  if (missing.length > 0) {
    return { name, verdict: 'violated', detail: `${missing.length} of ${acked.length} missing, e.g. ${missing[0] ?? ''}`, report: missing.join('\n') };
  }
  return { name, verdict: 'ok', detail: `${acked.length} of ${acked.length} read back` };
}

/**
 * The resource key's whole write history, replayed from a watch at its createRevision up to
 * its current modRevision; a string says why it could not be had (e.g. history compacted).
 */
export async function replayFencedWrites(url: string, http: ChaosHttp, key: string, timeoutMs = 10_000): Promise<FencedWrite[] | string> {
  const current = await http.call(url, 'GET', `/v1/kv/${key}`, undefined, 3_000);
  if (current.kind !== 'answer') return `no answer reading ${key}`;
  if (current.status === 404) return [];
  if (current.status !== 200) return `reading ${key} answered ${current.status}`;
  const lastRevision = Number((current.body as { modRevision?: unknown }).modRevision);
  const firstRevision = Number((current.body as { createRevision?: unknown }).createRevision) || 1;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const writes: FencedWrite[] = [];
  try {
    const response = await request(`${url}/v1/watch?key=${encodeURIComponent(key)}&fromRevision=${firstRevision}`, {
      method: 'GET',
      signal: controller.signal,
      headers: { accept: 'text/event-stream' },
    });
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      return `watch from revision ${firstRevision} answered ${response.statusCode}: ${text.slice(0, 120)}`;
    }
    let buffer = '';
    for await (const chunk of response.body) {
      buffer += (chunk as Buffer).toString('utf8').replace(/\r\n/g, '\n');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: ?(.*)$/m.exec(block)?.[1]?.trim() ?? 'message';
        const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart()).join('\n');
        if (event === 'compacted') return 'the watch history was compacted';
        if (event !== 'put' || data === '') continue;
        const kv = JSON.parse(data) as { value?: unknown; modRevision?: unknown };
        const value = String(kv.value);
        const revision = Number(kv.modRevision);
        writes.push({ key, token: tokenOf(value), value, revision });
        if (revision >= lastRevision) return writes;
      }
    }
    return 'the watch stream ended early';
  } catch (error) {
    return `watch replay failed: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}
