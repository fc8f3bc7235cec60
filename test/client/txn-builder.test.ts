// The SDK's txn builder: the request body it sends, key and lock-token guards side by side.
import { describe, expect, it } from 'vitest';
import { Concord, Op } from '../../src/client/index.ts';
import { FakeTransport, json } from './fakes.ts';

function concordWith(transport: FakeTransport): Concord {
  return new Concord({ endpoints: ['http://a:1'], transport });
}

describe('TxnBuilder', () => {
  it('sends lock and election token guards in the contract form, in the order they were added', async () => {
    const transport = new FakeTransport(() => json(200, { succeeded: false, revision: 4, results: [{ get: { kv: null } }] }));
    const result = await concordWith(transport)
      .kv.txn()
      .compare('job/state', 'value', '==', 'running')
      .compareLockToken('job', '==', 7)
      .compareElectionToken('api', '>', 0)
      .success(Op.put('job/out', 'done'))
      .failure(Op.get('job/out'))
      .commit();
    expect(result).toEqual({ succeeded: false, revision: 4, results: [{ get: { kv: null } }] });
    const [sent] = transport.requests;
    expect(sent?.method).toBe('POST');
    expect(sent?.path).toMatch(/^\/v1\/txn(\?|$)/);
    expect(JSON.parse(sent?.body as string)).toEqual({
      compare: [
        { key: 'job/state', target: 'value', op: '==', value: 'running' },
        { lock: 'job', target: 'token', op: '==', value: 7 },
        { election: 'api', target: 'token', op: '>', value: 0 },
      ],
      success: [{ put: { key: 'job/out', value: 'done' } }],
      failure: [{ get: { key: 'job/out' } }],
    });
  });

  it('a lock guard and a fence are separate: the fence is sent only when asked for', () => {
    const builder = concordWith(new FakeTransport(() => json(200, {}))).kv.txn().compareLockToken('db', '!=', 0);
    expect(builder.toJSON()).not.toHaveProperty('fence');
    builder.fence({ lock: 'db', token: 3 });
    expect(builder.toJSON()).toMatchObject({ compare: [{ lock: 'db', target: 'token', op: '!=', value: 0 }], fence: { lock: 'db', token: 3 } });
  });
});
