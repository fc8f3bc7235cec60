/**
 * Keeps members' addresses in the replicated configuration true. Members started from
 * --initial-cluster enter it with their peer address only; their client URLs are known from
 * peer handshakes (and our own from --advertise-client). While this node leads, with no other
 * membership change in flight, it proposes one `update-endpoints` change at a time for a member
 * whose replicated endpoints are missing or differ from what is known — as etcd members publish
 * their attributes — so that every node, and every node that joins later, can forward to and
 * report every member.
 */
import type { Logger } from 'pino';
import type { KvNode } from '../node/kv-node.ts';
import type { MemberEndpoints, NodeId } from '../raft/types.ts';
import type { MemberDirectory } from './member-directory.ts';

/** How often the leader looks for endpoints to publish. */
const CHECK_EVERY_MS = 2_000;

export class EndpointPublisher {
  private timer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private stopped = false;

  constructor(
    private readonly node: KvNode,
    private readonly directory: MemberDirectory,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.check(), CHECK_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.stopped = true;
  }

  /** Proposes the first endpoint update needed, if we lead and nothing else is changing. */
  check(): void {
    const raft = this.node.host.raft;
    if (this.stopped || this.inFlight || raft.currentRole !== 'leader' || !raft.membershipCommitted) return;
    const config = raft.members;
    for (const id of [...config.voters, ...config.learners]) {
      const known = this.directory.endpointsOf(config, id);
      const replicated = config.endpoints?.[id];
      if (!needsUpdate(replicated, known)) continue;
      this.publish(id, known);
      return;
    }
  }

  private publish(id: NodeId, endpoints: MemberEndpoints): void {
    this.inFlight = true;
    this.node.host.proposeConfChange({ type: 'update-endpoints', id, endpoints }, (outcome) => {
      this.inFlight = false;
      if (outcome.ok) {
        this.logger.info({ member: id, ...endpoints }, 'published member endpoints in the configuration');
        setImmediate(() => this.check()); // the next member, without waiting for the timer
      } else this.logger.debug({ member: id, code: outcome.code }, 'publishing member endpoints failed; will retry');
    });
  }
}

/** Known endpoints worth publishing: complete, and not what the configuration already says. */
function needsUpdate(replicated: MemberEndpoints | undefined, known: MemberEndpoints): boolean {
  if (known.peerAddress === '' || known.clientUrl === '') return false;
  return replicated?.peerAddress !== known.peerAddress || replicated.clientUrl !== known.clientUrl;
}
