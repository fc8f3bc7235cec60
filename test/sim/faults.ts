/**
 * Fault schedules as plain data: a list of timed actions (cut links, heal, crash, restart,
 * pause, resume, change the loss rate, transfer leadership). Being data, a schedule can be
 * generated from a seed, generated and shrunk by fast-check, printed, and replayed.
 */
import type { SeededRandom } from '../../src/common/random.ts';

/** A directed link between two node indexes. */
export type Link = readonly [from: number, to: number];

export type FaultAction =
  | { readonly kind: 'cut'; readonly label: string; readonly links: readonly Link[] }
  | { readonly kind: 'heal' }
  | { readonly kind: 'crash'; readonly node: number }
  /** A crash that damages the node's disk (a torn last write or a flipped bit). */
  | { readonly kind: 'crash-damaged'; readonly node: number }
  /** Every node at once (a power cut): only synced writes survive anywhere. */
  | { readonly kind: 'crash-all' }
  | { readonly kind: 'restart-all' }
  | { readonly kind: 'restart'; readonly node: number }
  | { readonly kind: 'pause'; readonly node: number }
  | { readonly kind: 'resume'; readonly node: number }
  | { readonly kind: 'loss'; readonly rate: number }
  | { readonly kind: 'transfer'; readonly target: number }
  /**
   * Cuts whichever node leads when it fires off from every other node (Jepsen's
   * partition-leader): clients still reach it. Until CheckQuorum deposes it, it believes it
   * leads while the others elect a new leader, which is the window a stale read needs.
   */
  | { readonly kind: 'isolate-leader' }
  /**
   * An operator's membership change. Which one depends on the configuration when it fires (add
   * a node that is not a member, promote a learner, remove a voter — the leader included), so
   * the schedule stays plain data; `pick` makes the choice among the candidates.
   */
  | { readonly kind: 'membership'; readonly pick: number };

export interface FaultEvent {
  readonly atMs: number;
  readonly action: FaultAction;
}

/** Per-second rates of each fault kind, drawn per seed (swarm testing). */
export interface FaultRates {
  readonly partitionPerSecond: number;
  readonly crashPerSecond: number;
  readonly crashAllPerSecond: number;
  readonly pausePerSecond: number;
  readonly transferPerSecond: number;
  readonly lossChangePerSecond: number;
  readonly maxLossRate: number;
  readonly flapPerSecond: number;
  /** Share of crashes that also damage the disk (0 without checksummed disks). */
  readonly damagedCrashShare?: number;
  /** Membership changes per second (0 or absent: the configuration never changes). */
  readonly membershipPerSecond?: number;
  /** Isolations of the current leader per second (0 or absent: none). */
  readonly leaderIsolationPerSecond?: number;
}

function bothWays(groupA: readonly number[], groupB: readonly number[]): Link[] {
  const links: Link[] = [];
  for (const a of groupA) {
    for (const b of groupB) {
      links.push([a, b], [b, a]);
    }
  }
  return links;
}

function shuffled(random: SeededRandom, count: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    [order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0];
  }
  return order;
}

/** One of the partition shapes: isolate a node, majority/minority, bridge, or a one-way cut. */
export function randomPartition(random: SeededRandom, nodeCount: number): FaultAction {
  const order = shuffled(random, nodeCount);
  const shape = random.int(4);
  if (shape === 0) {
    const isolated = order[0] ?? 0;
    return { kind: 'cut', label: `isolate n${isolated}`, links: bothWays([isolated], order.slice(1)) };
  }
  if (shape === 1) {
    const minoritySize = Math.floor((nodeCount - 1) / 2);
    const minority = order.slice(0, Math.max(1, minoritySize));
    const majority = order.slice(minority.length);
    return { kind: 'cut', label: `split ${minority.join(',')} | ${majority.join(',')}`, links: bothWays(minority, majority) };
  }
  if (shape === 2 && nodeCount >= 3) {
    // A bridge: two halves that cannot talk, and one node that talks to both.
    const [bridge = 0, ...rest] = order;
    const half = Math.ceil(rest.length / 2);
    const left = rest.slice(0, half);
    const right = rest.slice(half);
    return { kind: 'cut', label: `bridge n${bridge} between ${left.join(',')} | ${right.join(',')}`, links: bothWays(left, right) };
  }
  const from = order[0] ?? 0;
  const to = order[1] ?? 1;
  return { kind: 'cut', label: `one-way n${from}->n${to}`, links: [[from, to]] };
}

/** Draws a fault schedule for the fault phase [0, durationMs) from the rates. */
export function generateSchedule(
  random: SeededRandom,
  nodeCount: number,
  durationMs: number,
  rates: FaultRates,
): FaultEvent[] {
  const events: FaultEvent[] = [];
  const poisson = (perSecond: number, add: (atMs: number) => void): void => {
    if (perSecond <= 0) return;
    let atMs = 0;
    for (;;) {
      atMs += (-Math.log(1 - random.float()) / perSecond) * 1000;
      if (atMs >= durationMs) return;
      add(Math.round(atMs));
    }
  };
  const downtimeMs = (): number => 200 + random.int(3000);
  poisson(rates.partitionPerSecond, (atMs) => {
    events.push({ atMs, action: randomPartition(random, nodeCount) });
    events.push({ atMs: atMs + downtimeMs(), action: { kind: 'heal' } });
  });
  poisson(rates.flapPerSecond, (atMs) => {
    const [from = 0, to = 1] = shuffled(random, nodeCount);
    const periodMs = 20 + random.int(200);
    for (let flip = 0; flip < 6; flip++) {
      const at = atMs + flip * periodMs;
      events.push({ atMs: at, action: { kind: 'cut', label: `flap n${from}<->n${to}`, links: bothWays([from], [to]) } });
      events.push({ atMs: at + periodMs / 2, action: { kind: 'heal' } });
    }
  });
  poisson(rates.crashPerSecond, (atMs) => {
    const node = random.int(nodeCount);
    const damaged = (rates.damagedCrashShare ?? 0) > 0 && random.chance(rates.damagedCrashShare ?? 0);
    events.push({ atMs, action: { kind: damaged ? 'crash-damaged' : 'crash', node } });
    events.push({ atMs: atMs + downtimeMs(), action: { kind: 'restart', node } });
  });
  poisson(rates.crashAllPerSecond, (atMs) => {
    events.push({ atMs, action: { kind: 'crash-all' } });
    events.push({ atMs: atMs + 100 + random.int(2000), action: { kind: 'restart-all' } });
  });
  poisson(rates.pausePerSecond, (atMs) => {
    const node = random.int(nodeCount);
    events.push({ atMs, action: { kind: 'pause', node } });
    events.push({ atMs: atMs + 50 + random.int(1500), action: { kind: 'resume', node } });
  });
  poisson(rates.transferPerSecond, (atMs) => {
    events.push({ atMs, action: { kind: 'transfer', target: random.int(nodeCount) } });
  });
  poisson(rates.lossChangePerSecond, (atMs) => {
    events.push({ atMs, action: { kind: 'loss', rate: random.float() * rates.maxLossRate } });
  });
  // Drawn last, so a seed without membership changes keeps the schedule it always had.
  poisson(rates.membershipPerSecond ?? 0, (atMs) => {
    events.push({ atMs, action: { kind: 'membership', pick: random.int(1_000_000) } });
  });
  poisson(rates.leaderIsolationPerSecond ?? 0, (atMs) => {
    events.push({ atMs, action: { kind: 'isolate-leader' } });
    events.push({ atMs: atMs + downtimeMs(), action: { kind: 'heal' } });
  });
  return events.sort((a, b) => a.atMs - b.atMs);
}

export function describeAction(action: FaultAction): string {
  switch (action.kind) {
    case 'cut':
      return `cut ${action.label}`;
    case 'heal':
    case 'crash-all':
    case 'restart-all':
    case 'isolate-leader':
      return action.kind;
    case 'loss':
      return `loss ${(action.rate * 100).toFixed(1)}%`;
    case 'transfer':
      return `transfer-leader -> n${action.target}`;
    case 'membership':
      return `membership change (pick ${action.pick})`;
    default:
      return `${action.kind} n${action.node}`;
  }
}

export function formatSchedule(events: readonly FaultEvent[]): string {
  return events.map((event) => `  ${String(event.atMs).padStart(6)} ms  ${describeAction(event.action)}`).join('\n');
}
