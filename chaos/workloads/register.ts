/**
 * The register workload: many clients doing get / put / compare-and-set on a few keys, each
 * value unique (client and sequence number), so the linearizability checker can tell every
 * write apart. Keys rotate every `keyWindowMs` (chaos/reg/<generation>/<k>), as Jepsen's
 * independent keys do, so no key's history grows past what the checker can search. A share of
 * the writes go to insert-only keys (chaos/ack/...): every one acknowledged must still be there
 * after the final heal and the full-cluster restart.
 */
import type { RegisterOp, RegisterOutcome } from '../../test/sim/checkers/linearizability.ts';
import { definitelyNotApplied, errorCode, type ChaosHttp, type Reply } from '../client.ts';
import type { History } from '../history.ts';
import type { Workload, WorkloadContext } from './workload.ts';

export interface RegisterOptions {
  readonly clients: number;
  readonly keys: number;
  readonly keyWindowMs: number;
  readonly deadlineMs: number;
}

export const DEFAULT_REGISTER: RegisterOptions = { clients: 10, keys: 3, keyWindowMs: 8_000, deadlineMs: 2_000 };

/** An acknowledged insert-only write: must be readable after the final heal. */
export interface AckedWrite {
  readonly key: string;
  readonly value: string;
  readonly revision: number;
}

export class RegisterWorkload implements Workload {
  readonly name = 'register';
  readonly acked: AckedWrite[] = [];

  constructor(private readonly options: RegisterOptions) {}

  async runClient(client: number, context: WorkloadContext): Promise<void> {
    const { random, history, http } = context;
    // The value each key held when this client last read it: what its next cas expects.
    const lastSeen = new Map<string, string | null>();
    for (let seq = 0; !context.stopped(); seq++) {
      const generation = Math.floor(history.now() / this.options.keyWindowMs);
      const key = `chaos/reg/${generation}/${random.int(this.options.keys)}`;
      const value = `c${client}-${seq}`;
      const url = context.pickNode();
      const roll = random.float();
      if (roll < 0.1) await this.insertOnly(client, `chaos/ack/c${client}-${seq}`, value, url, history, http);
      else if (roll < 0.5) {
        const seen = await this.get(client, key, url, history, http);
        if (seen !== undefined) lastSeen.set(key, seen);
      }
      else if (roll < 0.75) await this.put(client, key, value, url, history, http);
      else await this.cas(client, key, lastSeen.get(key) ?? null, value, url, history, http);
      await context.think(random);
    }
  }

  private async get(client: number, key: string, url: string, history: History, http: ChaosHttp): Promise<string | null | undefined> {
    const op: RegisterOp = { kind: 'get', key };
    const started = history.invoke(this.name, client, url, { f: 'get', key });
    const reply = await http.call(url, 'GET', `/v1/kv/${key}`, undefined, this.options.deadlineMs);
    if (reply.kind === 'answer' && (reply.status === 200 || errorCode(reply) === 'not_found')) {
      const value = reply.status === 200 ? String((reply.body as { value?: unknown }).value) : null;
      history.completeRegister(started, op, { status: 'ok', value }, { value, node: reply.node });
      return value;
    }
    // A read that did not answer constrains nothing; the checker drops unknown reads.
    history.completeRegister(started, op, { status: 'fail' }, describe(reply));
    return undefined;
  }

  private async put(client: number, key: string, value: string, url: string, history: History, http: ChaosHttp): Promise<void> {
    const op: RegisterOp = { kind: 'put', key, value };
    const started = history.invoke(this.name, client, url, { f: 'put', key, value });
    const reply = await http.call(url, 'PUT', `/v1/kv/${key}`, { value }, this.options.deadlineMs);
    history.completeRegister(started, op, writeOutcome(reply), describe(reply));
  }

  private async cas(client: number, key: string, expected: string | null, value: string, url: string, history: History, http: ChaosHttp): Promise<void> {
    const op: RegisterOp = { kind: 'cas', key, expected, value };
    const started = history.invoke(this.name, client, url, { f: 'cas', key, expected, value });
    const compare = expected === null
      ? { key, target: 'version', op: '==', value: 0 }
      : { key, target: 'value', op: '==', value: expected };
    const body = { compare: [compare], success: [{ put: { key, value } }], failure: [] };
    const reply = await http.call(url, 'POST', '/v1/txn', body, this.options.deadlineMs);
    let outcome: RegisterOutcome;
    if (reply.kind === 'answer' && reply.status === 200) {
      outcome = { status: 'ok', casSucceeded: (reply.body as { succeeded?: unknown }).succeeded === true };
    } else {
      outcome = definitelyNotApplied(reply) ? { status: 'fail' } : { status: 'unknown' };
    }
    history.completeRegister(started, op, outcome, describe(reply));
  }

  private async insertOnly(client: number, key: string, value: string, url: string, history: History, http: ChaosHttp): Promise<void> {
    const started = history.invoke(this.name, client, url, { f: 'insert', key, value });
    const reply = await http.call(url, 'PUT', `/v1/kv/${key}`, { value }, this.options.deadlineMs);
    const outcome = writeOutcome(reply);
    history.complete(started, outcome.status, describe(reply));
    if (outcome.status === 'ok' && reply.kind === 'answer') {
      this.acked.push({ key, value, revision: Number((reply.body as { revision?: unknown }).revision) });
    }
  }
}

function writeOutcome(reply: Reply): RegisterOutcome {
  if (reply.kind === 'answer' && reply.status === 200) return { status: 'ok' };
  return definitelyNotApplied(reply) ? { status: 'fail' } : { status: 'unknown' };
}

/** The part of an answer worth keeping in the history file. */
export function describe(reply: Reply): Record<string, unknown> {
  if (reply.kind === 'no-answer') return { error: reply.error };
  const body = reply.body as Record<string, unknown> | undefined;
  if (reply.status === 200) return { status: 200, node: reply.node, ...pick(body, ['revision', 'token', 'succeeded', 'value']) };
  return { status: reply.status, node: reply.node, code: errorCode(reply) };
}

function pick(body: Record<string, unknown> | undefined, fields: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of fields) if (body?.[field] !== undefined) picked[field] = body[field];
  return picked;
}
