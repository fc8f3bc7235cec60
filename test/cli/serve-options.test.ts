// `concord serve` flags: the contract's names, CONCORD_* twins, and clear errors.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SNAPSHOT_EVERY, SERVE_FLAGS, environmentName, parseServeOptions } from '../../src/cli/serve-options.ts';

const BASE = [
  '--id', 'n1',
  '--data-dir', './data/n1',
  '--listen-client', '127.0.0.1:7001',
  '--listen-peer', '127.0.0.1:7101',
  '--initial-cluster', 'n1=127.0.0.1:7101,n2=127.0.0.1:7102,n3=127.0.0.1:7103',
];

describe('concord serve options', () => {
  it('parses the contract example', () => {
    const options = parseServeOptions(BASE, {});
    expect(options.id).toBe('n1');
    expect(options.listenClient).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(options.advertiseClient).toBe('http://127.0.0.1:7001');
    expect([...options.initialCluster.keys()]).toEqual(['n1', 'n2', 'n3']);
    expect(options.initialCluster.get('n3')).toEqual({ host: '127.0.0.1', port: 7103 });
    expect(options.logLevel).toBe('info');
  });

  it('takes every flag from CONCORD_* variables, and flags win over them', () => {
    const env = {
      CONCORD_ID: 'n2',
      CONCORD_DATA_DIR: '/data',
      CONCORD_LISTEN_CLIENT: '0.0.0.0:7001',
      CONCORD_LISTEN_PEER: '0.0.0.0:7101',
      CONCORD_INITIAL_CLUSTER: 'n1=node1:7101,n2=node2:7101',
      CONCORD_ADVERTISE_CLIENT: 'http://node2:7001',
      CONCORD_LOG_LEVEL: 'debug',
    };
    const fromEnv = parseServeOptions([], env);
    expect(fromEnv.id).toBe('n2');
    expect(fromEnv.advertiseClient).toBe('http://node2:7001');
    expect(fromEnv.logLevel).toBe('debug');
    expect(parseServeOptions(['--log-level=warn'], env).logLevel).toBe('warn');
    expect(environmentName('initial-cluster')).toBe('CONCORD_INITIAL_CLUSTER');
  });

  it.each([
    [['--id', 'n1'], /missing --data-dir/],
    [[...BASE, '--bogus', 'x'], /bogus/],
    [[...BASE.slice(0, 6), '--listen-peer', '127.0.0.1:99999', ...BASE.slice(8)], /--listen-peer must be host:port/],
    [[...BASE.slice(0, 8), '--initial-cluster', 'n2=127.0.0.1:7102'], /does not list this node's id n1/],
    [[...BASE.slice(0, 8), '--initial-cluster', 'n1=127.0.0.1:7101,n1=127.0.0.1:7102'], /listed twice/],
    [[...BASE, '--log-level', 'loud'], /--log-level must be one of/],
    [[...BASE, '--advertise-client', 'not a url'], /--advertise-client must be a URL/],
    [['--id', 'bad id!', ...BASE.slice(2)], /--id must be/],
  ])('refuses %j with a clear error', (argv, message) => {
    expect(() => parseServeOptions(argv, {})).toThrow(message);
  });
});

describe('concord serve tuning flags (beyond the contract)', () => {
  it('--snapshot-every defaults, reads CONCORD_SNAPSHOT_EVERY, and refuses non-positive values', () => {
    expect(parseServeOptions(BASE, {}).snapshotEvery).toBe(DEFAULT_SNAPSHOT_EVERY);
    expect(parseServeOptions(BASE, { CONCORD_SNAPSHOT_EVERY: '50' }).snapshotEvery).toBe(50);
    expect(parseServeOptions([...BASE, '--snapshot-every', '7'], { CONCORD_SNAPSHOT_EVERY: '50' }).snapshotEvery).toBe(7);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) {
      expect(() => parseServeOptions([...BASE, `--snapshot-every=${bad}`], {})).toThrow(/--snapshot-every/);
    }
  });

  it('lists every accepted flag', () => {
    expect(SERVE_FLAGS).toContain('snapshot-every');
    expect(SERVE_FLAGS).toContain('initial-cluster');
  });
});
