// The local cluster launcher's log formatting: pino JSON lines become one readable line each.
import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../src/cli/local-cluster.ts';

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
