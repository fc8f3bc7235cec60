// Every error has the contract's shape — fastify's own included — and the node keeps serving.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, TestCluster, type TestMember } from './cluster-harness.ts';
import { waitFor } from '../cluster/harness.ts';

describe('errors in the contract shape', () => {
  let cluster: TestCluster;
  let follower: TestMember;
  // One cluster for these read-mostly checks: each test asserts the node still serves afterwards.
  beforeAll(async () => {
    cluster = await TestCluster.start({ kv: { maxValueBytes: 4096 }, limits: { bodyLimitBytes: 16 * 1024 } });
    [follower] = (await cluster.followers()) as [TestMember];
  });
  afterAll(async () => {
    await cluster.stop();
  });

  async function expectError(
    answer: { status: number; body: { error?: { code?: unknown; message?: unknown } }; headers: Record<string, unknown>; text: string },
    status: number,
    code: string,
  ): Promise<void> {
    expect(answer.status, answer.text).toBe(status);
    expect(answer.headers['content-type']).toMatch(/^application\/json/);
    expect(answer.body.error?.code).toBe(code);
    expect(typeof answer.body.error?.message).toBe('string');
    expect(answer.text).not.toMatch(/<html|at .*\.ts:\d+/i);
    expect(answer.headers['x-concord-node']).toBe(follower.id);
    const alive = await call(follower.url, 'PUT', '/v1/kv/alive', { json: { value: 'yes' } });
    expect(alive.status).toBe(200);
  }

  it('malformed JSON is 400 invalid_argument', async () => {
    const answer = await call(follower.url, 'PUT', '/v1/kv/a', { rawBody: '{"value": ', headers: { 'content-type': 'application/json' } });
    await expectError(answer, 400, 'invalid_argument');
  });

  it('a prototype-poisoning body is refused', async () => {
    const answer = await call(follower.url, 'PUT', '/v1/kv/a', { rawBody: '{"value":"x","__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' } });
    await expectError(answer, 400, 'invalid_argument');
  });

  it('wrong types are 400: no coercion of a number into a string', async () => {
    await expectError(await call(follower.url, 'PUT', '/v1/kv/a', { json: { value: 42 } }), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'PUT', '/v1/kv/a', { json: { value: 'x', ifRevision: '3' } }), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'GET', '/v1/kv?limit=abc'), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'GET', '/v1/kv?limit=-1'), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'GET', '/v1/kv/a?consistency=eventual'), 400, 'invalid_argument');
  });

  it('unknown fields and query parameters are 400, not silently dropped', async () => {
    await expectError(await call(follower.url, 'PUT', '/v1/kv/a', { json: { value: 'x', valeu: 'typo' } }), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'GET', '/v1/kv/a?consistncy=serializable'), 400, 'invalid_argument');
    expect((await call(follower.url, 'GET', '/v1/kv/a', {})).status).not.toBe(400);
  });

  it('a missing body or required field is 400', async () => {
    await expectError(await call(follower.url, 'PUT', '/v1/kv/a'), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'PUT', '/v1/kv/a', { json: {} }), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'POST', '/v1/leases', { json: {} }), 400, 'invalid_argument');
  });

  it('an empty key is 400', async () => {
    await expectError(await call(follower.url, 'PUT', '/v1/kv/', { json: { value: 'x' } }), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'GET', '/v1/kv/'), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'DELETE', '/v1/kv/'), 400, 'invalid_argument');
  });

  it('a body far over the limit is read and discarded, so its sender gets the 413 and the connection goes on', async () => {
    // The node used to answer unread with `connection: close`; a client still writing a body
    // larger than the sockets buffer (3 MB) then had its connection reset (EPIPE) before it
    // could read the 413. Here the client writes a third of the body, reads the answer, writes
    // the rest, and asks again on the same connection.
    const { hostname, port } = new URL(follower.url);
    const socket = connect(Number(port), hostname);
    let received = '';
    socket.setEncoding('latin1').on('data', (chunk: string) => (received += chunk));
    const bodyBytes = 3 * 1024 * 1024;
    socket.write(`PUT /v1/kv/huge HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${bodyBytes}\r\n\r\n`);
    socket.write(Buffer.alloc(bodyBytes / 3, 0x20));
    await waitFor('the 413', 5_000, async () => (received.includes('payload_too_large') ? true : undefined));
    expect(received).toMatch(/^HTTP\/1\.1 413/);
    expect(received).not.toMatch(/connection: close/i);
    await new Promise<void>((resolve, reject) => socket.write(Buffer.alloc(bodyBytes - bodyBytes / 3, 0x20), (error) => (error ? reject(error) : resolve())));
    received = '';
    socket.write('GET /health HTTP/1.1\r\nhost: x\r\n\r\n');
    await waitFor('the answer to a second request on the connection', 5_000, async () => (/\r\n\r\n/.test(received) ? true : undefined));
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    socket.destroy();
  });

  it('an oversized key, value or body is 413 payload_too_large', async () => {
    const longKey = 'k'.repeat(1025);
    await expectError(await call(follower.url, 'PUT', `/v1/kv/${longKey}`, { json: { value: 'x' } }), 413, 'payload_too_large');
    await expectError(await call(follower.url, 'GET', `/v1/kv/${longKey}`), 413, 'payload_too_large');
    await expectError(await call(follower.url, 'PUT', '/v1/kv/big', { json: { value: 'v'.repeat(4097) } }), 413, 'payload_too_large');
    await expectError(await call(follower.url, 'PUT', '/v1/kv/huge', { json: { value: 'v'.repeat(20 * 1024) } }), 413, 'payload_too_large');
    const fits = await call(follower.url, 'PUT', '/v1/kv/fits', { json: { value: 'v'.repeat(4096) } });
    expect(fits.status).toBe(200);
  });

  it('an unknown route or method is 404 not_found in the contract shape', async () => {
    await expectError(await call(follower.url, 'GET', '/v2/nothing'), 404, 'not_found');
    await expectError(await call(follower.url, 'POST', '/v1/kv/a', { json: { value: 'x' } }), 404, 'not_found');
  });

  it('a body that is not JSON is 400', async () => {
    const answer = await call(follower.url, 'PUT', '/v1/kv/a', { rawBody: 'value=x', headers: { 'content-type': 'text/plain' } });
    await expectError(answer, 400, 'invalid_argument');
  });

  it('timeoutMs beyond the maximum or not a positive integer is 400', async () => {
    await expectError(await call(follower.url, 'PUT', '/v1/kv/a', { json: { value: 'x', timeoutMs: 0 } }), 400, 'invalid_argument');
    await expectError(await call(follower.url, 'GET', '/v1/kv/a?timeoutMs=999999999'), 400, 'invalid_argument');
  });

  it('a fenced write whose token holds no lock is 409 stale_token, and a malformed fence is 400', async () => {
    const answer = await call(follower.url, 'PUT', '/v1/kv/f', { json: { value: 'x', fence: { lock: 'l', token: 1 } } });
    await expectError(answer, 409, 'stale_token');
    const both = { value: 'x', fence: { lock: 'l', election: 'e', token: 1 } };
    await expectError(await call(follower.url, 'PUT', '/v1/kv/f', { json: both }), 400, 'invalid_argument');
  });
});
