/**
 * A follower's requests on their way to the leader, from the moment they are made here until
 * the leader answers them: proposals (as etcd forwards MsgProp; the leader answers where in the
 * log it put each, and the follower then waits for that index to apply, as it waits for its own
 * proposals when it leads, and takes the command's result from its own state machine: every
 * replica computes the same one) and lease keepalives (src/node/kv-node.ts; the leader answers
 * with the TTL it granted).
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
interface AwaitingPlacement<Settle> {
  readonly settle: Settle;
  ageTicks: number;
}

/** A request queued for the next message to the leader, with the number its answer names. */
export interface QueuedRequest<Payload> {
  readonly id: number;
  readonly payload: Payload;
}

export class ForwardedRequests<Payload, Settle> {
  private nextId = 1;
  private queued: QueuedRequest<Payload>[] = [];
  /** Sent (or queued) and not yet placed by the leader, by id. */
  private readonly awaiting = new Map<number, AwaitingPlacement<Settle>>();

  /** How many are waiting for the leader's answer, queued ones included. */
  get size(): number {
    return this.awaiting.size;
  }

  /** Queues `payload` for the next message to the leader. */
  add(payload: Payload, settle: Settle): void {
    const id = this.nextId++;
    this.queued.push({ id, payload });
    this.awaiting.set(id, { settle, ageTicks: 0 });
  }

  /** The requests to send now, in the order they were made; the queue is emptied. */
  takeQueued(): QueuedRequest<Payload>[] {
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
    if (expired.length > 0) this.queued = this.queued.filter((request) => this.awaiting.has(request.id));
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
