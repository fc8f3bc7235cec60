/**
 * One seeded simulation run, in two phases as TigerBeetle's VOPR:
 *   1. faults: the workload runs while the fault schedule cuts links, crashes, pauses and
 *      restarts nodes, changes the loss rate and moves leadership;
 *   2. liveness: every fault heals and the cluster must elect a leader, commit a proposal and
 *      bring every replica to the same applied state within a bounded virtual time.
 * Raft's safety properties are checked as the run goes, linearizability at the end. Every
 * random choice comes from the seed, so a run replays exactly.
 */
import { AssertionError } from '../../src/common/assert.ts';
import { SeededRandom } from '../../src/common/random.ts';
import { DEFAULT_RAFT_CONFIG, type RaftConfig } from '../../src/raft/config.ts';
import type { Message, MessageType } from '../../src/raft/messages.ts';
import { RaftNode, type RaftEvent } from '../../src/raft/raft-node.ts';
import type { NodeId } from '../../src/raft/types.ts';
import { checkLinearizable, formatHistory, type HistoryRecord } from './checkers/linearizability.ts';
import { RaftInvariantChecker } from './checkers/raft-invariants.ts';
import { EventQueue } from './event-queue.ts';
import { describeAction, generateSchedule, type FaultAction, type FaultEvent } from './faults.ts';
import { KvInvariantChecker } from './checkers/kv-invariants.ts';
import { kvApp, registerApp, type KvPlants } from './sim-apps.ts';
import type { KvApplyOutcome } from '../../src/kv/index.ts';
import { SimDisk, type NodeDisk } from './sim-disk.ts';
import { ChecksummedDisk } from './checksummed-disk.ts';
import { SimNetwork } from './sim-network.ts';
import { SimNode, type RaftFactory } from './sim-node.ts';
import { swarmOptions, type SwarmOptions } from './swarm.ts';
import type { ConfChange } from '../../src/raft/membership.ts';
import { TraceHash } from './trace-hash.ts';
import { Workload } from './workload.ts';
import { LeaseInvariantChecker } from './checkers/lease-invariants.ts';
import { DEFAULT_LEASE_WORKLOAD, LeaseWorkload } from './lease-workload.ts';
import { LockInvariantChecker } from './checkers/lock-invariants.ts';
import { DEFAULT_ELECTION_WORKLOAD, DEFAULT_LOCK_WORKLOAD, LockWorkload, type LockWorkloadOptions } from './lock-workload.ts';
import { ElectionObserverChecker } from './checkers/election-invariants.ts';
import { RegistryReadChecker } from './checkers/registry-reads.ts';
import { DEFAULT_REGISTRY_READERS, RegistryReaders, type RegistryReaderOptions } from './registry-readers.ts';

export interface SimulationOptions {
  readonly seed: number;
  /** Force a cluster size instead of the swarm's choice. */
  readonly nodeCount?: number;
  readonly faultPhaseMs?: number;
  readonly convergenceMs?: number;
  /** Replay this schedule instead of drawing one from the seed. */
  readonly schedule?: readonly FaultEvent[];
  /** Override the swarm's choices (tests pin a scenario's knobs). */
  readonly tweak?: (options: SwarmOptions) => SwarmOptions;
  readonly makeRaft?: RaftFactory;
  readonly makeDisk?: () => NodeDisk;
  /** KV seeds only: parts of the KV node replaced by planted-bug subclasses. */
  readonly kvPlants?: KvPlants;
  /** KV seeds only: change the lock workload (the Jepsen variant turns fencing off). */
  readonly lockWorkload?: Partial<LockWorkloadOptions>;
  /** Seeds with the lock workload: change the election clients. */
  readonly electionWorkload?: Partial<LockWorkloadOptions>;
  /** Seeds with the lock workload: change the registry's blocking-query and watch clients. */
  readonly registryReaders?: Partial<RegistryReaderOptions>;
  readonly trace?: (line: string) => void;
}

export const COVERAGE_KEYS = [
  'leader-change',
  'pre-vote-rejected',
  'check-quorum-step-down',
  'snapshot-installed',
  'leadership-transferred',
  'read-index-under-partition',
  'lease-expired',
  'damaged-disk-refused',
  'lock-handoff-on-release',
  'lock-handoff-on-expiry',
  'lock-delay-ended',
  'lock-waiter-withdrawn',
  'election-handoff',
  'stale-proclaim-refused',
  'blocking-query-woken',
  'watch-change-sent',
  'membership-change',
  'removed-leader-stepped-down',
  /** A follower's write was placed in the log by the leader it forwarded it to. */
  'write-forwarded',
  /** A follower's keepalive (a registry heartbeat) was renewed by the leader it forwarded it to. */
  'keepalive-forwarded',
  /** A follower forgot a leader whose connection closed (it crashed) and campaigned early. */
  'leader-forgotten',
] as const;
export type CoverageKey = (typeof COVERAGE_KEYS)[number];

export interface SimulationResult {
  readonly seed: number;
  readonly nodeCount: number;
  readonly violations: readonly string[];
  readonly coverage: Record<CoverageKey, number>;
  readonly traceHash: string;
  readonly virtualMs: number;
  readonly eventsRun: number;
  readonly opsCompleted: number;
  readonly committedEntries: number;
  readonly schedule: readonly FaultEvent[];
  readonly swarm: SwarmOptions;
}

const DEFAULT_FAULT_PHASE_MS = 30_000;
const DEFAULT_CONVERGENCE_MS = 15_000;
const LIVENESS_POLL_MS = 50;
const LOG_MATCHING_EVERY_EVENTS = 2_000;
/**
 * A seed runs some 50–100 thousand events. Far beyond that, something is amplifying itself
 * (a message storm that keeps virtual time from moving): report it instead of hanging.
 */
const MAX_EVENTS_PER_SEED = 2_000_000;

const MESSAGE_CODES: Record<MessageType, number> = {
  'pre-vote': 1,
  vote: 2,
  'vote-response': 3,
  'pre-vote-response': 4,
  append: 5,
  'append-response': 6,
  heartbeat: 7,
  'heartbeat-response': 8,
  snapshot: 9,
  'snapshot-response': 10,
  'timeout-now': 11,
  'read-index': 12,
  'read-index-response': 13,
  'forward-proposals': 14,
  'forward-proposals-response': 15,
  'forward-keepalives': 16,
  'forward-keepalives-response': 17,
};

const defaultFactory: RaftFactory = (config, bootstrap, persisted, random, observe) =>
  new RaftNode(config, bootstrap, persisted, random, observe);

export function runSimulation(options: SimulationOptions): SimulationResult {
  return new Simulation(options).run();
}

/** A run with the lock checker's counts (for tuning the lock workload). */
export function runSimulationWithLockStats(options: SimulationOptions): { result: SimulationResult; lockStats: Record<string, number> } {
  const simulation = new Simulation(options);
  const result = simulation.run();
  return { result, lockStats: simulation.lockStats() };
}

class Simulation {
  private readonly swarm: SwarmOptions;
  private readonly queue = new EventQueue();
  private readonly network: SimNetwork;
  private readonly nodes: SimNode[] = [];
  private readonly ids: string[];
  private readonly checker = new RaftInvariantChecker();
  private readonly kvChecker = new KvInvariantChecker();
  private readonly workload: Workload;
  private readonly leaseChecker: LeaseInvariantChecker;
  private readonly leaseWorkload: LeaseWorkload | null;
  private readonly lockChecker: LockInvariantChecker;
  private readonly lockWorkload: LockWorkload | null;
  private readonly electionWorkload: LockWorkload | null;
  private readonly electionChecker = new ElectionObserverChecker(() => this.queue.now);
  private readonly electionOptions: LockWorkloadOptions;
  private readonly registryReadChecker: RegistryReadChecker;
  private readonly registryReaders: RegistryReaders | null;
  private readonly hash = new TraceHash();
  private readonly schedule: readonly FaultEvent[];
  private readonly coverage: Record<CoverageKey, number>;
  private readonly violations: string[] = [];
  private eventsRun = 0;

  constructor(private readonly options: SimulationOptions) {
    this.electionOptions = { ...DEFAULT_ELECTION_WORKLOAD, ...options.electionWorkload };
    const readerOptions: RegistryReaderOptions = { ...DEFAULT_REGISTRY_READERS, ...options.registryReaders };
    this.registryReadChecker = new RegistryReadChecker(readerOptions.service, () => this.queue.now);
    const base = swarmOptions(options.seed, options.nodeCount);
    this.swarm = options.tweak === undefined ? base : options.tweak(base);
    const root = new SeededRandom(options.seed);
    const networkRandom = root.fork();
    const workloadRandom = root.fork();
    const scheduleRandom = root.fork();
    const nodeRandom = root.fork();
    // Spare nodes (membership seeds) follow the initial voters; the schedule's indexes cover them.
    const count = this.swarm.nodeCount + (this.swarm.spareNodes ?? 0);
    this.ids = Array.from({ length: count }, (_, i) => `n${i}`);
    this.coverage = Object.fromEntries(COVERAGE_KEYS.map((key) => [key, 0])) as Record<CoverageKey, number>;
    this.network = new SimNetwork(this.queue, networkRandom, this.swarm.network, (message) => this.deliver(message));
    for (let i = 0; i < count; i++) this.nodes.push(this.makeNode(i, nodeRandom.fork()));
    this.workload = new Workload(
      this.queue,
      workloadRandom,
      this.swarm.workload,
      () => this.nodes,
      () => this.network.partitioned,
    );
    this.leaseChecker = new LeaseInvariantChecker(() => this.queue.now, Math.min(1, ...this.swarm.clockRates));
    // Forked last, so the streams above draw the same numbers with or without it.
    const leaseRandom = root.fork();
    this.leaseWorkload =
      this.swarm.application === 'kv'
        ? new LeaseWorkload(this.queue, leaseRandom, DEFAULT_LEASE_WORKLOAD, () => this.nodes, this.leaseChecker)
        : null;
    // Forked after the lease workload's stream, so every stream above draws what it drew before.
    const lockRandom = root.fork();
    const electionTimeoutMs = 2 * this.swarm.raft.electionTicks * this.swarm.tickMs;
    this.lockChecker = new LockInvariantChecker(
      () => this.queue.now,
      Math.min(1, ...this.swarm.clockRates),
      Math.max(1, ...this.swarm.clockRates),
      electionTimeoutMs,
    );
    const lockOptions: LockWorkloadOptions = { ...DEFAULT_LOCK_WORKLOAD, ...options.lockWorkload };
    this.lockWorkload =
      this.swarm.application === 'kv' && lockRandom.chance(lockOptions.seedShare)
        ? new LockWorkload(
            this.queue,
            lockRandom,
            lockOptions,
            () => this.nodes,
            this.lockChecker,
            this.leaseChecker,
          )
        : null;
    // Each forked after the last, so every stream above draws what it drew before.
    const electionRandom = root.fork();
    const readersRandom = root.fork();
    this.electionWorkload =
      this.lockWorkload === null
        ? null
        : new LockWorkload(this.queue, electionRandom, this.electionOptions, () => this.nodes, this.lockChecker, this.leaseChecker);
    this.registryReaders =
      this.lockWorkload === null ? null : new RegistryReaders(this.queue, readersRandom, readerOptions, () => this.nodes, this.registryReadChecker);
    this.schedule =
      options.schedule ?? generateSchedule(scheduleRandom, count, this.faultPhaseMs, this.swarm.rates);
  }

  private get faultPhaseMs(): number {
    return this.options.faultPhaseMs ?? DEFAULT_FAULT_PHASE_MS;
  }

  private makeNode(index: number, random: SeededRandom): SimNode {
    const id = this.ids[index] ?? `n${index}`;
    const raftConfig: RaftConfig = { ...DEFAULT_RAFT_CONFIG, ...this.swarm.raft, id };
    // A spare starts as a node started with --join would: no configuration until it is added.
    const bootstrap = index < this.swarm.nodeCount ? { voters: this.ids.slice(0, this.swarm.nodeCount), learners: [] } : { voters: [], learners: [] };
    return new SimNode(
      id,
      this.queue,
      random,
      raftConfig,
      bootstrap,
      {
        tickMs: this.swarm.tickMs,
        clockRate: this.swarm.clockRates[index] ?? 1,
        fsyncMinMs: this.swarm.fsyncMinMs,
        fsyncMaxMs: this.swarm.fsyncMaxMs,
        snapshotEveryEntries: this.swarm.snapshotEveryEntries,
        snapshotSliceElements: this.swarm.snapshotSliceElements,
        snapshotSliceDelayMs: this.swarm.snapshotSliceDelayMs,
        inboxLimit: 2_000,
        observedElections: this.electionOptions.elections,
      },
      this.options.makeDisk?.() ?? (this.swarm.checksummedDisks ? new ChecksummedDisk(`sim/${id}`) : new SimDisk()),
      this.options.makeRaft ?? defaultFactory,
      this.swarm.application === 'kv' ? kvApp((value) => this.kvChecker.revisionOf(value), this.options.kvPlants) : registerApp,
      {
        send: (message) => {
          if (message.type === 'vote-response' && message.granted) this.checker.onVoteGranted(message.from, message.to, message.term);
          this.network.send(message);
        },
        applied: (node, entry, outcome) => {
          this.checker.onApplied(node.id, node.raft.currentTerm, entry);
          if (this.swarm.application === 'kv') {
            this.kvChecker.onApplied(node.id, entry, outcome as KvApplyOutcome | null);
            this.leaseChecker.onApplied(node.id, entry, outcome as KvApplyOutcome | null, (id) => node.keysWithLease(id));
            this.lockChecker.onApplied(node.id, entry, outcome as KvApplyOutcome | null);
            // The no-op of a leader's term applied on the leader: its term can commit from now.
            if (node.raft.currentRole === 'leader' && entry.type === 'noop' && entry.term === node.raft.currentTerm) {
              this.lockChecker.leaderEstablished(this.queue.now);
            }
          }
        },
        watchBatch: (node, incarnation, batch) => {
          this.kvChecker.onWatchBatch(node.id, incarnation, batch);
          this.lockChecker.onWatchBatch(node.id, batch);
          this.registryReadChecker.onWatchBatch(incarnation, batch);
        },
        watchRestored: (node, incarnation) => {
          this.kvChecker.onWatchRestored(incarnation);
          this.registryReadChecker.onRestored(incarnation, node.serviceRevision(this.registryReadChecker.service));
        },
        electionObserved: (_node, incarnation, name, leader) => this.electionChecker.onObserved(incarnation, name, leader),
        event: (node, event) => this.onRaftEvent(node, event),
        crashed: (node) => {
          for (const peer of this.nodes) {
            if (peer === node) continue;
            this.network.sendConnectionClosed(node.id, peer.id, () => {
              this.trace(`${peer.id}: connection from ${node.id} closed`);
              peer.peerGone(node.id);
            });
          }
        },
        trace: (line) => this.trace(line),
      },
      this.ids,
    );
  }

  private onRaftEvent(node: SimNode, event: RaftEvent): void {
    if (event === 'became-leader') {
      this.coverage['leader-change']++;
      this.checker.onLeaderElected(node.id, node.raft);
      this.trace(`leader ${node.id} term=${node.raft.currentTerm}`);
    } else if (event === 'pre-vote-rejected') this.coverage['pre-vote-rejected']++;
    else if (event === 'check-quorum-step-down') this.coverage['check-quorum-step-down']++;
    else if (event === 'snapshot-installed') this.coverage['snapshot-installed']++;
    else if (event === 'leadership-transferred') this.coverage['leadership-transferred']++;
    else if (event === 'removed-leader-stepped-down') this.coverage['removed-leader-stepped-down']++;
    else if (event === 'leader-forgotten') this.coverage['leader-forgotten']++;
    else if (event === 'commit-advanced') {
      this.checker.onCommitDecided(node.id, node.raft, (member, index, term) =>
        this.nodes[this.ids.indexOf(member)]?.durability.holdsDurably(index, term) ?? false,
      );
    }
  }

  private deliver(message: Message): void {
    const to = this.ids.indexOf(message.to);
    this.hash.add(this.queue.now, MESSAGE_CODES[message.type], this.ids.indexOf(message.from), to, message.term);
    if (this.options.trace !== undefined) {
      this.trace(`deliver ${message.from}->${message.to} ${message.type} term=${message.term}`);
    }
    if (message.type === 'forward-proposals-response' && message.indexes.some((index) => index > 0)) {
      this.coverage['write-forwarded']++;
    }
    if (message.type === 'forward-keepalives-response' && message.leading && message.ttls.some((ttl) => ttl > 0)) {
      this.coverage['keepalive-forwarded']++;
    }
    this.nodes[to]?.receive(message);
  }

  private trace(line: string): void {
    this.options.trace?.(`${this.queue.now.toFixed(3).padStart(10)} ${line}`);
  }

  run(): SimulationResult {
    for (const event of this.schedule) this.queue.schedule(event.atMs, () => this.applyFault(event.action));
    this.workload.start();
    this.leaseWorkload?.start();
    this.lockWorkload?.start();
    this.electionWorkload?.start();
    this.registryReaders?.start();
    this.runUntil(this.faultPhaseMs);
    this.workload.stop();
    this.leaseWorkload?.stop();
    this.lockWorkload?.stop();
    this.electionWorkload?.stop();
    this.registryReaders?.stop();
    if (this.violations.length === 0) this.heal();
    if (this.violations.length === 0) this.awaitConvergence();
    if (this.violations.length === 0) this.finalChecks();
    const lockCoverage = this.lockChecker.coverage();
    return {
      seed: this.options.seed,
      nodeCount: this.nodes.length,
      violations: [
        ...this.violations,
        ...this.checker.violations,
        ...this.kvChecker.violations,
        ...this.leaseChecker.violations,
        ...this.lockChecker.violations,
        ...this.electionChecker.violations,
        ...this.registryReadChecker.violations,
      ],
      coverage: {
        ...this.coverage,
        'read-index-under-partition': this.workload.readsUnderPartition,
        'lease-expired': this.leaseChecker.expiries,
        'damaged-disk-refused': this.nodes.filter((node) => node.storageFailure !== null).length,
        'lock-handoff-on-release': lockCoverage.handoffOnRelease,
        'lock-handoff-on-expiry': lockCoverage.handoffOnExpiry,
        'lock-delay-ended': lockCoverage.lockDelayEnded,
        'lock-waiter-withdrawn': lockCoverage.withdrawn,
        'election-handoff': lockCoverage.electionHandoffs,
        'stale-proclaim-refused': lockCoverage.staleProclaimsRefused,
        'blocking-query-woken': this.registryReadChecker.queriesWoken,
        'watch-change-sent': this.registryReadChecker.changesSent,
      },
      traceHash: this.hash.hex(),
      virtualMs: this.queue.now,
      eventsRun: this.eventsRun,
      opsCompleted: this.workload.history.filter((record) => record.outcome.status !== 'unknown').length,
      committedEntries: this.checker.committedCount,
      schedule: this.schedule,
      swarm: this.swarm,
    };
  }

  lockStats(): Record<string, number> {
    return {
      ...this.lockChecker.stats(),
      observations: this.electionChecker.observations,
      queriesAnswered: this.registryReadChecker.queriesAnswered,
      watchFrames: this.registryReadChecker.framesSeen,
    };
  }

  /** Runs events until `untilMs` or the first violation; false if a violation stopped it. */
  private runUntil(untilMs: number, until: () => boolean = () => false): boolean {
    while (this.violationCount() === 0) {
      if (until()) return true;
      try {
        if (!this.queue.runNext(untilMs)) break;
      } catch (error) {
        if (!(error instanceof AssertionError)) throw error;
        this.violations.push(`assertion: ${error.message}`);
        return false;
      }
      this.eventsRun++;
      if (this.eventsRun > MAX_EVENTS_PER_SEED) {
        this.violations.push(`runaway: more than ${MAX_EVENTS_PER_SEED} events by ${this.queue.now.toFixed(0)} ms (a message storm?)`);
        return false;
      }
      this.checker.checkLeadersAppendOnly(this.liveNodes());
      if (this.eventsRun % LOG_MATCHING_EVERY_EVENTS === 0) this.checker.checkLogMatching(this.liveNodes());
    }
    this.queue.advanceTo(untilMs);
    return this.violationCount() === 0;
  }

  private violationCount(): number {
    return (
      this.violations.length +
      this.checker.violations.length +
      this.kvChecker.violations.length +
      this.leaseChecker.violations.length +
      this.lockChecker.violations.length +
      this.electionChecker.violations.length +
      this.registryReadChecker.violations.length
    );
  }

  private liveNodes(): { id: string; raft: RaftNode; up: boolean }[] {
    return this.nodes.map((node) => ({ id: node.id, raft: node.raft, up: node.status !== 'crashed' }));
  }

  /** The index of the up node leading at the highest term, or -1 when none leads. */
  private currentLeaderIndex(): number {
    let best = -1;
    this.nodes.forEach((node, index) => {
      if (node.status !== 'up' || node.raft.currentRole !== 'leader') return;
      if (best < 0 || node.raft.currentTerm > (this.nodes[best]?.raft.currentTerm ?? 0)) best = index;
    });
    return best;
  }

  private applyFault(action: FaultAction): void {
    this.hash.add(this.queue.now, 100, action.kind.length);
    this.trace(`fault ${describeAction(action)}`);
    switch (action.kind) {
      case 'cut':
        for (const [from, to] of action.links) this.network.cut(this.ids[from] ?? '', this.ids[to] ?? '');
        return;
      case 'heal':
        this.network.healAll();
        return;
      case 'crash':
        this.nodes[action.node]?.crash();
        return;
      case 'crash-damaged':
        // At most one damaged disk at a time, so a quorum of intact disks always remains (a
        // damage not yet found at a restart counts: seed 4 of the damaged-disk test once damaged
        // two nodes 5 ms apart, both were refused, and the last node could never make a quorum).
        if (this.nodes.some((node) => node.diskDamaged)) this.nodes[action.node]?.crash();
        else this.nodes[action.node]?.crashDamaged();
        return;
      case 'restart':
        this.nodes[action.node]?.restart();
        return;
      case 'crash-all':
        for (const node of this.nodes) node.crash();
        return;
      case 'restart-all':
        for (const node of this.nodes) node.restart();
        return;
      case 'pause':
        this.nodes[action.node]?.pause();
        return;
      case 'resume':
        this.nodes[action.node]?.resume();
        return;
      case 'loss':
        this.network.setDropRate(action.rate);
        return;
      case 'transfer': {
        const leader = this.nodes.find((node) => node.status === 'up' && node.raft.currentRole === 'leader');
        leader?.transferLeadership(this.ids[action.target] ?? '');
        return;
      }
      case 'isolate-leader': {
        const leader = this.ids[this.currentLeaderIndex()];
        if (leader === undefined) return;
        for (const other of this.ids) {
          if (other === leader) continue;
          this.network.cut(leader, other);
          this.network.cut(other, leader);
        }
        return;
      }
      case 'membership':
        this.changeMembership(action.pick);
        return;
    }
  }

  /**
   * What an operator would do next to the leader's configuration: promote a learner; add a
   * node that is not a member (a spare, or one removed earlier, with whatever its disk holds);
   * or remove a voter (preferring one that is down, as when replacing a dead machine, and
   * sometimes the leader itself). Voters stay between two (three with disk damage) and the
   * initial count plus spares.
   * The core refuses what is unsafe (a change pending, a learner behind, no live quorum left).
   */
  private changeMembership(pick: number): void {
    const leader = this.nodes.find((node) => node.status === 'up' && node.raft.currentRole === 'leader');
    if (leader === undefined) return;
    const { voters, learners } = leader.raft.members;
    const outsiders = this.nodes.filter(
      (node) => !voters.includes(node.id) && !learners.includes(node.id) && node.storageFailure === null,
    );
    const choose = <T>(items: readonly T[]): T | undefined => items[pick % Math.max(1, items.length)];
    // A disk destroyed for good is survivable only with three voters or more: with two, the
    // cluster would wait forever for the dead one (seed 185: voters n0,n2, then n2's disk).
    const minVoters = (this.swarm.rates.damagedCrashShare ?? 0) > 0 ? 3 : 2;
    let change: ConfChange | undefined;
    const learner = choose(learners);
    if (learner !== undefined) change = { type: 'promote', id: learner };
    else {
      const canAdd = outsiders.length > 0 && voters.length < this.ids.length;
      const canRemove = voters.length > minVoters;
      const wantAdd = canAdd && (!canRemove || Math.floor(pick / 7) % 2 === 0);
      if (wantAdd) change = { type: 'add-learner', id: choose(outsiders)?.id ?? '' };
      else if (canRemove) {
        const down = voters.filter((id) => this.nodes[this.ids.indexOf(id)]?.status !== 'up');
        change = { type: 'remove', id: choose(down.length > 0 ? down : voters) ?? '' };
      }
    }
    if (change === undefined) return;
    const description = `${change.type} ${change.id}`;
    this.trace(`membership ${description} proposed on ${leader.id}`);
    leader.changeMembership(change, (outcome) => {
      if (outcome.ok) {
        this.coverage['membership-change']++;
        this.trace(`membership ${description} applied at ${outcome.index}: voters ${outcome.config.voters.join(',')} learners ${outcome.config.learners.join(',')}`);
      } else {
        this.trace(`membership ${description} failed: ${outcome.code}`);
      }
    });
  }

  /** The members of the configuration the current leader uses (all nodes when there is no leader). */
  private currentMembers(): SimNode[] {
    const leader = this.nodes.find((node) => node.status === 'up' && node.raft.currentRole === 'leader');
    if (leader === undefined) return this.nodes;
    const { voters, learners } = leader.raft.members;
    return this.nodes.filter((node) => voters.includes(node.id) || learners.includes(node.id));
  }

  private heal(): void {
    this.trace('heal everything: liveness phase');
    this.network.healAll();
    this.network.setDropRate(0);
    for (const node of this.nodes) {
      node.restart();
      node.resume();
    }
    this.lockChecker.healed(this.queue.now);
  }

  /** Phase 2: a leader, a committed proposal, and equal replicas, within the bound. */
  private awaitConvergence(): void {
    const deadlineMs = this.queue.now + (this.options.convergenceMs ?? DEFAULT_CONVERGENCE_MS);
    let committed = false;
    let proposing = false;
    let proposedAtMs = 0;
    const marker = { kind: 'put' as const, key: 'liveness', value: `seed-${this.options.seed}` };
    // Once the marker is committed, every member must also serve a linearizable read of it: a
    // node whose ReadIndex rounds are stuck (a request or answer lost) fails here.
    const readsAnswered = new Set<NodeId>();
    const readsAskedAtMs = new Map<NodeId, number>();
    const askReads = (): void => {
      for (const node of this.replicas()) {
        const askedAtMs = readsAskedAtMs.get(node.id);
        if (node.status !== 'up' || readsAnswered.has(node.id)) continue;
        if (askedAtMs !== undefined && this.queue.now - askedAtMs <= 1_000) continue;
        readsAskedAtMs.set(node.id, this.queue.now);
        node.receiveClient({ kind: 'get', key: marker.key }, `liveness-read-${node.id}-${this.queue.now}`, (outcome) => {
          if (outcome.status === 'ok') readsAnswered.add(node.id);
        });
      }
    };
    const poll = (): void => {
      // An answer may never come (the leader lost leadership: outcome unknown); ask again.
      if (proposing && this.queue.now - proposedAtMs > 1_000) proposing = false;
      if (!committed && !proposing) {
        const leader = this.nodes.find((node) => node.status === 'up' && node.raft.currentRole === 'leader');
        if (leader !== undefined) {
          proposing = true;
          proposedAtMs = this.queue.now;
          leader.receiveClient(marker, `liveness-${this.queue.now}`, (outcome) => {
            proposing = false;
            if (outcome.status === 'ok') committed = true;
          });
        }
      }
      if (committed) askReads();
      this.queue.schedule(LIVENESS_POLL_MS, poll);
    };
    poll();
    // KV seeds also wait for every registry instance whose heartbeats stopped to be removed.
    const settled = (): boolean => this.lockWorkload === null || this.lockChecker.registrySettled;
    const readsServed = (): boolean => this.replicas().every((node) => readsAnswered.has(node.id));
    const done = (): boolean => committed && readsServed() && this.workload.idle && settled() && this.replicasEqual();
    // runUntil answers whether the run went without a violation, not whether `done` came true:
    // a window that runs out first is a liveness failure too.
    const converged = this.runUntil(deadlineMs, done) && done();
    if (!converged || this.violations.length > 0) {
      if (this.violationCount() === 0) {
        this.violations.push(
          `liveness: no convergence within ${this.options.convergenceMs ?? DEFAULT_CONVERGENCE_MS} ms after healing ` +
            `(marker committed: ${committed}, read on ${[...readsAnswered].sort().join(',') || 'no node'}, workload idle: ${this.workload.idle}, registry settled: ${settled()}; ` +
            this.nodes.map((n) => `${n.id} ${n.raft.currentRole} t${n.raft.currentTerm} c${n.raft.commitIndex} a${n.raft.appliedIndex}`).join(', ') +
            ')',
        );
      }
    }
  }

  /** Every node whose disk was not refused holds the same state (refused ones stay down). */
  /**
   * Puts write unique values, so an indeterminate write whose value no replica ever applied
   * certainly had no effect (after convergence every live log is fully committed and applied):
   * record it as failed, which spares the linearizability search a branch per such write.
   */
  private resolveUnappliedWrites(history: readonly HistoryRecord[]): HistoryRecord[] {
    return history.map((record) => {
      const value = record.op.kind === 'get' ? null : record.op.value;
      if (record.outcome.status !== 'unknown' || value === null || this.kvChecker.revisionOf(value) !== undefined) return record;
      return { ...record, outcome: { status: 'fail' } };
    });
  }

  /** Nodes outside the configuration (removed, or spares never added) are not replicas. */
  private replicas(): SimNode[] {
    return this.currentMembers().filter((node) => node.storageFailure === null);
  }

  private replicasEqual(): boolean {
    const replicas = this.replicas();
    const first = replicas[0];
    if (first === undefined) return false;
    const applied = first.raft.appliedIndex;
    const sameIndex = replicas.every(
      (node) => node.raft.appliedIndex === applied && node.raft.commitIndex === applied && node.raft.lastIndex === applied,
    );
    if (!sameIndex) return false;
    const digest = this.digestOf(first);
    return replicas.every((node) => this.digestOf(node) === digest);
  }

  /**
   * A replica's digest, computed once per process life (its RaftNode) and applied index: the
   * liveness phase asks after every event, and the state only changes when an entry applies.
   */
  private readonly digests = new WeakMap<RaftNode, { index: number; digest: string }>();
  private digestOf(node: SimNode): string {
    const cached = this.digests.get(node.raft);
    if (cached !== undefined && cached.index === node.raft.appliedIndex) return cached.digest;
    const digest = node.digest();
    this.digests.set(node.raft, { index: node.raft.appliedIndex, digest });
    return digest;
  }

  private finalChecks(): void {
    this.checker.checkLogMatching(this.liveNodes());
    const history = this.swarm.application === 'kv' ? this.resolveUnappliedWrites(this.workload.history) : this.workload.history;
    // Only on a run that got here cleanly: after a violation the cluster never converged.
    if (this.lockWorkload !== null && this.violationCount() === 0) {
      // The replica that applied the most (all of them, once converged): the model has seen every entry it applied.
      let replica: SimNode | undefined;
      for (const node of this.nodes) {
        if (node.storageFailure !== null || node.locks() === null) continue;
        if (replica === undefined || node.raft.appliedIndex > replica.raft.appliedIndex) replica = node;
      }
      const locks = replica?.locks();
      if (replica !== undefined && locks != null) this.lockChecker.finalChecks({ locks, leaseExists: (id) => replica.leaseExists(id) });
      this.electionChecker.finalChecks(this.lockChecker.electionHistory(), this.lockChecker.campaignValues(), this.lockChecker.requestRecords);
      this.registryReadChecker.finalChecks();
    }
    const result = checkLinearizable(history);
    if (result.ok === false) {
      this.violations.push(`linearizability: key ${result.key}: ${result.reason}\n${formatHistory(result.ops)}`);
    } else if (result.ok === 'inconclusive') {
      this.violations.push(`linearizability: search budget exhausted on key ${result.key}`);
    }
  }
}
