/**
 * A follower's proposals on their way to the leader (as etcd forwards MsgProp), from the moment
 * they are made here until the leader answers where in the log it put them. The follower then
 * waits for that index to apply, as it waits for its own proposals when it leads, and takes the
 * command's result from its own state machine: every replica computes the same one.
 *
 * This replaces forwarding a client's whole HTTP request to the leader for plain writes: the
 * proposals of one event-loop turn travel in one message on the peer connection that already
 * exists, and the leader parses no HTTP, validates nothing twice and answers with one message.
 *
 * A proposal whose answer never comes (the message or the answer was lost, the leader crashed or
 * changed) is given up after a bound: its outcome is then unknown, since the leader may have
 * appended it, and the caller retries with its idempotency key, which makes a second append
 * harmless (src/kv/dedup.ts).
 */
import type { ForwardedProposal } from '../raft/messages.ts';

interface AwaitingPlacement<Settle> {
  readonly settle: Settle;
  ageTicks: number;
}

export class ForwardedProposals<Settle> {
  private nextId = 1;
  private queued: ForwardedProposal[] = [];
  /** Sent (or queued) and not yet placed by the leader, by id. */
  private readonly awaiting = new Map<number, AwaitingPlacement<Settle>>();

  /** How many are waiting for the leader's answer, queued ones included. */
  get size(): number {
    return this.awaiting.size;
  }

  /** Queues `data` for the next message to the leader. */
  add(data: Uint8Array, settle: Settle): void {
    const id = this.nextId++;
    this.queued.push({ id, data });
    this.awaiting.set(id, { settle, ageTicks: 0 });
  }

  /** The proposals to send now, in the order they were made; the queue is emptied. */
  takeQueued(): ForwardedProposal[] {
    const taken = this.queued;
    this.queued = [];
    return taken;
  }

  /** The leader answered for `id`: its callback, once (a duplicated answer finds nothing). */
  answered(id: number): Settle | undefined {
    const waiting = this.awaiting.get(id);
    if (waiting === undefined) return undefined;
    this.awaiting.delete(id);
    return waiting.settle;
  }

  /** One tick passed: returns (and forgets) those that have waited `maxAgeTicks` ticks. */
  tick(maxAgeTicks: number): Settle[] {
    const expired: Settle[] = [];
    for (const [id, waiting] of this.awaiting) {
      waiting.ageTicks++;
      if (waiting.ageTicks < maxAgeTicks) continue;
      this.awaiting.delete(id);
      expired.push(waiting.settle);
    }
    if (expired.length > 0) this.queued = this.queued.filter((proposal) => this.awaiting.has(proposal.id));
    return expired;
  }

  /** Forgets every one (leader changed, node stopping): returns their callbacks. */
  drain(): Settle[] {
    const all = [...this.awaiting.values()].map((waiting) => waiting.settle);
    this.awaiting.clear();
    this.queued = [];
    return all;
  }
}
