/**
 * `concord lease grant|keepalive|revoke|show|ls`, through the SDK's LeaseClient.
 */
import { ConcordError } from '../client/index.ts';
import { aborted, EXIT, expectPositionals, interruption, optionalString, out, positiveInt, table, type Command } from './common.ts';

const grant: Command = {
  summary: 'grant a lease of TTL_MS milliseconds; prints its id',
  help: `usage: concord lease grant TTL_MS [--id ID]

Grants a lease (TTL at least 500 ms) and prints its id. Nothing keeps it alive: run
\`concord lease keepalive ID\` beside it, or it ends after TTL_MS.
  --id ID             choose the lease id yourself
--json prints {id, ttlMs}.`,
  options: { id: { type: 'string' } },
  async run({ positionals, values, globals }, concord) {
    const [ttlText] = expectPositionals(positionals, ['TTL_MS']) as [string];
    const id = optionalString(values, 'id');
    const lease = await concord().leases.grant(positiveInt(ttlText, 'TTL_MS'), id === undefined ? {} : { id });
    if (globals.json) out.json({ id: lease.id, ttlMs: lease.ttlMs });
    else out.line(lease.id);
    return EXIT.ok;
  },
};

const keepalive: Command = {
  summary: 'keep a lease alive until Ctrl-C (or once, with --once)',
  help: `usage: concord lease keepalive ID [--once]

Renews the lease every TTL/3 until Ctrl-C (exit 0; the lease then lives out its TTL), printing
each renewal. Exit 3 if the lease does not exist, 6 if it is lost meanwhile (expired or
revoked). --once renews once and prints the TTL left.
--json prints one JSON object per renewal.`,
  options: { once: { type: 'boolean' } },
  async run({ positionals, values, globals }, concord) {
    const [id] = expectPositionals(positionals, ['ID']) as [string];
    if (values['once'] === true) {
      const status = await concord().leases.keepAliveOnce(id);
      if (globals.json) out.json({ id: status.id, ttlMs: status.ttlMs, remainingMs: status.remainingMs });
      else out.line(`lease ${status.id} renewed, ttl ${status.ttlMs} ms`);
      return EXIT.ok;
    }
    const stop = interruption();
    try {
      const handle = await concord().leases.keepAlive(id, { signal: stop.signal });
      const report = (event: string): void => {
        if (globals.json) out.json({ event, id, ttlMs: handle.ttlMs, safeForMs: Math.round(handle.remainingMs()) });
        else out.line(`${event}: lease ${id}, surely alive for ${Math.round(handle.remainingMs())} ms`);
      };
      report('renewed');
      handle.on('renewed', () => report('renewed'));
      handle.on('jeopardy', () => report('jeopardy'));
      handle.on('safe', () => report('safe'));
      const lost = new Promise<ConcordError>((resolve) => handle.on('lost', resolve));
      const outcome = await Promise.race([lost, aborted(stop.signal).then(() => null)]);
      handle.close();
      if (outcome === null) return EXIT.ok;
      throw outcome;
    } finally {
      stop.dispose();
    }
  },
};

const revoke: Command = {
  summary: 'revoke a lease (its keys are deleted)',
  help: `usage: concord lease revoke ID

Revokes the lease; the keys attached to it are deleted. Exit 3 if it does not exist.
--json prints {revision}.`,
  async run({ positionals, globals }, concord) {
    const [id] = expectPositionals(positionals, ['ID']) as [string];
    const result = await concord().leases.revoke(id);
    if (globals.json) out.json(result);
    else out.line(`revoked lease ${id} (revision ${result.revision})`);
    return EXIT.ok;
  },
};

const show: Command = {
  summary: "a lease's TTL, time left and keys",
  help: `usage: concord lease show ID

Prints the lease's TTL, the time left on the leader's countdown and its keys; exit 3 if it
does not exist. --json prints {id, ttlMs, remainingMs, keys}.`,
  async run({ positionals, globals }, concord) {
    const [id] = expectPositionals(positionals, ['ID']) as [string];
    const info = await concord().leases.timeToLive(id);
    if (info === null) throw new ConcordError('not_found', `lease ${JSON.stringify(id)} not found`, undefined, { lease: id });
    if (globals.json) out.json(info);
    else {
      out.line(`lease ${info.id}: ttl ${info.ttlMs} ms, ${info.remainingMs} ms left`);
      for (const key of info.keys) out.line(`  ${key}`);
    }
    return EXIT.ok;
  },
};

const ls: Command = {
  summary: 'list the leases (a table)',
  help: `usage: concord lease ls

Lists every lease with its TTL and the time left. --json prints [{id, ttlMs, remainingMs}].`,
  async run({ positionals, globals }, concord) {
    expectPositionals(positionals, []);
    const leases = await concord().leases.list();
    if (globals.json) out.json(leases);
    else out.line(table(['ID', 'TTL-MS', 'REMAINING-MS'], leases.map((lease) => [lease.id, lease.ttlMs, lease.remainingMs])));
    return EXIT.ok;
  },
};

export const LEASE_COMMANDS: Readonly<Record<string, Command>> = { grant, keepalive, revoke, show, ls };
