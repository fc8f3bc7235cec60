/**
 * Where members are: the replicated configuration's endpoints first (members added at run time
 * carry theirs in the config entry that added them), then the --initial-cluster hint (a cluster
 * bootstrapped by an older version has no endpoints in its configuration), then what a peer
 * advertised in its handshake (client URLs of members started from flags).
 */
import { parseHostPort, type HostPort } from './serve-options.ts';
import type { ClusterConfig, MemberEndpoints, NodeId } from '../raft/types.ts';
import type { MemberInfo } from '../server/context.ts';

export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export interface MemberDirectoryOptions {
  readonly selfId: NodeId;
  readonly selfPeerAddress: string;
  readonly selfClientUrl: string;
  /** --initial-cluster: member id → peer address. */
  readonly hints: ReadonlyMap<NodeId, HostPort>;
  /** The client URL a peer advertised in its handshake, once one completed. */
  readonly handshakeClientUrl: (id: NodeId) => string | undefined;
}

export class MemberDirectory {
  /** Every endpoint any configuration we saw carried: a leader our configuration lacks may be in it. */
  private readonly seen = new Map<NodeId, MemberEndpoints>();

  constructor(private readonly options: MemberDirectoryOptions) {}

  /** The endpoints of `id` as best known. */
  endpointsOf(config: ClusterConfig, id: NodeId): MemberEndpoints {
    const { selfId, selfPeerAddress, selfClientUrl, hints, handshakeClientUrl } = this.options;
    if (id === selfId) return { peerAddress: selfPeerAddress, clientUrl: selfClientUrl };
    for (const [member, endpoints] of Object.entries(config.endpoints ?? {})) this.seen.set(member, endpoints);
    const replicated = config.endpoints?.[id] ?? this.seen.get(id);
    const hint = hints.get(id);
    const peerAddress = replicated?.peerAddress ?? (hint === undefined ? '' : formatHostPort(hint));
    const clientUrl = replicated?.clientUrl !== undefined && replicated.clientUrl !== '' ? replicated.clientUrl : (handshakeClientUrl(id) ?? '');
    return { peerAddress, clientUrl };
  }

  /**
   * Addresses for the peers `ids`: as the configuration (or hints) place them, else where we
   * dial them already (a member being removed is no longer in the configuration).
   */
  addressesOf(
    config: ClusterConfig,
    ids: ReadonlySet<NodeId>,
    current: ReadonlyMap<NodeId, HostPort>,
  ): { addresses: Map<NodeId, HostPort>; unreachable: NodeId[] } {
    const addresses = new Map<NodeId, HostPort>();
    const unreachable: NodeId[] = [];
    for (const id of ids) {
      const { peerAddress } = this.endpointsOf(config, id);
      const known = current.get(id);
      try {
        addresses.set(id, parseHostPort('peer-address', peerAddress));
      } catch {
        if (known !== undefined) addresses.set(id, known);
        else unreachable.push(id);
      }
    }
    return { addresses, unreachable };
  }

  /** The member table of GET /v1/cluster: voters first, then learners. */
  membersOf(config: ClusterConfig): MemberInfo[] {
    const view = (id: NodeId, voter: boolean): MemberInfo => ({ id, ...this.endpointsOf(config, id), voter });
    return [...config.voters.map((id) => view(id, true)), ...config.learners.map((id) => view(id, false))];
  }
}
