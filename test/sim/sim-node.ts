/**
 * One simulated server process: the production NodeHost (and so the production RaftNode and
 * Ready loop) on a simulated clock, disk and network, with the register state machine on top.
 * It models what a process can suffer: crash (the disk keeps only synced writes; nothing the
 * process scheduled runs again), restart from disk, pause (no timers, no processing; its inbox
 * fills and drains on resume) and a clock that runs fast or slow.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { RaftConfig } from '../../src/raft/config.ts';
import type { Message } from '../../src/raft/messages.ts';
import type { RaftEvent, RaftFactory, RaftNode } from '../../src/raft/raft-node.ts';
import type { ClusterConfig, Entry, NodeId } from '../../src/raft/types.ts';
import { NodeHost } from '../../src/node/node-host.ts';
import type { Storage } from '../../src/storage/storage.ts';
import type { EventQueue } from './event-queue.ts';
import { RegisterMachine, type RegisterResult } from './register-machine.ts';
import { SimClock } from './sim-clock.ts';
import type { SimDisk } from './sim-disk.ts';

export type { RaftFactory };

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
  | { readonly status: 'rejected'; readonly leaderHint: NodeId };

export type ReadOutcome =
  | { readonly status: 'ok'; readonly value: string | null }
  | { readonly status: 'rejected'; readonly leaderHint: NodeId };

export class SimNode {
  status: 'up' | 'crashed' | 'paused' = 'up';
  machine = new RegisterMachine();
  private host: NodeHost<RegisterResult>;
  private clock: SimClock;
  /** Bumped by every crash, so answers promised by a dead process are never delivered. */
  private epoch = 0;
  private readonly inbox: (() => void)[] = [];

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
    this.clock = new SimClock(queue, options.clockRate);
    this.host = this.boot();
  }

  get raft(): RaftNode {
    return this.host.raft;
  }

  private boot(): NodeHost<RegisterResult> {
    this.clock = new SimClock(this.queue, this.options.clockRate);
    this.machine = new RegisterMachine();
    const host = new NodeHost<RegisterResult>({
      raftConfig: this.raftConfig,
      bootstrap: this.bootstrap,
      persisted: this.disk.load(),
      random: this.random.fork(),
      clock: this.clock,
      transport: { send: (messages) => messages.forEach((message) => this.hooks.send(message)) },
      storage: this.storage(this.clock),
      stateMachine: this.machine,
      tickMs: this.options.tickMs,
      snapshotEveryEntries: this.options.snapshotEveryEntries,
      maxPendingProposals: 10_000,
      maxPendingReads: 10_000,
      makeRaft: this.makeRaft,
      hooks: {
        applied: (entry) => this.hooks.applied(this, entry),
        raftEvent: (event) => this.hooks.event(this, event),
      },
    });
    host.start();
    return host;
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
    this.host.stop();
    this.disk.crash();
    this.inbox.length = 0;
    this.hooks.trace(`crash ${this.id}`);
  }

  restart(): void {
    if (this.status !== 'crashed') return;
    this.status = 'up';
    this.host = this.boot();
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
    this.enqueue(() => this.host.receive(message));
  }

  /** Runs a client's request on this node, as the server's request handler would. */
  receiveClient(run: () => void): void {
    this.enqueue(run);
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

  /** Answers only while the process that promised them is alive. */
  private whileAlive<T>(done: (value: T) => void): (value: T) => void {
    const epoch = this.epoch;
    return (value) => {
      if (epoch === this.epoch) done(value);
    };
  }

  submitWrite(data: Uint8Array, done: (outcome: WriteOutcome) => void): void {
    const answer = this.whileAlive(done);
    this.host.propose(data, (outcome) => {
      if (outcome.ok) answer({ status: 'ok', result: outcome.result });
      else if (!outcome.mayHaveApplied) answer({ status: 'rejected', leaderHint: outcome.leaderHint });
      // Otherwise the outcome is unknown: the client's deadline records it as indeterminate.
    });
  }

  submitRead(key: string, done: (outcome: ReadOutcome) => void): void {
    const answer = this.whileAlive(done);
    this.host.read((outcome) => {
      if (outcome.ok) answer({ status: 'ok', value: this.machine.get(key) });
      else answer({ status: 'rejected', leaderHint: outcome.leaderHint });
    });
  }

  /** An operator's request to hand leadership to `target` (ignored unless we lead). */
  transferLeadership(target: NodeId): void {
    if (this.status === 'up') this.host.transferLeadership(target);
  }
}
