/**
 * Validation of registry command bodies, run by the KV command parser on every replica (so the
 * verdicts are replicated semantics: they depend on the bytes only). The KV parser has already
 * checked that `fields` is a plain object with no unknown field; this builds a fresh body from
 * them or returns the invalid_argument result it earns. Never throws.
 */
import { type KvErrorResult, kvError } from '../kv/kv-errors.ts';
import { checkLeaseId, checkLeaseTtl } from '../kv/limits.ts';
import { checkAddress, checkInstanceId, checkMeta, checkNote, checkPort, checkServiceName, checkTags } from './limits.ts';
import { INSTANCE_STATUSES, type InstanceStatus, type RegistryCommandBody } from './types.ts';

/** The fields each registry body may have (the KV parser refuses any other). */
export const REGISTRY_BODY_FIELDS = {
  serviceRegister: ['type', 'service', 'id', 'address', 'port', 'tags', 'meta', 'ttlMs', 'lease'],
  serviceDeregister: ['type', 'service', 'id'],
  serviceStatus: ['type', 'service', 'id', 'status', 'note'],
} as const satisfies Record<RegistryCommandBody['type'], readonly string[]>;

type Fields = Readonly<Record<string, unknown>>;

class Invalid extends Error {
  constructor(readonly result: KvErrorResult) {
    super(result.error.message);
  }
}

function check(problem: KvErrorResult | null): void {
  if (problem !== null) throw new Invalid(problem);
}

function fail(message: string): never {
  throw new Invalid(kvError('invalid_argument', message));
}

// A lone surrogate: msgpack decoders may read its bytes back differently (see kv/command-parse.ts).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function string(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(`${path}: expected a string`);
  if (LONE_SURROGATE.test(value)) fail(`${path}: not well-formed Unicode`);
  return value;
}

function stringList(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) fail(`${path}: expected an array of strings`);
  return value.map((item, i) => string(item, `${path}[${i}]`));
}

function stringMap(value: unknown, path: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${path}: expected an object`);
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) fail(`${path}: expected a plain object`);
  const entries = Object.entries(value).map(([key, item]) => [string(key, `${path} key`), string(item, `${path}.${key}`)]);
  return Object.fromEntries(entries) as Record<string, string>;
}

function integer(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(`${path}: expected an integer`);
  return value;
}

function status(value: unknown, path: string): InstanceStatus {
  if (typeof value !== 'string' || !INSTANCE_STATUSES.includes(value as InstanceStatus)) {
    fail(`${path}: expected one of ${INSTANCE_STATUSES.join(', ')}`);
  }
  return value as InstanceStatus;
}

function serviceAndId(fields: Fields): { service: string; id: string } {
  const service = string(fields['service'], 'body.service');
  check(checkServiceName(service, 'body.service'));
  const id = string(fields['id'], 'body.id');
  check(checkInstanceId(id, 'body.id'));
  return { service, id };
}

function parseRegister(fields: Fields): RegistryCommandBody {
  const target = serviceAndId(fields);
  const address = string(fields['address'], 'body.address');
  check(checkAddress(address, 'body.address'));
  const port = integer(fields['port'], 'body.port');
  check(checkPort(port, 'body.port'));
  const tags = stringList(fields['tags'] ?? [], 'body.tags');
  check(checkTags(tags, 'body.tags'));
  const meta = stringMap(fields['meta'] ?? {}, 'body.meta');
  check(checkMeta(meta, 'body.meta'));
  const { ttlMs, lease } = fields;
  if ((ttlMs === undefined) === (lease === undefined)) fail('body: give exactly one of ttlMs and lease');
  if (ttlMs !== undefined) {
    if (typeof ttlMs !== 'number') fail('body.ttlMs: expected a number');
    check(checkLeaseTtl(ttlMs, 'body.ttlMs'));
    return { type: 'serviceRegister', ...target, address, port, tags, meta, ttlMs };
  }
  const leaseId = string(lease, 'body.lease');
  check(checkLeaseId(leaseId, 'body.lease'));
  return { type: 'serviceRegister', ...target, address, port, tags, meta, lease: leaseId };
}

/** A well-formed registry body of `type` built from `fields`, or the error result it earns. */
export function parseRegistryBody(type: RegistryCommandBody['type'], fields: Fields): RegistryCommandBody | KvErrorResult {
  try {
    switch (type) {
      case 'serviceRegister':
        return parseRegister(fields);
      case 'serviceDeregister':
        return { type, ...serviceAndId(fields) };
      case 'serviceStatus': {
        const target = serviceAndId(fields);
        const note = string(fields['note'] ?? '', 'body.note');
        check(checkNote(note, 'body.note'));
        return { type, ...target, status: status(fields['status'], 'body.status'), note };
      }
    }
  } catch (error) {
    if (error instanceof Invalid) return error.result;
    throw error;
  }
}

export function isRegistryBodyType(type: string): type is RegistryCommandBody['type'] {
  return Object.hasOwn(REGISTRY_BODY_FIELDS, type);
}
