#!/usr/bin/env node
// The `concord` command. It runs the compiled build in dist/concord/ (scripts/build.js; `npm
// start` and `npm run build` make it) when that build is fresh — the build of exactly the files
// now in src/, judged by bin/build-freshness.js: same files with the sizes and mtimes the build
// recorded, or else the same contents by SHA-256. Otherwise (no build, or src/ edited since) it
// runs src/ through tsx's loader, so a checkout works without a build step and never runs stale
// code. CONCORD_RUNTIME=source always runs src/ through tsx.
import { fileURLToPath } from 'node:url';
import { buildState } from './build-freshness.js';

const runtime = process.env.CONCORD_RUNTIME ?? '';
if (runtime !== '' && runtime !== 'source') {
  process.stderr.write(`concord: CONCORD_RUNTIME must be "source" or unset, got ${JSON.stringify(runtime)}\n`);
  process.exit(2);
}
const state = runtime === 'source' ? 'absent' : buildState(fileURLToPath(new URL('..', import.meta.url)));
if (state === 'fresh' || state === 'fresh-by-content') {
  // Stack traces name the .ts files and lines (the build's source maps), as under tsx.
  process.setSourceMapsEnabled(true);
  await import('../dist/concord/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
