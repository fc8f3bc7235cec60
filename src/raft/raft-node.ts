/**
 * RaftNode: the pure Raft state machine, driven as etcd-io/raft's RawNode. It has no clock,
 * randomness, timers or I/O of its own: time arrives as tick(), randomness from an injected
 * Random, and everything it wants done leaves through ready(): state and entries to persist,
 * messages to send (most only after that persistence; a leader's appends before it), entries to
 * apply and reads now safe.
 *
 * This file holds the public API, the Ready cycle, membership and the role transitions; terms
 * and elections live in election.ts, the leader's side of replication in leader.ts and the
 * follower's in follower.ts.
 */
import { assert, assertNever } from '../common/assert.ts';
import type { Random } from '../common/random.ts';
import { validateRaftConfig, type RaftConfig } from './config.ts';
import {
  broadcastAppend,
  broadcastHeartbeat,
  handleAppendResponse,
  handleHeartbeatResponse,
  handleReadIndexRequest,
  handleSnapshotResponse,
  resendStaleSnapshotChunks,
  sendAppend,
  sendReadRound,
  startReadRound,
} from './leader.ts';
import {
  campaign,
  handleTerm,
  handleVoteRequest,
  handleVoteResponse,
  LEADER_GONE_CAMPAIGN_TICKS,
  LEADER_GONE_QUICK_CAMPAIGNS,
  tickElection,
} from './election.ts';
import { handleFromLeader, handleReadIndexResponse, type IncomingSnapshot } from './follower.ts';
import { RaftLog } from './log.ts';
import {
  applyConfChange,
  encodeConfigEntry,
  type ConfChange,
  type ConfChangeRefusal,
} from './membership.ts';
import type { RaftMessage } from './messages.ts';
import { Progress } from './progress.ts';
import { committedIndex, majority } from './quorum.ts';
import { ReadIndexTracker } from './read-index.ts';
import { type Ready, mayLeaveBeforePersist } from './ready.ts';
import {
  EMPTY_DATA,
  NO_NODE,
  hardStateEqual,
  type ClusterConfig,
  type Entry,
  type HardState,
  type LogIndex,
  type NodeId,
  type PersistedState,
  type ReadState,
  type Role,
  type Snapshot,
  type SoftState,
  type Term,
} from './types.ts';

/** Things worth counting: the simulator's coverage report reads them. */
export type RaftEvent =
  | 'became-leader'
  | 'pre-vote-rejected'
  | 'check-quorum-step-down'
  | 'snapshot-sent'
  | 'snapshot-installed'
  | 'leadership-transferred'
  | 'read-index-confirmed'
  | 'append-rejected'
  | 'config-changed'
  | 'removed-leader-stepped-down'
  /** A follower forgot its leader on the host's word that the leader is gone (leaderGone). */
  | 'leader-forgotten'
  /** A leader advanced its commit index by counting (checkers verify the quorum it counted). */
  | 'commit-advanced';

export type ProposeResult =
  | { readonly ok: true; readonly index: LogIndex; readonly term: Term }
  | { readonly ok: false; readonly reason: 'not_leader' | 'transferring' | 'overloaded'; readonly leaderHint: NodeId };

export type ReadIndexResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'no_leader' | 'overloaded'; readonly leaderHint: NodeId };

export type ConfChangeResult =
  | { readonly ok: true; readonly index: LogIndex; readonly term: Term }
  | { readonly ok: false; readonly reason: ConfChangeRefusal; readonly leaderHint: NodeId };

export type TransferResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not_leader' | 'not_voter' };


/** Builds a RaftNode; tests substitute a subclass with one planted bug. */
export type RaftFactory = (
  config: RaftConfig,
  bootstrap: ClusterConfig,
  persisted: PersistedState,
  random: Random,
  observe: (event: RaftEvent) => void,
) => RaftNode;

export class RaftNode {
  readonly id: NodeId;
  readonly config: RaftConfig;
  /** @internal */ readonly random: Random;
  /** @internal */ readonly observe: (event: RaftEvent) => void;

  /** @internal */ term: Term;
  /** @internal */ vote: NodeId;
  /** @internal */ lead: NodeId = NO_NODE;
  /** @internal */ role: Role = 'follower';
  /** @internal */ readonly log: RaftLog;

  /** @internal */ electionElapsed = 0;
  /** Campaigns left that may retry early (LEADER_GONE_QUICK_CAMPAIGNS; election.ts). */
  /** @internal */ quickCampaigns = 0;
  /** @internal */ heartbeatElapsed = 0;
  /** @internal */ randomizedElectionTimeout = 0;

  /** Leader only: replication progress of every other member. */
  /** @internal */ readonly progress = new Map<NodeId, Progress>();
  /** @internal */ readonly votes = new Map<NodeId, boolean>();
  /** @internal */ campaignIsTransfer = false;
  /** @internal */ leadTransferee: NodeId = NO_NODE;
  /** Ticks since the transfer began; it is abandoned after an election timeout. */
  private transferElapsed = 0;

  /** @internal */ readonly readRounds: ReadIndexTracker;
  /** Reads asked of a leader that has not yet committed an entry of its term. */
  /** @internal */ readsAwaitingTermCommit: { context: string; requester: NodeId }[] = [];
  /** Reads confirmed, waiting for the state machine to apply their index. */
  /** @internal */ readsAwaitingApply: ReadState[] = [];
  /** Local reads forwarded to the leader and not yet answered. */
  /** @internal */ readonly readsForwarded = new Set<string>();
  /** @internal */ droppedReads: string[] = [];

  /** @internal */ messages: RaftMessage[] = [];
  /** The latest snapshot (our own compaction or one installed), sent to lagging followers. */
  /** @internal */ snapshot: Snapshot | null;
  private snapshotToSave: Snapshot | null = null;
  /** @internal */ receivedSnapshot: Snapshot | null = null;
  /** @internal */ incomingSnapshot: IncomingSnapshot | null = null;
  /** Leader only: appends wait until ready() so that proposals batch into one message. */
  /** @internal */ appendsPending = false;

  /** The hard state of the last Ready: a change from it makes a new Ready. */
  private lastHardState: HardState;
  /** The hard state the last Ready that wrote one handed to storage. */
  private lastWrittenHardState: HardState;
  private lastSoftState: SoftState;
  /** Readies handed out and not yet advanced, oldest first (writes complete in this order). */
  private readonly readiesInFlight: Ready[] = [];

  constructor(
    config: RaftConfig,
    bootstrap: ClusterConfig,
    persisted: PersistedState,
    random: Random,
    observe: (event: RaftEvent) => void = () => {},
  ) {
    const problems = validateRaftConfig(config);
    assert(problems.length === 0, () => `invalid raft config: ${problems.join('; ')}`);
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.observe = observe;
    this.term = persisted.hardState.term;
    this.vote = persisted.hardState.vote;
    this.snapshot = persisted.snapshot;
    this.log = RaftLog.fromStorage(persisted.snapshot?.meta ?? null, persisted.entries, persisted.hardState.commit, bootstrap);
    this.readRounds = new ReadIndexTracker(config.maxPendingReads);
    this.lastHardState = this.hardState();
    this.lastWrittenHardState = this.lastHardState;
    this.lastSoftState = this.softState();
    this.resetRandomizedElectionTimeout();
    this.checkInvariants();
  }

  // ---- Public API -------------------------------------------------------------------------

  /** Advances logical time by one tick. */
  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else tickElection(this);
    this.checkInvariants();
  }

  /** Feeds one message from a peer. */
  step(message: RaftMessage): void {
    assert(message.to === this.id, () => `message for ${message.to} stepped into ${this.id}`);
    if (handleTerm(this, message)) this.stepByRole(message);
    this.checkInvariants();
  }

  /** Appends `data` to the log if we lead; it commits later (or never, if leadership is lost). */
  propose(data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'not_leader', leaderHint: this.lead };
    if (this.leadTransferee !== NO_NODE) return { ok: false, reason: 'transferring', leaderHint: this.lead };
    if (this.log.lastIndex() - this.log.commitIndex >= this.config.maxUncommittedEntries) {
      return { ok: false, reason: 'overloaded', leaderHint: this.lead };
    }
    const entry = this.appendEntry('normal', data);
    return { ok: true, index: entry.index, term: entry.term };
  }

  /**
   * Asks for a linearizable read point. The read comes back through ready().readStates once it
   * is safe (leadership confirmed by a quorum, and applied up to the read index), or through
   * ready().droppedReads if it cannot be served here.
   */
  readIndex(context: string): ReadIndexResult {
    if (this.role === 'leader') {
      if (!startReadRound(this, context, this.id)) return { ok: false, reason: 'overloaded', leaderHint: this.lead };
      return { ok: true };
    }
    if (this.lead === NO_NODE) return { ok: false, reason: 'no_leader', leaderHint: NO_NODE };
    if (this.readsForwarded.size >= this.config.maxPendingReads) {
      return { ok: false, reason: 'overloaded', leaderHint: this.lead };
    }
    this.readsForwarded.add(context);
    this.send({ type: 'read-index', from: this.id, to: this.lead, term: this.term, readContext: context });
    return { ok: true };
  }

  /**
   * Whether an entry of the current term is committed. Until it is, a new leader's commit index
   * may lag entries its predecessor committed, so reads wait (thesis §6.4). A method, not an
   * inline test, so that a test subclass can plant the classic bug of skipping the wait.
   */
  committedInCurrentTerm(): boolean {
    return this.log.term(this.log.commitIndex) === this.term;
  }

  /**
   * Proposes a membership change (one server at a time; see membership.ts). It takes effect on
   * every node as soon as the entry is in its log; the caller learns it is final once the entry
   * at the returned index applies with the returned term.
   */
  proposeConfChange(change: ConfChange): ConfChangeResult {
    const refuse = (reason: ConfChangeRefusal): ConfChangeResult => ({ ok: false, reason, leaderHint: this.lead });
    if (this.role !== 'leader') return refuse('not_leader');
    if (this.leadTransferee !== NO_NODE) return refuse('transferring');
    // Thesis §4.1 errata: a new leader may hold an uncommitted change of its predecessor that it
    // does not know about as such until an entry of its own term commits.
    if (!this.committedInCurrentTerm() || this.log.latestConfig().index > this.log.commitIndex) {
      return refuse('change_pending');
    }
    const next = applyConfChange(this.membership, change);
    if (!next.ok) return refuse(next.reason);
    if (change.type === 'promote') {
      // A learner that has not answered lately, or is more than one append behind, is still
      // catching up (a refusal the caller may wait out), not a threat to the quorum.
      const progress = this.progress.get(change.id);
      const match = progress?.match ?? 0;
      const caughtUp = progress !== undefined && progress.recentlyHeard() && match > 0 && match + this.config.maxEntriesPerAppend >= this.log.commitIndex;
      if (!caughtUp) return refuse('learner_behind');
    }
    const liveVoters = next.config.voters.filter((id) => id === this.id || this.progress.get(id)?.recentlyHeard() === true);
    if (liveVoters.length < majority(next.config.voters.length)) return refuse('would_lose_quorum');
    const entry = this.appendEntry('config', encodeConfigEntry({ change, config: next.config }));
    this.onConfigChanged();
    return { ok: true, index: entry.index, term: entry.term };
  }

  /** Hands leadership to `target`: catch it up, then tell it to campaign at once. */
  transferLeadership(target: NodeId): TransferResult {
    if (this.role !== 'leader') return { ok: false, reason: 'not_leader' };
    if (target === this.id) return { ok: true };
    if (!this.membership.voters.includes(target)) return { ok: false, reason: 'not_voter' };
    if (this.leadTransferee === target) return { ok: true };
    this.leadTransferee = target;
    // Its own counter, so that transfers never postpone the CheckQuorum check.
    this.transferElapsed = 0;
    const progress = this.progress.get(target);
    assert(progress !== undefined, () => `no progress for voter ${target}`);
    if (progress.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else sendAppend(this, target, true);
    return { ok: true };
  }

  /** The application has snapshotted its state at `index` (≤ applied): forget older entries. */
  compact(index: LogIndex, data: Uint8Array): void {
    assert(index <= this.log.appliedIndex, () => `compact ${index} beyond applied ${this.log.appliedIndex}`);
    if (index <= this.log.snapshotIndex) return;
    const term = this.log.term(index);
    assert(term !== undefined, () => `compact: no term at ${index}`);
    this.log.compact(index);
    this.snapshot = { meta: { index, term, config: this.log.configAt(index) }, data };
    this.snapshotToSave = this.snapshot;
  }

  hasReady(): boolean {
    return (
      this.appendsPending ||
      this.readRounds.gathering ||
      this.messages.length > 0 ||
      this.droppedReads.length > 0 ||
      this.snapshotToSave !== null ||
      this.receivedSnapshot !== null ||
      this.log.unstableFrom <= this.log.lastIndex() ||
      this.log.commitIndex > this.log.applyingIndex ||
      !hardStateEqual(this.hardState(), this.lastHardState) ||
      this.hasReleasableRead() ||
      !softStateEqual(this.softState(), this.lastSoftState)
    );
  }

  /**
   * What must happen next. The caller sends messagesBeforePersist, persists (hardState,
   * entries, snapshot, compaction) in one synced write, then sends the messages, applies the
   * snapshot and committed entries, serves the read states, and calls advance(). Nothing in
   * `messages` may be sent before the write is durable. The next ready() need not wait for
   * advance(): each Ready holds only what is new since the last, so a node can replicate and
   * apply while its earlier writes are in flight, provided those writes complete in order and
   * every Ready is advanced in order (ready.ts).
   */
  ready(): Ready {
    if (this.appendsPending) {
      this.appendsPending = false;
      broadcastAppend(this, false);
    }
    // One heartbeat round for every read taken since the last Ready.
    sendReadRound(this);
    const hardState = this.hardState();
    const mustSync =
      hardState.term !== this.lastWrittenHardState.term || hardState.vote !== this.lastWrittenHardState.vote;
    const entries = this.log.unstableEntries();
    this.log.markHandedToStorage();
    const receivedSnapshot = this.receivedSnapshot;
    this.receivedSnapshot = null;
    const committedEntries = this.log.nextEntriesToApply(this.config.maxApplyEntriesPerReady);
    const last = committedEntries[committedEntries.length - 1];
    if (last !== undefined) this.log.applyingIndex = last.index;
    const readStates = this.takeReleasableReads();
    const softState = this.softState();
    // A new commit index alone is not written: it is volatile in Raft (a restarted node learns
    // it again from the leader, and load() takes at least the snapshot's index), and a write of
    // its own would hold up the next Ready — the next batch of proposals — for nothing. It rides
    // along with the next write that happens anyway.
    const writesAnyway = entries.length > 0 || receivedSnapshot !== null || this.snapshotToSave !== null;
    const writeHardState = mustSync || (writesAnyway && !hardStateEqual(hardState, this.lastWrittenHardState));
    const ready: Ready = {
      hardState: writeHardState ? hardState : null,
      entries,
      snapshot: receivedSnapshot,
      compaction: this.snapshotToSave,
      messages: this.messages.filter((message) => !mayLeaveBeforePersist(message)),
      messagesBeforePersist: this.messages.filter(mayLeaveBeforePersist),
      committedEntries,
      readStates,
      droppedReads: this.droppedReads,
      softState,
      mustSync: mustSync || entries.length > 0 || receivedSnapshot !== null,
      appliedThrough: this.log.applyingIndex,
    };
    this.lastHardState = hardState;
    if (writeHardState) this.lastWrittenHardState = hardState;
    this.lastSoftState = softState;
    this.messages = [];
    this.droppedReads = [];
    this.snapshotToSave = null;
    this.readiesInFlight.push(ready);
    return ready;
  }

  /**
   * The caller has carried out `ready`: its write, and those of every earlier Ready, are
   * durable, and its entries applied.
   */
  advance(ready: Ready): void {
    assert(this.readiesInFlight.length > 0, 'advance() without ready()');
    assert(this.readiesInFlight[0] === ready, 'advance() out of order: the oldest Ready not yet advanced comes first');
    this.readiesInFlight.shift();
    if (ready.snapshot !== null) {
      this.log.stableIndex = Math.max(this.log.stableIndex, ready.snapshot.meta.index);
    }
    this.log.stableTo(ready.entries);
    this.log.appliedIndex = Math.max(this.log.appliedIndex, ready.appliedThrough);
    if (this.role === 'leader' && this.maybeCommit()) broadcastAppend(this, true);
    this.checkInvariants();
  }

  /**
   * The state machine has applied everything up to `index` (a Ready's appliedThrough). A driver
   * that applies before the Ready's write is durable says so here, so that a compaction taken
   * meanwhile is labelled with the index its snapshot data really reflects; advance() alone
   * would say it late, after later Readies may have applied more.
   */
  appliedTo(index: LogIndex): void {
    assert(index <= this.log.applyingIndex, () => `applied ${index} beyond what was handed out (${this.log.applyingIndex})`);
    this.log.appliedIndex = Math.max(this.log.appliedIndex, index);
  }

  // ---- Observers --------------------------------------------------------------------------

  get currentTerm(): Term {
    return this.term;
  }

  get currentRole(): Role {
    return this.role;
  }

  get leader(): NodeId {
    return this.lead;
  }

  get commitIndex(): LogIndex {
    return this.log.commitIndex;
  }

  get appliedIndex(): LogIndex {
    return this.log.appliedIndex;
  }

  get lastIndex(): LogIndex {
    return this.log.lastIndex();
  }

  get snapshotIndex(): LogIndex {
    return this.log.snapshotIndex;
  }

  get members(): ClusterConfig {
    return this.membership;
  }

  /** Whether the configuration in effect is committed (no membership change is in flight). */
  get membershipCommitted(): boolean {
    return this.log.latestConfig().index <= this.log.commitIndex;
  }

  /** The configuration in effect: the latest in our log, committed or not. */
  /** @internal */ get membership(): ClusterConfig {
    return this.log.latestConfig().config;
  }

  /** The entry at `index` if we still hold it (for checkers and tests). */
  entryAt(index: LogIndex): Entry | undefined {
    return this.log.entry(index);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.commitIndex };
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }

  // ---- Overridable rules (tests plant bugs by overriding exactly one of these) -------------

  /** @internal Raft §5.4.1: grant a vote only to a candidate whose log is at least as up to date. */
  logIsUpToDate(lastIndex: LogIndex, lastTerm: Term): boolean {
    return this.log.isUpToDate(lastIndex, lastTerm);
  }

  /** Raft §5.4.2 (Figure 8): only entries of the current term are committed by counting. */
  protected mayCommitByCounting(index: LogIndex): boolean {
    return this.log.term(index) === this.term;
  }

  /**
   * @internal The members whose votes and acknowledgements make a quorum: the voters of the
   * configuration in effect — not learners, and not a leader that removed itself.
   */
  quorumVoters(): readonly NodeId[] {
    return this.membership.voters;
  }

  /** @internal Advances the commit index to what a majority holds; true when it moved. */
  maybeCommit(): boolean {
    const index = committedIndex(this.quorumVoters(), (id) =>
      // Our own log counts only as far as storage made it durable: our appends leave before our
      // write does (Ready.messagesBeforePersist).
      id === this.id ? this.log.stableIndex : (this.progress.get(id)?.match ?? 0),
    );
    if (index <= this.log.commitIndex || !this.mayCommitByCounting(index)) return false;
    this.log.commitTo(index);
    this.observe('commit-advanced');
    this.releaseReadsAwaitingTermCommit();
    this.maybeStepDownRemoved();
    this.pruneRemovedProgress();
    return true;
  }

  /**
   * A leader that removed itself leads until that change commits (thesis §4.2.2: it counts
   * only the new voters meanwhile), then steps down. It hands over at once to the most
   * caught-up voter rather than leave the cluster to wait out an election timeout.
   */
  private maybeStepDownRemoved(): void {
    if (this.role !== 'leader' || this.isVoter(this.id) || this.log.latestConfig().index > this.log.commitIndex) return;
    let successor: NodeId = NO_NODE;
    for (const id of this.membership.voters) {
      if (this.progress.get(id)?.match === this.log.lastIndex()) successor = id;
    }
    if (successor !== NO_NODE) this.sendTimeoutNow(successor);
    this.observe('removed-leader-stepped-down');
    this.becomeFollower(this.term, NO_NODE);
  }

  /**
   * The leader's bookkeeping after its configuration changed: track new members. A removed
   * member keeps receiving the log until the change commits (pruneRemovedProgress), so that it
   * normally learns of its removal and stops campaigning instead of pre-voting forever.
   */
  private onConfigChanged(): void {
    this.observe('config-changed');
    for (const id of this.othersInMembership()) {
      if (!this.progress.has(id)) this.progress.set(id, new Progress(this.log.lastIndex() + 1, this.config.maxInflightAppends));
    }
    if (this.leadTransferee !== NO_NODE && !this.isVoter(this.leadTransferee)) this.leadTransferee = NO_NODE;
  }

  /** Once the configuration is committed, stop replicating to members it removed. */
  private pruneRemovedProgress(): void {
    if (this.role !== 'leader' || !this.membershipCommitted || this.progress.size === this.othersInMembership().length) return;
    const members = new Set(this.othersInMembership());
    for (const id of [...this.progress.keys()]) if (!members.has(id)) this.progress.delete(id);
  }

  // ---- Internals shared with leader.ts ----------------------------------------------------

  /** @internal */
  send(message: RaftMessage): void {
    this.messages.push(message);
  }

  /** @internal */
  isVoter(id: NodeId): boolean {
    return this.membership.voters.includes(id);
  }

  /** @internal */
  othersInMembership(): NodeId[] {
    return [...this.membership.voters, ...this.membership.learners].filter((id) => id !== this.id);
  }

  /** @internal A read confirmed for one of our own clients. */
  readConfirmed(context: string, index: LogIndex): void {
    this.readsAwaitingApply.push({ context, index });
    this.observe('read-index-confirmed');
  }

  /**
   * The host has strong evidence that `peer` is gone: the connection it sent us Raft messages
   * on was closed (its process died, its machine restarted). A peer that is merely unreachable
   * looks like silence instead, and is left to the election timeout. If `peer` is our leader we
   * forget it, as etcd-io/raft's ForgetLeader does: without a leader we are out of CheckQuorum's
   * lease and grant pre-votes at once. A voter also campaigns within the next
   * {@link LEADER_GONE_CAMPAIGN_TICKS} ticks (drawn at random) instead of waiting out its
   * election timeout. Two followers that both saw the leader go can still campaign together and
   * split the vote (on a loaded machine a pre-vote round takes tens of milliseconds), so those
   * campaigns retry within a few ticks rather than an election timeout
   * ({@link LEADER_GONE_QUICK_CAMPAIGNS}).
   *
   * Safe with PreVote and CheckQuorum whatever the host believes: if the leader is in fact
   * alive, the followers still hearing from it are in its lease and refuse the pre-votes, no
   * term changes, and its next heartbeat makes us its follower again.
   */
  leaderGone(peer: NodeId): void {
    if (this.role !== 'follower' || peer === NO_NODE || this.lead !== peer) return;
    this.lead = NO_NODE;
    this.observe('leader-forgotten');
    if (!this.isVoter(this.id)) return;
    const campaignAt = this.randomizedElectionTimeout - 1 - this.random.int(LEADER_GONE_CAMPAIGN_TICKS);
    this.electionElapsed = Math.max(this.electionElapsed, campaignAt);
    this.quickCampaigns = LEADER_GONE_QUICK_CAMPAIGNS;
  }

  /** @internal */
  sendTimeoutNow(target: NodeId): void {
    this.send({ type: 'timeout-now', from: this.id, to: target, term: this.term });
  }

  private stepByRole(message: RaftMessage): void {
    switch (message.type) {
      case 'pre-vote':
      case 'vote':
        handleVoteRequest(this, message);
        return;
      case 'pre-vote-response':
      case 'vote-response':
        handleVoteResponse(this, message);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        handleFromLeader(this, message);
        return;
      case 'append-response':
        if (this.role === 'leader') handleAppendResponse(this, message);
        return;
      case 'heartbeat-response':
        if (this.role === 'leader') handleHeartbeatResponse(this, message);
        return;
      case 'snapshot-response':
        if (this.role === 'leader') handleSnapshotResponse(this, message);
        return;
      case 'read-index':
        handleReadIndexRequest(this, message);
        return;
      case 'read-index-response':
        handleReadIndexResponse(this, message);
        return;
      case 'timeout-now':
        if (this.role === 'follower' && this.isVoter(this.id)) campaign(this, 'transfer');
        return;
      default:
        assertNever(message, 'message type');
    }
  }

  // ---- Leader's ticks ----------------------------------------------------------------------

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      const quorumActive = this.quorumRecentlyActive();
      for (const progress of this.progress.values()) progress.startActivityPeriod();
      if (this.config.checkQuorum && !quorumActive) {
        this.observe('check-quorum-step-down');
        this.becomeFollower(this.term, NO_NODE);
        return;
      }
    }
    if (this.leadTransferee !== NO_NODE && ++this.transferElapsed >= this.config.electionTicks) {
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = NO_NODE;
    }
    resendStaleSnapshotChunks(this);
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      broadcastHeartbeat(this, this.readRounds.contextForHeartbeat());
    }
  }

  /** CheckQuorum: did a majority of voters answer us during the last election timeout? */
  private quorumRecentlyActive(): boolean {
    const active = this.membership.voters.filter(
      (id) => id === this.id || this.progress.get(id)?.recentActive === true,
    );
    return active.length >= majority(this.membership.voters.length);
  }

  /** @internal */
  reset(term: Term): void {
    this.abandonPendingReads();
    if (term !== this.term) {
      this.term = term;
      this.vote = NO_NODE;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.votes.clear();
    this.progress.clear();
    this.leadTransferee = NO_NODE;
    this.appendsPending = false;
  }

  /**
   * Leadership (or the leader we knew) is gone: fail every read still waiting for a round. Our
   * own clients' reads are dropped; a follower that asked is told at once (index 0), in our
   * old term, rather than left to time out.
   */
  private abandonPendingReads(): void {
    const waiting = [...this.readRounds.drain(), ...this.readsAwaitingTermCommit];
    this.readsAwaitingTermCommit = [];
    for (const read of waiting) {
      if (read.requester === this.id) this.droppedReads.push(read.context);
      else {
        this.send({ type: 'read-index-response', from: this.id, to: read.requester, term: this.term, readContext: read.context, index: 0 });
      }
    }
    this.dropForwardedReads();
  }

  /** @internal */
  becomeFollower(term: Term, lead: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
    // A leader exists (or our campaign lost): no reason left to hurry the next one.
    this.quickCampaigns = 0;
  }

  /** @internal */
  becomeLeader(): void {
    assert(this.role === 'candidate', () => `becomeLeader from ${this.role}`);
    const wasTransfer = this.campaignIsTransfer;
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    this.vote = this.id;
    for (const id of this.othersInMembership()) {
      this.progress.set(id, new Progress(this.log.lastIndex() + 1, this.config.maxInflightAppends));
    }
    // The no-op of the new term: committing it commits every earlier entry (Figure 8).
    this.appendEntry('noop', EMPTY_DATA);
    this.observe('became-leader');
    if (wasTransfer) this.observe('leadership-transferred');
  }

  private appendEntry(type: Entry['type'], data: Uint8Array): Entry {
    const entry: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.log.append([entry]);
    this.appendsPending = true;
    return entry;
  }

  /** @internal */
  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.config.electionTicks + this.random.int(this.config.electionTicks);
  }

  /** @internal */
  dropForwardedReads(): void {
    for (const context of this.readsForwarded) this.droppedReads.push(context);
    this.readsForwarded.clear();
  }

  // ---- Reads ------------------------------------------------------------------------------

  private releaseReadsAwaitingTermCommit(): void {
    if (this.readsAwaitingTermCommit.length === 0 || this.log.term(this.log.commitIndex) !== this.term) return;
    const waiting = this.readsAwaitingTermCommit;
    this.readsAwaitingTermCommit = [];
    for (const read of waiting) startReadRound(this, read.context, read.requester);
  }

  /** Reads the next ready could release without applying more (more commits make a ready anyway). */
  private hasReleasableRead(): boolean {
    return this.readsAwaitingApply.some((read) => read.index <= this.log.applyingIndex);
  }

  /** Reads whose index this ready's committed entries reach (served after applying them). */
  private takeReleasableReads(): ReadState[] {
    const through = this.log.applyingIndex;
    const released = this.readsAwaitingApply.filter((read) => read.index <= through);
    if (released.length > 0) this.readsAwaitingApply = this.readsAwaitingApply.filter((read) => read.index > through);
    return released;
  }

  // ---- Invariants -------------------------------------------------------------------------

  /** Throws if any internal invariant is broken; runs after every tick and step. */
  checkInvariants(): void {
    this.log.checkInvariants();
    if (this.role === 'leader') {
      assert(this.lead === this.id && this.vote === this.id, 'a leader leads and voted for itself');
      for (const progress of this.progress.values()) progress.checkInvariants();
    } else {
      assert(this.progress.size === 0, 'only a leader tracks progress');
    }
    if (this.role === 'candidate') assert(this.vote === this.id, 'a candidate voted for itself');
  }
}

function softStateEqual(left: SoftState, right: SoftState): boolean {
  return left.leader === right.leader && left.role === right.role;
}
