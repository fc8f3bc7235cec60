/**
 * Validation of registry command bodies, run by the KV command parser on every replica (so the
 * verdicts are replicated semantics: they depend on the bytes only). The KV parser has already
 * checked that `fields` is a plain object with no unknown field; this builds a fresh body from
 * them, or throws the ParseError (invalid_argument) that parseCommand turns into a result.
 */
import { type Fields, check, fail, leaseId, record, string } from '../kv/parse-fields.ts';
import { checkLeaseTtl } from '../kv/limits.ts';
import { checkAddress, checkInstanceId, checkMeta, checkNote, checkPort, checkServiceName, checkTags } from './limits.ts';
import { INSTANCE_STATUSES, type InstanceStatus, type RegistryCommandBody } from './types.ts';

/** The fields each registry body may have (the KV parser refuses any other). */
export const REGISTRY_BODY_FIELDS = {
  serviceRegister: ['type', 'service', 'id', 'address', 'port', 'tags', 'meta', 'ttlMs', 'lease'],
  serviceDeregister: ['type', 'service', 'id'],
  serviceStatus: ['type', 'service', 'id', 'status', 'note'],
} as const satisfies Record<RegistryCommandBody['type'], readonly string[]>;

function invalid(message: string): never {
  fail('invalid_argument', message);
}

function stringList(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) invalid(`${path}: expected an array of strings`);
  return value.map((item, i) => string(item, `${path}[${i}]`));
}

function stringMap(value: unknown, path: string): Record<string, string> {
  const fields = record(value, path, Object.keys(value ?? {}));
  const entries = Object.entries(fields).map(([key, item]) => [string(key, `${path} key`), string(item, `${path}.${key}`)]);
  return Object.fromEntries(entries) as Record<string, string>;
}

function integer(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) invalid(`${path}: expected an integer`);
  return value;
}

function status(value: unknown, path: string): InstanceStatus {
  if (typeof value !== 'string' || !INSTANCE_STATUSES.includes(value as InstanceStatus)) {
    invalid(`${path}: expected one of ${INSTANCE_STATUSES.join(', ')}`);
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
  if ((ttlMs === undefined) === (lease === undefined)) invalid('body: give exactly one of ttlMs and lease');
  if (ttlMs !== undefined) {
    if (typeof ttlMs !== 'number') invalid('body.ttlMs: expected a number');
    check(checkLeaseTtl(ttlMs, 'body.ttlMs'));
    return { type: 'serviceRegister', ...target, address, port, tags, meta, ttlMs };
  }
  return { type: 'serviceRegister', ...target, address, port, tags, meta, lease: leaseId(lease, 'body.lease') };
}

/** A well-formed registry body of `type` built from `fields`; throws ParseError otherwise. */
export function parseRegistryBody(type: RegistryCommandBody['type'], fields: Fields): RegistryCommandBody {
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
}
