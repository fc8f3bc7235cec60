/**
 * Lock and election clients for KV seeds. Each lock client, one round at a time: acquires a lock (try once, or
 * waiting in line for up to waitMs; with a ttlMs lease owned by the holding, or with a lease of
 * its own granted first and kept alive while it waits), keeps the lease alive while it holds,
 * writes the lock's resource key inside the critical section (a put fenced with its token, or —
 * in the Jepsen variant — unfenced), and releases. Some rounds go wrong on purpose: the client
 * pauses past its TTL mid-section (and then writes anyway, as a GC-paused client would), crashes
 * while holding (its lease expires: a handoff on expiry), disconnects while waiting (the server
 * withdraws it, or — when the server is gone too — nobody does), or walks away.
 *
 * Election clients (the same rounds, with `kind: 'election'`) campaign with a value (try once or
 * wait in line), proclaim new values while they lead — values that name the token they were sent
 * with — and resign; a client paused past its TTL proclaims anyway, and some proclaim once more
 * after resigning, so stale proclaims happen and must be refused. Between rounds they sometimes
 * read the current leader (GET /v1/elections/{name}, after a ReadIndex barrier).
 *
 * Every request and answer goes to the LockInvariantChecker, which judges them against the
 * applied log; every acknowledged renewal of a holding's lease goes to it too (the window in
 * which the client may believe it holds the lock) and to the lease checker (never early).
 * Registry clients register instances with a TTL, heartbeat them, and deregister or stop.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { LockKind } from '../../src/lock/index.ts';
import type { NodeId } from '../../src/raft/types.ts';
import type { LeaseInvariantChecker } from './checkers/lease-invariants.ts';
import type { LockInvariantChecker, LockRequestRecord } from './checkers/lock-invariants.ts';
import { lockKey } from './checkers/lock-model.ts';
import type { EventQueue } from './event-queue.ts';
import type { LeaseOutcome, LockOp, LockOutcome, RegistryOp, RegistryOutcome } from './sim-apps.ts';
import type { SimNode } from './sim-node.ts';

export interface LockWorkloadOptions {
  /** Locks (acquire, fenced writes, release) or elections (campaign, proclaim, resign). */
  readonly kind: LockKind;
  /** Share of KV seeds that run the lock workload at all (it costs a KV seed about half again). */
  readonly seedShare: number;
  readonly clients: number;
  /** Locks in play (lk0, lk1, ...); each guards the resource key res/<lock>. */
  readonly locks: number;
  /** Elections in play (kind election); one shares a lock's name, as a user's may. */
  readonly elections: readonly string[];
  /** Elections: share of rounds that proclaim once more with their token after resigning. */
  readonly staleProclaimChance: number;
  /** Elections: share of rounds that first read the current leader. */
  readonly leaderReadChance: number;
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  readonly opTimeoutMs: number;
  readonly retryDelayMs: number;
  readonly clientLatencyMs: number;
  readonly thinkMaxMs: number;
  /** Share of acquires that wait in line (the rest try once). */
  readonly waitChance: number;
  readonly maxWaitMs: number;
  /** Share of rounds that acquire with a lease of their own rather than ttlMs. */
  readonly leaseChance: number;
  readonly lockDelayChance: number;
  readonly maxLockDelayMs: number;
  readonly maxWrites: number;
  /** Rounds that pause past the TTL mid-section, crash while holding, disconnect while waiting, walk away. */
  readonly pauseChance: number;
  readonly crashChance: number;
  readonly disconnectChance: number;
  readonly walkAwayChance: number;
  /** False: the Jepsen variant, whose critical sections write the resource without a fence. */
  readonly fenced: boolean;
  readonly registryClients: number;
}

export const DEFAULT_LOCK_WORKLOAD: LockWorkloadOptions = {
  kind: 'lock',
  seedShare: 0.3,
  clients: 2,
  locks: 2,
  elections: [],
  staleProclaimChance: 0,
  leaderReadChance: 0,
  minTtlMs: 500,
  maxTtlMs: 1_500,
  opTimeoutMs: 1_500,
  retryDelayMs: 20,
  clientLatencyMs: 0.5,
  thinkMaxMs: 700,
  waitChance: 0.6,
  maxWaitMs: 2_500,
  leaseChance: 0.3,
  lockDelayChance: 0.2,
  maxLockDelayMs: 300,
  maxWrites: 2,
  pauseChance: 0.12,
  crashChance: 0.08,
  disconnectChance: 0.1,
  walkAwayChance: 0.05,
  fenced: true,
  registryClients: 1,
};

/**
 * Election clients run on the seeds that run the lock workload, on a random stream of their own.
 * They name "lk0" (also a lock of the lock clients) and "el1": the two must not collide.
 */
export const DEFAULT_ELECTION_WORKLOAD: LockWorkloadOptions = {
  ...DEFAULT_LOCK_WORKLOAD,
  kind: 'election',
  clients: 2,
  elections: ['lk0', 'el1'],
  staleProclaimChance: 0.3,
  leaderReadChance: 0.3,
  // Fewer and sparser rounds than the lock clients': about a fifth more work on a lock seed.
  maxWrites: 2,
  thinkMaxMs: 1_500,
  registryClients: 0,
};

type Fate = 'normal' | 'pause' | 'crash' | 'disconnect' | 'walk';

interface Session {
  readonly client: number;
  readonly round: number;
  readonly name: string;
  /** The client's name in checker reports and in owners, lease ids and waiter ids. */
  readonly label: string;
  readonly ttlMs: number;
  readonly fate: Fate;
  /** The lease the round holds or waits with, once known. */
  lease: string | null;
  /** The client process runs: keepalives go out. */
  alive: boolean;
  paused: boolean;
  /** Holding: the LockInvariantChecker's id of this holding. */
  holding: number | null;
}

type AnyOp = { readonly kind: 'lock'; readonly op: LockOp } | { readonly kind: 'lease'; readonly op: LeaseOpForLock };
type LeaseOpForLock = { readonly kind: 'grant'; readonly id: string; readonly ttlMs: number } | { readonly kind: 'keepalive' | 'revoke'; readonly id: string };
type AnyOutcome = LockOutcome | LeaseOutcome;

export class LockWorkload {
  private stopped = false;
  private nextRequest = 0;
  private readonly rounds: number[];
  readonly registry: RegistryClients;

  constructor(
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly options: LockWorkloadOptions,
    private readonly nodes: () => readonly SimNode[],
    private readonly checker: LockInvariantChecker,
    private readonly leaseChecker: LeaseInvariantChecker,
  ) {
    this.rounds = Array.from({ length: options.clients }, () => 0);
    this.registry = new RegistryClients(queue, random, options, nodes, checker, leaseChecker);
  }

  start(): void {
    for (let client = 0; client < this.options.clients; client++) this.queue.schedule(this.random.float() * 200, () => this.newRound(client));
    this.registry.start();
  }

  stop(): void {
    this.stopped = true;
    this.registry.stop();
  }

  private think(then: () => void): void {
    this.queue.schedule(this.random.float() * this.options.thinkMaxMs, then);
  }

  private get election(): boolean {
    return this.options.kind === 'election';
  }

  /** Ids this workload's clients use: c1, LK1-4 and w1-4 for locks; e1, LE1-4 and ew1-4 for elections. */
  private label(client: number): string {
    return `${this.election ? 'e' : 'c'}${client}`;
  }

  private ownLease(session: { client: number; round: number }): string {
    return `${this.election ? 'LE' : 'LK'}${session.client}-${session.round}`;
  }

  private newRound(client: number): void {
    if (this.stopped) return;
    const o = this.options;
    if (this.election && this.random.chance(o.leaderReadChance)) {
      // GET /v1/elections/{name} first; the round starts when it is answered (or not).
      const name = this.random.pick(o.elections);
      this.send({ kind: 'lock', op: { kind: 'leader', name } }, o.opTimeoutMs, () => this.startRound(client));
      return;
    }
    this.startRound(client);
  }

  private startRound(client: number): void {
    if (this.stopped) return;
    const o = this.options;
    const round = this.rounds[client]!++;
    const roll = this.random.float();
    const fate: Fate =
      roll < o.pauseChance
        ? 'pause'
        : roll < o.pauseChance + o.crashChance
          ? 'crash'
          : roll < o.pauseChance + o.crashChance + o.disconnectChance
            ? 'disconnect'
            : roll < o.pauseChance + o.crashChance + o.disconnectChance + o.walkAwayChance
              ? 'walk'
              : 'normal';
    const session: Session = {
      client,
      round,
      name: this.election ? this.random.pick(o.elections) : `lk${this.random.int(o.locks)}`,
      label: this.label(client),
      ttlMs: o.minTtlMs + this.random.int(o.maxTtlMs - o.minTtlMs),
      fate,
      lease: null,
      alive: true,
      paused: false,
      holding: null,
    };
    const waitMs = this.random.chance(o.waitChance) ? 200 + this.random.int(o.maxWaitMs) : 0;
    const lockDelayMs = this.random.chance(o.lockDelayChance) ? 50 + this.random.int(o.maxLockDelayMs) : 0;
    if (!this.random.chance(o.leaseChance)) {
      this.acquire(session, waitMs, lockDelayMs, null);
      return;
    }
    const lease = this.ownLease({ client, round });
    this.send({ kind: 'lease', op: { kind: 'grant', id: lease, ttlMs: session.ttlMs } }, o.opTimeoutMs, (outcome, sentAtMs) => {
      if (outcome?.status !== 'ok') return this.think(() => this.newRound(client));
      session.lease = lease;
      this.leaseChecker.acknowledged(lease, session.ttlMs, sentAtMs);
      this.keepAlive(session);
      this.acquire(session, waitMs, lockDelayMs, sentAtMs);
    });
  }

  /** `leaseSentAtMs`: when the round's own lease was granted (null: the holding gets a ttlMs lease). */
  private acquire(session: Session, waitMs: number, lockDelayMs: number, leaseSentAtMs: number | null): void {
    const waiterId = waitMs > 0 ? `${this.election ? 'ew' : 'w'}${session.client}-${session.round}` : undefined;
    const common = {
      name: session.name,
      owner: session.label,
      lockDelayMs,
      ...(session.lease === null ? { ttlMs: session.ttlMs } : { lease: session.lease }),
      ...(waiterId === undefined ? {} : { waiterId }),
    };
    // A campaign's value names no token (none is known yet); proclaims' values name theirs.
    const op: LockOp = this.election ? { kind: 'campaign', ...common, value: `${session.label}-r${session.round}-campaign` } : { kind: 'acquire', ...common };
    const lockKind = this.options.kind;
    if (session.fate === 'disconnect' && waiterId !== undefined) {
      // The client goes away mid-wait. A server that notices withdraws it (releasing a holding
      // granted meanwhile); one that crashed with the connection does not.
      this.queue.schedule(this.random.float() * waitMs, () => {
        if (!session.alive || session.holding !== null) return;
        session.alive = false;
        this.think(() => this.newRound(session.client)); // a new connection, a new round
        if (this.random.chance(0.7)) this.send({ kind: 'lock', op: { kind: 'withdraw', name: session.name, waiterId, releaseIfHolding: true, lockKind } }, this.options.opTimeoutMs, () => undefined);
      });
    }
    this.send({ kind: 'lock', op }, waitMs > 0 ? waitMs : this.options.opTimeoutMs, (outcome, sentAtMs) => {
      if (!session.alive) return;
      const renewedFromMs = leaseSentAtMs ?? sentAtMs;
      if (outcome?.status === 'held') return this.hold(session, outcome.token, outcome.lease, renewedFromMs);
      if (outcome === undefined && waiterId !== undefined) {
        // The wait ran out: leave the line; the grant may have won the race.
        this.send({ kind: 'lock', op: { kind: 'withdraw', name: session.name, waiterId, releaseIfHolding: false, lockKind } }, this.options.opTimeoutMs, (withdrawn) => {
          if (withdrawn?.status === 'held' && session.alive) this.hold(session, withdrawn.token, withdrawn.lease, renewedFromMs);
          else this.endRound(session);
        });
        return;
      }
      this.endRound(session);
    });
  }

  private hold(session: Session, token: number, lease: string, renewedFromMs: number): void {
    session.lease = lease;
    session.holding = this.checker.holdingStarted(session.label, lockKey(this.options.kind, session.name), token, session.ttlMs, this.queue.now, renewedFromMs);
    this.leaseChecker.acknowledged(lease, session.ttlMs, renewedFromMs);
    // A lease of the round's own is kept alive already; a ttlMs holding's starts now.
    if (lease !== this.ownLease(session)) this.keepAlive(session);
    const writes = 1 + this.random.int(this.options.maxWrites);
    const troubleAt = this.random.int(writes);
    let pausedAlready = false;
    const write = (i: number): void => {
      if (!session.alive) return;
      if (i === writes) return this.finishHolding(session, token);
      if (i === troubleAt && session.fate === 'crash') {
        session.alive = false; // never releases: the lease expires and the lock moves on
        this.queue.schedule(session.ttlMs, () => this.newRound(session.client)); // restarted
        return;
      }
      if (i === troubleAt && session.fate === 'pause' && !pausedAlready) {
        pausedAlready = true;
        session.paused = true;
        this.queue.schedule(session.ttlMs * (1.2 + this.random.float() * 1.5), () => {
          session.paused = false;
          write(i); // and writes anyway, as a client paused by GC would
        });
        return;
      }
      const next = (): void => this.queue.schedule(this.random.float() * 50, () => write(i + 1));
      if (this.election) {
        // A proclaim: its value names the token it is sent with, so an observer can tell.
        const value = `t${token}-${session.label}-r${session.round}-p${i}`;
        this.send({ kind: 'lock', op: { kind: 'proclaim', name: session.name, token, value } }, this.options.opTimeoutMs, next);
        return;
      }
      const value = `t${token}-c${session.client}-r${session.round}-w${i}`;
      const fence = this.options.fenced ? { fence: { name: session.name, token } } : {};
      this.send({ kind: 'lock', op: { kind: 'write', key: `res/${session.name}`, value, ...fence } }, this.options.opTimeoutMs, next);
    };
    write(0);
  }

  private finishHolding(session: Session, token: number): void {
    if (session.fate === 'walk') {
      session.alive = false;
      this.think(() => this.newRound(session.client));
      return;
    }
    if (session.holding !== null) this.checker.holdingReleased(session.holding, this.queue.now);
    const lockKind = this.options.kind;
    this.send({ kind: 'lock', op: { kind: 'release', name: session.name, token, lockKind } }, this.options.opTimeoutMs, () => {
      if (!this.election || !this.random.chance(this.options.staleProclaimChance)) return this.endRound(session);
      // Once more after resigning, as a client that missed its own resignation would: refused.
      const value = `t${token}-${session.label}-r${session.round}-after-resign`;
      this.send({ kind: 'lock', op: { kind: 'proclaim', name: session.name, token, value } }, this.options.opTimeoutMs, () => this.endRound(session));
    });
  }

  /** The round is over: stop its keepalives; a lease of its own is revoked or left to expire. */
  private endRound(session: Session): void {
    const ownLease = this.ownLease(session);
    const wasAlive = session.alive;
    session.alive = false;
    if (wasAlive && session.lease === ownLease && this.random.chance(0.5)) {
      this.send({ kind: 'lease', op: { kind: 'revoke', id: ownLease } }, this.options.opTimeoutMs, () => this.think(() => this.newRound(session.client)));
      return;
    }
    this.think(() => this.newRound(session.client));
  }

  /** Renews the round's lease every half of its TTL or a little more, while the client runs and is not paused. */
  private keepAlive(session: Session): void {
    this.queue.schedule(session.ttlMs / 2 + this.random.float() * (session.ttlMs / 8), () => {
      if (!session.alive || session.lease === null || this.stopped) return;
      if (session.paused) return this.keepAlive(session);
      const lease = session.lease;
      this.send({ kind: 'lease', op: { kind: 'keepalive', id: lease } }, session.ttlMs / 2, (outcome, sentAtMs) => {
        if (outcome?.status === 'ok') {
          this.leaseChecker.acknowledged(lease, session.ttlMs, sentAtMs);
          if (session.holding !== null) this.checker.holdingRenewed(session.holding, sentAtMs);
        }
        if (outcome?.status === 'not_found') return; // gone: the client stops renewing
        this.keepAlive(session);
      });
    });
  }

  /**
   * Sends `op` to a node until it answers (anything but a redirect) or `timeoutMs` passes
   * (undefined). `sentAtMs` is when the client first sent it. Lock requests are recorded for
   * the checker with their idempotency key and answer.
   */
  private send(request: AnyOp, timeoutMs: number, then: (outcome: AnyOutcome | undefined, sentAtMs: number) => void): void {
    const sentAtMs = this.queue.now;
    const deadlineMs = sentAtMs + timeoutMs;
    const idempotencyKey = `${this.options.kind}wl-${this.nextRequest++}`;
    const record: LockRequestRecord | null =
      request.kind === 'lock' ? this.checker.requestSent(request.op, idempotencyKey, sentAtMs) : null;
    let finished = false;
    let attempt = 0;
    const finish = (outcome: AnyOutcome | undefined): void => {
      if (finished) return;
      finished = true;
      if (record !== null) this.checker.requestAnswered(record, outcome as LockOutcome | undefined, this.queue.now);
      then(outcome, sentAtMs);
    };
    const tryAt = (hint: NodeId): void => {
      if (finished) return;
      const nodes = this.nodes();
      const target = nodes.find((node) => node.id === hint) ?? this.random.pick(nodes);
      const thisAttempt = ++attempt;
      const latency = this.options.clientLatencyMs;
      const answered = (outcome: AnyOutcome): void =>
        this.queue.schedule(latency, () => {
          if (finished || thisAttempt !== attempt) return;
          if (outcome.status !== 'rejected') finish(outcome);
          else if (this.queue.now + this.options.retryDelayMs < deadlineMs) {
            attempt++;
            this.queue.schedule(this.options.retryDelayMs, () => tryAt(outcome.leaderHint));
          }
        });
      this.queue.schedule(latency, () => {
        if (request.kind === 'lock') target.receiveLock(request.op, idempotencyKey, answered);
        else target.receiveLease(request.op, idempotencyKey, answered);
      });
    };
    this.queue.schedule(timeoutMs, () => finish(undefined));
    tryAt('');
  }
}

/**
 * Registry clients: register an instance with a TTL, heartbeat it (a keepalive of its lease)
 * well inside the TTL for a while, then deregister it or stop heartbeating and move on.
 */
export class RegistryClients {
  private stopped = false;
  private nextInstance = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly options: LockWorkloadOptions,
    private readonly nodes: () => readonly SimNode[],
    private readonly checker: LockInvariantChecker,
    private readonly leaseChecker: LeaseInvariantChecker,
  ) {}

  start(): void {
    for (let client = 0; client < this.options.registryClients; client++) this.queue.schedule(this.random.float() * 200, () => this.register(client));
  }

  stop(): void {
    this.stopped = true;
  }

  private register(client: number): void {
    if (this.stopped) return;
    const id = `i${client}-${this.nextInstance++}`;
    const ttlMs = this.options.minTtlMs + this.random.int(this.options.maxTtlMs - this.options.minTtlMs);
    const heartbeats = 2 + this.random.int(8);
    const deregister = this.random.chance(0.4);
    this.send({ kind: 'register', service: 'svc', id, ttlMs }, (outcome, sentAtMs) => {
      if (outcome?.status !== 'ok' || outcome.lease === undefined) return this.queue.schedule(100, () => this.register(client));
      this.checker.instanceRegistered('svc', id, outcome.lease, ttlMs, sentAtMs);
      this.leaseChecker.acknowledged(outcome.lease, ttlMs, sentAtMs);
      this.heartbeat(client, id, outcome.lease, ttlMs, heartbeats, deregister);
    });
  }

  private heartbeat(client: number, id: string, lease: string, ttlMs: number, left: number, deregister: boolean): void {
    if (this.stopped || left === 0) {
      if (!this.stopped && deregister) {
        this.send({ kind: 'deregister', service: 'svc', id }, (outcome) => {
          if (outcome?.status === 'ok') this.checker.instanceDeregistered('svc', id);
          this.register(client);
        });
        return;
      }
      this.checker.instanceStopped('svc', id, this.queue.now);
      if (!this.stopped) this.queue.schedule(ttlMs / 2, () => this.register(client));
      return;
    }
    this.queue.schedule(ttlMs / 2 + this.random.float() * (ttlMs / 8), () =>
      this.send({ kind: 'heartbeat', lease }, (outcome, sentAtMs) => {
        if (outcome?.status === 'ok') {
          this.checker.instanceHeartbeat('svc', id, sentAtMs, this.queue.now);
          this.leaseChecker.acknowledged(lease, ttlMs, sentAtMs);
        }
        if (outcome?.status === 'not_found') return this.register(client);
        this.heartbeat(client, id, lease, ttlMs, left - 1, deregister);
      }),
    );
  }

  private send(op: RegistryOp, then: (outcome: RegistryOutcome | undefined, sentAtMs: number) => void): void {
    const sentAtMs = this.queue.now;
    const deadlineMs = sentAtMs + this.options.opTimeoutMs;
    const idempotencyKey = `registry-${op.kind}-${this.queue.now}-${'id' in op ? op.id : op.lease}`;
    let finished = false;
    let attempt = 0;
    const finish = (outcome: RegistryOutcome | undefined): void => {
      if (finished) return;
      finished = true;
      then(outcome, sentAtMs);
    };
    const tryAt = (hint: NodeId): void => {
      if (finished) return;
      const nodes = this.nodes();
      const target = nodes.find((node) => node.id === hint) ?? this.random.pick(nodes);
      const thisAttempt = ++attempt;
      const latency = this.options.clientLatencyMs;
      this.queue.schedule(latency, () =>
        target.receiveRegistry(op, idempotencyKey, (outcome) =>
          this.queue.schedule(latency, () => {
            if (finished || thisAttempt !== attempt) return;
            if (outcome.status !== 'rejected') finish(outcome);
            else if (this.queue.now + this.options.retryDelayMs < deadlineMs) {
              attempt++;
              this.queue.schedule(this.options.retryDelayMs, () => tryAt(outcome.leaderHint));
            }
          }),
        ),
      );
    };
    this.queue.schedule(this.options.opTimeoutMs, () => finish(undefined));
    tryAt('');
  }
}
