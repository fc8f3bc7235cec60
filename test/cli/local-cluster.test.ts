// The local cluster launcher's log formatting: pino JSON lines become one readable line each;
// and `concord local-cluster` / `concord serve` on bad flags and --help, as a real child process.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../src/cli/local-cluster.ts';

const run = promisify(execFile);

describe('formatLogLine', () => {
  it('shows time, level, message and the fields the prefix does not already say', () => {
    const line = JSON.stringify({ level: 30, time: Date.UTC(2026, 0, 2, 3, 4, 5, 678), nodeId: 'node1', clusterId: 'concord', pid: 7, msg: 'raft state changed', leader: 'node2', term: 3 });
    expect(formatLogLine(line)).toBe('03:04:05.678 INFO  raft state changed leader=node2 term=3');
  });

  it('passes anything that is not a JSON object through unchanged', () => {
    expect(formatLogLine('plain text')).toBe('plain text');
    expect(formatLogLine('[1,2]')).toBe('[1,2]');
  });
});

describe('the node commands on the command line', () => {
  const BIN = fileURLToPath(new URL('../../bin/concord.js', import.meta.url));
  const concord = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 30_000 });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    }
  };

  it('local-cluster and serve print their own flags for --help and -h, and exit 0', async () => {
    const localCluster = await concord('local-cluster', '--help');
    expect(localCluster.code).toBe(0);
    expect(localCluster.stdout).toMatch(/^concord local-cluster flags:\n/);
    expect(localCluster.stdout).toContain('--base-port N');
    const serve = await concord('serve', '-h');
    expect(serve.code).toBe(0);
    expect(serve.stdout).toMatch(/^concord serve flags:\n/);
    expect(serve.stdout).toContain('--listen-client HOST:PORT');
  }, 60_000);

  it('local-cluster names a bad flag in one line and exits 2 (no stack trace)', async () => {
    for (const args of [['--bogus'], ['--base-port'], ['stray']]) {
      const result = await concord('local-cluster', ...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^concord local-cluster: .+\n\nRun `concord local-cluster --help` for the flags\.\n$/);
      expect(result.stderr).not.toContain('    at ');
    }
  }, 60_000);
});
