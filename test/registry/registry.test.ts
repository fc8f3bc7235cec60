// The service registry in the state machine: registration with its own lease or a shared one,
// status changes, deregistration, removal with the lease in one entry, per-service revisions,
// discovery filters, the service list, and system keys staying out of clients' sight.
import { describe, expect, it } from 'vitest';
import { Harness } from '../kv/harness.ts';
import { discover, findInstance, listServices, serviceRevision, type ServiceRegisterCommand } from '../../src/registry/index.ts';

function registration(service: string, id: string, extra: Partial<ServiceRegisterCommand> = {}): ServiceRegisterCommand {
  const lease = extra.lease;
  return {
    type: 'serviceRegister',
    service,
    id,
    address: '10.0.0.1',
    port: 8080,
    tags: [],
    meta: {},
    ...(lease === undefined ? { ttlMs: extra.ttlMs ?? 1000 } : {}),
    ...extra,
  };
}

describe('register', () => {
  it('stores the instance on a lease of its own and tells the leader to count it down', () => {
    const h = new Harness();
    const outcome = h.apply(registration('web', 'a', { tags: ['v1', 'eu'], meta: { zone: 'b', arch: 'arm' }, ttlMs: 700 }));
    expect(outcome.result).toEqual({ service: 'web', id: 'a', lease: '1', revision: 1 });
    expect(outcome.leasesGranted).toEqual([{ id: '1', ttlMs: 700 }]);
    expect(h.machine.lease('1')).toEqual({ id: '1', ttlMs: 700, keys: [] }); // the instance key is a system key
    expect(findInstance(h.machine, 'web', 'a')).toEqual({
      id: 'a',
      address: '10.0.0.1',
      port: 8080,
      tags: ['v1', 'eu'],
      meta: { arch: 'arm', zone: 'b' },
      status: 'passing',
      lease: '1',
      modRevision: 1,
    });
    expect(serviceRevision(h.machine, 'web')).toBe(1);
  });

  it('rides on an existing lease, and refuses a lease that does not exist', () => {
    const h = new Harness();
    const lease = h.grant(2000);
    const outcome = h.apply(registration('web', 'a', { lease }));
    expect(outcome.result).toMatchObject({ lease, revision: 1 });
    expect(outcome.leasesGranted).toEqual([]);
    const missing = h.run(registration('web', 'b', { lease: '99' }));
    expect(missing).toEqual({ error: expect.objectContaining({ code: 'not_found', lease: '99' }) as unknown });
    expect(h.machine.revision).toBe(1);
  });

  it('re-registering keeps the status, reuses an own lease of the same TTL and replaces one of another TTL', () => {
    const h = new Harness();
    h.run(registration('web', 'a', { ttlMs: 1000 }));
    h.run({ type: 'serviceStatus', service: 'web', id: 'a', status: 'warning', note: 'slow' });
    const again = h.apply(registration('web', 'a', { ttlMs: 1000, port: 9090 }));
    expect(again.result).toMatchObject({ lease: '1' });
    expect(again.leasesGranted).toEqual([{ id: '1', ttlMs: 1000 }]); // the countdown restarts
    expect(findInstance(h.machine, 'web', 'a')).toMatchObject({ port: 9090, status: 'warning', note: 'slow' });
    const longer = h.apply(registration('web', 'a', { ttlMs: 5000 }));
    expect(longer.result).toMatchObject({ lease: '2' });
    expect(longer.leasesRemoved).toEqual(['1']);
    expect(h.machine.leases()).toEqual([{ id: '2', ttlMs: 5000 }]);
  });
});

describe('status and deregistration', () => {
  it('a status change is a write at a new revision; the same status again writes nothing', () => {
    const h = new Harness();
    h.run(registration('web', 'a'));
    const changed = h.run({ type: 'serviceStatus', service: 'web', id: 'a', status: 'critical', note: 'disk full' });
    expect(changed).toEqual({ revision: 2, changed: true });
    expect(findInstance(h.machine, 'web', 'a')).toMatchObject({ status: 'critical', note: 'disk full', modRevision: 2 });
    const same = h.run({ type: 'serviceStatus', service: 'web', id: 'a', status: 'critical', note: 'disk full' });
    expect(same).toEqual({ revision: 2, changed: false });
    expect(serviceRevision(h.machine, 'web')).toBe(2);
    const gone = h.run({ type: 'serviceStatus', service: 'web', id: 'zz', status: 'passing', note: '' });
    expect(gone).toEqual({ error: expect.objectContaining({ code: 'not_found' }) as unknown });
  });

  it('deregistering revokes the lease the instance owns, in the same entry', () => {
    const h = new Harness();
    h.run(registration('web', 'a'));
    const outcome = h.apply({ type: 'serviceDeregister', service: 'web', id: 'a' });
    expect(outcome.result).toEqual({ revision: 2 });
    expect(outcome.leasesRemoved).toEqual(['1']);
    expect(h.machine.leases()).toEqual([]);
    expect(discover(h.machine, 'web')).toEqual({ revision: 2, instances: [], storeRevision: 2 });
    expect(h.run({ type: 'serviceDeregister', service: 'web', id: 'a' })).toEqual({
      error: expect.objectContaining({ code: 'not_found', service: 'web', id: 'a' }) as unknown,
    });
  });

  it('deregistering leaves a shared lease and its other keys alone', () => {
    const h = new Harness();
    const lease = h.grant();
    h.put('config', 'x', { lease });
    h.run(registration('web', 'a', { lease }));
    const outcome = h.apply({ type: 'serviceDeregister', service: 'web', id: 'a' });
    expect(outcome.leasesRemoved).toEqual([]);
    expect(h.machine.lease(lease)).toEqual({ id: lease, ttlMs: 1000, keys: ['config'] });
  });
});

describe('lease end', () => {
  it('an expiry removes every instance on the lease and moves each service revision, in that one entry', () => {
    const h = new Harness();
    const lease = h.grant();
    h.run(registration('web', 'a', { lease }));
    h.run(registration('api', 'b', { lease }));
    h.run(registration('web', 'c')); // its own lease: survives
    h.put('k', 'v', { lease });
    const expired = h.apply({ type: 'leaseExpire', id: lease });
    expect(expired.result).toMatchObject({ revision: 5 });
    expect(discover(h.machine, 'web').instances.map((instance) => instance.id)).toEqual(['c']);
    expect(discover(h.machine, 'api')).toEqual({ revision: 5, instances: [], storeRevision: 5 });
    expect(serviceRevision(h.machine, 'web')).toBe(5);
    expect(h.machine.get('k').kv).toBeNull();
  });

  it('revoking the own lease of an instance removes it', () => {
    const h = new Harness();
    const { lease } = h.run(registration('web', 'a')) as { lease: string };
    h.run({ type: 'leaseRevoke', id: lease });
    expect(findInstance(h.machine, 'web', 'a')).toBeNull();
    expect(serviceRevision(h.machine, 'web')).toBe(2);
  });
});

describe('queries', () => {
  it('discovers by status and tag, sorted by id; lists services with counts', () => {
    const h = new Harness();
    h.run(registration('web', 'b', { tags: ['canary'] }));
    h.run(registration('web', 'a', { tags: ['stable', 'eu'] }));
    h.run(registration('web', 'c', { tags: ['stable'] }));
    h.run(registration('db', 'x'));
    h.run({ type: 'serviceStatus', service: 'web', id: 'c', status: 'warning', note: '' });
    expect(discover(h.machine, 'web').instances.map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect(discover(h.machine, 'web', { status: 'passing' }).instances.map((i) => i.id)).toEqual(['a', 'b']);
    expect(discover(h.machine, 'web', { tag: 'stable' }).instances.map((i) => i.id)).toEqual(['a', 'c']);
    expect(discover(h.machine, 'web', { tag: 'stable', status: 'warning' }).instances.map((i) => i.id)).toEqual(['c']);
    expect(discover(h.machine, 'nothing')).toEqual({ revision: 0, instances: [], storeRevision: 5 });
    expect(listServices(h.machine)).toEqual({
      services: [
        { name: 'db', instances: 1, passing: 1 },
        { name: 'web', instances: 3, passing: 2 },
      ],
      storeRevision: 5,
    });
  });

  it('a service revision moves only with changes to that service', () => {
    const h = new Harness();
    h.run(registration('web', 'a'));
    h.run(registration('db', 'x'));
    h.put('user-key', 'v');
    expect(serviceRevision(h.machine, 'web')).toBe(1);
    expect(serviceRevision(h.machine, 'db')).toBe(2);
    // A service name that prefixes another is not confused with it.
    h.run(registration('web2', 'z'));
    expect(discover(h.machine, 'web').instances.map((i) => i.id)).toEqual(['a']);
    expect(serviceRevision(h.machine, 'web')).toBe(1);
  });

  it('keeps registry records out of user ranges, watches and key writes', () => {
    const h = new Harness();
    h.put('a', '1');
    h.run(registration('web', 'a'));
    expect(h.machine.range('').items.map((kv) => kv.key)).toEqual(['a']);
    expect(h.machine.range('', 1)).toMatchObject({ more: false });
    const events = h.machine.eventsSince(1, { prefix: '' });
    expect(events).toMatchObject({ events: [expect.objectContaining({ key: 'a' })] });
    const txn = h.run({ type: 'txn', compare: [], success: [{ range: { prefix: '' } }], failure: [] });
    expect(txn).toMatchObject({ results: [{ range: { items: [expect.objectContaining({ key: 'a' })], more: false } }] });
    expect(() => h.run({ type: 'put', key: '\uFFFFregistry/i/web/a', value: 'x' })).toThrow(/reserved/);
    expect(() => h.run({ type: 'deletePrefix', prefix: '\uFFFF' })).toThrow(/reserved/);
    expect(findInstance(h.machine, 'web', 'a')).not.toBeNull();
  });
});
