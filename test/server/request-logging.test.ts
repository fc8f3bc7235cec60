// What a node logs per request: fastify's own request lines are off (through a LogController,
// without fastify's FSTDEP023 deprecation warning), a 503 from the /ready and /health probes is
// their answer and logged at debug, and other 5xx answers are logged at warn.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { SystemClock } from '../../src/common/clock.ts';
import { SeededRandom } from '../../src/common/random.ts';
import { KvNode } from '../../src/node/kv-node.ts';
import { DEFAULT_RAFT_CONFIG } from '../../src/raft/config.ts';
import { createHttpServer, type HttpServer } from '../../src/server/index.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';

interface LogRecord {
  readonly level: number;
  readonly msg: string;
  readonly url?: string;
  readonly status?: number;
}

const DEBUG = 20;
const WARN = 40;

/** One node that is never started, so /ready answers 503 (node is not running). */
function idleServer(lines: LogRecord[]): HttpServer {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  const storage = new MemoryStorage({ dataDir: 'memory-n1' });
  const node = new KvNode({
    raftConfig: { ...DEFAULT_RAFT_CONFIG, id: 'n1' },
    bootstrap: { voters: ['n1'], learners: [] },
    persisted: storage.loadNow(),
    random: new SeededRandom(1),
    clock: new SystemClock(),
    transport: { send: () => undefined },
    storage,
    tickMs: 10,
    snapshotEveryEntries: 10_000,
    maxPendingProposals: 100,
    maxPendingReads: 100,
  });
  return createHttpServer({ node, clusterId: 'test', nodeId: 'n1', logger: pino({ level: 'debug' }, sink), members: () => [] });
}

/** pino writes through the stream asynchronously; give it a turn. */
async function settled(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('request logging', () => {
  let server: HttpServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('raises no deprecation warning and leaves fastify\'s per-request lines off', async () => {
    const lines: LogRecord[] = [];
    const warnings: string[] = [];
    // process.emitWarning reports on a later tick.
    const onWarning = (warning: Error & { code?: string }): void => {
      warnings.push(`${warning.code ?? warning.name}: ${warning.message}`);
    };
    process.on('warning', onWarning);
    try {
      server = idleServer(lines);
      await settled();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((warning) => warning.startsWith('FSTDEP'))).toEqual([]);
    expect((await server.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    await settled();
    expect(lines.map((line) => line.msg)).not.toContain('incoming request');
    expect(lines.map((line) => line.msg)).not.toContain('request completed');
  });

  it('logs a 503 from /ready at debug, not as a failed request', async () => {
    const lines: LogRecord[] = [];
    server = idleServer(lines);
    expect((await server.app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
    await settled();
    const ready = lines.filter((line) => line.url === '/ready' && line.status === 503);
    expect(ready.map((line) => [line.level, line.msg])).toEqual([[DEBUG, 'request']]);
    expect(lines.filter((line) => line.level >= WARN)).toEqual([]);
  });

  it('logs other 5xx answers at warn', async () => {
    const lines: LogRecord[] = [];
    server = idleServer(lines);
    server.app.get('/test-fails', async (_request, reply) => reply.code(502).send({ failed: true }));
    expect((await server.app.inject({ method: 'GET', url: '/test-fails' })).statusCode).toBe(502);
    await settled();
    const failed = lines.filter((line) => line.url === '/test-fails');
    expect(failed.map((line) => [line.level, line.msg, line.status])).toEqual([[WARN, 'request failed', 502]]);
  });
});
