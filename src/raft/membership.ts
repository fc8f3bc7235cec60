/**
 * Membership changes, one server at a time (Raft thesis §4.1, with the fix of §4.1 errata that
 * a leader first commits an entry of its own term):
 *
 * - a change is a `config` log entry holding the whole new configuration; every node uses the
 *   latest configuration in its log, committed or not, and falls back to the previous one if a
 *   conflicting leader truncates the entry away;
 * - the leader proposes a change only once an entry of its term is committed and no earlier
 *   change is uncommitted, so at most one change is ever in flight;
 * - each change adds or removes at most one voter, so a majority of the old voters and a
 *   majority of the new voters always share a member: no two leaders in one term, and no
 *   decision that a majority of either configuration does not know about.
 *
 * We chose this over joint consensus (etcd-io/raft's ConfChangeV2) because every change an
 * operator needs here (add a learner, promote it, remove a member, replace a dead one as
 * add + promote + remove) is a single-voter step, and append-time single changes need no
 * second "leave joint" entry nor a state in which two majorities must both agree.
 */
import type { ClusterConfig, MemberEndpoints, NodeId } from './types.ts';

export type ConfChange =
  /** A new member that receives the log but does not vote until promoted. */
  | { readonly type: 'add-learner'; readonly id: NodeId; readonly endpoints?: MemberEndpoints }
  /** A learner becomes a voter. */
  | { readonly type: 'promote'; readonly id: NodeId }
  /** A voter or learner leaves (the leader itself included: it steps down once this commits). */
  | { readonly type: 'remove'; readonly id: NodeId }
  /**
   * A member's addresses change (or become known: members started from flags publish their
   * client URLs this way, as etcd members publish their attributes). No voter changes.
   */
  | { readonly type: 'update-endpoints'; readonly id: NodeId; readonly endpoints: MemberEndpoints };

/** Why the core refused a change it was asked to propose. */
export type ConfChangeRefusal =
  | 'not_leader'
  | 'transferring'
  /** An earlier change is not committed yet, or the leader has not committed an entry of its term. */
  | 'change_pending'
  | 'already_member'
  | 'not_member'
  | 'not_learner'
  /** The learner's log is too far behind the leader's commit index to vote safely yet. */
  | 'learner_behind'
  /** Too few voters of the resulting configuration have been heard from recently to form a quorum. */
  | 'would_lose_quorum'
  /** Removing the only voter would leave nobody to decide anything. */
  | 'last_voter';

/** The configuration after `change`, or the reason it does not apply to `config`. */
export function applyConfChange(
  config: ClusterConfig,
  change: ConfChange,
): { readonly ok: true; readonly config: ClusterConfig } | { readonly ok: false; readonly reason: ConfChangeRefusal } {
  const isVoter = config.voters.includes(change.id);
  const isLearner = config.learners.includes(change.id);
  switch (change.type) {
    case 'add-learner': {
      if (isVoter || isLearner) return { ok: false, reason: 'already_member' };
      const endpoints = change.endpoints === undefined ? config.endpoints : { ...config.endpoints, [change.id]: change.endpoints };
      return { ok: true, config: withEndpoints({ voters: config.voters, learners: [...config.learners, change.id] }, endpoints) };
    }
    case 'promote': {
      if (isVoter) return { ok: false, reason: 'already_member' };
      if (!isLearner) return { ok: false, reason: 'not_learner' };
      const learners = config.learners.filter((id) => id !== change.id);
      return { ok: true, config: withEndpoints({ voters: [...config.voters, change.id], learners }, config.endpoints) };
    }
    case 'update-endpoints': {
      if (!isVoter && !isLearner) return { ok: false, reason: 'not_member' };
      const endpoints = { ...config.endpoints, [change.id]: change.endpoints };
      return { ok: true, config: withEndpoints({ voters: config.voters, learners: config.learners }, endpoints) };
    }
    case 'remove': {
      if (!isVoter && !isLearner) return { ok: false, reason: 'not_member' };
      if (isVoter && config.voters.length === 1) return { ok: false, reason: 'last_voter' };
      const endpoints = config.endpoints === undefined ? undefined : withoutKey(config.endpoints, change.id);
      return {
        ok: true,
        config: withEndpoints(
          { voters: config.voters.filter((id) => id !== change.id), learners: config.learners.filter((id) => id !== change.id) },
          endpoints,
        ),
      };
    }
  }
}

/** A config entry's payload: the change (for observers and logs) and the configuration it makes. */
export interface ConfigEntryPayload {
  readonly change: ConfChange;
  readonly config: ClusterConfig;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeConfigEntry(payload: ConfigEntryPayload): Uint8Array {
  return encoder.encode(JSON.stringify(payload));
}

/**
 * Decodes a config entry. Entries reach the core only from its own proposals, its checksummed
 * storage or a leader's (schema-checked) messages, so a malformed one is a bug: it throws.
 */
export function decodeConfigEntry(data: Uint8Array): ConfigEntryPayload {
  const payload = JSON.parse(decoder.decode(data)) as ConfigEntryPayload;
  const { config } = payload;
  if (!isIdList(config?.voters) || !isIdList(config.learners)) {
    throw new Error('config entry without a valid configuration');
  }
  return payload;
}

export function sameConfig(left: ClusterConfig, right: ClusterConfig): boolean {
  return sameIds(left.voters, right.voters) && sameIds(left.learners, right.learners);
}

/** A configuration as one line for logs and errors: "voters n1,n2,n3 learners n4". */
export function describeConfig(config: ClusterConfig): string {
  const learners = config.learners.length > 0 ? ` learners ${config.learners.join(',')}` : '';
  return `voters ${config.voters.join(',')}${learners}`;
}

function withEndpoints(
  ids: { voters: readonly NodeId[]; learners: readonly NodeId[] },
  endpoints: Readonly<Record<NodeId, MemberEndpoints>> | undefined,
): ClusterConfig {
  return endpoints === undefined ? ids : { ...ids, endpoints };
}

function withoutKey<T>(record: Readonly<Record<string, T>>, key: string): Record<string, T> {
  const copy: Record<string, T> = {};
  for (const [name, value] of Object.entries(record)) if (name !== key) copy[name] = value;
  return copy;
}

function sameIds(left: readonly NodeId[], right: readonly NodeId[]): boolean {
  return left.length === right.length && left.every((id) => right.includes(id));
}

function isIdList(value: unknown): value is NodeId[] {
  return Array.isArray(value) && value.every((id) => typeof id === 'string' && id !== '');
}
