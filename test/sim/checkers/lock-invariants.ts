/**
 * Checks of locks, elections and the service registry, fed by the lock and election workloads'
 * requests and answers and by every replica's applied entries and watch batches. Locks and
 * elections are keyed by kind and name (a lock "lk0" and an election "lk0" are two things, as in
 * src/lock); an election is judged as a lock whose holder is its leader.
 *
 * Locks and elections:
 * - replicas agree: every replica applying a lock entry gets the same result and lock events;
 * - the lock history is linearizable: the committed log is the witness order. Replayed through
 *   an independent model (lock-model.ts), every entry's real result and events must be the
 *   model's (a legal sequential history), and every answered request must have taken effect at
 *   its entry — one applied between the request's invocation and its answer — with the answer
 *   the entry gave (a blocking acquire answered "held" at the grant that names its waiter id);
 * - tokens strictly increase per lock and per election, in log order;
 * - a proclaim whose token does not lead is refused (stale_token) and changes nothing;
 * - a fenced resource never accepts a write with a token lower than one it already accepted;
 * - two holders never hold valid leases at once: a client may believe it holds from the answer
 *   granting it until it sends its release or until its lease could have run out, TTL (at the
 *   fastest node clock) after it sent the last renewal the leader acknowledged (the acquire, or a
 *   keepalive); two such windows of one lock must not overlap;
 * - FIFO: grants follow the model's queue, which is the order the acquires applied;
 * - after convergence no waiter is left in a queue whose lease ended or whose withdrawal applied,
 *   no holder's lease is gone, and each replica's queue is the model's.
 *
 * Registry:
 * - an instance whose heartbeats keep coming within its TTL is never removed (removal applies no
 *   sooner than TTL, at the fastest clock, after its last acknowledged heartbeat was sent);
 * - one that stops is gone within TTL + one election timeout (at the slowest clock) after the
 *   cluster healed and the leader that removes it established its term (its no-op applied):
 *   during faults no bound can hold (a minority leader cannot commit), a new leader restarts
 *   every countdown at full TTL, and a leader whose only quorum is a follower still catching up
 *   by snapshot commits nothing until it has; how soon all that comes is the liveness check's
 *   business;
 * - the change stream has every change: each entry that registers, deregisters or removes an
 *   instance publishes a watch batch at its revision holding that instance's key and the marker
 *   of its service.
 */
import { decodeCommand, isKvError, type KvApplyOutcome, type KvCommandBody, type WatchBatch } from '../../../src/kv/index.ts';
import type { ElectionLeader, LockEvent, LockQueries } from '../../../src/lock/index.ts';
import type { LeaderState } from './election-invariants.ts';
import { instanceKey, serviceMarkerKey } from '../../../src/registry/keys.ts';
import type { Entry, NodeId } from '../../../src/raft/types.ts';
import type { LockOp, LockOutcome } from '../sim-apps.ts';
import { LockModel, lockKey, parseLockKey, type ModelBody, type ModelCoverage, type ModelEntry } from './lock-model.ts';

export interface LockRequestRecord {
  readonly op: LockOp;
  readonly key: string;
  readonly sentMs: number;
  answeredMs: number | null;
  outcome: LockOutcome | undefined;
}

interface Holding {
  /** Who held it ("c1" for a lock client, "e0" for an election client). */
  readonly client: string;
  /** lockKey(kind, name). */
  readonly name: string;
  readonly token: number;
  readonly ttlMs: number;
  readonly startMs: number;
  /** Send times of the renewals the leader acknowledged (the acquire's first). */
  readonly renewals: number[];
  releasedMs: number | null;
}

interface Instance {
  readonly service: string;
  readonly id: string;
  readonly lease: string;
  readonly ttlMs: number;
  lastHeartbeatSentMs: number;
  lastHeartbeatAckMs: number;
  removedMs: number | null;
}

interface Applied extends ModelEntry {
  readonly atMs: number;
  readonly idempotencyKey: string | undefined;
  readonly signature: string;
  /** A resource write accepted: its key and the token its value names. */
  readonly resourceWrite: { readonly key: string; readonly token: number; readonly value: string } | null;
}

const LOCK_TYPES = new Set(['lockAcquire', 'lockRelease', 'lockWithdraw', 'lockDelayEnd', 'electionProclaim', 'leaseGrant', 'leaseExpire', 'leaseRevoke', 'put']);

/** Leases of the lock (LK…) and election (LE…) workloads' own, which the model follows. */
export const WORKLOAD_LEASE_PREFIXES = ['LK', 'LE'] as const;

export interface LockCoverage extends ModelCoverage {
  readonly registryRemovals: number;
  /** Entries that ended an election's leadership and elected the next candidate in line. */
  readonly electionHandoffs: number;
  readonly staleProclaimsRefused: number;
}

export class LockInvariantChecker {
  readonly violations: string[] = [];
  private readonly applied = new Map<number, Applied>();
  private readonly requests: LockRequestRecord[] = [];
  private readonly holdings: Holding[] = [];
  private readonly instances = new Map<string, Instance>();
  /**
   * Leases whose expiry or revocation applied (first seen), unless a later entry granted the id
   * again: a registration answered after its lease was already gone names a removed instance.
   */
  private readonly removedLeases = new Map<string, { readonly index: number; readonly atMs: number; readonly expired: boolean }>();
  private readonly lastBatch = new Map<NodeId, WatchBatch>();
  private healedMs: number | null = null;
  /** When each leader established its term (its no-op applied on it), in time order. */
  private readonly leaderEstablishedMs: number[] = [];
  private model: LockModel | null = null;

  constructor(
    private readonly now: () => number,
    /** Real ms per local ms of the fastest and the slowest node clock. */
    private readonly fastestClockRate: number,
    private readonly slowestClockRate: number,
    /** The longest randomized election timeout, in local ms. */
    private readonly electionTimeoutMs: number,
  ) {}

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(message);
  }

  // ---- From the workload ----------------------------------------------------------------

  requestSent(op: LockOp, key: string, sentMs: number): LockRequestRecord {
    const record: LockRequestRecord = { op, key, sentMs, answeredMs: null, outcome: undefined };
    this.requests.push(record);
    return record;
  }

  requestAnswered(record: LockRequestRecord, outcome: LockOutcome | undefined, atMs: number): void {
    record.outcome = outcome;
    record.answeredMs = outcome === undefined ? null : atMs;
  }

  /** `name`: lockKey(kind, name). */
  holdingStarted(client: string, name: string, token: number, ttlMs: number, atMs: number, renewedFromMs: number): number {
    this.holdings.push({ client, name, token, ttlMs, startMs: atMs, renewals: [renewedFromMs], releasedMs: null });
    return this.holdings.length - 1;
  }

  holdingRenewed(holding: number, sentMs: number): void {
    this.holdings[holding]?.renewals.push(sentMs);
  }

  holdingReleased(holding: number, atMs: number): void {
    const record = this.holdings[holding];
    if (record !== undefined && record.releasedMs === null) record.releasedMs = atMs;
  }

  instanceRegistered(service: string, id: string, lease: string, ttlMs: number, sentMs: number): void {
    const instance: Instance = { service, id, lease, ttlMs, lastHeartbeatSentMs: sentMs, lastHeartbeatAckMs: this.now(), removedMs: null };
    this.instances.set(`${service}/${id}`, instance);
    // The answer can come after the lease ended (the answering node was slow to apply, e.g. while
    // it restored a snapshot): the instance was removed then, before anyone here knew of it.
    const removal = this.removedLeases.get(lease);
    if (removal !== undefined) this.instanceRemoved(instance, removal.atMs, removal.expired);
  }

  instanceHeartbeat(service: string, id: string, sentMs: number, ackMs: number): void {
    const instance = this.instances.get(`${service}/${id}`);
    if (instance === undefined) return;
    instance.lastHeartbeatSentMs = Math.max(instance.lastHeartbeatSentMs, sentMs);
    instance.lastHeartbeatAckMs = Math.max(instance.lastHeartbeatAckMs, ackMs);
  }

  instanceStopped(_service: string, _id: string, _atMs: number): void {
    // Nothing to note: the bound is judged from the last acknowledged heartbeat and the heal.
  }

  instanceDeregistered(_service: string, _id: string): void {
    // Its removal is taken from the log (a deregistration that applied, answered or not).
  }

  // ---- From the simulation -------------------------------------------------------------

  healed(atMs: number): void {
    this.healedMs = atMs;
  }

  leaderEstablished(atMs: number): void {
    this.leaderEstablishedMs.push(atMs);
  }

  /** When the leader in office at `atMs` established its term (the last one at or before it). */
  private leaderSince(atMs: number): number {
    let since = 0;
    for (const establishedMs of this.leaderEstablishedMs) if (establishedMs <= atMs) since = establishedMs;
    return since;
  }

  onWatchBatch(node: NodeId, batch: WatchBatch): void {
    this.lastBatch.set(node, batch);
  }

  onApplied(node: NodeId, entry: Entry, outcome: KvApplyOutcome | null): void {
    if (outcome === null || outcome.deduplicated || outcome.commandType === null) return;
    for (const lease of outcome.leasesGranted) {
      const removal = this.removedLeases.get(lease.id);
      if (removal !== undefined && removal.index < entry.index) this.removedLeases.delete(lease.id);
    }
    const type = outcome.commandType;
    const registryChange = type === 'serviceRegister' || type === 'serviceDeregister' || type === 'leaseExpire' || type === 'leaseRevoke';
    if (!LOCK_TYPES.has(type) && !registryChange) return;
    const command = decodeCommand(entry.data);
    if (isKvError(command)) return;
    const body = command.body;
    if (registryChange) this.onRegistryChange(node, entry.index, body, outcome);
    if (!LOCK_TYPES.has(type)) return;
    const modelBody = toModelBody(body, outcome);
    if (modelBody === null) return;
    const result = summariseResult(body, outcome);
    const events = outcome.lockEvents.map(summariseEvent);
    const signature = `${result} ${events.join(' ')}`;
    const first = this.applied.get(entry.index);
    if (first !== undefined) {
      if (first.signature !== signature) {
        this.fail(`lock: replicas disagree at index ${entry.index}: first applied as ${first.signature}, on ${node} as ${signature}`);
      }
      return;
    }
    const grantedLeases = new Map<string, string>();
    for (const event of outcome.lockEvents) {
      if (event.type === 'granted') grantedLeases.set(`${lockKey(event.kind, event.name)}:${event.holder.token}`, event.holder.lease);
    }
    let resourceWrite: Applied['resourceWrite'] = null;
    if (body.type === 'put' && body.key.startsWith('res/') && result === 'ok') {
      resourceWrite = { key: body.key, token: Number(/^t(\d+)-/.exec(body.value)?.[1] ?? -1), value: body.value };
    }
    this.applied.set(entry.index, {
      index: entry.index,
      body: modelBody,
      result,
      events,
      grantedLeases,
      atMs: this.now(),
      idempotencyKey: command.idempotencyKey,
      signature,
      resourceWrite,
    });
  }

  private onRegistryChange(node: NodeId, index: number, body: KvCommandBody, outcome: KvApplyOutcome): void {
    if (isKvError(outcome.result)) return;
    if ((body.type === 'leaseExpire' || body.type === 'leaseRevoke') && !this.removedLeases.has(body.id)) {
      this.removedLeases.set(body.id, { index, atMs: this.now(), expired: body.type === 'leaseExpire' });
    }
    const touched: Instance[] = [];
    if (body.type === 'serviceRegister' || body.type === 'serviceDeregister') {
      const instance = this.instances.get(`${body.service}/${body.id}`);
      if (instance !== undefined && body.type === 'serviceDeregister') touched.push(instance);
      this.checkChangeStream(node, outcome.revision, body.service, body.id, body.type);
    } else if (body.type === 'leaseExpire' || body.type === 'leaseRevoke') {
      for (const instance of this.instances.values()) if (instance.lease === body.id) touched.push(instance);
    }
    for (const instance of touched) {
      if (body.type !== 'serviceDeregister') this.checkChangeStream(node, outcome.revision, instance.service, instance.id, body.type);
      if (instance.removedMs === null) this.instanceRemoved(instance, this.now(), body.type === 'leaseExpire');
    }
  }

  /** The instance left the registry at `atMs`; by its lease's expiry, never before its TTL. */
  private instanceRemoved(instance: Instance, atMs: number, expired: boolean): void {
    instance.removedMs = atMs;
    if (!expired) return;
    const elapsedMs = atMs - instance.lastHeartbeatSentMs;
    const promisedMs = instance.ttlMs * this.fastestClockRate;
    if (elapsedMs < promisedMs - 1e-6) {
      this.fail(
        `registry: instance ${instance.service}/${instance.id} removed ${elapsedMs.toFixed(1)} ms after its last acknowledged ` +
          `heartbeat was sent, TTL ${instance.ttlMs} ms (${promisedMs.toFixed(1)} ms at the fastest clock)`,
      );
    }
  }

  private checkChangeStream(node: NodeId, revision: number, service: string, id: string, what: string): void {
    const batch = this.lastBatch.get(node);
    const keys = new Set(batch?.revision === revision ? batch.events.map((event) => event.key) : []);
    if (!keys.has(instanceKey(service, id)) || !keys.has(serviceMarkerKey(service))) {
      this.fail(`registry: ${what} of ${service}/${id} at revision ${revision} on ${node} is missing from the change stream`);
    }
  }

  /** Every registered instance is gone (the liveness phase waits for it). */
  get registrySettled(): boolean {
    for (const instance of this.instances.values()) if (instance.removedMs === null) return false;
    return true;
  }

  /** Counts for tuning and reports: requests sent and answered, holdings, resource writes accepted and refused. */
  stats(): Record<string, number> {
    let accepted = 0;
    let refused = 0;
    for (const entry of this.applied.values()) {
      if (entry.resourceWrite !== null) accepted++;
      else if (entry.body.type === 'put' && entry.result === 'stale') refused++;
    }
    const answered = this.requests.filter((request) => request.outcome !== undefined).length;
    let proclaimed = 0;
    let staleProclaims = 0;
    for (const entry of this.applied.values()) {
      if (entry.body.type !== 'electionProclaim') continue;
      if (entry.result === 'stale') staleProclaims++;
      else proclaimed++;
    }
    const leaderships = this.holdings.filter((holding) => holding.name.startsWith('election/')).length;
    return {
      requests: this.requests.length,
      answered,
      holdings: this.holdings.length,
      leaderships,
      proclaimed,
      staleProclaims,
      accepted,
      refused,
      instances: this.instances.size,
    };
  }

  coverage(): LockCoverage {
    const model = this.model ?? { coverage: { handoffOnRelease: 0, handoffOnExpiry: 0, lockDelayEnded: 0, withdrawn: 0 } };
    let registryRemovals = 0;
    for (const instance of this.instances.values()) if (instance.removedMs !== null) registryRemovals++;
    let electionHandoffs = 0;
    let staleProclaimsRefused = 0;
    for (const entry of this.applied.values()) {
      if (entry.body.type === 'electionProclaim' && entry.result === 'stale') staleProclaimsRefused++;
      const ended = entry.events.some((event) => event.startsWith('ended:election/'));
      if (ended && entry.events.some((event) => event.startsWith('granted:election/'))) electionHandoffs++;
    }
    return { ...model.coverage, registryRemovals, electionHandoffs, staleProclaimsRefused };
  }

  // ---- For the election checks ------------------------------------------------------------------

  /** Every request the workloads sent, with its answer. */
  get requestRecords(): readonly LockRequestRecord[] {
    return this.requests;
  }

  /** Each election's leader after every applied entry that changed it, in log order (by election name). */
  electionHistory(): Map<string, LeaderState[]> {
    const history = new Map<string, LeaderState[]>();
    const leaders = new Map<string, ElectionLeader | null>();
    for (const entry of [...this.applied.values()].sort((a, b) => a.index - b.index)) {
      const changed = new Set<string>();
      for (const event of entry.events) {
        const [type, key = '', token = '0', , value = ''] = event.split(':');
        const { kind, name } = parseLockKey(key);
        if (kind !== 'election') continue;
        if (type === 'granted') leaders.set(name, { value, token: Number(token), lease: entry.grantedLeases.get(`${key}:${token}`) ?? '' });
        else if (type === 'ended') leaders.set(name, null);
        else if (type === 'proclaimed') {
          const current = leaders.get(name);
          // proclaimed:key:token:value (no waiter id field)
          const proclaimed = event.split(':')[3] ?? '';
          leaders.set(name, { value: proclaimed, token: Number(token), lease: current?.lease ?? '' });
        } else continue;
        changed.add(name);
      }
      for (const name of changed) {
        const list = history.get(name) ?? [];
        list.push({ index: entry.index, atMs: entry.atMs, leader: leaders.get(name) ?? null });
        history.set(name, list);
      }
    }
    return history;
  }

  /**
   * The values election campaigns asked for, by "name:token" of their grants (a set: were a token
   * ever granted twice, the token checks say so, not this).
   */
  campaignValues(): Map<string, Set<string>> {
    const values = new Map<string, Set<string>>();
    for (const entry of this.applied.values()) {
      for (const event of entry.events) {
        const [type, key = '', token = '0', , value] = event.split(':');
        const { kind, name } = parseLockKey(key);
        if (type !== 'granted' || kind !== 'election' || value === undefined) continue;
        const set = values.get(`${name}:${token}`) ?? new Set<string>();
        set.add(value);
        values.set(`${name}:${token}`, set);
      }
    }
    return values;
  }

  // ---- At the end, after convergence ---------------------------------------------------------

  /** `replica`: one converged replica's lock table and lease table. */
  finalChecks(replica: { locks: LockQueries; leaseExists: (id: string) => boolean }): void {
    const entries = [...this.applied.values()].sort((a, b) => a.index - b.index);
    this.replayModel(entries);
    this.checkTokensAndResources(entries);
    this.checkAnswers(entries);
    this.checkExclusion();
    if (this.model !== null && this.violations.length === 0) this.auditQueues(replica, this.model);
    this.checkRegistryGone();
  }

  private replayModel(entries: readonly Applied[]): void {
    const model = new LockModel();
    this.model = model;
    for (const entry of entries) {
      const body = entry.body;
      if (body.type === 'electionProclaim' && model.holderOf(body.name)?.token !== body.token && entry.result !== 'stale') {
        // Said on its own, ahead of the model's mismatch: the rule the contract's 409 stands for.
        const leader = model.holderOf(body.name);
        this.fail(
          `election ${parseLockKey(body.name).name}: proclaim of ${JSON.stringify(body.value)} with stale token ${body.token} accepted at ` +
            `index ${entry.index} (${entry.result}; the leader's token is ${leader?.token ?? 'none'}, its value ${JSON.stringify(leader?.value ?? null)})`,
        );
      }
      const mismatch = model.step(entry);
      if (mismatch !== null) {
        this.fail(`lock history: not what a lock does: ${mismatch}`);
        return;
      }
    }
  }

  private checkTokensAndResources(entries: readonly Applied[]): void {
    const lastToken = new Map<string, number>();
    const accepted = new Map<string, { token: number; value: string; index: number }>();
    for (const entry of entries) {
      for (const event of entry.events) {
        const [kind, name, token] = event.split(':');
        if (kind !== 'granted' || name === undefined) continue;
        const previous = lastToken.get(name) ?? 0;
        if (Number(token) <= previous) {
          const target = parseLockKey(name);
          this.fail(`${target.kind} tokens: ${target.name} granted token ${token} at index ${entry.index} after token ${previous}`);
        }
        lastToken.set(name, Math.max(previous, Number(token)));
      }
      const write = entry.resourceWrite;
      if (write === null) continue;
      const before = accepted.get(write.key);
      if (before !== undefined && write.token < before.token) {
        this.fail(
          `resource ${write.key}: accepted ${write.value} (token ${write.token}) at index ${entry.index} after ` +
            `${before.value} (token ${before.token}) at index ${before.index}: a lost update`,
        );
      }
      if (before === undefined || write.token >= before.token) accepted.set(write.key, { token: write.token, value: write.value, index: entry.index });
    }
  }

  /** Each answered request took effect at its own entry, inside its interval, with that entry's answer. */
  private checkAnswers(entries: readonly Applied[]): void {
    const byKey = new Map<string, Applied>();
    const grantByWaiter = new Map<string, { token: number; entry: Applied }>();
    for (const entry of entries) {
      if (entry.idempotencyKey !== undefined) byKey.set(entry.idempotencyKey, entry);
      for (const event of entry.events) {
        const [kind, , token, waiterId] = event.split(':');
        if (kind === 'granted' && waiterId !== undefined && waiterId !== '') grantByWaiter.set(waiterId, { token: Number(token), entry });
      }
    }
    for (const request of this.requests) {
      const outcome = request.outcome;
      if (outcome === undefined || request.answeredMs === null || request.op.kind === 'leader') continue;
      const describe = (): string => `${JSON.stringify(request.op)} sent at ${request.sentMs.toFixed(1)}, answered ${JSON.stringify(outcome)} at ${request.answeredMs?.toFixed(1)}`;
      const entry = byKey.get(request.key);
      if (entry === undefined) {
        if (outcome.status === 'error') continue;
        this.fail(`lock history: ${describe()}, but no entry with its key ${request.key} applied`);
        continue;
      }
      let effect = entry;
      let expected = entry.result;
      const acquires = request.op.kind === 'acquire' || request.op.kind === 'campaign';
      if (acquires && entry.result === 'queued' && outcome.status === 'held') {
        const waiterId = 'waiterId' in request.op ? request.op.waiterId : undefined;
        const grant = grantByWaiter.get(waiterId ?? '');
        if (grant === undefined) {
          this.fail(`lock history: ${describe()}, but no grant to waiter ${waiterId} applied`);
          continue;
        }
        effect = grant.entry;
        expected = `held:${grant.token}`;
      }
      if (effect.atMs < request.sentMs || effect.atMs > request.answeredMs) {
        this.fail(`lock history: ${describe()}, but its effect (index ${effect.index}) applied at ${effect.atMs.toFixed(1)}, outside that interval`);
        continue;
      }
      const answered = answerSummary(request.op, outcome);
      const consistent =
        answered === expected ||
        // A waiting acquire that left the line: its lease ended (not_found), or the server withdrew
        // it after a restore lost it (locked; the withdrawal is an entry of its own, checked too).
        (acquires && entry.result === 'queued' && (outcome.status === 'not_found' || outcome.status === 'locked' || outcome.status === 'error')) ||
        (request.op.kind === 'withdraw' && outcome.status === 'held' && expected === `holding:${outcome.token}`);
      if (!consistent) this.fail(`lock history: ${describe()}, but its entry (index ${effect.index}) gave ${expected}`);
    }
  }

  /** The windows in which two clients believed they held one lock never overlap. */
  private checkExclusion(): void {
    const windows = new Map<string, { holding: Holding; from: number; to: number }[]>();
    for (const holding of this.holdings) {
      const end = holding.releasedMs ?? Number.POSITIVE_INFINITY;
      const list = windows.get(holding.name) ?? [];
      for (const renewedMs of holding.renewals) {
        const from = Math.max(renewedMs, holding.startMs);
        const to = Math.min(renewedMs + holding.ttlMs * this.fastestClockRate, end);
        if (from < to) list.push({ holding, from, to });
      }
      windows.set(holding.name, list);
    }
    for (const [name, list] of [...windows].sort(([a], [b]) => (a < b ? -1 : 1))) {
      list.sort((a, b) => a.from - b.from);
      for (let i = 0; i < list.length; i++) {
        const a = list[i]!;
        for (let j = i + 1; j < list.length && list[j]!.from < a.to; j++) {
          const b = list[j]!;
          if (a.holding === b.holding) continue;
          const target = parseLockKey(name);
          const [what, verb] = target.kind === 'election' ? ['two leaders', 'led'] : ['two holders', 'held'];
          this.fail(
            `${target.kind} ${target.name}: ${what} at once: ${a.holding.client} (token ${a.holding.token}) believed it ${verb} ` +
              `${a.from.toFixed(1)}..${a.to.toFixed(1)}, ${b.holding.client} (token ${b.holding.token}) ${b.from.toFixed(1)}..${b.to.toFixed(1)}`,
          );
          return;
        }
      }
    }
  }

  /** After convergence: each replica's queues are the model's, and nobody dead is left in them. */
  private auditQueues(replica: { locks: LockQueries; leaseExists: (id: string) => boolean }, model: LockModel): void {
    const waiterLease = new Map<string, string | undefined>();
    for (const request of this.requests) {
      const op = request.op;
      if ((op.kind === 'acquire' || op.kind === 'campaign') && op.waiterId !== undefined) waiterLease.set(op.waiterId, op.lease);
    }
    for (const key of model.lockNames) {
      const { kind, name } = parseLockKey(key);
      const queue = model.queueOf(key);
      const view = replica.locks.view(kind, name);
      if ((view?.waiters ?? 0) !== queue.length) {
        this.fail(`lock ${name}: ${view?.waiters ?? 0} waiters queued after convergence, the model has ${queue.length} (${queue.join(', ')})`);
      }
      for (const waiterId of queue) {
        if (!replica.locks.isWaiting(kind, name, waiterId)) this.fail(`${kind} ${name}: waiter ${waiterId} should be queued and is not`);
        const lease = waiterLease.get(waiterId);
        if (lease !== undefined && !replica.leaseExists(lease)) this.fail(`lock ${name}: waiter ${waiterId} left in the queue after its lease ${lease} ended`);
      }
      const holder = replica.locks.holder(kind, name);
      if (holder !== null && !replica.leaseExists(holder.lease)) this.fail(`lock ${name}: held by token ${holder.token} on lease ${holder.lease}, which is gone`);
      if ((holder?.token ?? null) !== (model.holderOf(key)?.token ?? null)) {
        this.fail(`${kind} ${name}: held by token ${holder?.token ?? 'nobody'} after convergence, the model says ${model.holderOf(key)?.token ?? 'nobody'}`);
      }
      if (kind === 'election' && holder !== null && holder.value !== model.holderOf(key)?.value) {
        this.fail(`election ${name}: leader's value ${JSON.stringify(holder.value)} after convergence, the model says ${JSON.stringify(model.holderOf(key)?.value)}`);
      }
    }
    // Every waiter whose withdrawal applied after its acquire is out of line (the model agrees by then).
    for (const [waiterId] of waiterLease) {
      for (const key of model.lockNames) {
        const { kind, name } = parseLockKey(key);
        if (replica.locks.isWaiting(kind, name, waiterId) && !model.queueOf(key).includes(waiterId)) {
          this.fail(`${kind} ${name}: waiter ${waiterId} is still queued though it left the line`);
        }
      }
    }
  }

  private checkRegistryGone(): void {
    if (this.healedMs === null) return;
    for (const instance of this.instances.values()) {
      if (instance.removedMs !== null && instance.removedMs <= this.healedMs) continue;
      const removedMs = instance.removedMs;
      const leaderSinceMs = removedMs === null ? 0 : this.leaderSince(removedMs);
      const fromMs = Math.max(this.healedMs, instance.lastHeartbeatAckMs, leaderSinceMs);
      const boundMs = (instance.ttlMs + this.electionTimeoutMs) * this.slowestClockRate + REGISTRY_COMMIT_SLACK_MS;
      if (removedMs === null) this.fail(`registry: instance ${instance.service}/${instance.id} never removed after its heartbeats stopped`);
      else if (removedMs - fromMs > boundMs) {
        this.fail(
          `registry: instance ${instance.service}/${instance.id} removed ${(removedMs - fromMs).toFixed(1)} ms after the cluster ` +
            `healed (or its last heartbeat, or its leader's first commit), beyond TTL ${instance.ttlMs} ms + one election timeout (${boundMs.toFixed(1)} ms)`,
        );
      }
    }
  }
}

/** Room for the expiry entry to commit and apply once proposed (a few round trips and fsyncs). */
const REGISTRY_COMMIT_SLACK_MS = 300;

function toModelBody(body: KvCommandBody, outcome: KvApplyOutcome): ModelBody | null {
  switch (body.type) {
    case 'lockAcquire':
      return {
        type: 'lockAcquire',
        name: lockKey(body.kind, body.name),
        lockDelayMs: body.lockDelayMs ?? 0,
        ...(body.lease === undefined ? {} : { lease: body.lease }),
        ...(body.waiterId === undefined ? {} : { waiterId: body.waiterId }),
        ...(body.value === undefined ? {} : { value: body.value }),
      };
    case 'lockRelease':
      return { type: 'lockRelease', name: lockKey(body.kind, body.name), token: body.token };
    case 'lockWithdraw':
      return { type: 'lockWithdraw', name: lockKey(body.kind, body.name), waiterId: body.waiterId, releaseIfHolding: body.releaseIfHolding === true };
    case 'lockDelayEnd':
      return { type: 'lockDelayEnd', name: lockKey(body.kind, body.name), token: body.token };
    case 'electionProclaim':
      return { type: 'electionProclaim', name: lockKey('election', body.name), token: body.token, value: body.value };
    case 'leaseGrant':
      // The lock and election workloads' own leases; others' leases hold no locks.
      return WORKLOAD_LEASE_PREFIXES.some((prefix) => body.id?.startsWith(prefix) === true) && !isKvError(outcome.result) ? { type: 'leaseGrant', id: body.id ?? '' } : null;
    case 'leaseExpire':
    case 'leaseRevoke':
      return { type: body.type, id: body.id };
    case 'put':
      if (body.fence !== undefined) return { type: 'put', fence: { name: lockKey(body.fence.kind, body.fence.name), token: body.fence.token } };
      return body.key.startsWith('res/') ? { type: 'put' } : null;
    default:
      return null;
  }
}

/** A real result, in the model's words. */
function summariseResult(body: KvCommandBody, outcome: KvApplyOutcome): string {
  const result = outcome.result as object;
  if (isKvError(result)) {
    const code = result.error.code;
    return code === 'stale_token' ? 'stale' : code;
  }
  if (body.type === 'lockAcquire') {
    const acquired = result as { status: string; token?: number };
    return acquired.status === 'held' ? `held:${acquired.token}` : acquired.status;
  }
  if (body.type === 'lockWithdraw') {
    const withdrawn = result as { status: string; token?: number };
    return withdrawn.status === 'holding' ? `holding:${withdrawn.token}` : withdrawn.status;
  }
  if (body.type === 'lockDelayEnd') return `ended:${(result as { ended: boolean }).ended}`;
  return 'ok';
}

function summariseEvent(event: LockEvent): string {
  switch (event.type) {
    case 'granted': {
      const value = event.holder.value === undefined ? '' : `:${event.holder.value}`;
      return `granted:${lockKey(event.kind, event.name)}:${event.holder.token}:${event.holder.waiterId ?? ''}${value}`;
    }
    case 'ended':
      return `ended:${lockKey(event.kind, event.name)}:${event.end.token}:${event.end.reason}`;
    case 'waiterRemoved':
      return `removed:${lockKey(event.kind, event.name)}:${event.waiterId}`;
    case 'delayStarted':
      return `delayStarted:${lockKey(event.delay.kind, event.delay.name)}:${event.delay.token}`;
    case 'delayEnded':
      return `delayEnded:${lockKey(event.delay.kind, event.delay.name)}:${event.delay.token}`;
    case 'proclaimed':
      return `proclaimed:${lockKey(event.kind, event.name)}:${event.holder.token}:${event.holder.value ?? ''}`;
  }
}

/** A client's answer, in the model's words. */
function answerSummary(op: LockOp, outcome: LockOutcome): string {
  switch (outcome.status) {
    case 'held':
      return op.kind === 'withdraw' ? `holding:${outcome.token}` : `held:${outcome.token}`;
    case 'leader':
      return 'leader';
    case 'error':
      return outcome.code;
    case 'rejected':
      return 'rejected';
    default:
      return outcome.status;
  }
}
