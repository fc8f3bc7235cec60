// The fencing helper for users' own services, alone and as a fastify plugin.
import { fastify } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ConcordError, TokenFence, fencePlugin } from '../../src/client/index.ts';

describe('TokenFence', () => {
  it('accepts rising and equal tokens per resource, refuses lower ones', () => {
    const fence = new TokenFence();
    expect(fence.check('db', 5)).toBe(true);
    expect(fence.check('db', 5)).toBe(true);
    expect(fence.check('db', 7)).toBe(true);
    expect(fence.check('db', 6)).toBe(false);
    expect(fence.highest('db')).toBe(7);
    // Resources are independent.
    expect(fence.check('cache', 1)).toBe(true);
    expect(fence.highest('cache')).toBe(1);
    expect(fence.check('db', -1)).toBe(false);
    expect(fence.check('db', 1.5)).toBe(false);
    expect(fence.highest('db')).toBe(7);
  });

  it('admit throws stale_token with the current token', () => {
    const fence = new TokenFence();
    fence.admit('r', 10);
    try {
      fence.admit('r', 9);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConcordError);
      expect(error).toMatchObject({ code: 'stale_token', details: { resource: 'r', token: 9, currentToken: 10 } });
    }
  });
});

describe('fencePlugin', () => {
  async function app() {
    const server = fastify();
    await server.register(fencePlugin, { resource: (request) => (request.params as { id: string }).id });
    server.put('/things/:id', async () => ({ ok: true }));
    server.get('/things/:id', async () => ({ read: true }));
    return server;
  }

  it('lets writes with rising tokens through and answers 409 stale_token to a lower one', async () => {
    const server = await app();
    const put = (id: string, token?: string) =>
      server.inject({ method: 'PUT', url: `/things/${id}`, headers: token === undefined ? {} : { 'x-fencing-token': token } });
    expect((await put('a', '3')).statusCode).toBe(200);
    expect((await put('a', '4')).statusCode).toBe(200);
    const stale = await put('a', '3');
    expect(stale.statusCode).toBe(409);
    expect(stale.json()).toMatchObject({ error: { code: 'stale_token', currentToken: 4, token: 3 } });
    expect((await put('b', '1')).statusCode).toBe(200);
    expect((await put('a')).statusCode).toBe(400);
    expect((await put('a', 'x1')).statusCode).toBe(400);
    expect((await server.inject({ method: 'GET', url: '/things/a' })).statusCode).toBe(200);
    await server.close();
  });
});
