/**
 * A small in-process, synchronous network of RaftNodes for the core's unit tests, in the spirit
 * of etcd-io/raft's `network` in raft_test.go. Each node has a SimDisk; stabilize() drains every
 * node's Ready in the order the Ready contract demands (persist, send, restore + apply, serve
 * reads, advance) and delivers the messages FIFO until nothing moves.
 *
 * Everything is deterministic: no timers, one seeded Random per node, a single FIFO queue.
 * Faults are explicit: per-link cuts, a message filter, stalled disks, crash and restart.
 *
 * The harness also checks, on every Ready, the promises its messages make (a granted vote or
 * an acknowledged append must already be durable) and, on every apply, state machine safety
 * (no two nodes apply different entries at one index), so every test exercises both.
 */
import { SeededRandom } from '../../src/common/random.ts';
import { DEFAULT_RAFT_CONFIG, type RaftConfig } from '../../src/raft/config.ts';
import type { RaftMessage as Message } from '../../src/raft/messages.ts';
import type { ConfChange } from '../../src/raft/membership.ts';
import { RaftNode, type RaftEvent } from '../../src/raft/raft-node.ts';
import type { ClusterConfig, Entry, LogIndex, NodeId, PersistedState, ReadState } from '../../src/raft/types.ts';
import { RaftInvariantChecker } from '../sim/checkers/raft-invariants.ts';
import { SimDisk } from '../sim/sim-disk.ts';
import type { RaftFactory } from '../sim/sim-node.ts';

/** Small numbers keep tests short: heartbeats every tick, elections after 10-19 ticks. */
export const TEST_CONFIG: Omit<RaftConfig, 'id'> = { ...DEFAULT_RAFT_CONFIG, electionTicks: 10, heartbeatTicks: 1 };

/** Builds a node; a test may substitute a subclass with one rule broken, to show it bites. */
export type { RaftFactory };

export interface NetworkOptions {
  readonly config?: Partial<Omit<RaftConfig, 'id'>>;
  readonly seed?: number;
  readonly makeRaft?: RaftFactory;
}

/** A read released by the core, with how far the state machine had applied when it was served. */
export interface ServedRead extends ReadState {
  readonly appliedThrough: LogIndex;
}

export class Member {
  raft!: RaftNode;
  readonly disk = new SimDisk();
  up = true;
  /** A stalled node still steps messages but its disk never finishes a write (no Ready is taken). */
  stalled = false;
  /** The state machine: the data of applied normal entries, in order (restored from snapshots). */
  state: string[] = [];
  /** Entries applied since the last (re)start. */
  applied: Entry[] = [];
  readStates: ServedRead[] = [];
  droppedReads: string[] = [];
  readonly events: RaftEvent[] = [];
  restarts = 0;

  /** `bootstrap`: the configuration a node with an empty disk starts from (none for a joiner). */
  constructor(
    readonly id: NodeId,
    readonly bootstrap: ClusterConfig,
  ) {}
}

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const decode = (data: Uint8Array): string => new TextDecoder().decode(data);

export class Network {
  readonly members = new Map<NodeId, Member>();
  /** Every message that left a node (after its Ready was persisted), delivered or not. */
  readonly sent: Message[] = [];
  /** Return false to drop a message in flight; applied after link cuts. */
  filter: (message: Message) => boolean = () => true;
  private readonly queue: Message[] = [];
  private readonly cutLinks = new Set<string>();
  /** The simulator's Raft checkers, here too: state machine safety, leader completeness. */
  readonly checker = new RaftInvariantChecker();
  private readonly config: Omit<RaftConfig, 'id'>;
  private readonly seed: number;
  private readonly bootstrap: ClusterConfig;
  private readonly makeRaft: RaftFactory;

  constructor(ids: readonly NodeId[], options: NetworkOptions = {}) {
    this.config = { ...TEST_CONFIG, ...options.config };
    this.seed = options.seed ?? 1;
    this.bootstrap = { voters: ids, learners: [] };
    this.makeRaft = options.makeRaft ?? ((...args) => new RaftNode(...args));
    for (const id of ids) {
      const member = new Member(id, this.bootstrap);
      this.members.set(id, member);
      this.boot(member);
    }
  }

  /** Starts a new node with an empty disk and no configuration: it waits to be added. */
  addNode(id: NodeId): Member {
    if (this.members.has(id)) throw new Error(`member ${id} exists`);
    const member = new Member(id, { voters: [], learners: [] });
    this.members.set(id, member);
    this.boot(member);
    return member;
  }

  /** Proposes a membership change on `leader`, which must accept it; returns the entry's index. */
  changeMembership(leader: NodeId, change: ConfChange): LogIndex {
    const result = this.node(leader).proposeConfChange(change);
    if (!result.ok) throw new Error(`membership change on ${leader} refused: ${result.reason}`);
    return result.index;
  }

  member(id: NodeId): Member {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no member ${id}`);
    return member;
  }

  node(id: NodeId): RaftNode {
    return this.member(id).raft;
  }

  /** The live leader of the highest term, if any. */
  leader(): NodeId | undefined {
    let best: RaftNode | undefined;
    for (const member of this.members.values()) {
      const raft = member.raft;
      if (member.up && raft.currentRole === 'leader' && (best === undefined || raft.currentTerm > best.currentTerm)) best = raft;
    }
    return best?.id;
  }

  // ---- Faults -------------------------------------------------------------------------------

  /** Cuts the link between a and b in both directions. */
  cut(a: NodeId, b: NodeId): void {
    this.cutLinks.add(`${a}>${b}`);
    this.cutLinks.add(`${b}>${a}`);
  }

  /** Cuts only the direction from → to. */
  drop(from: NodeId, to: NodeId): void {
    this.cutLinks.add(`${from}>${to}`);
  }

  isolate(id: NodeId): void {
    for (const other of this.members.keys()) if (other !== id) this.cut(id, other);
  }

  /** Restores every link (the filter stays). */
  heal(): void {
    this.cutLinks.clear();
  }

  /** Power loss: the node stops, its unsynced writes and undelivered Ready vanish. */
  crash(id: NodeId): void {
    const member = this.member(id);
    member.up = false;
    member.stalled = false;
    member.disk.crash();
  }

  /** Boots a crashed node from what its disk made durable. */
  restart(id: NodeId): void {
    const member = this.member(id);
    member.restarts++;
    member.up = true;
    this.boot(member);
  }

  private boot(member: Member): void {
    const persisted = member.disk.load();
    member.state = persisted.snapshot === null ? [] : decodeState(persisted.snapshot.data);
    member.applied = [];
    // A distinct, fixed stream per node and per boot keeps every run identical.
    const random = new SeededRandom(this.seed * 1_000 + [...this.members.keys()].indexOf(member.id) * 10 + member.restarts);
    const config = { ...this.config, id: member.id };
    member.raft = this.makeRaft(config, member.bootstrap, persisted, random, (event) => {
      member.events.push(event);
      if (event === 'became-leader') this.checker.onLeaderElected(member.id, member.raft);
      this.throwOnViolation();
    });
  }

  // ---- Driving ------------------------------------------------------------------------------

  /** Processes Readies and delivers messages until no node has anything left to do. */
  stabilize(): void {
    for (let round = 0; ; round++) {
      if (round > 10_000) throw new Error('stabilize: the network never became quiet');
      let busy = false;
      for (const member of this.members.values()) {
        if (member.up && !member.stalled && member.raft.hasReady()) {
          this.handleReady(member);
          busy = true;
        }
      }
      const batch = this.queue.splice(0, this.queue.length);
      for (const message of batch) this.deliver(message);
      if (!busy && batch.length === 0) return;
    }
  }

  /** Ticks one node `n` times, stabilizing after each tick. */
  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) {
      if (this.member(id).up) this.node(id).tick();
      this.stabilize();
    }
  }

  /** Ticks every live node once, `n` times, stabilizing after each round. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const member of this.members.values()) if (member.up) member.raft.tick();
      this.stabilize();
    }
  }

  /**
   * Ticks `id` alone, without delivering anything, until `done` holds (e.g. until it campaigns,
   * before its requests are answered). Throws rather than loop forever.
   */
  tickUntil(id: NodeId, done: (raft: RaftNode) => boolean, maxTicks = 100): void {
    const raft = this.node(id);
    for (let i = 0; !done(raft); i++) {
      if (i >= maxTicks) throw new Error(`tickUntil: ${id} did not get there in ${maxTicks} ticks`);
      raft.tick();
    }
  }

  /**
   * Makes `id` leader. It is handed a 'timeout-now', as a leadership transfer would, so it
   * campaigns at once and skips PreVote and the voters' leases. A campaign lost to a stale term
   * teaches it the newer term, so a few attempts suffice when a quorum can vote for it; one
   * left undecided (voters down) is ended by ticking it until it campaigns again.
   */
  elect(id: NodeId): void {
    for (let attempt = 0; attempt < 5; attempt++) {
      const raft = this.node(id);
      if (raft.currentRole === 'follower') {
        raft.step({ type: 'timeout-now', from: id, to: id, term: raft.currentTerm });
        this.stabilize();
      }
      for (let i = 0; i < 2 * this.config.electionTicks && raft.currentRole !== 'leader' && raft.currentRole !== 'follower'; i++) {
        this.tick(id);
      }
      if (raft.currentRole === 'leader') return;
    }
    throw new Error(`could not elect ${id}`);
  }

  /** Proposes `text` on `id`, which must lead; returns the entry's index. */
  propose(id: NodeId, text: string): LogIndex {
    const result = this.node(id).propose(encode(text));
    if (!result.ok) throw new Error(`proposal on ${id} refused: ${result.reason}`);
    return result.index;
  }

  /** Snapshots `id`'s state machine at its applied index and compacts its log. */
  compact(id: NodeId): void {
    const member = this.member(id);
    member.raft.compact(member.raft.appliedIndex, encode(JSON.stringify(member.state)));
  }

  /** Messages sent since `mark` (an earlier `sent.length`) that satisfy `predicate`. */
  sentSince(mark: number, predicate: (message: Message) => boolean = () => true): Message[] {
    return this.sent.slice(mark).filter(predicate);
  }

  private throwOnViolation(): void {
    const violation = this.checker.violations[0];
    if (violation !== undefined) throw new Error(violation);
  }

  private deliver(message: Message): void {
    if (this.cutLinks.has(`${message.from}>${message.to}`) || !this.filter(message)) return;
    const target = this.members.get(message.to);
    if (target === undefined || !target.up) return;
    target.raft.step(message);
  }

  /** One Ready, in contract order: persist, send, restore + apply, serve reads, advance. */
  private handleReady(member: Member): void {
    const ready = member.raft.ready();
    // Messages that leave before the write must hold with only what was durable before it.
    checkPromises(member, ready.messagesBeforePersist);
    this.checkCommitsDurable(member, ready.messagesBeforePersist);
    for (const message of ready.messagesBeforePersist) this.enqueue(message);
    member.disk.write(ready);
    checkPromises(member, ready.messages);
    for (const message of ready.messages) this.enqueue(message);
    if (ready.snapshot !== null) member.state = decodeState(ready.snapshot.data);
    for (const entry of ready.committedEntries) this.apply(member, entry);
    for (const read of ready.readStates) member.readStates.push({ ...read, appliedThrough: ready.appliedThrough });
    member.droppedReads.push(...ready.droppedReads);
    member.raft.advance(ready);
  }

  private enqueue(message: Message): void {
    if (message.type === 'vote-response' && message.granted) this.checker.onVoteGranted(message.from, message.to, message.term);
    this.sent.push(message);
    this.queue.push(message);
  }

  /**
   * A commit index a leader announces must already be durable on a quorum of voters (its own
   * disk included only once written): it tells followers they may apply.
   */
  private checkCommitsDurable(member: Member, messages: readonly Message[]): void {
    for (const message of messages) {
      if (message.type !== 'append' && message.type !== 'heartbeat') continue;
      const index = message.commit;
      const term = member.raft.entryAt(index)?.term;
      if (index === 0 || term === undefined) continue; // compacted away: committed long ago
      const voters = member.raft.members.voters;
      const holders = voters.filter((id) => {
        const durable = this.members.get(id)?.disk.load();
        if (durable === undefined) return false;
        const stored = durable.entries.find((entry) => entry.index === index);
        return stored?.term === term || (durable.snapshot?.meta.index ?? 0) >= index;
      });
      if (holders.length * 2 <= voters.length) {
        throw new Error(`${member.id} announced commit ${index} in ${message.type}, durable only on [${holders.join(', ')}]`);
      }
    }
  }

  private apply(member: Member, entry: Entry): void {
    this.checker.onApplied(member.id, member.raft.currentTerm, entry);
    this.throwOnViolation();
    member.applied.push(entry);
    if (entry.type === 'normal') member.state.push(decode(entry.data));
  }
}

function decodeState(data: Uint8Array): string[] {
  return JSON.parse(decode(data)) as string[];
}

/** The last index `persisted` holds (its snapshot's when it holds no entries). */
export function durableLastIndex(persisted: PersistedState): LogIndex {
  return persisted.entries.at(-1)?.index ?? persisted.snapshot?.meta.index ?? 0;
}

/**
 * Each message of a Ready may promise only what is durable once that Ready is persisted:
 * a vote, an acknowledged append or installed snapshot, and the term it is sent in.
 */
function checkPromises(member: Member, messages: readonly Message[]): void {
  const durable = member.disk.load();
  const fail = (message: Message, what: string): never => {
    throw new Error(`${member.id} sent ${message.type} to ${message.to} promising ${what} it has not persisted`);
  };
  for (const message of messages) {
    const preVoteTraffic = message.type === 'pre-vote' || (message.type === 'pre-vote-response' && message.granted);
    if (!preVoteTraffic && message.term > durable.hardState.term) fail(message, `term ${message.term}`);
    // A vote binds only its term: once a later term is durable, the node can never vote in it again.
    const voteHeld = (term: number, vote: string): boolean =>
      durable.hardState.term > term || (durable.hardState.term === term && durable.hardState.vote === vote);
    if (message.type === 'vote-response' && message.granted && !voteHeld(message.term, message.to)) fail(message, 'a vote');
    if (message.type === 'vote' && !voteHeld(message.term, member.id)) fail(message, 'its own vote');
    if (message.type === 'append-response' && message.success && durableLastIndex(durable) < message.matchIndex) {
      fail(message, `entries through ${message.matchIndex}`);
    }
    if (message.type === 'snapshot-response' && message.installed && durableLastIndex(durable) < message.snapshotIndex) {
      fail(message, `snapshot ${message.snapshotIndex}`);
    }
  }
}
