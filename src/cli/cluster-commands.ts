/**
 * `concord members [ls]` (the member table, leader marked), `concord members add|promote|remove`
 * (membership changes, one server at a time: docs/membership.md) and `concord transfer-leader
 * [--to ID]`, through the SDK's ClusterClient.
 */
import { ConcordError, membershipRefusal, type ClusterMember, type ClusterView, type MemberChange } from '../client/index.ts';
import { isMemberId } from '../common/member-id.ts';
import { EXIT, expectPositionals, optionalString, out, report, table, UsageError, type Command, type Parsed } from './common.ts';
import { parseHostPort } from './serve-options.ts';

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

function memberId(positionals: readonly string[]): string {
  const [id] = expectPositionals(positionals, ['ID']) as [string];
  if (!isMemberId(id)) throw new UsageError(`ID must be 1-64 letters, digits, '.', '_' or '-' (as the node's --id), got ${JSON.stringify(id)}`);
  return id;
}

/**
 * Refusals that the cluster's state causes, not the command's form: the conflict class (4), not
 * usage (2) as other invalid_argument answers. Absent members stay 3, a busy cluster 5.
 */
const STATE_REFUSALS: ReadonlySet<string> = new Set(['would_lose_quorum', 'last_voter', 'already_member', 'not_learner']);

/** Runs a membership change, reporting a state refusal (with its reason) as exit 4. */
async function changing(command: string, globals: Parsed['globals'], change: () => Promise<number>): Promise<number> {
  try {
    return await change();
  } catch (error) {
    if (error instanceof ConcordError && error.code === 'invalid_argument' && STATE_REFUSALS.has(membershipRefusal(error) ?? '')) {
      report(`members ${command}`, error, globals.json);
      return EXIT.conflict;
    }
    throw error;
  }
}

function memberRows(members: readonly ClusterMember[]): string {
  return table(
    ['ID', 'ROLE', 'CLIENT URL', 'PEER ADDRESS'],
    members.map((member) => [member.id, member.voter ? 'voter' : 'learner', member.clientUrl, member.peerAddress]),
  );
}

function printChange(what: string, answer: MemberChange, json: boolean): void {
  if (json) {
    out.json(answer);
    return;
  }
  out.line(`${answer.member.id} ${what}: ${answer.member.voter ? 'voter' : 'learner'}`);
  out.line(memberRows(answer.members));
}

const EXITS_HELP = `exit 0 done (add and promote: also when it already was so); 2 bad arguments; 3 ID is
not a member (a remove retried after it took effect too); 4 refused by the cluster's state
(the reason is printed: would_lose_quorum, last_voter, already_member, not_learner); 5 not
done within --timeout-ms (reason learner_behind, change_pending or transferring: run the same
command again to go on).`;

const add: Command = {
  summary: 'add a member: a learner, promoted to voter once caught up (--learner: stays one)',
  help: `usage: concord members add ID --peer HOST:PORT [--client-url URL] [--learner]

Adds node ID to the cluster (POST /v1/cluster/members). Start the node first, with
\`concord serve\` and no --initial-cluster entry making it a member (or with --join, which
makes this request itself). It joins as a learner, which receives the log (or a snapshot) but
does not vote; unless --learner is given it is then promoted to voter once it has caught up.
Membership changes go one server at a time: this makes up to two of them.
  --peer HOST:PORT    where the other members dial it (its --advertise-peer, else
                      --listen-peer); stored in the replicated configuration
  --client-url URL    its client URL (its --advertise-client); default: learned from its
                      peer handshake
  --learner           keep it a learner (promote it later with \`concord members promote\`)
A learner with a lot of log to catch up needs a longer --timeout-ms than the default 5000.
Prints the member and the member table; --json prints {member, members}.
${EXITS_HELP}`,
  options: { peer: { type: 'string' }, 'client-url': { type: 'string' }, learner: { type: 'boolean' } },
  async run({ positionals, values, globals }, concord) {
    const id = memberId(positionals);
    const peer = optionalString(values, 'peer');
    if (peer === undefined) throw new UsageError('--peer HOST:PORT is required');
    try {
      parseHostPort('peer', peer);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
    const clientUrl = optionalString(values, 'client-url') ?? '';
    if (clientUrl !== '' && !isHttpUrl(clientUrl)) throw new UsageError(`--client-url must be an http(s) URL, got ${JSON.stringify(clientUrl)}`);
    const learner = values['learner'] === true;
    return changing('add', globals, async () => {
      const answer = await concord().cluster.addMember({ id, peerAddress: peer, clientUrl, ...(learner ? { learner } : {}) });
      printChange('added', answer, globals.json);
      return EXIT.ok;
    });
  },
};

const promote: Command = {
  summary: 'make a learner a voter, once it has caught up',
  help: `usage: concord members promote ID

Promotes learner ID to voter (POST /v1/cluster/members/ID/promote), once its log has caught
up with the leader's; a voter already is one (exit 0). Prints the member and the member table;
--json prints {member, members}.
${EXITS_HELP}`,
  async run({ positionals, globals }, concord) {
    const id = memberId(positionals);
    return changing('promote', globals, async () => {
      printChange('promoted', await concord().cluster.promoteMember(id), globals.json);
      return EXIT.ok;
    });
  },
};

const remove: Command = {
  summary: 'remove a member (the leader too: it steps down once the change commits)',
  help: `usage: concord members remove ID

Removes voter or learner ID (DELETE /v1/cluster/members/ID). The leader can be removed: it
leads until the change commits, then steps down and the others elect a leader. The removed
node is not stopped: stop it and clear its data dir before using it again. The leader refuses
a removal that would leave fewer voters it has heard from recently than a quorum
(would_lose_quorum: remove the dead ones first) and the removal of the only voter
(last_voter). Prints the members left; --json prints {members}.
${EXITS_HELP}`,
  async run({ positionals, globals }, concord) {
    const id = memberId(positionals);
    return changing('remove', globals, async () => {
      const answer = await concord().cluster.removeMember(id);
      if (globals.json) out.json(answer);
      else {
        out.line(`${id} removed`);
        out.line(memberRows(answer.members));
      }
      return EXIT.ok;
    });
  },
};

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

export const MEMBERS_COMMANDS: Readonly<Record<string, Command>> = { ls: list, add, promote, remove };
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
