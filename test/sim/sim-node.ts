/**
 * One simulated server: the production RaftNode driven by a Ready loop over a simulated disk,
 * network and clock, with the register state machine on top. It models what a process can
 * suffer: crash (the disk keeps only synced writes), restart from disk, pause (no ticks, no
 * processing; its inbox fills and drains on resume) and a clock that runs fast or slow.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { RaftConfig } from '../../src/raft/config.ts';
import type { Message } from '../../src/raft/messages.ts';
import type { RaftEvent, RaftNode } from '../../src/raft/raft-node.ts';
import type { Ready } from '../../src/raft/ready.ts';
import type { ClusterConfig, Entry, NodeId, PersistedState } from '../../src/raft/types.ts';
import type { EventQueue } from './event-queue.ts';
import { RegisterMachine, type RegisterResult } from './register-machine.ts';
import type { SimDisk } from './sim-disk.ts';

/** Builds the Raft node; tests substitute a subclass with one planted bug. */
export type RaftFactory = (
  config: RaftConfig,
  bootstrap: ClusterConfig,
  persisted: PersistedState,
  random: SeededRandom,
  observe: (event: RaftEvent) => void,
) => RaftNode;

export interface SimNodeOptions {
  readonly tickMs: number;
  /** Multiplies the tick interval: 1.1 = this node's clock runs 10 % slow. */
  readonly clockRate: number;
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  readonly snapshotEveryEntries: number;
  readonly inboxLimit: number;
}

/** What the simulation observes of a node, for its checkers and coverage counters. */
export interface SimNodeHooks {
  send(message: Message): void;
  applied(node: SimNode, entry: Entry): void;
  event(node: SimNode, event: RaftEvent): void;
  trace(line: string): void;
}

export type WriteOutcome =
  | { readonly status: 'ok'; readonly result: RegisterResult }
  | { readonly status: 'rejected'; readonly leaderHint: NodeId }
  | { readonly status: 'overwritten' };

export type ReadOutcome =
  | { readonly status: 'ok'; readonly value: string | null }
  | { readonly status: 'rejected'; readonly leaderHint: NodeId };

type InboxItem = { readonly kind: 'message'; readonly message: Message } | { readonly kind: 'client'; readonly run: () => void };

export class SimNode {
  status: 'up' | 'crashed' | 'paused' = 'up';
  raft: RaftNode;
  machine = new RegisterMachine();
  /** Bumped by every crash, so callbacks scheduled before it are ignored. */
  private epoch = 0;
  private writing = false;
  private pumpScheduled = false;
  private readonly inbox: InboxItem[] = [];
  private readonly pendingWrites = new Map<number, { term: number; done: (outcome: WriteOutcome) => void }>();
  private readonly pendingReads = new Map<string, { key: string; done: (outcome: ReadOutcome) => void }>();
  private readCounter = 0;

  constructor(
    readonly id: NodeId,
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly raftConfig: RaftConfig,
    private readonly bootstrap: ClusterConfig,
    private readonly options: SimNodeOptions,
    readonly disk: SimDisk,
    private readonly makeRaft: RaftFactory,
    private readonly hooks: SimNodeHooks,
  ) {
    this.raft = this.boot();
    this.scheduleTick();
  }

  private boot(): RaftNode {
    const persisted = this.disk.load();
    this.machine = new RegisterMachine();
    if (persisted.snapshot !== null) this.machine.restore(persisted.snapshot.data);
    return this.makeRaft(this.raftConfig, this.bootstrap, persisted, this.random.fork(), (event) =>
      this.hooks.event(this, event),
    );
  }

  // ---- Faults -----------------------------------------------------------------------------

  crash(): void {
    if (this.status === 'crashed') return;
    this.status = 'crashed';
    this.epoch++;
    this.disk.crash();
    this.writing = false;
    this.pumpScheduled = false;
    this.inbox.length = 0;
    this.pendingWrites.clear();
    this.pendingReads.clear();
    this.hooks.trace(`crash ${this.id}`);
  }

  restart(): void {
    if (this.status !== 'crashed') return;
    this.status = 'up';
    this.raft = this.boot();
    this.hooks.trace(`restart ${this.id} term=${this.raft.currentTerm} last=${this.raft.lastIndex}`);
    this.scheduleTick();
  }

  pause(): void {
    if (this.status === 'up') this.status = 'paused';
  }

  resume(): void {
    if (this.status !== 'paused') return;
    this.status = 'up';
    const waiting = this.inbox.splice(0, this.inbox.length);
    for (const item of waiting) this.process(item);
    this.schedulePump();
  }

  // ---- Inputs -----------------------------------------------------------------------------

  receive(message: Message): void {
    this.enqueue({ kind: 'message', message });
  }

  /** Runs a client's request on this node, as the server's request handler would. */
  receiveClient(run: () => void): void {
    this.enqueue({ kind: 'client', run });
  }

  private enqueue(item: InboxItem): void {
    if (this.status === 'crashed') return;
    if (this.status === 'paused') {
      // A stopped process's socket buffers fill up; beyond that the peer's packets are lost.
      if (this.inbox.length < this.options.inboxLimit) this.inbox.push(item);
      return;
    }
    this.process(item);
  }

  private process(item: InboxItem): void {
    if (item.kind === 'message') this.raft.step(item.message);
    else item.run();
    this.schedulePump();
  }

  submitWrite(data: Uint8Array, done: (outcome: WriteOutcome) => void): void {
    const result = this.raft.propose(data);
    if (!result.ok) {
      done({ status: 'rejected', leaderHint: result.leaderHint });
      return;
    }
    this.pendingWrites.set(result.index, { term: result.term, done });
  }

  submitRead(key: string, done: (outcome: ReadOutcome) => void): void {
    const context = `${this.id}:${this.epoch}:${this.readCounter++}`;
    const result = this.raft.readIndex(context);
    if (!result.ok) {
      done({ status: 'rejected', leaderHint: result.leaderHint });
      return;
    }
    this.pendingReads.set(context, { key, done });
  }

  /** An operator's request to hand leadership to `target` (ignored unless we lead). */
  transferLeadership(target: NodeId): void {
    if (this.status !== 'up') return;
    this.raft.transferLeadership(target);
    this.schedulePump();
  }

  // ---- The Ready loop ---------------------------------------------------------------------

  private scheduleTick(): void {
    const epoch = this.epoch;
    this.queue.schedule(this.options.tickMs * this.options.clockRate, () => {
      if (epoch !== this.epoch) return;
      if (this.status === 'up') {
        this.raft.tick();
        this.schedulePump();
      }
      this.scheduleTick();
    });
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.writing || this.status !== 'up') return;
    this.pumpScheduled = true;
    const epoch = this.epoch;
    this.queue.schedule(0, () => {
      if (epoch !== this.epoch) return;
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.writing || this.status !== 'up' || !this.raft.hasReady()) return;
    const ready = this.raft.ready();
    this.writing = true;
    const epoch = this.epoch;
    const span = this.options.fsyncMaxMs - this.options.fsyncMinMs;
    const delayMs = ready.mustSync ? this.options.fsyncMinMs + this.random.float() * span : 0;
    this.queue.schedule(delayMs, () => {
      if (epoch !== this.epoch) return; // crashed mid-write: the write is lost
      this.complete(ready);
    });
  }

  /** The write is durable: send, apply, serve reads, advance — the Ready contract's order. */
  private complete(ready: Ready): void {
    this.disk.write(ready);
    for (const message of ready.messages) this.hooks.send(message);
    if (ready.snapshot !== null) this.machine.restore(ready.snapshot.data);
    for (const entry of ready.committedEntries) this.applyEntry(entry);
    for (const read of ready.readStates) this.serveRead(read.context);
    for (const context of ready.droppedReads) {
      const pending = this.pendingReads.get(context);
      this.pendingReads.delete(context);
      pending?.done({ status: 'rejected', leaderHint: this.raft.leader });
    }
    this.raft.advance(ready);
    this.maybeCompact();
    this.writing = false;
    if (this.status === 'up') this.pump();
  }

  private applyEntry(entry: Entry): void {
    this.hooks.applied(this, entry);
    const result = entry.type === 'normal' ? this.machine.apply(entry.data) : {};
    const pending = this.pendingWrites.get(entry.index);
    if (pending === undefined) return;
    this.pendingWrites.delete(entry.index);
    pending.done(pending.term === entry.term ? { status: 'ok', result } : { status: 'overwritten' });
  }

  private serveRead(context: string): void {
    const pending = this.pendingReads.get(context);
    if (pending === undefined) return;
    this.pendingReads.delete(context);
    pending.done({ status: 'ok', value: this.machine.get(pending.key) });
  }

  private maybeCompact(): void {
    if (this.raft.appliedIndex - this.raft.snapshotIndex < this.options.snapshotEveryEntries) return;
    this.raft.compact(this.raft.appliedIndex, this.machine.snapshot());
    this.schedulePump();
  }
}
