/**
 * The nemeses: faults injected into the live cluster, each held for a while and then healed,
 * with a quiet gap between faults. Sometimes (by the seeded schedule) a second fault of another
 * kind starts while the first is held — a partition while a node is paused, a kill during a
 * bridge — and is healed before it (last started, first healed). Which kinds run is chosen by
 * flag; the choice of kind, target, overlap and timings comes from the run's seeded PRNG (the
 * processes' own timing is not reproducible, but the fault schedule is). Every start and heal
 * goes to the timeline.
 */
import type { Random } from '../src/common/random.ts';
import type { ChaosCluster } from './cluster.ts';
import { isolate, type Cut, type Netfilter } from './netfilter.ts';

export const NEMESES = {
  kill: 'kill -9 a random node, restart it when healed',
  'kill-leader': 'kill -9 the leader, restart it when healed',
  'kill-all': 'kill -9 every node at once, restart them all when healed',
  pause: 'SIGSTOP a random node, SIGCONT when healed',
  'pause-leader': 'SIGSTOP the leader, SIGCONT when healed',
  partition: 'cut a random node off from the other two (minority | majority)',
  'partition-leader': 'cut the leader off from the followers',
  'partition-oneway': 'drop one direction only: the leader stops hearing one follower',
  'partition-bridge': 'A-B and B-C connected, A-C cut (B, the bridge, is random)',
  membership: 'remove a random member (HTTP), kill it; heal: it joins again as a fresh member',
  'membership-leader': 'remove the leader (HTTP), kill it; heal: it joins again as a fresh member',
} as const;

export type NemesisName = keyof typeof NEMESES;
export const NEMESIS_NAMES = Object.keys(NEMESES) as NemesisName[];
export const PARTITION_NEMESES: readonly NemesisName[] = ['partition', 'partition-leader', 'partition-oneway', 'partition-bridge'];
const PROCESS_NEMESES: readonly NemesisName[] = ['kill', 'kill-leader', 'pause', 'pause-leader'];

/**
 * Which nemeses may start while `primary` is held. One fault on processes and one on the
 * network at a time; a membership change may have a process or network fault on top (healed
 * before the member joins again); kill-all and membership never start second.
 */
export function overlapCandidates(primary: NemesisName, enabled: readonly NemesisName[]): NemesisName[] {
  const allowed: readonly NemesisName[] = PROCESS_NEMESES.includes(primary)
    ? PARTITION_NEMESES
    : PARTITION_NEMESES.includes(primary)
      ? PROCESS_NEMESES
      : primary === 'membership' || primary === 'membership-leader'
        ? [...PROCESS_NEMESES, ...PARTITION_NEMESES]
        : [];
  return enabled.filter((name) => allowed.includes(name));
}

export interface TimelineEvent {
  readonly atMs: number;
  readonly nemesis: NemesisName | 'final-heal' | 'full-restart' | 'interrupted';
  readonly phase: 'start' | 'heal' | 'skip';
  readonly detail: string;
}

export interface NemesisTiming {
  /** Quiet time between a heal and the next fault: [min, max) ms. */
  readonly gapMs: readonly [number, number];
  /** How long a fault is held: [min, max) ms. */
  readonly holdMs: readonly [number, number];
  /** Chance that a second fault starts while one is held (when a compatible one is enabled). */
  readonly overlapChance: number;
}

export const DEFAULT_TIMING: NemesisTiming = { gapMs: [2_000, 5_000], holdMs: [2_000, 6_000], overlapChance: 0.3 };

/**
 * A membership fault's heal waits this long for the node to be a voter again; past it the
 * schedule goes on (the node keeps joining; the next membership fault waits for it, and the
 * final heal requires it).
 */
const REJOIN_BOUND_MS = 20_000;

type Heal = () => Promise<string>;

interface ActiveFault {
  readonly name: NemesisName;
  readonly detail: string;
  readonly heal: Heal;
}

/** A span of time in which a fault was in force (for checks that allow for faults). */
export interface FaultSpan {
  readonly nemesis: string;
  readonly startMs: number;
  readonly endMs: number;
}

/** The spans in which faults were in force, from a timeline (a fault still open ends at `untilMs`). */
export function faultSpans(timeline: readonly TimelineEvent[], untilMs: number): FaultSpan[] {
  const open = new Map<string, number[]>();
  const spans: FaultSpan[] = [];
  for (const event of timeline) {
    if (event.nemesis === 'final-heal' || event.nemesis === 'interrupted') continue;
    if (event.phase === 'start') open.set(event.nemesis, [...(open.get(event.nemesis) ?? []), event.atMs]);
    if (event.phase === 'heal') {
      const starts = open.get(event.nemesis) ?? [];
      const startMs = starts.pop();
      if (startMs !== undefined) spans.push({ nemesis: event.nemesis, startMs, endMs: event.atMs });
    }
  }
  for (const [nemesis, starts] of open) for (const startMs of starts) spans.push({ nemesis, startMs, endMs: untilMs });
  return spans.sort((a, b) => a.startMs - b.startMs);
}

export class NemesisRunner {
  readonly timeline: TimelineEvent[] = [];
  /** Faults in force, the last started last (healed first). */
  private readonly activeFaults: ActiveFault[] = [];
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly net: Netfilter | null,
    private readonly names: readonly NemesisName[],
    private readonly random: Random,
    private readonly timing: NemesisTiming,
    private readonly now: () => number,
  ) {}

  /** What is in force now, for the progress line. */
  get active(): string {
    return this.activeFaults.map((fault) => `${fault.name} ${fault.detail}`).join(' + ');
  }

  start(): void {
    if (this.names.length > 0) this.loop = this.run();
  }

  /** Stops injecting and heals the faults in force, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.healAll();
  }

  record(nemesis: TimelineEvent['nemesis'], phase: TimelineEvent['phase'], detail: string): void {
    this.timeline.push({ atMs: this.now(), nemesis, phase, detail });
  }

  private between([min, max]: readonly [number, number]): number {
    return min + this.random.int(Math.max(1, max - min));
  }

  private async pause(ms: number): Promise<void> {
    if (this.stopped) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await this.pause(this.between(this.timing.gapMs));
      if (this.stopped) break;
      const name = this.names[this.random.int(this.names.length)] ?? 'kill';
      if (!(await this.begin(name))) continue;
      const hold = this.between(this.timing.holdMs);
      const candidates = overlapCandidates(name, this.names);
      // Rolled for every fault, whether or not a second one can start, so that a run's schedule
      // does not depend on which faults happened to be possible.
      const overlapRoll = this.random.float();
      const second = this.pick(candidates);
      if (second !== undefined && overlapRoll < this.timing.overlapChance) {
        const lead = Math.floor(hold * (0.2 + 0.4 * this.random.float()));
        await this.pause(lead);
        if (!this.stopped && (await this.begin(second))) {
          await this.pause(Math.max(500, Math.floor((hold - lead) * 0.7)));
          await this.healLast();
        }
        await this.pause(Math.max(0, hold - lead - Math.floor((hold - lead) * 0.7)));
      } else {
        await this.pause(hold);
      }
      await this.healAll();
    }
  }

  private async begin(name: NemesisName): Promise<boolean> {
    const started = await this.inject(name);
    if (started === null) return false;
    this.activeFaults.push({ name, detail: started.detail, heal: started.heal });
    this.record(name, 'start', started.detail);
    return true;
  }

  private async healLast(): Promise<void> {
    const fault = this.activeFaults.pop();
    if (fault === undefined) return;
    let detail: string;
    try {
      detail = await fault.heal();
    } catch (error) {
      detail = `heal failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.record(fault.name, 'heal', detail);
  }

  private async healAll(): Promise<void> {
    while (this.activeFaults.length > 0) await this.healLast();
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[this.random.int(items.length)];
  }

  /** Members that are up (a paused, dead or removed node is no target for another fault). */
  private upMembers(): string[] {
    return this.cluster.memberIds.filter((id) => this.cluster.state(id) === 'up');
  }

  private async leaderOrRandom(): Promise<{ readonly id: string; readonly isLeader: boolean } | null> {
    const info = await this.cluster.findLeader();
    if (info !== null && this.cluster.state(info.leaderId) === 'up') return { id: info.leaderId, isLeader: true };
    const id = this.pick(this.upMembers());
    return id === undefined ? null : { id, isLeader: false };
  }

  private async target(leader: boolean): Promise<{ readonly id: string; readonly isLeader: boolean } | null> {
    if (leader) return this.leaderOrRandom();
    const id = this.pick(this.upMembers());
    return id === undefined ? null : { id, isLeader: false };
  }

  private partitionCuts(name: NemesisName, target: { readonly id: string; readonly isLeader: boolean }): { readonly cuts: Cut[]; readonly detail: string } {
    const cluster = this.cluster;
    const label = `${target.id}${target.isLeader ? ' (leader)' : ''}`;
    const rest = cluster.ids.filter((id) => id !== target.id);
    if (name === 'partition-oneway') {
      const follower = this.pick(rest) ?? 'n1';
      return { cuts: [{ from: cluster.host(follower), to: cluster.host(target.id) }], detail: `${label} no longer hears ${follower}` };
    }
    if (name === 'partition-bridge') {
      // The target is the bridge: it still talks to both others, who no longer talk to each other.
      const [a = 'n1', c = 'n3'] = rest;
      return {
        cuts: [{ from: cluster.host(a), to: cluster.host(c) }, { from: cluster.host(c), to: cluster.host(a) }],
        detail: `${a}-${target.id}-${c}: ${a} and ${c} cut, ${label} bridges`,
      };
    }
    return { cuts: isolate([cluster.host(target.id)], cluster.hosts), detail: `${label} | ${rest.join(',')}` };
  }

  /** Starts fault `name`; null when it cannot run now (recorded as skipped). */
  private async inject(name: NemesisName): Promise<{ readonly detail: string; readonly heal: Heal } | null> {
    const cluster = this.cluster;
    switch (name) {
      case 'kill':
      case 'kill-leader': {
        const target = await this.target(name === 'kill-leader');
        if (target === null) return this.skip(name, 'no member up');
        await cluster.kill(target.id);
        return {
          detail: `${target.id}${target.isLeader ? ' (leader)' : ''}`,
          heal: async () => {
            cluster.start(target.id);
            return `restarted ${target.id}`;
          },
        };
      }
      case 'kill-all': {
        const members = cluster.memberIds;
        await Promise.all(members.map((id) => cluster.kill(id)));
        return {
          detail: members.join(','),
          heal: async () => {
            cluster.startAll();
            return `restarted ${members.join(',')}`;
          },
        };
      }
      case 'pause':
      case 'pause-leader': {
        const target = await this.target(name === 'pause-leader');
        if (target === null) return this.skip(name, 'no member up');
        cluster.pause(target.id);
        return {
          detail: `${target.id}${target.isLeader ? ' (leader)' : ''}`,
          heal: async () => {
            cluster.resume(target.id);
            return `resumed ${target.id}`;
          },
        };
      }
      case 'partition':
      case 'partition-leader':
      case 'partition-oneway':
      case 'partition-bridge': {
        const net = this.net;
        if (net === null) return this.skip(name, 'no iptables');
        const target = await this.target(name === 'partition-leader' || name === 'partition-oneway');
        if (target === null) return this.skip(name, 'no member up');
        const { cuts, detail } = this.partitionCuts(name, target);
        await net.apply(cuts);
        return {
          detail,
          heal: async () => {
            await net.apply([]);
            return 'network healed';
          },
        };
      }
      case 'membership':
      case 'membership-leader': {
        // A change needs every member up: a removal with a member down would be refused (or
        // leave one voter short of a quorum for the whole hold).
        if (cluster.memberIds.length !== cluster.ids.length || this.upMembers().length !== cluster.ids.length) {
          return this.skip(name, 'a member is not up');
        }
        // ...and every node a voter: a node still joining from the last change is not one yet.
        const view = await cluster.members();
        if (view === null || cluster.ids.some((id) => !view.some((member) => member.id === id && member.voter))) {
          return this.skip(name, `not every node is a voter yet (${view === null ? 'no leader' : view.map((m) => `${m.id}${m.voter ? '' : ' learner'}`).join(', ')})`);
        }
        const target = await this.target(name === 'membership-leader');
        if (target === null) return this.skip(name, 'no member up');
        const removal = await cluster.removeMember(target.id);
        if (removal.outcome === 'refused') return this.skip(name, removal.detail);
        return {
          detail: `${target.id}${target.isLeader ? ' (leader)' : ''} ${removal.detail}`,
          heal: async () => {
            const joining = cluster.rejoin(target.id);
            const problem = await cluster.ensureVoters(REJOIN_BOUND_MS);
            return problem === null ? `${joining}: a voter again` : `${joining}: still joining after ${REJOIN_BOUND_MS} ms (${problem})`;
          },
        };
      }
    }
  }

  private skip(name: NemesisName, why: string): null {
    this.record(name, 'skip', why);
    return null;
  }
}
