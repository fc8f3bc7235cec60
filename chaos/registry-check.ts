/**
 * The registry workload's checks (the properties of issue 5, judged from what clients saw):
 *
 * - **registry: live instances kept**: an instance is protected until TTL after the *sending*
 *   of its last registration or heartbeat that was acknowledged (the leader renews the lease
 *   when it handles it, never before it was sent; a new leader restarts the countdown at full
 *   TTL, which only makes the lease last longer). Heartbeats that got no answer or a 503 —
 *   those that could not reach a leader during a fault — protect nothing: an instance whose
 *   heartbeats all failed for a TTL may rightly be removed. The evidence of a removal is a
 *   heartbeat answered 404, or a linearizable discovery read that does not list an instance
 *   whose registration was acknowledged before the read was sent; either is a violation when it
 *   completed while the instance was still protected (and before any deregistration was sent).
 * - **registry: stopped instances removed in time**: an abandoned instance (no more heartbeats)
 *   must be gone from discovery by the *removal bound*: its last renewal (the acknowledgement,
 *   or for one whose answer was lost the deadline of its request), plus TTL, plus two election
 *   timeouts (a leader to be elected and to establish its term), plus a second of slack — and
 *   when a fault overlaps that window, counted from the end of the fault instead (during a
 *   fault no bound holds: a minority leader cannot commit the removal, and a new leader
 *   restarts every countdown at full TTL) — and a fault ends when a leader next acknowledged a
 *   write, not at its heal (untilLeaderServes). A discovery read sent after the bound that still
 *   lists the instance is a violation; so is one sent after a deregistration was acknowledged.
 * - **registry: discovery agrees on every node**: after the final heal, once every stopped
 *   instance is due, a discovery read through each node lists the same instances, which are
 *   exactly the ones still heartbeating.
 */
import type { CheckResult } from './checks.ts';
import type { FaultSpan } from './nemesis.ts';
import type { DiscoveryRead, InstanceRecord } from './workloads/registry.ts';

/** The longest election timeout of a node (docs/operations.md: 10-20 ticks of 100 ms). */
export const ELECTION_TIMEOUT_MAX_MS = 2_000;
const SLACK_MS = 1_000;

/** When the instance stops being protected, counting acknowledged renewals answered by `beforeMs`. */
function protectedUntil(instance: InstanceRecord, answeredBy: number): number {
  let until = -Infinity;
  for (const renewal of instance.renewals) {
    if (renewal.status === 'ok' && renewal.answeredMs !== null && renewal.answeredMs <= answeredBy) until = Math.max(until, renewal.sentMs + instance.ttlMs);
  }
  return until;
}

function registeredAckMs(instance: InstanceRecord): number | null {
  const first = instance.renewals[0];
  return first?.status === 'ok' ? first.answeredMs : null;
}

export function checkRegistryKept(instances: readonly InstanceRecord[], reads: readonly DiscoveryRead[]): CheckResult {
  const name = 'registry: live instances kept';
  const registered = instances.filter((instance) => registeredAckMs(instance) !== null);
  if (registered.length === 0) return { name, verdict: 'skipped', detail: 'no registration acknowledged' };
  const problems: string[] = [];
  let observations = 0;
  for (const instance of registered) {
    const registeredMs = registeredAckMs(instance) ?? Infinity;
    const deregisterSent = instance.end.kind === 'deregistered' ? instance.end.sentMs : Infinity;
    for (const renewal of instance.renewals) {
      if (renewal.code !== 'not_found' || renewal.answeredMs === null) continue;
      observations++;
      const until = protectedUntil(instance, renewal.sentMs);
      if (renewal.answeredMs < until && renewal.answeredMs < deregisterSent) {
        problems.push(`${instance.id}: heartbeat answered 404 at ${renewal.answeredMs.toFixed(0)} ms, protected until ${until.toFixed(0)} ms`);
      }
    }
    for (const read of reads) {
      if (read.invokeMs <= registeredMs || read.ids.includes(instance.id) || read.completeMs >= deregisterSent) continue;
      const until = protectedUntil(instance, read.invokeMs);
      observations++;
      if (read.completeMs < until) {
        problems.push(`${instance.id}: missing from discovery through ${read.node} [${read.invokeMs.toFixed(0)}, ${read.completeMs.toFixed(0)}] ms, protected until ${until.toFixed(0)} ms`);
      }
    }
  }
  if (problems.length > 0) return { name, verdict: 'violated', detail: `${problems.length} early removals, e.g. ${problems[0] ?? ''}`, report: `${problems.join('\n')}\n` };
  return { name, verdict: 'ok', detail: `${registered.length} instances, ${reads.length} discovery reads, ${observations} absences all after protection ended` };
}

/** The time by which an abandoned instance must be gone, or null if it never existed. */
export function removalBound(instance: InstanceRecord, spans: readonly FaultSpan[], deadlineMs: number): number | null {
  let last = -Infinity;
  for (const renewal of instance.renewals) {
    if (renewal.status === 'ok' && renewal.answeredMs !== null) last = Math.max(last, renewal.answeredMs);
    if (renewal.status === 'unknown') last = Math.max(last, renewal.sentMs + deadlineMs + 1_000);
  }
  if (instance.end.kind === 'deregistered' && instance.end.status === 'unknown') last = Math.max(last, instance.end.sentMs + deadlineMs + 1_000);
  if (last === -Infinity) return null;
  const allowance = instance.ttlMs + 2 * ELECTION_TIMEOUT_MAX_MS + SLACK_MS;
  let from = last;
  for (;;) {
    const due = from + allowance;
    const overlapping = spans.filter((span) => span.startMs < due && span.endMs > from);
    const latestEnd = Math.max(...overlapping.map((span) => span.endMs));
    if (overlapping.length === 0 || latestEnd <= from) return due;
    from = latestEnd;
  }
}

/** A write a leader acknowledged: when it was sent and answered. */
export interface ServedWrite {
  readonly invokeMs: number;
  readonly completeMs: number;
}

/**
 * Fault spans stretched to when a leader served a write again. A restarted process (kill,
 * kill-all, membership) reloads its data and the cluster elects before any lease countdown can
 * run; on a loaded machine that takes longer than two election timeouts after the restart
 * (a 30-minute run saw a kill-all's cluster leaderless for 9 s after the restart). The first
 * acknowledged write sent after the heal proves a leader by its answer.
 */
export function untilLeaderServes(spans: readonly FaultSpan[], writes: readonly ServedWrite[]): FaultSpan[] {
  const byInvoke = [...writes].sort((a, b) => a.invokeMs - b.invokeMs);
  return spans.map((span) => {
    const next = byInvoke.find((write) => write.invokeMs >= span.endMs);
    return next === undefined || next.completeMs <= span.endMs ? span : { ...span, endMs: next.completeMs };
  });
}

/** Instances that must disappear on their own: abandoned, or whose deregistration was not acknowledged. */
export function mustExpire(instance: InstanceRecord): boolean {
  if (instance.end.kind === 'abandoned') return true;
  return instance.end.kind === 'deregistered' && instance.end.status !== 'ok';
}

export function checkRegistryRemoved(instances: readonly InstanceRecord[], reads: readonly DiscoveryRead[], spans: readonly FaultSpan[], deadlineMs: number): CheckResult {
  const name = 'registry: stopped instances removed in time';
  const problems: string[] = [];
  let abandoned = 0;
  let deregistered = 0;
  for (const instance of instances) {
    let dueMs: number | null = null;
    let why = '';
    if (mustExpire(instance)) {
      dueMs = removalBound(instance, spans, deadlineMs);
      why = 'stopped heartbeating';
      if (dueMs !== null) abandoned++;
    } else if (instance.end.kind === 'deregistered' && instance.end.status === 'ok') {
      // Gone once the deregistration was acknowledged: linearizable reads sent after must not list it.
      dueMs = instance.end.answeredMs ?? instance.end.sentMs;
      why = 'deregistered';
      deregistered++;
    }
    if (dueMs === null) continue;
    const late = reads.find((read) => read.invokeMs > (dueMs ?? Infinity) && read.ids.includes(instance.id));
    if (late !== undefined) problems.push(`${instance.id} (${why}): still listed through ${late.node} at ${late.invokeMs.toFixed(0)} ms, due by ${dueMs.toFixed(0)} ms`);
  }
  if (abandoned + deregistered === 0) return { name, verdict: 'skipped', detail: 'no instance stopped' };
  if (problems.length > 0) return { name, verdict: 'violated', detail: `${problems.length} late, e.g. ${problems[0] ?? ''}`, report: `${problems.join('\n')}\n` };
  return { name, verdict: 'ok', detail: `${abandoned} abandoned and ${deregistered} deregistered instances gone by their bound` };
}

export function checkRegistryAgreement(perNode: ReadonlyMap<string, readonly string[] | string>, alive: readonly string[]): CheckResult {
  const name = 'registry: discovery agrees on every node';
  const expected = [...alive].sort().join(',');
  const problems: string[] = [];
  for (const [node, ids] of perNode) {
    if (typeof ids === 'string') problems.push(`${node}: ${ids}`);
    else if ([...ids].sort().join(',') !== expected) problems.push(`${node} lists [${[...ids].sort().join(', ')}], the live instances are [${expected.split(',').join(', ')}]`);
  }
  if (problems.length > 0) return { name, verdict: 'violated', detail: problems[0] ?? '', report: `${problems.join('\n')}\n` };
  return { name, verdict: 'ok', detail: `${perNode.size} nodes list the same ${alive.length} live instances` };
}
