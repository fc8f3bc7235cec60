/**
 * The HTTP API factory serve uses. src/server is built in parallel; until it is in the tree this
 * loads it if present and otherwise reports its absence (serve then runs peers only).
 */
import type { HttpServerFactory } from './serve.ts';

async function load(): Promise<HttpServerFactory | null> {
  const specifier = '../server/index.ts';
  try {
    const module = (await import(specifier)) as { createHttpServer?: HttpServerFactory };
    return module.createHttpServer ?? null;
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ERR_MODULE_NOT_FOUND') return null;
    throw error;
  }
}

export const createHttpServer: HttpServerFactory | null = await load();
