/**
 * Checks of elections beyond those they share with locks (lock-invariants.ts judges an election
 * as a lock whose holder is its leader: the model, answers, tokens, two leaders at once):
 *
 * - observers never go back: on every replica, in every process life, the leaders an observer
 *   of an election is shown (GET /v1/elections/{name}/observe: the leader after each applied
 *   change, as the server streams it) come in token order — a later leader has a greater token,
 *   and an equal token only ever belongs to the same holding (a proclaim);
 * - a leader's value is one it may have: the value its campaign asked for, or one proclaimed with
 *   its own token (the workload's proclaims name the token they are sent with), never a value a
 *   stale proclaim carried;
 * - leader reads are linearizable: GET /v1/elections/{name} answers the leader (token and value)
 *   as the log had it after some entry that applied between the read's sending and its answer,
 *   or the state already in force when it was sent.
 */
import type { ElectionLeader } from '../../../src/lock/index.ts';
import type { LockRequestRecord } from './lock-invariants.ts';

/** The election's leader after one applied entry (in log order, timed by its first apply). */
export interface LeaderState {
  readonly index: number;
  readonly atMs: number;
  readonly leader: ElectionLeader | null;
}

interface Observation {
  readonly atMs: number;
  readonly leader: ElectionLeader | null;
}

export class ElectionObserverChecker {
  readonly violations: string[] = [];
  /** By process life and election name. */
  private readonly observed = new Map<string, Observation[]>();

  constructor(private readonly now: () => number) {}

  private fail(message: string): void {
    if (this.violations.length < 20) this.violations.push(message);
  }

  onObserved(incarnation: string, name: string, leader: ElectionLeader | null): void {
    const key = `${incarnation} ${name}`;
    const list = this.observed.get(key) ?? [];
    list.push({ atMs: this.now(), leader });
    this.observed.set(key, list);
  }

  get observations(): number {
    let count = 0;
    for (const list of this.observed.values()) count += list.length;
    return count;
  }

  /**
   * `history`: each election's leader after every entry that changed it, in log order;
   * `campaignValues`: the values the campaigns granted token T asked for, by "name:token".
   */
  finalChecks(
    history: ReadonlyMap<string, readonly LeaderState[]>,
    campaignValues: ReadonlyMap<string, ReadonlySet<string>>,
    requests: readonly LockRequestRecord[],
  ): void {
    for (const [key, list] of [...this.observed].sort(([a], [b]) => (a < b ? -1 : 1))) this.checkObserver(key, list, campaignValues);
    this.checkReads(history, requests);
  }

  private checkObserver(key: string, list: readonly Observation[], campaignValues: ReadonlyMap<string, ReadonlySet<string>>): void {
    const [incarnation, name] = key.split(' ');
    let previous: ElectionLeader | null = null;
    for (const { atMs, leader } of list) {
      if (leader === null) continue;
      const at = `observer of election ${name} on ${incarnation} at ${atMs.toFixed(1)}`;
      if (previous !== null && (leader.token < previous.token || (leader.token === previous.token && leader.lease !== previous.lease))) {
        const how = leader.token < previous.token ? 'a lower token' : 'a token already used by another holding';
        this.fail(
          `election ${name}: ${at} went back to ${how}: leader token ${leader.token} (lease ${leader.lease}) after token ` +
            `${previous.token} (lease ${previous.lease})`,
        );
        return;
      }
      const asked = campaignValues.get(`${name}:${leader.token}`);
      if (asked?.has(leader.value) !== true && !leader.value.startsWith(`t${leader.token}-`)) {
        this.fail(
          `election ${name}: ${at} shows leader token ${leader.token} with value ${JSON.stringify(leader.value)}, ` +
            `neither its campaign's (${JSON.stringify([...(asked ?? [])])}) nor proclaimed with its token`,
        );
        return;
      }
      previous = leader;
    }
  }

  private checkReads(history: ReadonlyMap<string, readonly LeaderState[]>, requests: readonly LockRequestRecord[]): void {
    for (const request of requests) {
      const { op, outcome, answeredMs } = request;
      if (op.kind !== 'leader' || outcome?.status !== 'leader' || answeredMs === null) continue;
      const states = history.get(op.name) ?? [];
      // The state in force when the read was sent, and every later one applied before its answer.
      let first = 0;
      for (let i = 0; i < states.length; i++) if ((states[i]?.atMs ?? 0) < request.sentMs) first = i + 1;
      const candidates: (ElectionLeader | null)[] = first === 0 ? [null] : [states[first - 1]?.leader ?? null];
      for (let i = first; i < states.length && (states[i]?.atMs ?? 0) <= answeredMs; i++) candidates.push(states[i]?.leader ?? null);
      const seen = JSON.stringify(outcome.leader);
      if (!candidates.some((candidate) => JSON.stringify(candidate) === seen)) {
        this.fail(
          `election ${op.name}: leader read sent at ${request.sentMs.toFixed(1)}, answered ${seen} at ${answeredMs.toFixed(1)}, ` +
            `but the log's leaders in that interval were ${candidates.map((candidate) => JSON.stringify(candidate)).join(', ')}`,
        );
        return;
      }
    }
  }
}
