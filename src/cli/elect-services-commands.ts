/**
 * `concord elect NAME VALUE` / `elect --observe NAME` / `elect --leader NAME`, and `concord
 * services register|deregister|ls|get|watch`, on the SDK's Election and RegistryClient.
 */
import { ConcordError, type Instance, type InstanceStatus, type ServiceView } from '../client/index.ts';
import { aborted, EXIT, expectPositionals, interruption, optionalInt, optionalString, out, positiveInt, table, UsageError, type Command } from './common.ts';
import { waitInLine } from './lock-commands.ts';

export const electCommand: Command = {
  summary: 'campaign and hold leadership until Ctrl-C; or --observe / --leader',
  help: `usage: concord elect NAME VALUE [--ttl-ms N] [--wait-ms N]
       concord elect --observe NAME
       concord elect --leader NAME

NAME VALUE: campaigns in election NAME with VALUE (waiting in line up to --wait-ms, default
forever), prints the leadership token, keeps the lease alive and holds leadership until
Ctrl-C, then resigns (exit 0). Exit 6 if leadership is lost meanwhile, 4 if not elected
within --wait-ms.
  --ttl-ms N          TTL of the leadership's lease (default 10000)
  --wait-ms N         how long to wait in line (default: forever; 0 tries once)
--observe prints the leader now and at every change until Ctrl-C ("(none)" when nobody leads).
--leader prints the current leader once (exit 3 if nobody leads).
--json prints {name, value, token, lease} / one {leader?, revision} per change.`,
  options: { observe: { type: 'boolean' }, leader: { type: 'boolean' }, 'ttl-ms': { type: 'string' }, 'wait-ms': { type: 'string' } },
  async run({ positionals, values, globals }, concord) {
    if (values['observe'] === true && values['leader'] === true) throw new UsageError('give --observe or --leader, not both');
    if (values['leader'] === true) {
      const [name] = expectPositionals(positionals, ['NAME']) as [string];
      const leader = await concord().election(name).leader();
      if (leader === null) throw new ConcordError('not_found', `election ${JSON.stringify(name)} has no leader`, undefined, { election: name });
      if (globals.json) out.json({ name, ...leader });
      else out.line(`${leader.value}  (token ${leader.token}, lease ${leader.lease})`);
      return EXIT.ok;
    }
    const stop = interruption();
    try {
      if (values['observe'] === true) {
        const [name] = expectPositionals(positionals, ['NAME']) as [string];
        for await (const change of concord().election(name).observe({ signal: stop.signal })) {
          if (globals.json) out.json(change);
          else out.line(change.leader === undefined ? `(none)  at rev ${change.revision}` : `${change.leader.value}  (token ${change.leader.token}) at rev ${change.revision}`);
        }
        return EXIT.ok;
      }
      const [name, value] = expectPositionals(positionals, ['NAME', 'VALUE']) as [string, string];
      const ttlMs = optionalInt(values, 'ttl-ms');
      const waitMs = optionalInt(values, 'wait-ms', { allowZero: true });
      const election = concord().election(name);
      const leadership = await waitInLine(waitMs, stop.signal, (chunk) =>
        election.campaign(value, { signal: stop.signal, ...(chunk === 0 ? {} : { waitMs: chunk }), ...(ttlMs === undefined ? {} : { ttlMs }) }),
      );
      if (globals.json) out.json({ name, value, token: leadership.token, lease: leadership.lease });
      else out.line(`elected: ${name} = ${value} (token ${leadership.token}, lease ${leadership.lease}); Ctrl-C resigns`);
      leadership.on('jeopardy', () => out.warn(`concord elect: keepalives are failing; ${Math.round(leadership.remainingMs())} ms of certainty left`));
      const lost = new Promise<ConcordError>((resolve) => leadership.on('lost', resolve));
      const outcome = await Promise.race([lost, aborted(stop.signal).then(() => null)]);
      if (outcome !== null) throw outcome;
      await leadership.resign();
      return EXIT.ok;
    } finally {
      stop.dispose();
    }
  },
};

const STATUSES = new Set(['passing', 'warning', 'critical']);

function statusFilter(value: string | undefined): InstanceStatus | undefined {
  if (value === undefined) return undefined;
  if (!STATUSES.has(value)) throw new UsageError(`--status must be passing, warning or critical, got ${JSON.stringify(value)}`);
  return value as InstanceStatus;
}

function instancesTable(instances: readonly Instance[]): string {
  return table(
    ['ID', 'ADDRESS', 'PORT', 'STATUS', 'TAGS', 'META', 'NOTE'],
    instances.map((instance) => [
      instance.id,
      instance.address,
      instance.port,
      instance.status,
      instance.tags.join(','),
      Object.entries(instance.meta).map(([key, value]) => `${key}=${value}`).join(','),
      instance.note,
    ]),
  );
}

const FILTER_OPTIONS = { status: { type: 'string' }, tag: { type: 'string' } } as const;

function filters(values: Record<string, unknown>): { status?: InstanceStatus; tag?: string } {
  const status = statusFilter(typeof values['status'] === 'string' ? values['status'] : undefined);
  const tag = typeof values['tag'] === 'string' ? values['tag'] : undefined;
  return { ...(status === undefined ? {} : { status }), ...(tag === undefined ? {} : { tag }) };
}

const register: Command = {
  summary: 'register an instance and heartbeat it until Ctrl-C',
  help: `usage: concord services register SERVICE ID --address HOST --port N [flags]

Registers the instance, heartbeats it every TTL/3 and keeps it registered until Ctrl-C, then
deregisters it (exit 0). If it expired meanwhile it is registered again.
  --address HOST      the instance's address (required)
  --port N            its port (required)
  --tag T             a tag (repeatable)
  --meta K=V          metadata (repeatable)
  --ttl-ms N          TTL of the instance's lease (default 10000)
  --status S          initial health status: passing (default), warning, critical
--json prints {service, id, lease, revision}, then one line per event.`,
  options: { address: { type: 'string' }, port: { type: 'string' }, tag: { type: 'string', multiple: true }, meta: { type: 'string', multiple: true }, 'ttl-ms': { type: 'string' }, status: { type: 'string' } },
  async run({ positionals, values, globals }, concord) {
    const [service, id] = expectPositionals(positionals, ['SERVICE', 'ID']) as [string, string];
    const address = optionalString(values, 'address');
    const portText = optionalString(values, 'port');
    if (address === undefined || portText === undefined) throw new UsageError('--address and --port are required');
    const port = positiveInt(portText, '--port');
    const meta: Record<string, string> = {};
    for (const pair of (values['meta'] as string[] | undefined) ?? []) {
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`--meta wants KEY=VALUE, got ${JSON.stringify(pair)}`);
      meta[pair.slice(0, at)] = pair.slice(at + 1);
    }
    const ttlMs = optionalInt(values, 'ttl-ms');
    const status = statusFilter(optionalString(values, 'status'));
    const stop = interruption();
    try {
      const registration = await concord().registry.register({
        service,
        id,
        address,
        port,
        tags: (values['tag'] as string[] | undefined) ?? [],
        meta,
        ...(ttlMs === undefined ? {} : { ttlMs }),
        signal: stop.signal,
      });
      if (status !== undefined && status !== 'passing') await registration.setStatus(status);
      if (globals.json) out.json({ service, id, lease: registration.lease, revision: registration.revision });
      else out.line(`registered ${service}/${id} (lease ${registration.lease}); Ctrl-C deregisters`);
      registration.on('reregistered', ({ lease }) => (globals.json ? out.json({ event: 'reregistered', lease }) : out.warn(`concord services: ${service}/${id} had expired; registered again (lease ${lease})`)));
      registration.on('failure', (error) => (globals.json ? out.json({ event: 'failure', code: error.code, message: error.message }) : out.warn(`concord services: heartbeat failed: ${error.message}`)));
      await aborted(stop.signal);
      await registration.deregister();
      return EXIT.ok;
    } finally {
      stop.dispose();
    }
  },
};

const deregister: Command = {
  summary: 'remove an instance',
  help: `usage: concord services deregister SERVICE ID

Removes the instance (its own lease is revoked with it); exit 3 if it is not registered.`,
  async run({ positionals, globals }, concord) {
    const [service, id] = expectPositionals(positionals, ['SERVICE', 'ID']) as [string, string];
    // The SDK deregisters through a Registration handle; an instance registered by another
    // process has none, so this goes through the SDK's call engine directly.
    const answer = await concord().core.call<Record<string, unknown>>({ method: 'DELETE', path: `/v1/services/${encodeURIComponent(service)}/instances/${encodeURIComponent(id)}` });
    if (globals.json) out.json({ service, id, ...answer.body });
    else out.line(`deregistered ${service}/${id}`);
    return EXIT.ok;
  },
};

const ls: Command = {
  summary: 'list services with instance counts',
  help: `usage: concord services ls

Lists the services that have instances, with how many and how many are passing.
--json prints [{name, instances, passing}].`,
  async run({ positionals, globals }, concord) {
    expectPositionals(positionals, []);
    const services = await concord().registry.services();
    if (globals.json) out.json(services);
    else out.line(table(['SERVICE', 'INSTANCES', 'PASSING'], services.map((service) => [service.name, service.instances, service.passing])));
    return EXIT.ok;
  },
};

const get: Command = {
  summary: "a service's instances (a table)",
  help: `usage: concord services get SERVICE [--status S] [--tag T]

Lists the service's instances, filtered by health status and tag. --json prints {revision, instances}.`,
  options: FILTER_OPTIONS,
  async run({ positionals, values, globals }, concord) {
    const [service] = expectPositionals(positionals, ['SERVICE']) as [string];
    const view = await concord().registry.discover(service, filters(values));
    if (globals.json) out.json(view);
    else out.line(instancesTable(view.instances));
    return EXIT.ok;
  },
};

const watch: Command = {
  summary: "print a service's instances at every change until Ctrl-C",
  help: `usage: concord services watch SERVICE [--status S] [--tag T] [--sse]

Prints the instance list now and after every change, until Ctrl-C (exit 0). It follows
blocking queries (default) or, with --sse, the node's event stream.
--json prints one {revision, instances} per change.`,
  options: { ...FILTER_OPTIONS, sse: { type: 'boolean' } },
  async run({ positionals, values, globals }, concord) {
    const [service] = expectPositionals(positionals, ['SERVICE']) as [string];
    const stop = interruption();
    try {
      const views: AsyncGenerator<ServiceView> = concord().registry.watch(service, { ...filters(values), signal: stop.signal, ...(values['sse'] === true ? { via: 'sse' as const } : {}) });
      for await (const view of views) {
        if (globals.json) out.json(view);
        else {
          out.line(`revision ${view.revision}: ${view.instances.length} instance(s)`);
          if (view.instances.length > 0) out.line(instancesTable(view.instances));
        }
      }
      return EXIT.ok;
    } finally {
      stop.dispose();
    }
  },
};

export const SERVICES_COMMANDS: Readonly<Record<string, Command>> = { register, deregister, ls, get, watch };
