/**
 * `concord status`: every endpoint's view of the cluster (node, leader, term, commit and applied
 * index, revision, health), each asked on its own through a one-endpoint SDK client, and the
 * member list.
 */
import { ConcordError, type ClusterView } from '../client/index.ts';
import { colours, connect, EXIT, expectPositionals, out, table, UsageError, type Command, type Globals } from './common.ts';

interface EndpointStatus {
  readonly endpoint: string;
  readonly healthy: boolean;
  /** ok, no leader, applying (applied < commit), or the error. */
  readonly health: string;
  readonly view?: ClusterView;
  readonly error?: { code: string; message: string };
}

async function statusOf(endpoint: string, globals: Globals): Promise<EndpointStatus> {
  // A one-endpoint client with the command's other settings (token, TLS files).
  const client = connect({ ...globals, endpoints: endpoint, timeoutMs: globals.timeoutMs ?? 2_000 });
  try {
    const view = await client.cluster.status();
    const health = view.leaderId === '' ? 'no leader' : view.appliedIndex < view.commitIndex ? 'applying' : 'ok';
    return { endpoint, healthy: health === 'ok', health, view };
  } catch (error) {
    const failure = error instanceof ConcordError ? { code: error.code, message: error.message } : { code: 'internal', message: String(error) };
    return { endpoint, healthy: false, health: `unreachable (${failure.code})`, error: failure };
  } finally {
    await client.close().catch(() => undefined);
  }
}

export const statusCommand: Command = {
  summary: 'the cluster as each endpoint sees it (a table)',
  help: `usage: concord status

Asks every endpoint for its view of the cluster and prints the members, then one row per
endpoint: node, leader, term, commit index, applied index, revision and health (ok, no
leader, applying, unreachable). Exit 0 when every endpoint is healthy, 5 otherwise.
Each endpoint gets --timeout-ms (default here 2000).
--json prints {members, endpoints: [{endpoint, healthy, health, view?, error?}]}.`,
  async run({ positionals, globals }) {
    expectPositionals(positionals, []);
    const endpoints = globals.endpoints.split(',').map((endpoint) => endpoint.trim()).filter((endpoint) => endpoint !== '');
    if (endpoints.length === 0) throw new UsageError('--endpoints is empty');
    const statuses = await Promise.all(endpoints.map((endpoint) => statusOf(endpoint, globals)));
    const reference = statuses.find((status) => status.view?.leaderId !== '' && status.view !== undefined) ?? statuses.find((status) => status.view !== undefined);
    const members = reference?.view?.members ?? [];
    const leaderId = reference?.view?.leaderId ?? '';
    if (globals.json) {
      out.json({ members: members.map((member) => ({ ...member, leader: member.id === leaderId })), endpoints: statuses });
    } else {
      const c = colours(process.stdout);
      if (members.length > 0) {
        out.line(table(['MEMBER', 'ROLE', 'VOTER', 'CLIENT URL', 'PEER ADDRESS'], members.map((member) => [member.id, member.id === leaderId ? 'leader' : 'follower', member.voter ? 'yes' : 'no (learner)', member.clientUrl, member.peerAddress])));
        out.line();
      }
      const rows = statuses.map((status) => [
        status.endpoint,
        status.view?.nodeId ?? '-',
        status.view === undefined ? '-' : status.view.leaderId === '' ? '(none)' : status.view.leaderId,
        status.view?.term ?? '-',
        status.view?.commitIndex ?? '-',
        status.view?.appliedIndex ?? '-',
        status.view?.revision ?? '-',
        status.health,
      ]);
      const text = table(['ENDPOINT', 'NODE', 'LEADER', 'TERM', 'COMMIT', 'APPLIED', 'REVISION', 'HEALTH'], rows);
      // Colour the health column after layout (escape codes would upset the padding).
      out.line(text.split('\n').map((line, index) => (index === 0 ? line : line.replace(/(ok|no leader|applying|unreachable \([a-z_]+\))$/, (health) => (health === 'ok' ? c.green(health) : c.red(health))))).join('\n'));
      for (const status of statuses) if (status.error !== undefined) out.warn(`${status.endpoint}: ${status.error.message}`);
    }
    return statuses.every((status) => status.healthy) ? EXIT.ok : EXIT.unavailable;
  },
};
