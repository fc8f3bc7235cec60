/**
 * Readers of the registry that wait for changes, on the seeds that run the lock workload (whose
 * registry clients register, heartbeat, deregister and abandon instances of one service):
 * - blocking-query clients loop GET /v1/services/{service}?index=&waitMs= at random nodes,
 *   passing the revision of each answer as the next index, after a short pause (so changes also
 *   land between queries, which the next query must then answer at once);
 * - watch clients open GET /v1/services/{service}/watch at a random node, keep it open for a
 *   while and disconnect, then open another.
 * What they ask and are told goes to the RegistryReadChecker. They draw from a random stream of
 * their own, so the other workloads draw what they drew before.
 */
import type { SeededRandom } from '../../src/common/random.ts';
import type { NodeId } from '../../src/raft/types.ts';
import type { RegistryReadChecker } from './checkers/registry-reads.ts';
import type { EventQueue } from './event-queue.ts';
import type { SimNode } from './sim-node.ts';

export interface RegistryReaderOptions {
  readonly service: string;
  readonly queryClients: number;
  readonly watchClients: number;
  readonly minWaitMs: number;
  readonly maxWaitMs: number;
  /** Pause between an answer and the next query. */
  readonly maxPauseMs: number;
  readonly minWatchMs: number;
  readonly maxWatchMs: number;
  /** A query unanswered this long after its waitMs is given up (its node died or is cut off). */
  readonly giveUpAfterMs: number;
  readonly retryDelayMs: number;
  readonly clientLatencyMs: number;
}

export const DEFAULT_REGISTRY_READERS: RegistryReaderOptions = {
  service: 'svc',
  queryClients: 1,
  watchClients: 1,
  minWaitMs: 200,
  maxWaitMs: 2_000,
  maxPauseMs: 300,
  minWatchMs: 1_000,
  maxWatchMs: 5_000,
  giveUpAfterMs: 1_500,
  retryDelayMs: 20,
  clientLatencyMs: 0.5,
};

export class RegistryReaders {
  private stopped = false;

  constructor(
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly options: RegistryReaderOptions,
    private readonly nodes: () => readonly SimNode[],
    private readonly checker: RegistryReadChecker,
  ) {}

  start(): void {
    for (let i = 0; i < this.options.queryClients; i++) this.queue.schedule(this.random.float() * 200, () => this.query(0, ''));
    for (let i = 0; i < this.options.watchClients; i++) this.queue.schedule(this.random.float() * 200, () => this.watch());
  }

  stop(): void {
    this.stopped = true;
  }

  private target(hint: NodeId): SimNode {
    const nodes = this.nodes();
    return nodes.find((node) => node.id === hint) ?? this.random.pick(nodes);
  }

  /** One blocking query with `index`; then the next, with the answer's revision. */
  private query(index: number, hint: NodeId): void {
    if (this.stopped) return;
    const o = this.options;
    const node = this.target(hint);
    const waitMs = o.minWaitMs + this.random.int(o.maxWaitMs - o.minWaitMs);
    const record = this.checker.querySent(node.id, o.service, index);
    let finished = false;
    const finish = (next: () => void): void => {
      if (finished) return;
      finished = true;
      next();
    };
    this.queue.schedule(o.clientLatencyMs, () =>
      node.receiveBlockingQuery({
        service: o.service,
        index,
        waitMs,
        waiting: (markerRevision) => {
          record.incarnation = node.incarnation;
          record.waitFromMs = this.queue.now;
          record.markerAtWait = markerRevision;
        },
        done: (answer) => {
          if (finished) return;
          record.answeredMs = this.queue.now;
          record.answer = { revision: answer.revision, ids: answer.instances.map((instance) => instance.id).sort() };
          this.queue.schedule(o.clientLatencyMs, () =>
            finish(() => this.queue.schedule(this.random.float() * o.maxPauseMs, () => this.query(answer.revision, ''))),
          );
        },
        rejected: (leaderHint) =>
          this.queue.schedule(o.clientLatencyMs + o.retryDelayMs, () => finish(() => this.query(index, leaderHint))),
      }),
    );
    // The node died or is cut off: ask again elsewhere with the same index.
    this.queue.schedule(waitMs * 2 + o.giveUpAfterMs, () => finish(() => this.query(index, '')));
  }

  /** One watch stream, open for a while; then the next, at another node. */
  private watch(): void {
    if (this.stopped) return;
    const o = this.options;
    const node = this.target('');
    const record = this.checker.watchOpened(node.id, o.service, node.incarnation);
    let closed = false;
    const close = node.openServiceWatch({
      service: o.service,
      frame: (view) => {
        if (closed) return;
        record.frames.push({ atMs: this.queue.now, revision: view.revision, ids: view.instances.map((instance) => instance.id).sort() });
      },
      rejected: () => {
        if (closed) return;
        closed = true;
        record.closedMs = this.queue.now;
        this.queue.schedule(o.retryDelayMs, () => this.watch());
      },
    });
    this.queue.schedule(o.minWatchMs + this.random.int(o.maxWatchMs - o.minWatchMs), () => {
      if (closed) return;
      closed = true;
      record.closedMs = this.queue.now;
      close();
      this.queue.schedule(this.random.float() * o.maxPauseMs, () => this.watch());
    });
  }
}
