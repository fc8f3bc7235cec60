/**
 * The nemeses: faults injected into the live cluster, one at a time, each held for a while and
 * then healed, with a quiet gap between faults. Which kinds run is chosen by flag; the choice of
 * kind, target and timings comes from the run's seeded PRNG (the processes' own timing is not
 * reproducible, but the fault schedule is). Every start and heal goes to the timeline.
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
} as const;

export type NemesisName = keyof typeof NEMESES;
export const NEMESIS_NAMES = Object.keys(NEMESES) as NemesisName[];
export const PARTITION_NEMESES: readonly NemesisName[] = ['partition', 'partition-leader', 'partition-oneway'];

export interface TimelineEvent {
  readonly atMs: number;
  readonly nemesis: NemesisName | 'final-heal' | 'full-restart';
  readonly phase: 'start' | 'heal' | 'skip';
  readonly detail: string;
}

export interface NemesisTiming {
  /** Quiet time between a heal and the next fault: [min, max) ms. */
  readonly gapMs: readonly [number, number];
  /** How long a fault is held: [min, max) ms. */
  readonly holdMs: readonly [number, number];
}

export const DEFAULT_TIMING: NemesisTiming = { gapMs: [2_000, 5_000], holdMs: [2_000, 6_000] };

type Heal = () => Promise<string>;

export class NemesisRunner {
  readonly timeline: TimelineEvent[] = [];
  private heal: { readonly name: NemesisName; readonly run: Heal } | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  active = '';

  constructor(
    private readonly cluster: ChaosCluster,
    private readonly net: Netfilter | null,
    private readonly names: readonly NemesisName[],
    private readonly random: Random,
    private readonly timing: NemesisTiming,
    private readonly now: () => number,
  ) {}

  start(): void {
    if (this.names.length > 0) this.loop = this.run();
  }

  /** Stops injecting and heals the fault in force, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.healNow();
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
      const started = await this.inject(name);
      if (started === null) continue;
      this.heal = { name, run: started.heal };
      this.active = `${name} ${started.detail}`;
      this.record(name, 'start', started.detail);
      await this.pause(this.between(this.timing.holdMs));
      await this.healNow();
    }
  }

  private async healNow(): Promise<void> {
    const pending = this.heal;
    if (pending === null) return;
    this.heal = null;
    this.active = '';
    const detail = await pending.run();
    this.record(pending.name, 'heal', detail);
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items[this.random.int(items.length)];
  }

  private async leaderOrRandom(): Promise<{ readonly id: string; readonly isLeader: boolean }> {
    const info = await this.cluster.findLeader();
    if (info !== null && this.cluster.state(info.leaderId) === 'up') return { id: info.leaderId, isLeader: true };
    return { id: this.pick(this.cluster.ids) ?? 'n1', isLeader: false };
  }

  /** Starts fault `name`; null when it cannot run now (recorded as skipped). */
  private async inject(name: NemesisName): Promise<{ readonly detail: string; readonly heal: Heal } | null> {
    const cluster = this.cluster;
    switch (name) {
      case 'kill':
      case 'kill-leader': {
        const target = name === 'kill' ? { id: this.pick(cluster.ids) ?? 'n1', isLeader: false } : await this.leaderOrRandom();
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
        await Promise.all(cluster.ids.map((id) => cluster.kill(id)));
        return {
          detail: cluster.ids.join(','),
          heal: async () => {
            cluster.startAll();
            return `restarted ${cluster.ids.join(',')}`;
          },
        };
      }
      case 'pause':
      case 'pause-leader': {
        const target = name === 'pause' ? { id: this.pick(cluster.ids) ?? 'n1', isLeader: false } : await this.leaderOrRandom();
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
      case 'partition-oneway': {
        const net = this.net;
        if (net === null) {
          this.record(name, 'skip', 'no iptables');
          return null;
        }
        let cuts: Cut[];
        let detail: string;
        if (name === 'partition-oneway') {
          const leader = await this.leaderOrRandom();
          const follower = this.pick(cluster.ids.filter((id) => id !== leader.id)) ?? 'n1';
          cuts = [{ from: cluster.host(follower), to: cluster.host(leader.id) }];
          detail = `${leader.id}${leader.isLeader ? ' (leader)' : ''} no longer hears ${follower}`;
        } else {
          const target = name === 'partition' ? { id: this.pick(cluster.ids) ?? 'n1', isLeader: false } : await this.leaderOrRandom();
          cuts = isolate([cluster.host(target.id)], cluster.hosts);
          const rest = cluster.ids.filter((id) => id !== target.id);
          detail = `${target.id}${target.isLeader ? ' (leader)' : ''} | ${rest.join(',')}`;
        }
        await net.apply(cuts);
        return {
          detail,
          heal: async () => {
            await net.apply([]);
            return 'network healed';
          },
        };
      }
    }
  }
}
