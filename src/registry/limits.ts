/**
 * Every limit of the service registry, in one place. The state machine enforces them on apply
 * (the command parser runs on every replica), and the HTTP schemas state the same bounds so a
 * bad request is refused before it is proposed. A violation is 400 invalid_argument naming the
 * field and the limit. The TTL of an instance's own lease follows the lease rules (at least
 * 500 ms, the contract's floor, and nothing more).
 *
 * Names are restricted to a DNS- and URL-friendly alphabet because they are path segments of
 * the HTTP API and segments of the keys instances are stored under (no `/` inside a segment).
 */
import { type KvErrorResult, kvError } from '../kv/kv-errors.ts';
import { utf8ByteLength } from '../kv/limits.ts';

/** Service names: 1..64 characters, letters, digits, `.`, `_`, `-`; starting with a letter or digit. */
export const MAX_SERVICE_NAME_LENGTH = 64;
export const SERVICE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** Instance ids: 1..128 characters, as service names plus `:` (ids like `host:port` are common). */
export const MAX_INSTANCE_ID_LENGTH = 128;
export const INSTANCE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
/** An address is a host name or an IP literal; 255 bytes is the longest DNS name. */
export const MAX_ADDRESS_BYTES = 255;
export const MIN_PORT = 1;
export const MAX_PORT = 65_535;
export const MAX_TAGS = 32;
export const MAX_TAG_BYTES = 128;
/** Meta as Consul bounds it: at most 64 pairs, keys of letters, digits, `_`, `.`, `-`. */
export const MAX_META_ENTRIES = 64;
export const MAX_META_KEY_LENGTH = 128;
export const META_KEY_PATTERN = '^[A-Za-z][A-Za-z0-9_.-]{0,127}$';
export const MAX_META_VALUE_BYTES = 512;
/** All meta keys and values together, in UTF-8 bytes. */
export const MAX_META_BYTES = 8 * 1024;
/** A heartbeat's free-text note (why an instance is warning or critical). */
export const MAX_NOTE_BYTES = 1024;

const SERVICE_NAME = new RegExp(SERVICE_NAME_PATTERN);
const INSTANCE_ID = new RegExp(INSTANCE_ID_PATTERN);
const META_KEY = new RegExp(META_KEY_PATTERN);

function invalid(what: string, rule: string): KvErrorResult {
  return kvError('invalid_argument', `${what}: ${rule}`);
}

export function checkServiceName(name: string, what = 'service'): KvErrorResult | null {
  if (SERVICE_NAME.test(name)) return null;
  return invalid(what, `1 to ${MAX_SERVICE_NAME_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or digit`);
}

export function checkInstanceId(id: string, what = 'id'): KvErrorResult | null {
  if (INSTANCE_ID.test(id)) return null;
  return invalid(what, `1 to ${MAX_INSTANCE_ID_LENGTH} letters, digits, '.', '_', ':' or '-', starting with a letter or digit`);
}

export function checkAddress(address: string, what = 'address'): KvErrorResult | null {
  if (address.length > 0 && utf8ByteLength(address) <= MAX_ADDRESS_BYTES) return null;
  return invalid(what, `1 to ${MAX_ADDRESS_BYTES} bytes`);
}

export function checkPort(port: number, what = 'port'): KvErrorResult | null {
  if (Number.isSafeInteger(port) && port >= MIN_PORT && port <= MAX_PORT) return null;
  return invalid(what, `an integer from ${MIN_PORT} to ${MAX_PORT}`);
}

export function checkTags(tags: readonly string[], what = 'tags'): KvErrorResult | null {
  if (tags.length > MAX_TAGS) return invalid(what, `at most ${MAX_TAGS} tags`);
  const seen = new Set<string>();
  for (const [i, tag] of tags.entries()) {
    if (tag.length === 0 || utf8ByteLength(tag) > MAX_TAG_BYTES) return invalid(`${what}[${i}]`, `1 to ${MAX_TAG_BYTES} bytes`);
    if (seen.has(tag)) return invalid(`${what}[${i}]`, `duplicate tag ${JSON.stringify(tag)}`);
    seen.add(tag);
  }
  return null;
}

export function checkMeta(meta: Readonly<Record<string, string>>, what = 'meta'): KvErrorResult | null {
  const entries = Object.entries(meta);
  if (entries.length > MAX_META_ENTRIES) return invalid(what, `at most ${MAX_META_ENTRIES} entries`);
  let totalBytes = 0;
  for (const [key, value] of entries) {
    if (!META_KEY.test(key)) {
      return invalid(`${what} key ${JSON.stringify(key)}`, `1 to ${MAX_META_KEY_LENGTH} letters, digits, '_', '.' or '-', starting with a letter`);
    }
    const valueBytes = utf8ByteLength(value);
    if (valueBytes > MAX_META_VALUE_BYTES) return invalid(`${what}.${key}`, `at most ${MAX_META_VALUE_BYTES} bytes`);
    totalBytes += key.length + valueBytes;
  }
  if (totalBytes > MAX_META_BYTES) return invalid(what, `at most ${MAX_META_BYTES} bytes of keys and values in all`);
  return null;
}

export function checkNote(note: string, what = 'note'): KvErrorResult | null {
  if (utf8ByteLength(note) <= MAX_NOTE_BYTES) return null;
  return invalid(what, `at most ${MAX_NOTE_BYTES} bytes`);
}
