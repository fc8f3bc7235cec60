/**
 * The figures every report quotes beside ours (issue 8): etcd 3.4.23, three members on loopback
 * on this same 2-core machine, driven by an equivalent keep-alive HTTP load generator through
 * its JSON gateway (medians of three runs; noisy, ±20–40 %), and Concord's targets. Strings, as
 * the issue gives them: several are ranges.
 */
export interface Reference {
  readonly etcd: string;
  readonly target: string;
}

const none: Reference = { etcd: '', target: '' };

export const REFERENCE = {
  sequentialPut: {
    opsPerSecond: { etcd: '~2,000', target: '' },
    p50Ms: { etcd: '0.43', target: '≤ 0.45' },
    p99Ms: { etcd: '1.6–1.9', target: '≤ 2' },
  },
  puts: {
    16: { opsPerSecond: none, p50Ms: none, p99Ms: none },
    64: {
      opsPerSecond: { etcd: '~8,700', target: '≥ 10,000' },
      p50Ms: { etcd: '6.3', target: '' },
      p99Ms: { etcd: '26', target: '≤ 25' },
    },
    256: { opsPerSecond: { etcd: '8,700–10,200', target: '≥ 12,000' }, p50Ms: none, p99Ms: none },
  } as Readonly<Record<number, { opsPerSecond: Reference; p50Ms: Reference; p99Ms: Reference }>>,
  linearizableGet: { opsPerSecond: { etcd: '~8,900', target: '≥ 15,000' }, p50Ms: none, p99Ms: { etcd: '41', target: '' } },
  serializableGet: { opsPerSecond: { etcd: '~11,400', target: '≥ 20,000' }, p50Ms: none, p99Ms: none },
  cpuPerPutUs: { etcd: '~180', target: '≤ 150' },
  lockCycle: {
    opsPerSecond: { etcd: '380–500 (grant+lock+unlock)', target: '≥ 1,000' },
    p50Ms: { etcd: '1.7–2.1', target: '' },
    p99Ms: none,
  },
  handoffsPerSecond: { etcd: '~79', target: '≥ 800' },
  acquireWaitP50Ms: { etcd: '99', target: '' },
  failoverMedianMs: { etcd: '1,200–1,300 (1 s election timeout)', target: '≤ 1,000' },
} as const;

export const NO_REFERENCE = none;
