/**
 * raft-core-throughput: how fast the pure Raft core commits entries when nothing else costs
 * anything. Three RaftNodes live in one process with no disk and no network: a Ready's
 * writes are dropped (treated as instantly durable), its messages are queued and stepped into
 * their targets in the same pump pass, and its committed entries are "applied" by counting.
 *
 * The leader takes proposals in batches (256 × 64-byte payloads between Ready drains) while
 * the cluster pumps, until every node has applied the target count or the time budget runs
 * out. The log is compacted every 10,000 applied entries (up to the slowest node's applied
 * index, so no follower ever needs a snapshot) with a tiny snapshot payload, keeping memory
 * flat. Figures are printed, never asserted.
 */
import { SeededRandom } from '../src/common/random.ts';
import { DEFAULT_RAFT_CONFIG } from '../src/raft/config.ts';
import type { RaftMessage as Message } from '../src/raft/messages.ts';
import { RaftNode } from '../src/raft/raft-node.ts';
import { EMPTY_HARD_STATE } from '../src/raft/types.ts';

export interface CoreRunOptions {
  readonly targetEntries: number;
  readonly timeBudgetMs: number;
  readonly batchSize: number;
  readonly payloadBytes: number;
  readonly compactEvery: number;
}

export interface CoreRunResult {
  /** Proposals applied on every node (the no-op of the leader's term is not counted). */
  readonly entries: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  /** Whether the run stopped on the time budget instead of the target count. */
  readonly timedOut: boolean;
  /** Entries still held in the leader's in-memory log at the end (shows compaction works). */
  readonly retainedLogEntries: number;
}

export const DEFAULT_CORE_OPTIONS: CoreRunOptions = {
  targetEntries: 500_000,
  timeBudgetMs: 10_000,
  batchSize: 256,
  payloadBytes: 64,
  compactEvery: 10_000,
};

const SNAPSHOT_DATA = new Uint8Array([1, 2, 3, 4]);
const IDS = ['n0', 'n1', 'n2'] as const;

class Cluster {
  readonly nodes: RaftNode[];
  /** Normal (proposed) entries applied, per node. */
  readonly applied: number[];
  private readonly byId = new Map<string, RaftNode>();
  private inbox: Message[] = [];
  private lastCompaction = 0;

  constructor(private readonly compactEvery: number) {
    const random = new SeededRandom(42);
    this.nodes = IDS.map(
      (id) =>
        new RaftNode(
          { ...DEFAULT_RAFT_CONFIG, id },
          { voters: [...IDS], learners: [] },
          { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] },
          random.fork(),
        ),
    );
    for (const node of this.nodes) this.byId.set(node.id, node);
    this.applied = this.nodes.map(() => 0);
  }

  leader(): RaftNode | undefined {
    return this.nodes.find((node) => node.currentRole === 'leader');
  }

  /** Ticks until a leader is elected and its no-op is applied everywhere. */
  electLeader(): RaftNode {
    for (let ticks = 0; ticks < 1_000; ticks++) {
      const leader = this.leader();
      if (leader !== undefined && this.nodes.every((node) => node.appliedIndex === leader.lastIndex)) return leader;
      for (const node of this.nodes) node.tick();
      while (this.pump()) {
        // Drain until quiet.
      }
    }
    throw new Error('no leader elected within 1,000 ticks');
  }

  /** One pass: drain every node's Ready, then deliver what they sent. True if anything happened. */
  pump(): boolean {
    let active = false;
    for (let i = 0; i < this.nodes.length; i++) {
      const node = this.nodes[i];
      if (node === undefined) continue;
      while (node.hasReady()) {
        active = true;
        const ready = node.ready();
        // Persist: nothing to do, the "disk" is instant. Send: queue for delivery.
        for (const message of ready.messagesBeforePersist) this.inbox.push(message);
        for (const message of ready.messages) this.inbox.push(message);
        let normal = 0;
        for (const entry of ready.committedEntries) if (entry.type === 'normal') normal++;
        this.applied[i] = (this.applied[i] ?? 0) + normal;
        node.advance(ready);
      }
    }
    const delivering = this.inbox;
    this.inbox = [];
    for (const message of delivering) this.byId.get(message.to)?.step(message);
    this.maybeCompact();
    return active || delivering.length > 0;
  }

  /** Compacts every node up to the slowest applied index, every `compactEvery` entries. */
  private maybeCompact(): void {
    const slowest = Math.min(...this.nodes.map((node) => node.appliedIndex));
    if (slowest - this.lastCompaction < this.compactEvery) return;
    for (const node of this.nodes) node.compact(slowest, SNAPSHOT_DATA);
    this.lastCompaction = slowest;
  }
}

/** One measured (or warm-up) run on a fresh cluster. */
export function runRaftCore(options: CoreRunOptions = DEFAULT_CORE_OPTIONS): CoreRunResult {
  const cluster = new Cluster(options.compactEvery);
  const leader = cluster.electLeader();
  const payload = new Uint8Array(options.payloadBytes).fill(7);
  const started = performance.now();
  const deadline = started + options.timeBudgetMs;
  let proposed = 0;
  let timedOut = false;
  while (Math.min(...cluster.applied) < options.targetEntries) {
    const batch = Math.min(options.batchSize, options.targetEntries - proposed);
    for (let i = 0; i < batch; i++) {
      // The core neither copies nor inspects payloads, so one shared buffer serves all.
      if (!leader.propose(payload).ok) break;
      proposed++;
    }
    cluster.pump();
    if (performance.now() > deadline) {
      timedOut = true;
      break;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const entries = Math.min(...cluster.applied);
  return {
    entries,
    seconds,
    entriesPerSecond: entries / seconds,
    timedOut,
    retainedLogEntries: leader.lastIndex - leader.snapshotIndex,
  };
}
