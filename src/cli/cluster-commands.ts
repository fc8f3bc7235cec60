/**
 * `concord members` (the member table, leader marked) and `concord transfer-leader [--to ID]`,
 * through the SDK's ClusterClient. Membership changes (add, promote, remove) are not commands
 * yet: the server answers them 501 not_implemented.
 */
import type { ClusterMember, ClusterView } from '../client/index.ts';
import { EXIT, expectPositionals, optionalString, out, table, UsageError, type Command } from './common.ts';

function roleOf(member: ClusterMember, view: ClusterView): string {
  if (member.id === view.leaderId) return 'leader';
  return member.voter ? 'follower' : 'learner';
}

const list: Command = {
  summary: 'the members, with the leader marked (a table)',
  help: `usage: concord members [ls]

Prints the members as one node sees them (GET /v1/cluster, asked through the SDK, so the
leader when it is reachable): id, role (leader, follower or learner), voter, client URL and
peer address, then the leader and term. Without a known leader no member is marked and a
warning says so (exit 0 still: the list is there).
--json prints {clusterId, nodeId, leaderId, term, members: [{id, peerAddress, clientUrl,
voter, leader}]}, nodeId being the node that answered.`,
  async run({ positionals, globals }, concord) {
    expectPositionals(positionals, []);
    const view = await concord().cluster.status();
    if (globals.json) {
      out.json({
        clusterId: view.clusterId,
        nodeId: view.nodeId,
        leaderId: view.leaderId,
        term: view.term,
        members: view.members.map((member) => ({ ...member, leader: member.id === view.leaderId })),
      });
      return EXIT.ok;
    }
    const rows = view.members.map((member) => [member.id, roleOf(member, view), member.voter ? 'yes' : 'no', member.clientUrl, member.peerAddress]);
    out.line(table(['ID', 'ROLE', 'VOTER', 'CLIENT URL', 'PEER ADDRESS'], rows));
    if (view.leaderId === '') out.warn(`no leader known to ${view.nodeId} (term ${view.term})`);
    else out.line(`\nleader ${view.leaderId}, term ${view.term} (as ${view.nodeId} sees it)`);
    return EXIT.ok;
  },
};

export const MEMBERS_COMMANDS: Readonly<Record<string, Command>> = { ls: list };
export const membersListCommand = list;

export const transferLeaderCommand: Command = {
  summary: 'hand leadership to another voter',
  help: `usage: concord transfer-leader [--to ID]

Asks the leader to hand leadership to voter ID (default: a voter the leader picks) and waits
until it has moved, within --timeout-ms (default 5000). Prints the new leader and term.
Exit 3 if ID is not a voter, 2 if there is no other voter, 5 if leadership did not move in time.
Transferring to the current leader succeeds at once.
--json prints {leaderId, term}.`,
  options: { to: { type: 'string' } },
  async run({ positionals, values, globals }, concord) {
    expectPositionals(positionals, []);
    const to = optionalString(values, 'to');
    if (to === '') throw new UsageError('--to must not be empty');
    const moved = await concord().cluster.transferLeader(to);
    if (globals.json) out.json(moved);
    else out.line(`leader ${moved.leaderId}, term ${moved.term}`);
    return EXIT.ok;
  },
};
