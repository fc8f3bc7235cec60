/**
 * A lock-holding client as a process of its own, for test/cluster/coordination.test.ts, which
 * kills it with SIGKILL. It acquires a lock through one node with a ttlMs lease (try once) and
 * keeps that lease alive until it dies. Every stdout line is JSON, written synchronously:
 *
 *   {"event":"acquired","token","lease","atMs"}      once
 *   {"event":"keepalive-sent","atMs"}                before each keepalive leaves (so every
 *                                                     keepalive that may have reached the
 *                                                     leader has a line, whenever the kill lands)
 *   {"event":"keepalive","remainingMs","atMs"}       after each acknowledged keepalive
 *
 * atMs is Date.now() (the wall clock the test process shares). It stops by itself when its
 * parent goes away (IPC channel closed) or after lifetimeMs, so it never outlives a test run.
 *
 *   node --import tsx test/cluster/lock-holder.ts <node url> <lock> <ttlMs> <keepaliveEveryMs> <owner> <lifetimeMs>
 */
import { writeSync } from 'node:fs';
import { Agent, request } from 'undici';

const [url = '', lock = '', ttlArg = '', everyArg = '', owner = '', lifetimeArg = ''] = process.argv.slice(2);
const ttlMs = Number(ttlArg);
const everyMs = Number(everyArg);
const lifetimeMs = Number(lifetimeArg);
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 1 });

function emit(line: Record<string, unknown>): void {
  writeSync(1, `${JSON.stringify({ ...line, atMs: Date.now() })}\n`);
}

function fail(message: string): never {
  writeSync(2, `lock-holder: ${message}\n`);
  process.exit(1);
}

async function post(path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await request(`${url}${path}`, {
    method: 'POST',
    dispatcher: agent,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

async function main(): Promise<void> {
  if (url === '' || lock === '' || !(ttlMs > 0) || !(everyMs > 0) || !(lifetimeMs > 0)) {
    fail('usage: lock-holder.ts <node url> <lock> <ttlMs> <keepaliveEveryMs> <owner> <lifetimeMs>');
  }
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(0), lifetimeMs).unref();
  const acquired = await post(`/v1/locks/${encodeURIComponent(lock)}/acquire`, { ttlMs, owner });
  if (acquired.status !== 200) fail(`acquire answered ${acquired.status}: ${JSON.stringify(acquired.body)}`);
  const lease = String(acquired.body['lease']);
  emit({ event: 'acquired', token: acquired.body['token'], lease });
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    emit({ event: 'keepalive-sent' });
    const kept = await post(`/v1/leases/${lease}/keepalive`);
    if (kept.status !== 200) fail(`keepalive answered ${kept.status}: ${JSON.stringify(kept.body)}`);
    emit({ event: 'keepalive', remainingMs: kept.body['remainingMs'] });
  }
}

await main();
