/**
 * What every client command of `concord` shares: the global flags (`--endpoints`, `--json`,
 * `--timeout-ms`, `--help`), flag parsing on node:util parseArgs, the exit codes by error class,
 * output (tables for people, JSON for scripts, colour only on a TTY), and Ctrl-C as an
 * AbortSignal. Every command talks to the cluster through the SDK (src/client).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { Concord, ConcordError } from '../client/index.ts';
import { BackupFormatError } from '../maintenance/backup-format.ts';
import { readCertificateFile, readKeyFile } from '../tls/tls-files.ts';

/** Exit codes by error class (docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** Anything else: internal errors, unexpected failures. */
  error: 1,
  /** Bad flags or arguments (also the server's invalid_argument and payload_too_large). */
  usage: 2,
  /** The key, lease, lock holder, service or instance does not exist. */
  notFound: 3,
  /** A condition did not hold: compare_failed, stale_token, locked, a txn whose compares failed. */
  conflict: 4,
  /** The cluster could not answer: unavailable, no_leader, timeout, overloaded. */
  unavailable: 5,
  /** A lease, lock or leadership the command held was lost. */
  lost: 6,
  /** A backup file is corrupt, truncated, not a backup, or of a newer format (snapshot commands). */
  badBackup: 7,
  /** The cluster refused who we are: no or a bad token (unauthenticated), or too few permissions. */
  denied: 8,
  /** Ctrl-C while waiting (a lock, a campaign). */
  interrupted: 130,
} as const;

export const DEFAULT_ENDPOINTS = 'http://127.0.0.1:7001,http://127.0.0.1:7002,http://127.0.0.1:7003';

export class UsageError extends Error {}

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof BackupFormatError) return EXIT.badBackup;
  if (!(error instanceof ConcordError)) return EXIT.error;
  switch (error.code) {
    case 'invalid_argument':
    case 'payload_too_large':
      return EXIT.usage;
    case 'not_found':
      return EXIT.notFound;
    case 'compare_failed':
    case 'stale_token':
    case 'locked':
      return EXIT.conflict;
    case 'unavailable':
    case 'no_leader':
    case 'timeout':
    case 'overloaded':
      return EXIT.unavailable;
    case 'lock_lost':
    case 'lease_lost':
      return EXIT.lost;
    case 'unauthenticated':
    case 'permission_denied':
      return EXIT.denied;
    case 'aborted':
      return EXIT.interrupted;
    default:
      return EXIT.error;
  }
}

const GLOBAL_OPTIONS = {
  endpoints: { type: 'string' },
  json: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
  // The bearer token (--auth clusters). `--token` is its name everywhere but in the commands that
  // have a `--token` of their own (the fencing token of `put`, `lock release`): there, give it
  // before the command (`concord --token T put ...`, hoisted as --auth-token) or as --auth-token.
  token: { type: 'string' },
  'auth-token': { type: 'string' },
  cacert: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

export const GLOBAL_FLAGS_HELP = `global flags:
  --endpoints URL,...   client URLs of the nodes (default $CONCORD_ENDPOINTS, else
                        ${DEFAULT_ENDPOINTS})
  --json                machine output: JSON on stdout (one object per line for streams),
                        errors as {"error":{code,message,...}} on stderr
  --timeout-ms N        deadline of each call, retries included (default 5000)
  --token TOKEN         bearer token for a cluster running --auth (default $CONCORD_TOKEN;
                        prefer the variable: a flag shows in the process list). put and
                        lock release have a --token of their own (the fencing token): give
                        the bearer token before the command there, or as --auth-token
  --cacert FILE         CA bundle to trust for https:// endpoints (default $CONCORD_CACERT)
  --cert FILE, --key FILE
                        client certificate and key, for a cluster that requires them
                        (--client-ca); default $CONCORD_CERT, $CONCORD_KEY
  -h, --help            help for the command`;

const TLS_FLAGS: ReadonlySet<string> = new Set(['--cacert', '--cert', '--key', '--auth-token']);

/** Splits `concord [global flags] command ...` so the command sees its global flags too. */
export function hoistGlobalFlags(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let index = 0;
  while (index < argv.length) {
    const arg = argv[index] ?? '';
    if (arg === '--json') {
      leading.push(arg);
      index += 1;
    } else if (arg === '--token') {
      // Before the command, --token is always the bearer token (a command's own --token is not).
      leading.push('--auth-token', argv[index + 1] ?? '');
      index += 2;
    } else if (arg.startsWith('--token=')) {
      leading.push(`--auth-token=${arg.slice('--token='.length)}`);
      index += 1;
    } else if (arg === '--endpoints' || arg === '--timeout-ms' || TLS_FLAGS.has(arg)) {
      leading.push(arg, argv[index + 1] ?? '');
      index += 2;
    } else if (arg.startsWith('--endpoints=') || arg.startsWith('--timeout-ms=') || TLS_FLAGS.has(arg.split('=')[0] ?? '')) {
      leading.push(arg);
      index += 1;
    } else {
      break;
    }
  }
  if (leading.length === 0) return [...argv];
  const rest = argv.slice(index);
  const terminator = rest.indexOf('--');
  return terminator < 0 ? [...rest, ...leading] : [...rest.slice(0, terminator), ...leading, ...rest.slice(terminator)];
}

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly positionals: string[];
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly globals: Globals;
  /** With `Command.passThrough`: the arguments after `--`, untouched. */
  readonly rest: string[];
}

export interface Globals {
  readonly endpoints: string;
  readonly json: boolean;
  readonly timeoutMs: number | undefined;
  readonly help: boolean;
  /** --token or CONCORD_TOKEN: sent as `authorization: Bearer`; absent = none. */
  readonly token?: string;
  /** PEM text read from --cacert/--cert/--key (or CONCORD_CACERT/_CERT/_KEY); absent = defaults. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

/** parseArgs with the global flags added; unknown flags and bad values are UsageErrors. */
export function parse(argv: readonly string[], options: OptionsConfig = {}, passThrough = false): Parsed {
  const terminator = passThrough ? argv.indexOf('--') : -1;
  const own = terminator < 0 ? argv : argv.slice(0, terminator);
  const rest = terminator < 0 ? [] : argv.slice(terminator + 1);
  let result;
  try {
    result = parseArgs({ args: [...own], options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error));
  }
  const values = result.values as Parsed['values'];
  const timeout = values['timeout-ms'];
  const globals: Globals = {
    endpoints: typeof values['endpoints'] === 'string' ? values['endpoints'] : (process.env['CONCORD_ENDPOINTS'] || DEFAULT_ENDPOINTS),
    json: values['json'] === true,
    timeoutMs: typeof timeout === 'string' ? positiveInt(timeout, '--timeout-ms') : undefined,
    help: values['help'] === true,
    ...tokenOf(values, options),
    ...clientTlsOf(values),
  };
  return { positionals: result.positionals, values, globals, rest };
}

/**
 * The bearer token: --auth-token, else --token (unless the command has a --token of its own),
 * else CONCORD_TOKEN (an empty variable is none).
 */
function tokenOf(values: Parsed['values'], commandOptions: OptionsConfig): Pick<Globals, 'token'> {
  const explicit = values['auth-token'];
  const plain = Object.hasOwn(commandOptions, 'token') ? undefined : values['token'];
  const token = typeof explicit === 'string' ? explicit : typeof plain === 'string' ? plain : process.env['CONCORD_TOKEN'];
  if (token === undefined || token === '') return {};
  if (/\s/.test(token)) throw new UsageError('--token must not contain whitespace');
  return { token };
}

/** The TLS files of the flags or their CONCORD_* twins, read now so a bad path is a usage error. */
function clientTlsOf(values: Parsed['values']): Pick<Globals, 'tls'> {
  const pathOf = (flag: string): string | undefined => {
    const value = values[flag];
    const fromEnv = process.env[`CONCORD_${flag.toUpperCase()}`];
    return typeof value === 'string' ? value : fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const [caPath, certPath, keyPath] = [pathOf('cacert'), pathOf('cert'), pathOf('key')];
  if ((certPath === undefined) !== (keyPath === undefined)) throw new UsageError('--cert and --key must be given together');
  if (caPath === undefined && certPath === undefined) return {};
  try {
    return {
      tls: {
        ...(caPath === undefined ? {} : { ca: readCertificateFile(caPath, 'cacert') }),
        ...(certPath === undefined ? {} : { cert: readCertificateFile(certPath, 'cert') }),
        ...(keyPath === undefined ? {} : { key: readKeyFile(keyPath, 'key') }),
      },
    };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

export function positiveInt(text: string, what: string, { allowZero = false } = {}): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || (!allowZero && value === 0)) {
    throw new UsageError(`${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${JSON.stringify(text)}`);
  }
  return value;
}

export function optionalInt(values: Parsed['values'], name: string, opts: { allowZero?: boolean } = {}): number | undefined {
  const value = values[name];
  return typeof value === 'string' ? positiveInt(value, `--${name}`, opts) : undefined;
}

export function optionalString(values: Parsed['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Exactly these positionals (names for the message). */
export function expectPositionals(positionals: readonly string[], names: readonly string[], optional: readonly string[] = []): string[] {
  if (positionals.length < names.length) throw new UsageError(`missing ${names.slice(positionals.length).join(' ')}`);
  if (positionals.length > names.length + optional.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length + optional.length])}`);
  }
  return [...positionals];
}

export function connect(globals: Globals): Concord {
  const endpoints = globals.endpoints.split(',').map((endpoint) => endpoint.trim()).filter((endpoint) => endpoint !== '');
  if (endpoints.length === 0) throw new UsageError('--endpoints is empty');
  return new Concord({
    endpoints,
    ...(globals.timeoutMs === undefined ? {} : { timeoutMs: globals.timeoutMs }),
    ...(globals.token === undefined ? {} : { token: globals.token }),
    ...(globals.tls === undefined ? {} : { tls: globals.tls }),
  });
}

/** Colours, only when stdout (or stderr) is a TTY and NO_COLOR is unset. */
export function colours(stream: NodeJS.WriteStream): { bold(t: string): string; red(t: string): string; green(t: string): string; yellow(t: string): string; dim(t: string): string } {
  const on = stream.isTTY === true && process.env['NO_COLOR'] === undefined && process.env['TERM'] !== 'dumb';
  const wrap = (code: number, reset: number) => (text: string): string => (on ? `\x1b[${code}m${text}\x1b[${reset}m` : text);
  return { bold: wrap(1, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), dim: wrap(2, 22) };
}

export const out = {
  line(text = ''): void {
    process.stdout.write(`${text}\n`);
  },
  json(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value)}\n`);
  },
  warn(text: string): void {
    process.stderr.write(`${text}\n`);
  },
};

/** A table: header in bold on a TTY, columns padded, cells made printable. */
export function table(header: readonly string[], rows: readonly (readonly (string | number | boolean | undefined)[])[]): string {
  const c = colours(process.stdout);
  const cells = rows.map((row) => row.map((cell) => (cell === undefined ? '' : printable(String(cell)))));
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => (row[column] ?? '').length)));
  const format = (row: readonly string[]): string => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd();
  return [c.bold(format(header)), ...cells.map(format)].join('\n');
}

/** Control characters escaped, long values shortened (tables only; --json has them whole). */
export function printable(text: string, max = 60): string {
  // eslint-disable-next-line no-control-regex
  const escaped = text.replace(/[\x00-\x1f\x7f]/g, (char) => JSON.stringify(char).slice(1, -1));
  return escaped.length > max ? `${escaped.slice(0, max - 1)}…` : escaped;
}

/** Reports an error on stderr in the output mode; returns the exit code. */
export function report(command: string, error: unknown, json: boolean): number {
  const code = exitCodeFor(error);
  if (error instanceof UsageError) {
    if (json) process.stderr.write(`${JSON.stringify({ error: { code: 'usage', message: error.message } })}\n`);
    else process.stderr.write(`concord ${command}: ${error.message}\n(run \`concord ${command} --help\`)\n`);
    return code;
  }
  if (error instanceof BackupFormatError) {
    if (json) process.stderr.write(`${JSON.stringify({ error: { code: error.problem, message: error.message } })}\n`);
    else process.stderr.write(`${colours(process.stderr).red(`concord ${command}: ${error.message}`)} (${error.problem})\n`);
    return code;
  }
  if (error instanceof ConcordError) {
    if (json) process.stderr.write(`${JSON.stringify({ error: { code: error.code, message: error.message, ...error.details } })}\n`);
    else {
      const details = Object.keys(error.details).length === 0 ? '' : ` ${JSON.stringify(error.details)}`;
      process.stderr.write(`${colours(process.stderr).red(`concord ${command}: ${error.message}`)} (${error.code})${details}\n`);
    }
    return code;
  }
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  if (json) process.stderr.write(`${JSON.stringify({ error: { code: 'internal', message: String(error) } })}\n`);
  else process.stderr.write(`concord ${command}: ${message}\n`);
  return code;
}

/**
 * Ctrl-C (SIGINT) and SIGTERM as an AbortSignal, for commands that run until stopped. A second
 * Ctrl-C exits at once (130).
 */
export function interruption(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort(new ConcordError('aborted', `interrupted (${name})`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** Resolves when the signal fires. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** A command: its help text, its flags, and what it does (returns the exit code). */
export interface Command {
  readonly summary: string;
  readonly help: string;
  readonly options?: OptionsConfig;
  /** Everything after `--` is the command's, not parsed (`lock NAME -- CMD ARGS...`). */
  readonly passThrough?: boolean;
  run(parsed: Parsed, concord: () => Concord): Promise<number>;
}

/** Runs a command: parses, prints help on --help, connects lazily, reports errors, closes. */
export async function runCommand(name: string, command: Command, argv: readonly string[]): Promise<number> {
  const own = command.passThrough === true && argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  let json = own.includes('--json');
  let concord: Concord | null = null;
  try {
    const parsed = parse(argv, command.options, command.passThrough === true);
    json = parsed.globals.json;
    if (parsed.globals.help) {
      process.stdout.write(`${command.help.trimEnd()}\n\n${GLOBAL_FLAGS_HELP}\n`);
      return EXIT.ok;
    }
    return await command.run(parsed, () => (concord ??= connect(parsed.globals)));
  } catch (error) {
    return report(name, error, json);
  } finally {
    const client = concord as Concord | null;
    await client?.close().catch(() => undefined);
  }
}

/** A group of subcommands (`lease grant`, `lock show`, ...). */
export async function runGroup(group: string, summary: string, commands: Readonly<Record<string, Command>>, argv: readonly string[], fallback?: Command): Promise<number> {
  const [sub, ...rest] = argv;
  const groupHelp = (): string =>
    `${summary}\n\nusage: concord ${group} <command> [flags]\n\ncommands:\n${Object.entries(commands)
      .map(([name, command]) => `  ${name.padEnd(12)} ${command.summary}`)
      .join('\n')}${fallback === undefined ? '' : `\n\n${fallback.help.trimEnd()}`}\n\n${GLOBAL_FLAGS_HELP}\n`;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    if (sub === undefined && fallback === undefined) {
      process.stderr.write(groupHelp());
      return EXIT.usage;
    }
    process.stdout.write(groupHelp());
    return sub === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = Object.hasOwn(commands, sub) ? commands[sub] : undefined;
  if (command !== undefined) return runCommand(`${group} ${sub}`, command, rest);
  if (fallback !== undefined) return runCommand(group, fallback, argv);
  return report(group, new UsageError(`unknown command ${JSON.stringify(sub)}`), argv.includes('--json'));
}
