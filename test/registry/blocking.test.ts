// The pure rules of the registry's waiting readers (src/registry/blocking.ts), which the server's
// blocking queries and service watches and the simulator's model of them share: a query with
// `index` answers once the service's revision exceeds it — removals included, which leave no
// instance revision behind — and a watch sends exactly when that revision moved.
import { describe, expect, it } from 'vitest';
import { Harness } from '../kv/harness.ts';
import { changedSince, serviceRevision, watchUpdate, type ServiceRegisterCommand } from '../../src/registry/index.ts';

function registration(service: string, id: string): ServiceRegisterCommand {
  return { type: 'serviceRegister', service, id, address: '10.0.0.1', port: 8080, tags: [], meta: {}, ttlMs: 1000 };
}

describe('changedSince (blocking queries by index)', () => {
  it('answers once the service changed after the index, and not for other services or keys', () => {
    const h = new Harness();
    expect(changedSince(h.machine, 'web', 0)).toBe(false); // never registered: revision 0
    h.run(registration('web', 'a'));
    const index = serviceRevision(h.machine, 'web');
    expect(changedSince(h.machine, 'web', 0)).toBe(true);
    expect(changedSince(h.machine, 'web', index)).toBe(false);
    h.run({ type: 'put', key: 'unrelated', value: 'x' });
    h.run(registration('db', 'b'));
    expect(changedSince(h.machine, 'web', index)).toBe(false);
    h.run({ type: 'serviceDeregister', service: 'web', id: 'a' });
    // A removal: no instance key is left with a newer revision, the marker moved.
    expect(changedSince(h.machine, 'web', index)).toBe(true);
  });

  it('counts a removal by lease expiry as a change', () => {
    const h = new Harness();
    const registered = h.apply(registration('web', 'a'));
    const index = serviceRevision(h.machine, 'web');
    h.run({ type: 'leaseExpire', id: (registered.result as { lease: string }).lease });
    expect(changedSince(h.machine, 'web', index)).toBe(true);
  });
});

describe('watchUpdate (service watch frames)', () => {
  it('sends the list first, then only when the service revision moved', () => {
    const h = new Harness();
    h.run(registration('web', 'a'));
    const first = watchUpdate(h.machine, 'web', {}, -1);
    expect(first?.instances.map((instance) => instance.id)).toEqual(['a']);
    const sent = first?.revision ?? -1;
    expect(watchUpdate(h.machine, 'web', {}, sent)).toBeNull();
    h.run(registration('db', 'x'));
    expect(watchUpdate(h.machine, 'web', {}, sent)).toBeNull();
    h.run({ type: 'serviceDeregister', service: 'web', id: 'a' });
    const removal = watchUpdate(h.machine, 'web', {}, sent);
    expect(removal?.instances).toEqual([]);
    expect(removal?.revision).toBeGreaterThan(sent);
  });

  it('applies the filter to the list it sends', () => {
    const h = new Harness();
    h.run({ ...registration('web', 'a'), tags: ['eu'] });
    h.run({ ...registration('web', 'b'), tags: ['us'] });
    expect(watchUpdate(h.machine, 'web', { tag: 'eu' }, -1)?.instances.map((instance) => instance.id)).toEqual(['a']);
  });
});
