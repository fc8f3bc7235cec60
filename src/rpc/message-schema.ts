/**
 * Validation of what arrives from the network before it reaches the Raft core. A peer's bytes
 * are untrusted: msgpackr will happily decode maps, bigints, dates or extension objects, and the
 * core asserts on its inputs, so a bad message must be rejected here rather than crash the node
 * there. Each parser builds a fresh object holding only the known fields, so nothing extra (or
 * odd prototypes, getters, huge unrelated keys) ever crosses into src/raft.
 *
 * Every append and forwarded batch passes through here, so the parsers build no path string for
 * an item that is valid: an item is parsed under a stand-in path, and only an error's message
 * gets the item's real path (see parseItems).
 *
 * Limits enforced here: node ids are member ids (src/common/member-id.ts: at most 64
 * characters), cluster ids at most {@link MAX_NODE_ID_LENGTH} characters, read contexts at most
 * {@link MAX_READ_CONTEXT_LENGTH}; numbers must be non-negative safe integers.
 */
import { isMemberId } from '../common/member-id.ts';
import { MAX_LEASE_ID_BYTES } from '../kv/limits.ts';
import type { ForwardedKeepalive, ForwardedProposal, Message, MessageType } from '../raft/messages.ts';
import { decodeConfigEntry } from '../raft/membership.ts';
import type { ClusterConfig, Entry, EntryType, MemberEndpoints, NodeId, SnapshotMeta } from '../raft/types.ts';

/** The longest node or cluster id accepted from the wire. */
export const MAX_NODE_ID_LENGTH = 256;
/** The longest ReadIndex context accepted from the wire. */
export const MAX_READ_CONTEXT_LENGTH = 4096;
/** The longest advertised client URL accepted from the wire. */
export const MAX_CLIENT_URL_LENGTH = 2048;

/**
 * The first frame on every connection: who is calling, and for which cluster. `clientUrl` is
 * the sender's advertised HTTP URL (--advertise-client), so the server can forward to any
 * member; optional, so a peer built before it existed still handshakes (and an older peer
 * ignores the field, as every parser here keeps only the fields it knows).
 */
export interface Handshake {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly clientUrl?: string;
}

/** An expected outcome (a peer sent garbage), so a result rather than a throw. */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'pre-vote',
  'vote',
  'vote-response',
  'pre-vote-response',
  'append',
  'append-response',
  'heartbeat',
  'heartbeat-response',
  'snapshot',
  'snapshot-response',
  'timeout-now',
  'read-index',
  'read-index-response',
  'forward-proposals',
  'forward-proposals-response',
  'forward-keepalives',
  'forward-keepalives-response',
]);

const ENTRY_TYPES: ReadonlySet<string> = new Set<EntryType>(['normal', 'noop', 'config']);

/** Thrown inside this module only, turned into a ParseResult at the boundary. */
class SchemaError extends Error {}

type Fields = Readonly<Record<string, unknown>>;

function record(value: unknown, path: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SchemaError(`${path}: expected an object`);
  }
  if (value instanceof Uint8Array || value instanceof Map || value instanceof Date) {
    throw new SchemaError(`${path}: expected a plain object`);
  }
  return value as Fields;
}

/** The path an array item is parsed under until it is refused (then parseItems names it). */
const ITEM_PATH = '\u0000item';

/**
 * Parses every item of `items` with `parse`, under {@link ITEM_PATH}: a path is built only for
 * an item refused, by rewriting the error's message, not for each item that is valid.
 */
function parseItems<T>(items: readonly unknown[], path: string, parse: (item: unknown, itemPath: string) => T): T[] {
  const parsed: T[] = [];
  for (let position = 0; position < items.length; position++) {
    try {
      parsed.push(parse(items[position], ITEM_PATH));
    } catch (error) {
      if (!(error instanceof SchemaError) || !error.message.startsWith(ITEM_PATH)) throw error;
      throw new SchemaError(`${path}[${position}]${error.message.slice(ITEM_PATH.length)}`);
    }
  }
  return parsed;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function countValue(value: unknown, path: string): number {
  if (!isCount(value)) throw new SchemaError(`${path}: expected a non-negative safe integer`);
  return value;
}

/** `fields[key]` as a count (the path is joined only when it is refused). */
function count(fields: Fields, key: string, path: string): number {
  const value = fields[key];
  if (!isCount(value)) throw new SchemaError(`${path}.${key}: expected a non-negative safe integer`);
  return value;
}

function flag(fields: Fields, key: string, path: string): boolean {
  const value = fields[key];
  if (typeof value !== 'boolean') throw new SchemaError(`${path}.${key}: expected a boolean`);
  return value;
}

function text(fields: Fields, key: string, path: string, maxLength: number): string {
  const value = fields[key];
  if (typeof value !== 'string') throw new SchemaError(`${path}.${key}: expected a string`);
  if (value.length > maxLength) throw new SchemaError(`${path}.${key}: longer than ${maxLength}`);
  return value;
}

function nodeId(fields: Fields, key: string, path: string): NodeId {
  const value = text(fields, key, path, MAX_NODE_ID_LENGTH);
  if (value.length === 0) throw new SchemaError(`${path}.${key}: empty node id`);
  if (!isMemberId(value)) throw new SchemaError(`${path}.${key}: not a member id (1-64 letters, digits, '.', '_' or '-')`);
  return value;
}

/** An absolute http(s) URL of bounded length; anything else is refused, not passed on. */
function clientUrl(fields: Fields, path: string): string {
  const value = text(fields, 'clientUrl', path, MAX_CLIENT_URL_LENGTH);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new SchemaError(`${path}.clientUrl: not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SchemaError(`${path}.clientUrl: expected an http or https URL`);
  }
  return value;
}

function bytes(fields: Fields, key: string, path: string): Uint8Array {
  const value = fields[key];
  if (!(value instanceof Uint8Array)) throw new SchemaError(`${path}.${key}: expected bytes`);
  return value;
}

function nodeIdList(value: unknown, path: string): NodeId[] {
  if (!Array.isArray(value)) throw new SchemaError(`${path}: expected an array`);
  return parseItems(value, path, (item, itemPath) => nodeId({ id: item }, 'id', itemPath));
}

/** host:port of a peer, or a client URL ('' = unknown): bounded text, checked where it is dialled. */
function memberEndpoints(value: unknown, path: string): MemberEndpoints {
  const fields = record(value, path);
  return {
    peerAddress: text(fields, 'peerAddress', path, MAX_CLIENT_URL_LENGTH),
    clientUrl: text(fields, 'clientUrl', path, MAX_CLIENT_URL_LENGTH),
  };
}

function parseClusterConfig(value: unknown, path: string): ClusterConfig {
  const config = record(value, path);
  const ids = {
    voters: nodeIdList(config['voters'], `${path}.voters`),
    learners: nodeIdList(config['learners'], `${path}.learners`),
  };
  if (config['endpoints'] === undefined) return ids;
  const endpoints: Record<NodeId, MemberEndpoints> = {};
  for (const [id, entry] of Object.entries(record(config['endpoints'], `${path}.endpoints`))) {
    endpoints[nodeId({ id }, 'id', `${path}.endpoints`)] = memberEndpoints(entry, `${path}.endpoints.${id}`);
  }
  return { ...ids, endpoints };
}

/** A config entry's payload is decoded by the core, which trusts it: check it here first. */
function checkConfigEntryData(data: Uint8Array, path: string): void {
  let payload: unknown;
  try {
    payload = decodeConfigEntry(data);
  } catch (error) {
    throw new SchemaError(`${path}.data: not a config entry (${error instanceof Error ? error.message : String(error)})`);
  }
  parseClusterConfig(record(payload, `${path}.data`)['config'], `${path}.data.config`);
}

function parseEntry(value: unknown, path: string): Entry {
  const fields = record(value, path);
  const type = fields['type'];
  if (typeof type !== 'string' || !ENTRY_TYPES.has(type)) {
    throw new SchemaError(`${path}.type: unknown entry type`);
  }
  const data = bytes(fields, 'data', path);
  if (type === 'config') checkConfigEntryData(data, path);
  return {
    term: count(fields, 'term', path),
    index: count(fields, 'index', path),
    type: type as EntryType,
    data,
  };
}

/** At most this many proposals (keepalives) in one forward-proposals (forward-keepalives) message, and answers in its response. */
export const MAX_FORWARDED_PROPOSALS = 65_536;

/** An array of at most MAX_FORWARDED_PROPOSALS items, each parsed by `parse`. */
function boundedItems<T>(value: unknown, path: string, parse: (item: unknown, itemPath: string) => T): T[] {
  if (!Array.isArray(value)) throw new SchemaError(`${path}: expected an array`);
  if (value.length > MAX_FORWARDED_PROPOSALS) throw new SchemaError(`${path}: more than ${MAX_FORWARDED_PROPOSALS} items`);
  return parseItems(value, path, parse);
}

function parseForwardedProposal(item: unknown, path: string): ForwardedProposal {
  const fields = record(item, path);
  return { id: count(fields, 'id', path), data: bytes(fields, 'data', path) };
}

function parseForwardedKeepalive(item: unknown, path: string): ForwardedKeepalive {
  const fields = record(item, path);
  return { id: count(fields, 'id', path), lease: text(fields, 'lease', path, MAX_LEASE_ID_BYTES) };
}

function countList(value: unknown, path: string): number[] {
  return boundedItems(value, path, countValue);
}

/** A forwarded batch's answers: `ids` and the list `key` names, one answer per id. */
function answerLists(fields: Fields, key: string, path: string): [number[], number[]] {
  const ids = countList(fields['ids'], `${path}.ids`);
  const answers = countList(fields[key], `${path}.${key}`);
  if (ids.length !== answers.length) throw new SchemaError(`${path}: ids and ${key} differ in length`);
  return [ids, answers];
}

function parseEntries(value: unknown, path: string): Entry[] {
  if (!Array.isArray(value)) throw new SchemaError(`${path}: expected an array`);
  return parseItems(value, path, parseEntry);
}

function parseSnapshotMeta(value: unknown, path: string): SnapshotMeta {
  const fields = record(value, path);
  return {
    index: count(fields, 'index', path),
    term: count(fields, 'term', path),
    config: parseClusterConfig(fields['config'], `${path}.config`),
  };
}

/** Builds the typed message from fields already known to be an object with a valid type. */
function build(type: MessageType, fields: Fields, path: string): Message {
  const envelope = {
    from: nodeId(fields, 'from', path),
    to: nodeId(fields, 'to', path),
    term: count(fields, 'term', path),
  };
  const context = (): string => text(fields, 'readContext', path, MAX_READ_CONTEXT_LENGTH);
  switch (type) {
    case 'pre-vote':
      return { ...envelope, type, lastLogIndex: count(fields, 'lastLogIndex', path),
        lastLogTerm: count(fields, 'lastLogTerm', path) };
    case 'vote':
      return { ...envelope, type, lastLogIndex: count(fields, 'lastLogIndex', path),
        lastLogTerm: count(fields, 'lastLogTerm', path), transfer: flag(fields, 'transfer', path) };
    case 'vote-response':
    case 'pre-vote-response':
      return { ...envelope, type, granted: flag(fields, 'granted', path) };
    case 'append':
      return { ...envelope, type, prevLogIndex: count(fields, 'prevLogIndex', path),
        prevLogTerm: count(fields, 'prevLogTerm', path),
        entries: parseEntries(fields['entries'], `${path}.entries`),
        commit: count(fields, 'commit', path), commitOnly: flag(fields, 'commitOnly', path) };
    case 'append-response':
      return { ...envelope, type, success: flag(fields, 'success', path),
        matchIndex: count(fields, 'matchIndex', path),
        rejectedIndex: count(fields, 'rejectedIndex', path),
        conflictTerm: count(fields, 'conflictTerm', path),
        conflictIndex: count(fields, 'conflictIndex', path) };
    case 'heartbeat':
      return { ...envelope, type, commit: count(fields, 'commit', path), readContext: context() };
    case 'heartbeat-response':
    case 'read-index':
      return { ...envelope, type, readContext: context() };
    case 'snapshot':
      return { ...envelope, type, meta: parseSnapshotMeta(fields['meta'], `${path}.meta`),
        offset: count(fields, 'offset', path), totalBytes: count(fields, 'totalBytes', path),
        data: bytes(fields, 'data', path) };
    case 'snapshot-response':
      return { ...envelope, type, snapshotIndex: count(fields, 'snapshotIndex', path),
        nextOffset: count(fields, 'nextOffset', path), installed: flag(fields, 'installed', path) };
    case 'timeout-now':
      return { ...envelope, type };
    case 'read-index-response':
      return { ...envelope, type, readContext: context(), index: count(fields, 'index', path) };
    case 'forward-proposals':
      return { ...envelope, type, proposals: boundedItems(fields['proposals'], `${path}.proposals`, parseForwardedProposal) };
    case 'forward-proposals-response': {
      const [ids, indexes] = answerLists(fields, 'indexes', path);
      return { ...envelope, type, ids, indexes };
    }
    case 'forward-keepalives':
      return { ...envelope, type, keepalives: boundedItems(fields['keepalives'], `${path}.keepalives`, parseForwardedKeepalive) };
    case 'forward-keepalives-response': {
      const [ids, ttls] = answerLists(fields, 'ttls', path);
      return { ...envelope, type, leading: flag(fields, 'leading', path), ids, ttls };
    }
  }
}

function parseOne(value: unknown, path: string): Message {
  const fields = record(value, path);
  const type = fields['type'];
  if (typeof type !== 'string' || !MESSAGE_TYPES.has(type)) {
    throw new SchemaError(`${path}.type: unknown message type`);
  }
  return build(type as MessageType, fields, path);
}

function capture<T>(parse: () => T): ParseResult<T> {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    if (error instanceof SchemaError) return { ok: false, error: error.message };
    throw error;
  }
}

/** Validates one decoded value as a Raft message and returns a clean copy of it. */
export function parseMessage(value: unknown): ParseResult<Message> {
  return capture(() => parseOne(value, 'message'));
}

/** Validates a frame's payload: an array of messages, all valid, or the whole frame is refused. */
export function parseMessageBatch(value: unknown): ParseResult<Message[]> {
  return capture(() => {
    if (!Array.isArray(value)) throw new SchemaError('batch: expected an array');
    return parseItems(value, 'batch', parseOne);
  });
}

/** Validates a handshake payload. */
export function parseHandshake(value: unknown): ParseResult<Handshake> {
  return capture(() => {
    const fields = record(value, 'handshake');
    const handshake: Handshake = {
      clusterId: text(fields, 'clusterId', 'handshake', MAX_NODE_ID_LENGTH),
      nodeId: nodeId(fields, 'nodeId', 'handshake'),
    };
    if (fields['clientUrl'] === undefined || fields['clientUrl'] === null) return handshake;
    return { ...handshake, clientUrl: clientUrl(fields, 'handshake') };
  });
}
