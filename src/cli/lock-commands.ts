/**
 * `concord lock NAME [-- CMD ARGS...]` and `concord lock acquire|release|show`, on the SDK's
 * lock handles. Running a command under a lock: acquire (waiting in line up to --wait-ms), run
 * CMD with the fencing token in CONCORD_LOCK_TOKEN while the handle keeps the lease alive,
 * SIGTERM the command if the handle reports the lock lost (SIGKILL after a grace), release
 * when it exits, and exit with its code.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { ConcordError, type Concord, type LockHandle, type LockOptions } from '../client/index.ts';
import { aborted, EXIT, expectPositionals, interruption, optionalInt, optionalString, out, positiveInt, table, UsageError, type Command, type Parsed } from './common.ts';

/** A waiting acquire or campaign is cut into pieces of at most this (the server caps one wait at 120 s). */
export const WAIT_CHUNK_MS = 60_000;

/**
 * Calls `attempt(waitMs)` until it succeeds or `waitMs` (undefined: forever) is spent; a
 * `locked` answer (or a client timeout) with time left tries again.
 */
export async function waitInLine<T>(waitMs: number | undefined, signal: AbortSignal, attempt: (waitMs: number) => Promise<T>): Promise<T> {
  const deadline = waitMs === undefined ? Infinity : performance.now() + waitMs;
  for (;;) {
    const left = deadline - performance.now();
    const chunk = waitMs === 0 ? 0 : Math.max(1, Math.min(WAIT_CHUNK_MS, Math.round(left)));
    try {
      return await attempt(chunk);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const again = error instanceof ConcordError && (error.code === 'locked' || error.code === 'timeout') && deadline - performance.now() > 0 && waitMs !== 0;
      if (!again) throw error;
    }
  }
}

const ACQUIRE_OPTIONS = {
  'ttl-ms': { type: 'string' },
  'wait-ms': { type: 'string' },
  'lock-delay-ms': { type: 'string' },
  owner: { type: 'string' },
} as const;

const ACQUIRE_HELP = `  --ttl-ms N          TTL of the lock's lease (default 10000); the handle renews it every N/3
  --wait-ms N         wait in line up to N ms (default: forever); 0 tries once (exit 4 if held)
  --lock-delay-ms N   after an involuntary loss, nobody gets the lock for this long
  --owner LABEL       shown as the holder (default concord-cli@<host>:<pid>)`;

async function acquire(concord: Concord, name: string, values: Parsed['values'], signal: AbortSignal, extra: Partial<LockOptions> = {}): Promise<LockHandle> {
  const ttlMs = optionalInt(values, 'ttl-ms');
  const waitMs = optionalInt(values, 'wait-ms', { allowZero: true });
  const lockDelayMs = optionalInt(values, 'lock-delay-ms', { allowZero: true });
  const owner = optionalString(values, 'owner') ?? `concord-cli@${process.env['HOSTNAME'] ?? 'localhost'}:${process.pid}`;
  return waitInLine(waitMs, signal, (chunk) =>
    concord.lock(name, {
      owner,
      signal,
      ...(chunk === 0 ? {} : { waitMs: chunk }),
      ...(ttlMs === undefined || extra.lease !== undefined ? {} : { ttlMs }),
      ...(lockDelayMs === undefined ? {} : { lockDelayMs }),
      ...extra,
    }),
  );
}

function signalNumber(signal: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[signal] ?? 0;
}

/** Runs `argv` holding `lock`; resolves with the exit code to use. */
async function runHolding(lock: LockHandle, argv: readonly string[], endpoints: string, killGraceMs: number): Promise<number> {
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, {
    stdio: 'inherit',
    env: { ...process.env, CONCORD_LOCK_TOKEN: String(lock.token), CONCORD_LOCK_NAME: lock.name, CONCORD_LOCK_LEASE: lock.lease, CONCORD_ENDPOINTS: endpoints },
  });
  let lost = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const onLost = (error: ConcordError): void => {
    lost = true;
    out.warn(`concord lock: ${error.message}; stopping the command (SIGTERM)`);
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), killGraceMs);
  };
  const onJeopardy = (): void => out.warn(`concord lock: keepalives of lock ${JSON.stringify(lock.name)} are failing; ${Math.round(lock.remainingMs())} ms of certainty left`);
  lock.on('lost', onLost);
  lock.on('jeopardy', onJeopardy);
  // On a terminal, Ctrl-C reaches the command itself (same process group); otherwise pass it on.
  const forward = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGINT' && process.stdin.isTTY === true) return;
    child.kill(signal);
  };
  const forwarded: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of forwarded) process.on(signal, forward);
  try {
    return await new Promise<number>((resolve) => {
      child.on('error', (error) => {
        out.warn(`concord lock: cannot run ${JSON.stringify(file)}: ${error.message}`);
        resolve(127);
      });
      child.on('exit', (code, signal) => resolve(code ?? 128 + signalNumber(signal ?? 'SIGTERM')));
    });
  } finally {
    if (killTimer !== undefined) clearTimeout(killTimer);
    for (const signal of forwarded) process.off(signal, forward);
    lock.off('lost', onLost);
    if (!lost) await lock.release().catch((error: unknown) => out.warn(`concord lock: release failed: ${error instanceof Error ? error.message : String(error)}`));
  }
}

export const lockRunCommand: Command = {
  summary: 'run a command holding a lock',
  help: `usage: concord lock NAME [flags] -- CMD [ARGS...]
       concord lock NAME [flags]              (hold until Ctrl-C)

Acquires the lock NAME, then runs CMD with the lock's fencing token in CONCORD_LOCK_TOKEN (and
CONCORD_LOCK_NAME, CONCORD_LOCK_LEASE, CONCORD_ENDPOINTS) while keeping the lock's lease alive,
and releases the lock when CMD exits. If the lock is lost meanwhile (keepalives failed past
the TTL, or the lease is gone) CMD gets SIGTERM, and SIGKILL after --kill-grace-ms. Exits
with CMD's exit code (128+N if a signal N ended it; 127 if it could not be started); before
CMD runs, with the lock commands' codes (4: held, with --wait-ms; 130: Ctrl-C while waiting).
Without CMD: prints the token and holds the lock until Ctrl-C (exit 0), or exit 6 if lost.
Give fenced writes the token: \`concord put KEY VALUE --fence-lock NAME\` reads it from
CONCORD_LOCK_TOKEN. (A lock named like a subcommand — acquire, release, show — cannot use
this form.)
${ACQUIRE_HELP}
  --kill-grace-ms N   after SIGTERM on a lost lock, SIGKILL after N ms (default 5000)`,
  options: { ...ACQUIRE_OPTIONS, 'kill-grace-ms': { type: 'string' } },
  passThrough: true,
  async run(parsed, concord) {
    const { positionals, values, globals, rest } = parsed;
    const [name] = expectPositionals(positionals, ['NAME']) as [string];
    const killGraceMs = optionalInt(values, 'kill-grace-ms', { allowZero: true }) ?? 5_000;
    const hasCommand = rest.length > 0;
    if (!hasCommand && process.argv.slice(2).includes('--')) throw new UsageError('missing CMD after --');
    const stop = interruption();
    let lock: LockHandle;
    try {
      lock = await acquire(concord(), name, values, stop.signal);
    } finally {
      if (hasCommand) stop.dispose();
    }
    if (hasCommand) return runHolding(lock, rest, globals.endpoints, killGraceMs);
    try {
      if (globals.json) out.json({ name, token: lock.token, lease: lock.lease, owner: lock.owner });
      else out.line(`holding lock ${name} with token ${lock.token} (lease ${lock.lease}); Ctrl-C releases it`);
      const lostPromise = new Promise<ConcordError>((resolve) => lock.on('lost', resolve));
      const outcome = await Promise.race([lostPromise, aborted(stop.signal).then(() => null)]);
      if (outcome !== null) throw outcome;
      await lock.release();
      return EXIT.ok;
    } finally {
      stop.dispose();
    }
  },
};

const acquireCommand: Command = {
  summary: 'acquire a lock, print its token and exit (it lives on its lease)',
  help: `usage: concord lock acquire NAME [--lease ID | --ttl-ms N] [flags]

Acquires the lock, prints its fencing token and exits WITHOUT releasing it: the lock lives as
long as its lease. With --lease ID it is held on your lease (keep it alive with \`concord lease
keepalive ID\`); otherwise on a new lease of --ttl-ms that nothing renews, so it ends after
the TTL unless released first with \`concord lock release NAME --token T\`.
${ACQUIRE_HELP}
  --lease ID          hold the lock on this existing lease
--json prints {name, token, lease, owner}.`,
  options: { ...ACQUIRE_OPTIONS, lease: { type: 'string' } },
  async run({ positionals, values, globals }, concord) {
    const [name] = expectPositionals(positionals, ['NAME']) as [string];
    const leaseId = optionalString(values, 'lease');
    if (leaseId !== undefined && values['ttl-ms'] !== undefined) throw new UsageError('give --lease or --ttl-ms, not both');
    const stop = interruption();
    try {
      const lease = leaseId === undefined ? undefined : await concord().leases.keepAlive(leaseId, { signal: stop.signal });
      const lock = await acquire(concord(), name, values, stop.signal, lease === undefined ? {} : { lease });
      if (globals.json) out.json({ name, token: lock.token, lease: lock.lease, owner: lock.owner });
      else out.line(`acquired lock ${name}: token ${lock.token}, lease ${lock.lease}`);
      // Deliberately neither released nor its lease revoked: the process exits next.
      return EXIT.ok;
    } finally {
      stop.dispose();
    }
  },
};

const releaseCommand: Command = {
  summary: 'release a lock held with TOKEN',
  help: `usage: concord lock release NAME --token N

Releases the lock if N is the token holding it; exit 4 (stale_token) if another token holds
it, 3 if nobody does. The lock's lease is not revoked. --token defaults to $CONCORD_LOCK_TOKEN.`,
  options: { token: { type: 'string' } },
  async run({ positionals, values, globals }, concord) {
    const [name] = expectPositionals(positionals, ['NAME']) as [string];
    const tokenText = optionalString(values, 'token') ?? process.env['CONCORD_LOCK_TOKEN'];
    if (tokenText === undefined) throw new UsageError('--token is required');
    const token = positiveInt(tokenText, '--token');
    // The SDK releases through a handle; a token from another process has none, so this goes
    // through the SDK's call engine (failover, retries, idempotency) directly.
    const answer = await concord().core.call<Record<string, unknown>>({ method: 'POST', path: `/v1/locks/${encodeURIComponent(name)}/release`, body: { token } });
    if (globals.json) out.json({ name, token, ...answer.body });
    else out.line(`released lock ${name} (token ${token})`);
    return EXIT.ok;
  },
};

const showCommand: Command = {
  summary: "a lock's holder, waiters and recent holders",
  help: `usage: concord lock show NAME

Prints the holder (owner, token, lease), how many wait, and the last holders with why each
ended. --json prints the SDK's LockView.`,
  async run({ positionals, globals }, concord) {
    const [name] = expectPositionals(positionals, ['NAME']) as [string];
    const view = await concord().describeLock(name);
    if (globals.json) {
      out.json(view);
      return EXIT.ok;
    }
    out.line(view.holder === undefined ? `lock ${name}: free` : `lock ${name}: held by ${view.holder.owner} (token ${view.holder.token}, lease ${view.holder.lease})`);
    out.line(`waiters: ${view.waiters}${view.lockDelayed === true ? '  (lock-delay in force)' : ''}`);
    if (view.recent.length > 0) {
      out.line();
      out.line(table(['RECENT OWNER', 'TOKEN', 'ENDED AT REV', 'REASON'], view.recent.map((holder) => [holder.owner, holder.token, holder.endedRevision, holder.reason])));
    }
    return EXIT.ok;
  },
};

export const LOCK_COMMANDS: Readonly<Record<string, Command>> = { acquire: acquireCommand, release: releaseCommand, show: showCommand };
