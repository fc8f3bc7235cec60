/**
 * The simulated network between Raft nodes: seeded latency with jitter (which reorders),
 * drops, duplicates, extra delay for a fraction of messages (more reordering), and
 * one-way link cuts from which symmetric partitions, majority/minority splits, bridges and
 * flapping links are built. A cut link drops messages at send and at delivery time.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { Message } from '../../src/raft/messages.ts';
import type { NodeId } from '../../src/raft/types.ts';
import type { EventQueue } from './event-queue.ts';

export interface NetworkOptions {
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly dropRate: number;
  readonly duplicateRate: number;
  /** Fraction of messages delayed by up to `reorderDelayMs` more. */
  readonly reorderRate: number;
  readonly reorderDelayMs: number;
}

export class SimNetwork {
  private readonly cutLinks = new Set<string>();
  private dropRate: number;
  sent = 0;
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly options: NetworkOptions,
    private readonly deliver: (message: Message) => void,
  ) {
    this.dropRate = options.dropRate;
  }

  static linkKey(from: NodeId, to: NodeId): string {
    return `${from}>${to}`;
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cutLinks.has(SimNetwork.linkKey(from, to));
  }

  get partitioned(): boolean {
    return this.cutLinks.size > 0;
  }

  cut(from: NodeId, to: NodeId): void {
    this.cutLinks.add(SimNetwork.linkKey(from, to));
  }

  /** Cuts every link between the two groups, both ways. */
  split(groupA: readonly NodeId[], groupB: readonly NodeId[]): void {
    for (const a of groupA) {
      for (const b of groupB) {
        this.cut(a, b);
        this.cut(b, a);
      }
    }
  }

  restore(from: NodeId, to: NodeId): void {
    this.cutLinks.delete(SimNetwork.linkKey(from, to));
  }

  healAll(): void {
    this.cutLinks.clear();
  }

  setDropRate(rate: number): void {
    this.dropRate = rate;
  }

  send(message: Message): void {
    this.sent++;
    if (this.isCut(message.from, message.to) || this.random.chance(this.dropRate)) {
      this.dropped++;
      return;
    }
    this.scheduleDelivery(message);
    if (this.random.chance(this.options.duplicateRate)) this.scheduleDelivery(message);
  }

  /**
   * A crashed node's connections close: each peer learns of it after the link's latency, unless
   * the link is cut (a partitioned peer's connection just goes quiet) or the notice is lost (as
   * when the machine, not only the process, went away).
   */
  sendConnectionClosed(from: NodeId, to: NodeId, closed: () => void): void {
    if (this.isCut(from, to) || this.random.chance(this.dropRate)) return;
    this.queue.schedule(this.options.latencyMs + this.random.float() * this.options.jitterMs, () => {
      if (!this.isCut(from, to)) closed();
    });
  }

  private scheduleDelivery(message: Message): void {
    let delayMs = this.options.latencyMs + this.random.float() * this.options.jitterMs;
    if (this.random.chance(this.options.reorderRate)) delayMs += this.random.float() * this.options.reorderDelayMs;
    this.queue.schedule(delayMs, () => {
      if (this.isCut(message.from, message.to)) {
        this.dropped++;
        return;
      }
      this.delivered++;
      this.deliver(message);
    });
  }
}
