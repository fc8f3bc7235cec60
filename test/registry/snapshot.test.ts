// Registry state travels in KV snapshots: a restored machine answers every registry query the
// same, encodes to the same bytes, and goes on applying registry commands identically.
import { describe, expect, it } from 'vitest';
import { Harness, digest } from '../kv/harness.ts';
import { KvStateMachine } from '../../src/kv/index.ts';
import { discover, listServices, serviceRevision } from '../../src/registry/index.ts';

function populated(): Harness {
  const h = new Harness();
  const shared = h.grant(3000);
  h.run({ type: 'serviceRegister', service: 'web', id: 'a', address: '10.0.0.1', port: 80, tags: ['x'], meta: { z: '1', a: '2' }, ttlMs: 800 });
  h.run({ type: 'serviceRegister', service: 'web', id: 'b', address: '10.0.0.2', port: 80, tags: [], meta: {}, lease: shared });
  h.run({ type: 'serviceRegister', service: 'db', id: 'p', address: '10.0.0.3', port: 5432, tags: ['primary'], meta: {}, ttlMs: 800 });
  h.run({ type: 'serviceStatus', service: 'web', id: 'b', status: 'critical', note: 'down' });
  h.run({ type: 'serviceDeregister', service: 'db', id: 'p' });
  return h;
}

describe('registry snapshots', () => {
  it('restore reproduces identical state, queries and bytes', () => {
    const original = populated();
    const snapshot = original.machine.snapshot();
    const restored = new KvStateMachine();
    restored.restore(snapshot);
    expect(digest(restored.snapshot())).toBe(digest(snapshot));
    for (const service of ['web', 'db']) {
      expect(discover(restored, service)).toEqual(discover(original.machine, service));
      expect(serviceRevision(restored, service)).toBe(serviceRevision(original.machine, service));
    }
    expect(serviceRevision(restored, 'db')).toBeGreaterThan(0); // the emptied service keeps its revision
    expect(listServices(restored)).toEqual(listServices(original.machine));
    expect(restored.leases()).toEqual(original.machine.leases());
  });

  it('a restored machine applies the next commands exactly like the original', () => {
    const original = populated();
    const twin = new Harness(new KvStateMachine());
    twin.machine.restore(original.machine.snapshot());
    twin.index = original.index;
    const next = [
      { type: 'leaseExpire', id: '1' },
      { type: 'serviceRegister', service: 'web', id: 'c', address: 'h', port: 1, tags: [], meta: {}, ttlMs: 600 },
      { type: 'serviceStatus', service: 'web', id: 'c', status: 'warning', note: '' },
    ] as const;
    for (const body of next) expect(twin.apply(body)).toEqual(original.apply(body));
    expect(digest(twin.machine.snapshot())).toBe(digest(original.machine.snapshot()));
    expect(discover(twin.machine, 'web').instances.map((i) => i.id)).toEqual(['a', 'c']); // b rode on the shared lease 1
  });
});
