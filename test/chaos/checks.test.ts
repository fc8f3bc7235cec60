/** The chaos checks on hand-made histories: each must pass the good case and flag the bad one. */
import { describe, expect, it } from 'vitest';
import { checkFencedTokens, checkGrantOrder, checkRegisterLinearizable } from '../../chaos/checks.ts';

describe('chaos checks', () => {
  it('fenced tokens: a smaller token applied after a greater one is a violation, in acknowledged or replayed writes', () => {
    const good = [{ token: 1, revision: 5, value: '1:a' }, { token: 1, revision: 7, value: '1:b' }, { token: 3, revision: 9, value: '3:c' }];
    expect(checkFencedTokens(good, good, 2).verdict).toBe('ok');
    const backwards = [...good, { token: 2, revision: 11, value: '2:stale' }];
    expect(checkFencedTokens(backwards, good, 3).verdict).toBe('violated');
    const replayed = checkFencedTokens(good, backwards, 3);
    expect(replayed.verdict).toBe('violated');
    expect(replayed.detail).toContain('applied writes: token 2');
    expect(checkFencedTokens(good, 'the watch history was compacted', 2).detail).toContain('not checked');
  });

  it('lock grants: a grant after another completed must carry a greater token', () => {
    const ordered = [
      { token: 1, invokeMs: 0, completeMs: 10, client: 1 },
      { token: 2, invokeMs: 5, completeMs: 30, client: 2 },
      { token: 3, invokeMs: 31, completeMs: 40, client: 3 },
    ];
    expect(checkGrantOrder(ordered).verdict).toBe('ok');
    // Concurrent grants may come in either order...
    expect(checkGrantOrder([{ token: 2, invokeMs: 0, completeMs: 10, client: 1 }, { token: 1, invokeMs: 5, completeMs: 30, client: 2 }]).verdict).toBe('ok');
    // ...but not one invoked after a greater token was granted.
    const result = checkGrantOrder([...ordered, { token: 2, invokeMs: 50, completeMs: 60, client: 4 }]);
    expect(result.verdict).toBe('violated');
    expect(result.detail).toContain('token 2');
  });

  it('register: a read of an overwritten value after the write completed is flagged', () => {
    const put = (id: number, value: string, invokeMs: number, completeMs: number) =>
      ({ id, client: id, op: { kind: 'put' as const, key: 'k', value }, invokeMs, completeMs, outcome: { status: 'ok' as const } });
    const get = (id: number, value: string | null, invokeMs: number, completeMs: number) =>
      ({ id, client: id, op: { kind: 'get' as const, key: 'k' }, invokeMs, completeMs, outcome: { status: 'ok' as const, value } });
    expect(checkRegisterLinearizable([put(1, 'a', 0, 10), get(2, 'a', 11, 12)], 1_000).verdict).toBe('ok');
    const stale = checkRegisterLinearizable([put(1, 'a', 0, 10), put(2, 'b', 11, 20), get(3, 'a', 21, 22)], 1_000);
    expect(stale.verdict).toBe('violated');
    expect(stale.report).toContain('get "k"');
    expect(checkRegisterLinearizable([], 1_000).verdict).toBe('skipped');
  });
});
