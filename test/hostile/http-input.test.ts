/**
 * Hostile HTTP input, property-based: for every operation the node's own OpenAPI document lists,
 * fast-check builds adversarial request targets (percent-encoding, invalid UTF-8, NUL and raw
 * control bytes, `..`, overlong segments), query strings (duplicates, arrays, huge, negative and
 * NaN-like numbers, unknown names), headers (lying content types, huge headers, bad idempotency
 * keys and authorization, forged forwarding headers) and bodies (random, deeply nested, wrong
 * types, huge, truncated, not JSON), and sends them over a raw socket to a follower (so the
 * forwarding path sees them too).
 *
 * Every answer must be the contract's error shape with the status the contract gives its code,
 * or a 2xx, or a closed connection: never a 500, an HTML page or a stack trace, never a hang.
 * Afterwards every node still serves, a linearizable put/get works, and the keys seeded under
 * `zz-seed/` are untouched: the generators never produce a `z`, so no request — valid or not —
 * can name them; and when no mutating request was accepted, the revision has not moved either.
 *
 * Bounded: numRuns and a time limit; the seed is fixed (CONCORD_HOSTILE_SEED overrides it) and
 * fast-check prints it with the shrunk counterexample on failure.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/common/errors.ts';
import { call, TestCluster, type TestMember } from '../server/cluster-harness.ts';
import { rawHttp, type RawOutcome, type RawRequest } from './raw-http.ts';

const SEED = Number(process.env.CONCORD_HOSTILE_SEED ?? 20261201);
const SEED_PREFIX = 'zz-seed/';
const MAX_VALUE_BYTES = 4096;
const BODY_LIMIT_BYTES = 16 * 1024;

interface Operation {
  readonly method: string;
  readonly template: string;
  readonly queryNames: readonly string[];
  readonly bodyProperties: readonly string[];
  readonly hasBody: boolean;
}

interface OpenApiDocument {
  readonly paths: Record<string, Record<string, {
    parameters?: { in: string; name: string }[];
    requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
  }>>;
}

function operationsOf(document: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (!['get', 'put', 'post', 'delete'].includes(method)) continue;
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      operations.push({
        method: method.toUpperCase(),
        template,
        queryNames: (operation.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name),
        bodyProperties: Object.keys(schema?.properties ?? {}),
        hasBody: operation.requestBody !== undefined,
      });
    }
  }
  return operations;
}

// ---- generators: nothing they produce contains a 'z' (so nothing can touch SEED_PREFIX) ----

const noZ = (text: string): string => text.replace(/[zZ]/g, 'y');
const noZBytes = (bytes: Uint8Array): Uint8Array => bytes.map((byte) => (byte === 0x7a || byte === 0x5a ? 0x79 : byte));
const percentBytes = (bytes: Uint8Array): string => [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0').toUpperCase()}`).join('');
/** Percent-encodes all but unreserved characters, byte by byte (lone surrogates become U+FFFD). */
const percentText = (text: string): string =>
  [...Buffer.from(text, 'utf8')].map((byte) => (/[A-Za-y0-9\-._~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`)).join('');

/** Member ids would let a random DELETE /v1/cluster/members/{id} remove a real node. */
const notAMemberId = (segment: string): string => (/^n\d+$/.test(segment) ? `x${segment}` : segment);

const segmentArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }).map((text) => notAMemberId(percentText(noZ(text)))),
  fc.string({ unit: 'binary', maxLength: 12 }).map((text) => percentText(noZ(text))),
  fc.uint8Array({ minLength: 1, maxLength: 16 }).map((bytes) => percentBytes(noZBytes(bytes))),
  fc.constantFrom('..', '.', '../..', '%2e%2e', '%2E%2E%2F%2E%2E', '%2F', '//', '%00', '%', '%G1', '%4', '%%', '%C0%AE', '%ED%A0%80', '%FF%FE', '~', ''),
  // Bytes no well-behaved client sends unencoded; Node's parser or the router must refuse them.
  fc.constantFrom('\u0000', 'a b', '\t', 'a\r\nx-injected: 1', 'é', '\u2028', '"<script>', '\\', '#frag', '?'),
  fc.constantFrom(1025, 1100, 4000, 20_000, 70_000).map((length) => 'k'.repeat(length)),
);

const numberLikeArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('-1', '0', '1', 'NaN', 'nan', 'Infinity', '-Infinity', '1e309', '1e3', '9007199254740993', '99999999999999999999999', '0x10', '1.5', '-0', ' 5', '5 ', '', 'true', 'null', '[]', '{}', '%00'),
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.double().map(String),
);

const queryValueArb: fc.Arbitrary<string> = fc.oneof(numberLikeArb, segmentArb.filter((segment) => segment.length < 2000));

function queryArb(operation: Operation): fc.Arbitrary<string> {
  const names = [...operation.queryNames, 'timeoutMs', 'unknown', '__proto__', 'constructor'];
  const nameArb = fc.oneof(
    fc.constantFrom(...names),
    fc.constantFrom(...names).map((name) => `${name}[]`),
    fc.constantFrom(...names).map((name) => `${name}[0]`),
    fc.string({ unit: 'grapheme-ascii', maxLength: 8 }).map((text) => percentText(noZ(text))),
  );
  const pair = fc.tuple(nameArb, fc.option(queryValueArb, { nil: undefined })).map(([name, value]) => (value === undefined ? name : `${name}=${value}`));
  return fc.oneof(
    fc.constant(''),
    fc.array(pair, { minLength: 1, maxLength: 6 }).map((pairs) => `?${pairs.join('&')}`),
    // The same name again and again (duplicates become arrays in some parsers).
    fc.tuple(fc.constantFrom(...names), fc.array(numberLikeArb, { minLength: 2, maxLength: 5 })).map(([name, values]) => `?${values.map((value) => `${name}=${value}`).join('&')}`),
    fc.constantFrom('?', '?&&&', '?=', '?==', '?a=1&a', '?%', '?%ZZ'.replace('ZZ', 'GG')),
  );
}

const headerValueArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map(noZ),
  fc.constantFrom('', ' ', 'é', '\u0000', 'a\u0007b'),
  fc.constantFrom(257, 5000, 20_000).map((length) => 'i'.repeat(length)),
);

const headersArb: fc.Arbitrary<[string, string][]> = fc
  .record(
    {
      contentType: fc.constantFrom(
        'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'text/plain', 'text/html',
        'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/JSON', 'json', '',
      ),
      idempotencyKey: headerValueArb,
      authorization: fc.oneof(fc.constantFrom('Bearer', 'Bearer ', 'Basic Og==', 'bearer x'), headerValueArb.map((value) => `Bearer ${value}`)),
      forwardedBy: fc.constantFrom('n1', 'n2', 'n3', 'stranger', ''),
      remainingTimeout: numberLikeArb,
      lastEventId: numberLikeArb,
      padding: fc.constantFrom(10, 8_000, 20_000, 70_000).map((length) => 'p'.repeat(length)),
      duplicateContentType: fc.constant('text/plain'),
    },
    { requiredKeys: [] },
  )
  .map((chosen) => {
    const headers: [string, string][] = [];
    if (chosen.contentType !== undefined) headers.push(['content-type', chosen.contentType]);
    if (chosen.duplicateContentType !== undefined) headers.push(['content-type', chosen.duplicateContentType]);
    if (chosen.idempotencyKey !== undefined) headers.push(['idempotency-key', chosen.idempotencyKey]);
    if (chosen.authorization !== undefined) headers.push(['authorization', chosen.authorization]);
    if (chosen.forwardedBy !== undefined) headers.push(['x-concord-forwarded-by', chosen.forwardedBy]);
    if (chosen.remainingTimeout !== undefined) headers.push(['x-concord-remaining-timeout-ms', chosen.remainingTimeout]);
    if (chosen.lastEventId !== undefined) headers.push(['last-event-id', chosen.lastEventId]);
    if (chosen.padding !== undefined) headers.push(['x-padding', chosen.padding]);
    return headers;
  });

const wrongValueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, -1, 0, 1.5, 1e308, -1e308, '', '0', 'NaN', [], {}, [1, 2], { value: 'x' }, 2 ** 53 + 2),
  fc.string({ maxLength: 20 }).map(noZ),
  fc.integer(),
  fc.constantFrom(5000, 20_000).map((length) => 'v'.repeat(length)),
);

function bodyArb(operation: Operation): fc.Arbitrary<Uint8Array | undefined> {
  const text = (value: string): Uint8Array => Buffer.from(value, 'utf8');
  const properties = operation.bodyProperties.length > 0 ? operation.bodyProperties : ['value'];
  return fc.oneof(
    fc.constant(undefined),
    fc.jsonValue({ maxDepth: 3 }).map((value) => text(noZ(JSON.stringify(value) ?? 'null'))),
    // The documented fields, each with a value of a type the schema does not allow (or an extra field).
    fc.dictionary(fc.constantFrom(...properties, 'unknownField', '__proto__'), wrongValueArb, { minKeys: 1, maxKeys: 4 })
      .map((object) => text(JSON.stringify(object))),
    fc.constantFrom(200, 5_000, 100_000).chain((depth) =>
      fc.constantFrom(`${'['.repeat(depth)}${']'.repeat(depth)}`, `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`).map(text)),
    fc.constantFrom(MAX_VALUE_BYTES + 1, BODY_LIMIT_BYTES + 1, 200_000).map((length) => text(JSON.stringify({ [properties[0] ?? 'value']: 'v'.repeat(length) }))),
    fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat()).map(([value, cut]) => {
      const whole = noZ(JSON.stringify({ [properties[0] ?? 'value']: value }));
      return text(whole.slice(0, cut % whole.length));
    }),
    fc.uint8Array({ minLength: 1, maxLength: 300 }).map(noZBytes),
    fc.constantFrom('{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', 'null', '""', '[]', '\uFEFF{}', '{"a":1,"a":2}', 'value=x').map(text),
  );
}

function requestArb(operations: readonly Operation[]): fc.Arbitrary<RawRequest> {
  return fc.constantFrom(...operations).chain((operation) => {
    const parameterCount = (operation.template.match(/\{[^}]+\}/g) ?? []).length;
    return fc
      .record({
        method: fc.oneof({ weight: 9, arbitrary: fc.constant(operation.method) }, { weight: 1, arbitrary: fc.constantFrom('PATCH', 'OPTIONS', 'TRACE', 'GeT', 'PROPFIND', 'BREW') }),
        segments: fc.array(segmentArb, { minLength: parameterCount, maxLength: parameterCount }),
        // Keys may span segments: sometimes add more after the template's last one.
        tail: fc.option(fc.array(segmentArb, { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`), { nil: '' }),
        query: queryArb(operation),
        headers: headersArb,
        body: bodyArb(operation),
      })
      .map(({ method, segments, tail, query, headers, body }) => {
        let index = 0;
        const path = operation.template.replace(/\{[^}]+\}/g, () => segments[index++] ?? '');
        return { method, target: `${path}${operation.template.endsWith('}') ? tail : ''}${query}`, headers, ...(body === undefined ? {} : { body }) };
      });
  });
}

// ---- the assertions ----

const STACK_OR_HTML = /<html|<!doctype|\bat .*\.(ts|js|mjs):\d+|node:internal/i;

/** Checks one outcome against the contract; returns whether it was an accepted (2xx) answer. */
function checkOutcome(outcome: RawOutcome, request: RawRequest): boolean {
  if (outcome.kind === 'closed') return false;
  const context = `${request.method} ${JSON.stringify(request.target.slice(0, 300))} → ${outcome.status} ${outcome.text.slice(0, 300)}`;
  expect(outcome.text, context).not.toMatch(STACK_OR_HTML);
  if (outcome.status >= 200 && outcome.status < 300) return true;
  expect(outcome.headers.get('content-type'), context).toMatch(/^application\/json/);
  const body = JSON.parse(outcome.text) as { error?: { code?: unknown; message?: unknown } };
  const code = body.error?.code;
  expect(typeof code, context).toBe('string');
  expect(typeof body.error?.message, context).toBe('string');
  expect(code, context).not.toBe('internal');
  expect(Object.keys(ERROR_CODES), context).toContain(code);
  expect(ERROR_CODES[code as keyof typeof ERROR_CODES], context).toBe(outcome.status);
  return false;
}

/** fast-check's report, with the (possibly megabytes long) counterexample cut short; the seed stays. */
function briefReport<T>(details: fc.RunDetails<T>): void {
  if (!details.failed) return;
  const example = JSON.stringify(details.counterexample, (_key, value: unknown) =>
    (typeof value === 'string' && value.length > 300 ? `${value.slice(0, 300)}…(${value.length} chars)` : value instanceof Uint8Array ? `<${value.length} bytes: ${Buffer.from(value.subarray(0, 120)).toString('latin1')}>` : value));
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(`property failed (seed ${details.seed}, path "${details.counterexamplePath ?? ''}", rerun with CONCORD_HOSTILE_SEED=${details.seed}):\n${example}\n${cause}`);
}

describe('hostile HTTP input at every documented route', () => {
  let cluster: TestCluster;
  let follower: TestMember;
  let operations: Operation[];

  beforeAll(async () => {
    cluster = await TestCluster.start({ kv: { maxValueBytes: MAX_VALUE_BYTES }, limits: { bodyLimitBytes: BODY_LIMIT_BYTES } });
    [follower] = (await cluster.followers()) as [TestMember];
    const document = await call(follower.url, 'GET', '/openapi.json');
    operations = operationsOf(document.body as OpenApiDocument);
    for (let i = 0; i < 5; i++) {
      expect((await call(follower.url, 'PUT', `/v1/kv/${SEED_PREFIX}${i}`, { json: { value: `seed-${i}` } })).status).toBe(200);
    }
  });
  afterAll(async () => {
    await cluster.stop();
  });

  // Reproducers of what the property found: answers fastify and Node's parser wrote in their own shape.
  async function expectContractError(request: RawRequest, status: number, code: string): Promise<void> {
    const { port, hostname } = new URL(follower.url);
    const outcome = await rawHttp(hostname, Number(port), request);
    expect(outcome.kind).toBe('answer');
    if (outcome.kind !== 'answer') return;
    expect(outcome.status, outcome.text).toBe(status);
    expect(outcome.headers.get('content-type')).toMatch(/^application\/json/);
    expect(outcome.headers.get('x-concord-node')).toBe(follower.id);
    expect(JSON.parse(outcome.text)).toMatchObject({ error: { code, message: expect.any(String) } });
  }

  it('headers beyond 16 KiB are 413 payload_too_large in the contract shape (was a bare 431)', async () => {
    await expectContractError({ method: 'GET', target: '/v1/cluster', headers: [['x-padding', 'p'.repeat(20_000)]] }, 413, 'payload_too_large');
  });

  it('a request line Node cannot parse is 400 invalid_argument in the contract shape', async () => {
    await expectContractError({ method: 'GET', target: '/v1/kv/a\u0000b', headers: [] }, 400, 'invalid_argument');
    await expectContractError({ method: 'GeT', target: '/health', headers: [] }, 400, 'invalid_argument');
  });

  it('lock names longer than 100 characters route (was a 414 of fastify\'s own); overlong ones are 400', async () => {
    const name = 'l'.repeat(500);
    const held = await call(follower.url, 'GET', `/v1/locks/${name}`);
    expect(held.status, held.text).toBe(200);
    expect(held.body).toMatchObject({ name, held: false });
    await expectContractError({ method: 'GET', target: `/v1/locks/${'l'.repeat(600)}`, headers: [] }, 400, 'invalid_argument');
    await expectContractError({ method: 'GET', target: `/v1/elections/${'e'.repeat(5000)}`, headers: [] }, 400, 'invalid_argument');
  });

  it('the OpenAPI document lists the routes the property drives', () => {
    const listed = new Set(operations.map((operation) => `${operation.method} ${operation.template}`));
    for (const route of ['PUT /v1/kv/{key}', 'GET /v1/kv', 'POST /v1/txn', 'GET /v1/watch', 'POST /v1/locks/{name}/acquire', 'PUT /v1/services/{service}/instances/{id}', 'POST /v1/cluster/members']) {
      expect(listed, route).toContain(route);
    }
  });

  it('answers every hostile request with a contract error, a 2xx or a close, keeps serving and changes no stored data', async () => {
    const seeded = await call(follower.url, 'GET', `/v1/kv?prefix=${SEED_PREFIX}`);
    expect(seeded.body.items).toHaveLength(5);
    const { port, hostname } = new URL(follower.url);
    let acceptedWrites = 0;
    let runs = 0;
    const seen = new Set<number | 'closed'>();
    await fc.assert(
      fc.asyncProperty(requestArb(operations), async (request) => {
        runs++;
        const outcome = await rawHttp(hostname, Number(port), request);
        seen.add(outcome.kind === 'closed' ? 'closed' : outcome.status);
        if (checkOutcome(outcome, request) && request.method !== 'GET') acceptedWrites++;
      }),
      { seed: SEED, numRuns: 1500, interruptAfterTimeLimit: 50_000, markInterruptAsFailure: false, endOnFailure: true, reporter: briefReport },
    );
    expect(runs).toBeGreaterThan(50);
    // Not vacuous: the generators reached the parser, the router, validation and the size limits.
    for (const status of [200, 400, 404, 413]) expect([...seen], `status ${status} among ${[...seen].join(', ')}`).toContain(status);

    for (const member of cluster.members) expect((await call(member.url, 'GET', '/health')).status).toBe(200);
    await cluster.waitForLeader();
    const put = await call(follower.url, 'PUT', '/v1/kv/after-hostile', { json: { value: 'still-here' } });
    expect(put.status, put.text).toBe(200);
    const got = await call(follower.url, 'GET', '/v1/kv/after-hostile?consistency=linearizable');
    expect(got.body.value).toBe('still-here');

    const after = await call(follower.url, 'GET', `/v1/kv?prefix=${SEED_PREFIX}`);
    expect(after.body.items).toEqual(seeded.body.items);
    // With no mutating request accepted, the one write since the snapshot is the check's own put.
    if (acceptedWrites === 0) expect(put.body.revision).toBe(seeded.body.revision + 1);
  });
});
