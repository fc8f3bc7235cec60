/**
 * The client commands of `concord`, by name, each built on the SDK (src/client).
 */
import { AUTH_SUMMARY, runAuthCommand } from './auth-commands.ts';
import { MEMBERS_COMMANDS, membersListCommand, transferLeaderCommand } from './cluster-commands.ts';
import { runCommand, runGroup, type Command } from './common.ts';
import { delCommand, getCommand, lsCommand, putCommand, txnCommand, watchCommand } from './kv-commands.ts';
import { electCommand, SERVICES_COMMANDS } from './elect-services-commands.ts';
import { LEASE_COMMANDS } from './lease-commands.ts';
import { LOCK_COMMANDS, lockRunCommand } from './lock-commands.ts';
import { SNAPSHOT_COMMANDS } from './snapshot-commands.ts';
import { statusCommand } from './status-command.ts';

interface Entry {
  readonly summary: string;
  run(argv: readonly string[]): Promise<number>;
}

function single(name: string, command: Command): Entry {
  return { summary: command.summary, run: (argv) => runCommand(name, command, argv) };
}

function group(name: string, summary: string, commands: Readonly<Record<string, Command>>, fallback?: Command): Entry {
  return { summary, run: (argv) => runGroup(name, summary, commands, argv, fallback) };
}

const COMMANDS: Readonly<Record<string, Entry>> = {
  status: single('status', statusCommand),
  members: group('members', 'the members, leader marked (members [ls]); add, promote, remove', MEMBERS_COMMANDS, membersListCommand),
  'transfer-leader': single('transfer-leader', transferLeaderCommand),
  put: single('put', putCommand),
  get: single('get', getCommand),
  del: single('del', delCommand),
  ls: single('ls', lsCommand),
  watch: single('watch', watchCommand),
  txn: single('txn', txnCommand),
  lease: group('lease', 'leases: grant, keepalive, revoke, show, ls', LEASE_COMMANDS),
  lock: group('lock', 'run a command holding a lock (lock NAME -- CMD); acquire, release, show', LOCK_COMMANDS, lockRunCommand),
  elect: single('elect', electCommand),
  services: group('services', 'the service registry: register, deregister, ls, get, watch', SERVICES_COMMANDS),
  auth: { summary: AUTH_SUMMARY, run: runAuthCommand },
  snapshot: group('snapshot', 'backups: save (download), status (verify a file), restore (seed a new data dir)', SNAPSHOT_COMMANDS),
};

export function isClientCommand(name: string): boolean {
  return Object.hasOwn(COMMANDS, name);
}

export function runClientCommand(name: string, argv: readonly string[]): Promise<number> {
  const entry = COMMANDS[name];
  if (entry === undefined) throw new Error(`no client command ${name}`);
  return entry.run(argv);
}

export function clientCommandsHelp(): string {
  return Object.entries(COMMANDS)
    .map(([name, entry]) => `  ${name.padEnd(14)} ${entry.summary}`)
    .join('\n');
}
