/**
 * One simulated server process: an app (the production NodeHost or KvNode, and so the
 * production RaftNode and Ready loop) on a simulated clock, disk and network.
 * It models what a process can suffer: crash (the disk keeps only synced writes; nothing the
 * process scheduled runs again), restart from disk, pause (no timers, no processing; its inbox
 * fills and drains on resume) and a clock that runs fast or slow.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { RaftConfig } from '../../src/raft/config.ts';
import type { Message } from '../../src/raft/messages.ts';
import type { RaftEvent, RaftFactory, RaftNode } from '../../src/raft/raft-node.ts';
import type { ClusterConfig, Entry, NodeId } from '../../src/raft/types.ts';
import type { Storage } from '../../src/storage/storage.ts';
import type { WatchBatch } from '../../src/kv/index.ts';
import type { RegisterOp } from './checkers/linearizability.ts';
import type { EventQueue } from './event-queue.ts';
import type {
  AppFactory,
  AppOutcome,
  BlockingQuery,
  LeaseOp,
  LeaseOutcome,
  LockOp,
  LockOutcome,
  RegistryOp,
  RegistryOutcome,
  ServiceWatch,
  SimApp,
} from './sim-apps.ts';
import type { ElectionLeader, LockQueries } from '../../src/lock/index.ts';
import { SimClock } from './sim-clock.ts';
import { isStorageError } from '../../src/storage/storage-error.ts';
import { SimDisk, type NodeDisk } from './sim-disk.ts';
import { nextPeerIds } from '../../src/node/peer-set.ts';
import type { ConfChange } from '../../src/raft/membership.ts';
import type { ConfChangeOutcome } from '../../src/node/host-types.ts';

export type { RaftFactory };

export interface SimNodeOptions {
  readonly tickMs: number;
  /** Multiplies the tick interval: 1.1 = this node's clock runs 10 % slow. */
  readonly clockRate: number;
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotSliceElements: number;
  readonly snapshotSliceDelayMs: number;
  readonly inboxLimit: number;
  /** Elections an observer follows on every process (KV apps). */
  readonly observedElections: readonly string[];
}

/** What the simulation observes of a node, for its checkers and coverage counters. */
export interface SimNodeHooks {
  send(message: Message): void;
  applied(node: SimNode, entry: Entry, outcome: unknown): void;
  watchBatch(node: SimNode, incarnation: string, batch: WatchBatch): void;
  watchRestored(node: SimNode, incarnation: string): void;
  electionObserved(node: SimNode, incarnation: string, name: string, leader: ElectionLeader | null): void;
  event(node: SimNode, event: RaftEvent): void;
  /** The node's process died: its peers' connections from it close (a TCP reset or FIN). */
  crashed(node: SimNode): void;
  trace(line: string): void;
}


export class SimNode {
  status: 'up' | 'crashed' | 'paused' = 'up';
  private app: SimApp;
  private clock: SimClock;
  /** Bumped by every crash, so answers promised by a dead process are never delivered. */
  private epoch = 0;
  private readonly inbox: (() => void)[] = [];
  /**
   * What the disk holds durably, as plain (index, term) records: the checker asks after every
   * commit a leader announces, and the checksummed disk can only answer by decoding everything.
   */
  readonly durability = new SimDisk();
  /**
   * Whom this process has connections to (src/node/peer-set.ts, as `concord serve` does): it
   * can send only to them. Receiving is open, as a node accepts any member's connection.
   */
  private peers = new Set<NodeId>();

  constructor(
    readonly id: NodeId,
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly raftConfig: RaftConfig,
    private readonly bootstrap: ClusterConfig,
    private readonly options: SimNodeOptions,
    readonly disk: NodeDisk,
    private readonly makeRaft: RaftFactory,
    private readonly makeApp: AppFactory,
    private readonly hooks: SimNodeHooks,
    /** Every node of the simulation: whom a node outside any configuration dials (as --join's hints). */
    private readonly knownNodes: readonly NodeId[],
  ) {
    this.clock = new SimClock(queue, options.clockRate);
    this.app = this.boot();
  }

  get raft(): RaftNode {
    return this.app.raft;
  }

  /** The replicated state, for comparing replicas. */
  digest(): string {
    return this.app.digest();
  }

  private boot(): SimApp {
    this.clock = new SimClock(this.queue, this.options.clockRate);
    const incarnation = `${this.id}#${this.epoch}`;
    this.peers = new Set();
    const app = this.makeApp({
      raftConfig: this.raftConfig,
      bootstrap: this.bootstrap,
      persisted: this.disk.load(),
      random: this.random.fork(),
      clock: this.clock,
      transport: {
        send: (messages) => {
          for (const message of messages) if (this.peers.has(message.to)) this.hooks.send(message);
        },
      },
      membershipChanged: (config, committed, leader) => {
        this.peers = nextPeerIds(this.id, config, committed, this.peers, this.knownNodes, leader);
      },
      storage: this.storage(this.clock),
      tickMs: this.options.tickMs,
      snapshotEveryEntries: this.options.snapshotEveryEntries,
      snapshotSliceElements: this.options.snapshotSliceElements,
      snapshotSliceDelayMs: this.options.snapshotSliceDelayMs,
      makeRaft: this.makeRaft,
      applied: (entry, outcome) => this.hooks.applied(this, entry, outcome),
      raftEvent: (event) => this.hooks.event(this, event),
      watchBatch: (batch) => this.hooks.watchBatch(this, incarnation, batch),
      watchRestored: () => this.hooks.watchRestored(this, incarnation),
      observedElections: this.options.observedElections,
      electionObserved: (name, leader) => this.hooks.electionObserved(this, incarnation, name, leader),
    });
    this.peers = nextPeerIds(this.id, app.raft.members, app.raft.membershipCommitted, this.peers, this.knownNodes, app.raft.leader);
    app.start();
    return app;
  }

  /** This incarnation's view of the disk: writes complete after a seeded fsync latency. */
  private storage(clock: SimClock): Storage {
    const { fsyncMinMs, fsyncMaxMs } = this.options;
    return {
      load: () => Promise.resolve(this.disk.load()),
      persist: (batch, done) => {
        const delayMs = batch.sync ? fsyncMinMs + this.random.float() * (fsyncMaxMs - fsyncMinMs) : 0;
        clock.schedule(delayMs, () => {
          this.disk.writeBatch(batch);
          this.durability.writeBatch(batch);
          done(null);
        });
      },
      close: () => Promise.resolve(),
    };
  }

  // ---- Faults -----------------------------------------------------------------------------

  crash(): void {
    if (this.status === 'crashed') return;
    this.status = 'crashed';
    this.epoch++;
    this.clock.kill();
    this.app.stop();
    this.disk.crash();
    this.durability.crash();
    this.inbox.length = 0;
    this.hooks.trace(`crash ${this.id}`);
    this.hooks.crashed(this);
  }

  /**
   * A crash that damages the disk (for disks that model damage; otherwise a plain crash). The
   * next restart must find the damage and refuse to start.
   */
  crashDamaged(): void {
    if (this.status === 'crashed' || this.disk.damage === undefined) return this.crash();
    // Damage first: a torn write is the write in progress when the power went.
    const damage = this.disk.damage(this.random);
    this.crash();
    this.damageUnchecked = true;
    this.hooks.trace(`disk of ${this.id} damaged: ${damage}`);
  }

  /** Why this node's disk was refused at restart; such a node stays down for good. */
  storageFailure: string | null = null;

  /**
   * Damaged at its last crash and not restarted since: whether the disk will be refused is not
   * known yet (a torn last write may be recoverable), so it counts as damaged until then.
   */
  damageUnchecked = false;

  /** Its disk was damaged and is refused, or may yet be. */
  get diskDamaged(): boolean {
    return this.damageUnchecked || this.storageFailure !== null;
  }

  restart(): void {
    if (this.status !== 'crashed' || this.storageFailure !== null) return;
    this.status = 'up';
    this.damageUnchecked = false;
    try {
      this.app = this.boot();
    } catch (error) {
      if (!isStorageError(error)) throw error;
      this.status = 'crashed';
      this.storageFailure = error.message;
      this.hooks.trace(`restart ${this.id} refused: ${error.message}`);
      return;
    }
    this.hooks.trace(`restart ${this.id} term=${this.raft.currentTerm} last=${this.raft.lastIndex}`);
  }

  pause(): void {
    if (this.status !== 'up') return;
    this.status = 'paused';
    this.clock.pause();
  }

  resume(): void {
    if (this.status !== 'paused') return;
    this.status = 'up';
    this.clock.resume();
    const waiting = this.inbox.splice(0, this.inbox.length);
    for (const run of waiting) run();
  }

  // ---- Inputs -----------------------------------------------------------------------------

  receive(message: Message): void {
    this.enqueue(() => this.app.receive(message));
  }

  /** The connection from `peer` closed (see SimNodeHooks.crashed). */
  peerGone(peer: NodeId): void {
    this.enqueue(() => this.app.peerGone(peer));
  }

  /** A client's request, handled as the server's request handler would. */
  receiveClient(op: RegisterOp, idempotencyKey: string, done: (outcome: AppOutcome) => void): void {
    const epoch = this.epoch;
    this.enqueue(() =>
      this.app.execute(op, idempotencyKey, (outcome) => {
        // Answers only while the process that promised them is alive.
        if (epoch === this.epoch) done(outcome);
      }),
    );
  }

  /** A lease request, handled as the server's request handler would. */
  receiveLease(op: LeaseOp, idempotencyKey: string, done: (outcome: LeaseOutcome) => void): void {
    const epoch = this.epoch;
    this.enqueue(() =>
      this.app.executeLease?.(op, idempotencyKey, (outcome) => {
        if (epoch === this.epoch) done(outcome);
      }),
    );
  }

  /** A lock request, handled as the server's lock routes would. */
  receiveLock(op: LockOp, idempotencyKey: string, done: (outcome: LockOutcome) => void): void {
    const epoch = this.epoch;
    this.enqueue(() =>
      this.app.executeLock?.(op, idempotencyKey, (outcome) => {
        if (epoch === this.epoch) done(outcome);
      }),
    );
  }

  /** A registry request, handled as the server's registry routes would. */
  receiveRegistry(op: RegistryOp, idempotencyKey: string, done: (outcome: RegistryOutcome) => void): void {
    const epoch = this.epoch;
    this.enqueue(() =>
      this.app.executeRegistry?.(op, idempotencyKey, (outcome) => {
        if (epoch === this.epoch) done(outcome);
      }),
    );
  }

  /** The process's incarnation ("n1#2"): what dies with a crash. */
  get incarnation(): string {
    return `${this.id}#${this.epoch}`;
  }

  /** A blocking registry query, handled as the server's registry route would. */
  receiveBlockingQuery(query: BlockingQuery): void {
    const epoch = this.epoch;
    const alive = (): boolean => epoch === this.epoch;
    this.enqueue(() =>
      this.app.blockingQuery?.({
        service: query.service,
        index: query.index,
        waitMs: query.waitMs,
        waiting: (markerRevision) => alive() && query.waiting(markerRevision),
        done: (answer) => alive() && query.done(answer),
        rejected: (hint) => alive() && query.rejected(hint),
      }),
    );
  }

  /** Opens a service watch stream; the returned close is the client's disconnect. */
  openServiceWatch(watch: ServiceWatch): () => void {
    const epoch = this.epoch;
    const alive = (): boolean => epoch === this.epoch;
    let close: () => void = () => undefined;
    let closed = false;
    this.enqueue(() => {
      if (closed) return;
      close =
        this.app.watchService?.({
          service: watch.service,
          frame: (view) => alive() && watch.frame(view),
          rejected: (hint) => alive() && watch.rejected(hint),
        }) ?? close;
    });
    return () => {
      closed = true;
      close();
    };
  }

  /** The service's revision on this replica now (KV apps; 0 when crashed). */
  serviceRevision(service: string): number {
    return this.status === 'crashed' ? 0 : (this.app.serviceRevision?.(service) ?? 0);
  }

  /** This replica's lock table (KV apps only; null on a crashed node or the register app). */
  locks(): LockQueries | null {
    return this.status === 'crashed' ? null : (this.app.locks?.() ?? null);
  }

  leaseExists(id: string): boolean {
    return this.app.leaseExists?.(id) ?? false;
  }

  /** The keys this replica's store holds under lease `id` (KV apps only). */
  keysWithLease(id: string): readonly string[] {
    return this.app.keysWithLease?.(id) ?? [];
  }

  private enqueue(run: () => void): void {
    if (this.status === 'crashed') return;
    if (this.status === 'paused') {
      // A stopped process's socket buffers fill up; beyond that the peer's packets are lost.
      if (this.inbox.length < this.options.inboxLimit) this.inbox.push(run);
      return;
    }
    run();
  }

  /** An operator's membership change (refused unless we lead); `done` unless the process dies. */
  changeMembership(change: ConfChange, done: (outcome: ConfChangeOutcome) => void): void {
    const epoch = this.epoch;
    if (this.status !== 'up') return;
    this.app.changeMembership(change, (outcome) => {
      if (epoch === this.epoch) done(outcome);
    });
  }

  /** An operator's request to hand leadership to `target` (ignored unless we lead). */
  transferLeadership(target: NodeId): void {
    if (this.status === 'up') this.app.transferLeadership(target);
  }
}
