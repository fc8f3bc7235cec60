/**
 * `concord put|get|del|ls|watch|txn`: keys and values through the SDK's KvClient.
 */
import { readFileSync } from 'node:fs';
import { ConcordError, type Compare, type CompareOperator, type Fence, type KeyValue, type TxnOp, type WatchEvent } from '../client/index.ts';
import { EXIT, expectPositionals, interruption, optionalInt, optionalString, out, positiveInt, printable, table, UsageError, type Command, type Parsed } from './common.ts';

function fenceOf(values: Parsed['values']): Fence | undefined {
  const lock = optionalString(values, 'fence-lock');
  const election = optionalString(values, 'fence-election');
  if (lock !== undefined && election !== undefined) throw new UsageError('give --fence-lock or --fence-election, not both');
  const tokenText = optionalString(values, 'token') ?? (lock === undefined ? undefined : process.env['CONCORD_LOCK_TOKEN']);
  if (lock === undefined && election === undefined) {
    if (tokenText !== undefined && values['token'] !== undefined) throw new UsageError('--token needs --fence-lock or --fence-election');
    return undefined;
  }
  if (tokenText === undefined) throw new UsageError('a fenced write needs --token (or $CONCORD_LOCK_TOKEN)');
  const token = positiveInt(tokenText, '--token');
  return lock !== undefined ? { lock, token } : { election: election as string, token };
}

export const putCommand: Command = {
  summary: 'write a key',
  help: `usage: concord put KEY VALUE [--lease ID] [--if-revision N]

Writes VALUE to KEY (use \`--\` before a VALUE that starts with "-").
  --lease ID          attach the key to a lease: it is deleted when the lease ends
  --if-revision N     only if the key's modRevision is N (0: only if the key is absent);
                      else exit 4 (compare_failed)
  --fence-lock NAME   a fenced write: applies only while --token (default
                      $CONCORD_LOCK_TOKEN, as \`concord lock NAME -- CMD\` sets it) holds
                      lock NAME; else exit 4 (stale_token)
  --fence-election NAME  the same for a leadership token of election NAME
  --token N           the fencing token
Prints the revision of the write (--json: {revision, prev?}).`,
  options: { lease: { type: 'string' }, 'if-revision': { type: 'string' }, 'fence-lock': { type: 'string' }, 'fence-election': { type: 'string' }, token: { type: 'string' } },
  async run({ positionals, values, globals }, concord) {
    const [key, value] = expectPositionals(positionals, ['KEY', 'VALUE']) as [string, string];
    const lease = optionalString(values, 'lease');
    const ifRevision = optionalInt(values, 'if-revision', { allowZero: true });
    const fence = fenceOf(values);
    const result = await concord().kv.put(key, value, { ...(lease === undefined ? {} : { lease }), ...(ifRevision === undefined ? {} : { ifRevision }), ...(fence === undefined ? {} : { fence }) });
    if (globals.json) out.json(result);
    else out.line(`OK revision ${result.revision}`);
    return EXIT.ok;
  },
};

export const getCommand: Command = {
  summary: 'read a key (its value; --json for the whole record)',
  help: `usage: concord get KEY [--serializable]

Prints KEY's value followed by a newline; exit 3 if the key does not exist.
  --serializable      read this node's state as is (may be stale) instead of a linearizable read
--json prints the record: {key, value, createRevision, modRevision, version, lease?}.`,
  options: { serializable: { type: 'boolean' } },
  async run({ positionals, values, globals }, concord) {
    const [key] = expectPositionals(positionals, ['KEY']) as [string];
    const kv = await concord().kv.get(key, values['serializable'] === true ? { consistency: 'serializable' } : {});
    if (kv === null) throw new ConcordError('not_found', `key ${JSON.stringify(key)} not found`, undefined, { key });
    if (globals.json) out.json(kv);
    else out.line(kv.value);
    return EXIT.ok;
  },
};

export const delCommand: Command = {
  summary: 'delete a key (or every key under --prefix)',
  help: `usage: concord del KEY [--if-revision N]
       concord del --prefix PREFIX

Deletes KEY; exit 3 if it did not exist. --if-revision N deletes only if the key's modRevision
is N (else exit 4). --prefix deletes every key under a non-empty PREFIX at one revision (exit 0
even if there were none). Prints how many keys were deleted (--json: {revision, deleted}).`,
  options: { 'if-revision': { type: 'string' }, prefix: { type: 'string' } },
  async run({ positionals, values, globals }, concord) {
    const prefix = optionalString(values, 'prefix');
    let result;
    if (prefix !== undefined) {
      expectPositionals(positionals, []);
      if (prefix === '') throw new UsageError('--prefix must not be empty');
      result = await concord().kv.deletePrefix(prefix);
    } else {
      const [key] = expectPositionals(positionals, ['KEY']) as [string];
      const ifRevision = optionalInt(values, 'if-revision', { allowZero: true });
      result = await concord().kv.delete(key, ifRevision === undefined ? {} : { ifRevision });
      if (result.deleted === 0) throw new ConcordError('not_found', `key ${JSON.stringify(key)} not found`, undefined, { key });
    }
    if (globals.json) out.json(result);
    else out.line(`deleted ${result.deleted} (revision ${result.revision})`);
    return EXIT.ok;
  },
};

export const lsCommand: Command = {
  summary: 'list keys under a prefix (a table)',
  help: `usage: concord ls [PREFIX] [--limit N] [--keys-only] [--serializable]

Lists the keys starting with PREFIX (default: all), sorted, as a table of key, value
(shortened), modRevision, version and lease. --keys-only prints one key per line.
--json prints {revision, items, more}.`,
  options: { limit: { type: 'string' }, 'keys-only': { type: 'boolean' }, serializable: { type: 'boolean' } },
  async run({ positionals, values, globals }, concord) {
    const [prefix = ''] = expectPositionals(positionals, [], ['PREFIX']);
    const limit = optionalInt(values, 'limit');
    const result = await concord().kv.range(prefix, { ...(limit === undefined ? {} : { limit }), ...(values['serializable'] === true ? { consistency: 'serializable' as const } : {}) });
    if (globals.json) out.json(result);
    else if (values['keys-only'] === true) for (const item of result.items) out.line(item.key);
    else {
      out.line(table(['KEY', 'VALUE', 'MOD-REV', 'VERSION', 'LEASE'], result.items.map((kv) => [kv.key, kv.value, kv.modRevision, kv.version, kv.lease])));
      if (result.more) out.warn(`(more keys; showing ${result.items.length}, raise --limit)`);
    }
    return EXIT.ok;
  },
};

function describeEvent(event: WatchEvent): string {
  switch (event.type) {
    case 'put':
      return `PUT     ${printable(event.key, 200)} = ${printable(event.value ?? '', 200)}  (rev ${event.modRevision}, version ${event.version}${event.lease === undefined ? '' : `, lease ${event.lease}`})`;
    case 'delete':
      return `DELETE  ${printable(event.key, 200)}  (rev ${event.modRevision})`;
    case 'snapshot':
      return `SNAPSHOT at rev ${event.revision}: ${event.items.length} keys (history was compacted)\n${event.items.map((kv: KeyValue) => `  ${printable(kv.key, 200)} = ${printable(kv.value, 200)}`).join('\n')}`;
    case 'progress':
      return `PROGRESS rev ${event.revision}`;
  }
}

export const watchCommand: Command = {
  summary: 'print changes to a key or prefix until Ctrl-C',
  help: `usage: concord watch KEY [flags]
       concord watch --prefix PREFIX [flags]

Prints each change (PUT/DELETE with its revision) as it happens, until Ctrl-C (exit 0). It
reconnects to another node on failure without gaps or duplicates.
  --from-revision N   start at revision N (inclusive) instead of now
  --prev              include each change's previous value (--json: prev)
  --resync            if --from-revision is compacted, print the current state and go on
                      (otherwise exit 1 with compacted)
--json prints one JSON event per line.`,
  options: { prefix: { type: 'string' }, 'from-revision': { type: 'string' }, prev: { type: 'boolean' }, resync: { type: 'boolean' } },
  async run({ positionals, values, globals }, concord) {
    const prefix = optionalString(values, 'prefix');
    const target = prefix === undefined ? { key: (expectPositionals(positionals, ['KEY']) as [string])[0] } : (expectPositionals(positionals, []), { prefix });
    const fromRevision = optionalInt(values, 'from-revision');
    const stop = interruption();
    try {
      const watch = concord().kv.watch({
        ...target,
        signal: stop.signal,
        ...(fromRevision === undefined ? {} : { fromRevision }),
        ...(values['prev'] === true ? { prevValue: true } : {}),
        ...(values['resync'] === true ? { resync: true } : {}),
      });
      for await (const event of watch) {
        if (globals.json) out.json(event);
        else out.line(describeEvent(event));
      }
      return EXIT.ok;
    } finally {
      stop.dispose();
    }
  },
};

const TARGETS = new Set(['value', 'lease', 'version', 'createRevision', 'modRevision']);
const OPERATORS = new Set(['==', '!=', '<', '>']);

/** A guard of a txn file: on a key, or on the token holding a lock or leading an election. */
type Guard = { readonly kind: 'key'; readonly compare: Compare } | { readonly kind: 'lock' | 'election'; readonly name: string; readonly op: CompareOperator; readonly token: number };

interface TxnSpec {
  readonly compare: Guard[];
  readonly success: TxnOp[];
  readonly failure: TxnOp[];
  readonly fence: Fence | undefined;
}

const COMPARE_FORMS =
  'want {key, target: value|lease|version|createRevision|modRevision, op: ==|!=|<|>, value} or {lock|election: NAME, target: "token", op, value: TOKEN}';

function isToken(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function parseGuard(guard: unknown): Guard {
  const fields = (typeof guard === 'object' && guard !== null ? guard : {}) as Record<string, unknown>;
  const { target, op, value } = fields;
  if (typeof op !== 'string' || !OPERATORS.has(op)) throw new UsageError(`bad compare ${JSON.stringify(guard)}: ${COMPARE_FORMS}`);
  const named = (['lock', 'election'] as const).filter((kind) => fields[kind] !== undefined);
  if (named.length > 0) {
    const [kind] = named as ['lock' | 'election'];
    const name = fields[kind];
    if (named.length > 1 || fields['key'] !== undefined || typeof name !== 'string' || name === '' || target !== 'token' || !isToken(value)) {
      throw new UsageError(`bad compare ${JSON.stringify(guard)}: ${COMPARE_FORMS}`);
    }
    return { kind, name, op: op as CompareOperator, token: value };
  }
  if (typeof fields['key'] !== 'string' || typeof target !== 'string' || !TARGETS.has(target)) {
    throw new UsageError(`bad compare ${JSON.stringify(guard)}: ${COMPARE_FORMS}`);
  }
  return { kind: 'key', compare: guard as Compare };
}

function parseFence(fence: unknown): Fence | undefined {
  if (fence === undefined) return undefined;
  const { lock, election, token, ...extra } = (typeof fence === 'object' && fence !== null ? fence : {}) as Record<string, unknown>;
  const name = lock ?? election;
  if (Object.keys(extra).length > 0 || (lock === undefined) === (election === undefined) || typeof name !== 'string' || name === '' || !isToken(token) || token === 0) {
    throw new UsageError(`bad fence ${JSON.stringify(fence)}: want {lock: NAME, token: N} or {election: NAME, token: N}`);
  }
  return lock !== undefined ? { lock: name, token } : { election: name, token };
}

function parseTxn(text: string): TxnSpec {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`the txn file is not JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UsageError('the txn file must hold an object {compare, success, failure, fence?}');
  const { compare = [], success = [], failure = [], fence, ...extra } = body as Record<string, unknown>;
  if (Object.keys(extra).length > 0) throw new UsageError(`unknown field(s) in the txn file: ${Object.keys(extra).join(', ')}`);
  if (!Array.isArray(compare) || !Array.isArray(success) || !Array.isArray(failure)) throw new UsageError('compare, success and failure must be arrays');
  // The ops' shape is the contract's ({put: {key, value, lease?}}, {get: {key}}, {delete: {key}}, {range: {prefix, limit?}}); the server validates it.
  return { compare: (compare as unknown[]).map(parseGuard), success: success as TxnOp[], failure: failure as TxnOp[], fence: parseFence(fence) };
}

export const txnCommand: Command = {
  summary: 'run a transaction from a JSON file',
  help: `usage: concord txn --file F.json     (--file - reads stdin)

Runs the transaction in the file, the HTTP contract's form:
  {"compare": [{"key": "a", "target": "version", "op": "==", "value": 0},
               {"lock": "db", "target": "token", "op": "==", "value": 42}],
   "success": [{"put": {"key": "a", "value": "1"}}, {"get": {"key": "b"}}],
   "failure": [{"get": {"key": "a"}}],
   "fence": {"lock": "db", "token": 42}}
key compares: targets value, lease, version, createRevision, modRevision; ops ==, !=, <, >.
token compares: {"lock": NAME} or {"election": NAME} with target "token" test the token of the
lock's holder (the election's leader) when the txn applies, 0 when there is none; they pick
the branch. fence (optional) refuses the whole txn unless the token holds (exit 4, stale_token).
operations: put {key, value, lease?}, get {key}, delete {key}, range {prefix, limit?}.
Prints which branch ran and each result; exit 0 if the compares held, 4 if the failure
branch ran. --json prints {succeeded, revision, results}.`,
  options: { file: { type: 'string', short: 'f' } },
  async run({ positionals, values, globals }, concord) {
    expectPositionals(positionals, []);
    const file = optionalString(values, 'file');
    if (file === undefined) throw new UsageError('--file is required');
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
    }
    const spec = parseTxn(text);
    const builder = concord().kv.txn();
    for (const guard of spec.compare) {
      if (guard.kind !== 'key') {
        if (guard.kind === 'lock') builder.compareLockToken(guard.name, guard.op, guard.token);
        else builder.compareElectionToken(guard.name, guard.op, guard.token);
        continue;
      }
      const { compare } = guard;
      if (compare.target === 'value' || compare.target === 'lease') builder.compare(compare.key, compare.target, compare.op, compare.value);
      else builder.compare(compare.key, compare.target, compare.op, compare.value as number);
    }
    if (spec.fence !== undefined) builder.fence(spec.fence);
    const result = await builder.success(...spec.success).failure(...spec.failure).commit();
    if (globals.json) out.json(result);
    else {
      out.line(`${result.succeeded ? 'SUCCEEDED' : 'FAILED (failure branch ran)'} revision ${result.revision}`);
      for (const opResult of result.results) out.line(JSON.stringify(opResult));
    }
    return result.succeeded ? EXIT.ok : EXIT.conflict;
  },
};
