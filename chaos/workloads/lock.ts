/**
 * The lock workload: clients take one lock with a TTL, make fenced writes to a resource key
 * (PUT with `fence: {lock, token}`, which the state machine refuses with stale_token once the
 * token is not the holder's), and release it. Some clients stall past their TTL while they
 * think they still hold the lock — the case fencing exists for: their late writes must be
 * refused, so the tokens of the writes that land never go backwards. Each written value starts
 * with its token, so the resource key's full write history can be checked too. The lock and
 * its resource rotate every window (chaos-lock-<generation>, chaos/resource/<generation>), and
 * half of the acquires are try-locks (waitMs 0), whose 423 says the lock was held.
 */
import type { Random } from '../../src/common/random.ts';
import { definitelyNotApplied, type ChaosHttp, type Reply } from '../client.ts';
import type { History, Operation } from '../history.ts';
import { describe } from './register.ts';
import type { Workload, WorkloadContext } from './workload.ts';

/** Lock names and resource keys rotate every `windowMs`: chaos-lock-<generation>, chaos/resource/<generation>. */
export const LOCK_PREFIX = 'chaos-lock-';
export const RESOURCE_PREFIX = 'chaos/resource/';

export interface LockOptions {
  readonly clients: number;
  readonly ttlMs: number;
  readonly deadlineMs: number;
  /** Chance that a holder stalls past its TTL before its next fenced write. */
  readonly stallChance: number;
  /** Chance that an acquire is a try-lock (waitMs 0); the others wait up to the deadline. */
  readonly tryChance: number;
  /**
   * Each window uses a lock and resource of its own (as the register rotates keys), so one
   * lock's history stays small enough for the linearizability search.
   */
  readonly windowMs: number;
}

export const DEFAULT_LOCK: LockOptions = { clients: 4, ttlMs: 1_500, deadlineMs: 3_000, stallChance: 0.25, tryChance: 0.5, windowMs: 10_000 };

/** An acknowledged fenced write. */
export interface FencedWrite {
  /** The resource key (absent: the one key a replay was asked for). */
  readonly key?: string;
  readonly token: number;
  readonly revision: number;
  readonly value: string;
}

/** An acquire that answered with a token: for the "tokens grow in real time" check. */
export interface Grant {
  readonly token: number;
  readonly invokeMs: number;
  readonly completeMs: number;
  readonly client: number;
}

export class LockWorkload implements Workload {
  readonly name = 'lock';
  readonly fencedWrites: FencedWrite[] = [];
  readonly grants: Grant[] = [];
  /** Every resource key written to (one per window). */
  readonly resources = new Set<string>();

  constructor(private readonly options: LockOptions) {}

  async runClient(client: number, context: WorkloadContext): Promise<void> {
    const { random, history, http } = context;
    for (let seq = 0; !context.stopped(); seq++) {
      const generation = Math.floor(history.now() / this.options.windowMs);
      const lock = `${LOCK_PREFIX}${generation}`;
      const resource = `${RESOURCE_PREFIX}${generation}`;
      this.resources.add(resource);
      const token = await this.acquire(client, lock, `c${client}-${seq}`, context.pickNode(), history, http, random);
      if (token !== null) {
        const writes = 1 + random.int(3);
        for (let write = 0; write < writes && !context.stopped(); write++) {
          if (random.float() < this.options.stallChance) await sleep(this.options.ttlMs + 300 + random.int(1_200));
          else await context.think(random);
          await this.fencedWrite(client, lock, resource, token, `${token}:c${client}-${seq}-${write}`, context.pickNode(), history, http);
        }
        await this.release(client, lock, token, context.pickNode(), history, http);
      }
      await context.think(random);
    }
  }

  private async acquire(client: number, lock: string, owner: string, url: string, history: History, http: ChaosHttp, random: Random): Promise<number | null> {
    const waitMs = random.float() < this.options.tryChance ? 0 : 1 + random.int(this.options.deadlineMs - 500);
    const started = history.invoke(this.name, client, url, { f: 'acquire', lock, owner, ttlMs: this.options.ttlMs, waitMs });
    const body = { ttlMs: this.options.ttlMs, waitMs, owner };
    const reply = await http.call(url, 'POST', `/v1/locks/${lock}/acquire`, body, this.options.deadlineMs);
    if (reply.kind === 'answer' && reply.status === 200) {
      const token = Number((reply.body as { token?: unknown }).token);
      history.complete(started, 'ok', describe(reply));
      this.grants.push({ token, invokeMs: started.invokeMs, completeMs: started.completeMs ?? history.now(), client });
      return token;
    }
    this.finish(history, started, reply);
    return null;
  }

  private async fencedWrite(client: number, lock: string, key: string, token: number, value: string, url: string, history: History, http: ChaosHttp): Promise<void> {
    const started = history.invoke(this.name, client, url, { f: 'fenced-write', lock, key, value, token });
    const body = { value, fence: { lock, token } };
    const reply = await http.call(url, 'PUT', `/v1/kv/${key}`, body, this.options.deadlineMs);
    if (reply.kind === 'answer' && reply.status === 200) {
      history.complete(started, 'ok', describe(reply));
      this.fencedWrites.push({ key, token, value, revision: Number((reply.body as { revision?: unknown }).revision) });
      return;
    }
    this.finish(history, started, reply);
  }

  private async release(client: number, lock: string, token: number, url: string, history: History, http: ChaosHttp): Promise<void> {
    const started = history.invoke(this.name, client, url, { f: 'release', lock, token });
    const reply = await http.call(url, 'POST', `/v1/locks/${lock}/release`, { token }, this.options.deadlineMs);
    if (reply.kind === 'answer' && reply.status === 200) history.complete(started, 'ok', describe(reply));
    else this.finish(history, started, reply);
  }

  private finish(history: History, started: Operation, reply: Reply): void {
    history.complete(started, definitelyNotApplied(reply) ? 'fail' : 'unknown', describe(reply));
  }
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}
