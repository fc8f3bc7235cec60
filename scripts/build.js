#!/usr/bin/env node
// Compiles the concord command (src/cli/main.ts and everything it imports: server, Raft, storage,
// SDK) to plain JavaScript in dist/concord/, which bin/concord.js runs instead of src/ through
// tsx while it is fresh (bin/build-freshness.js says how that is judged).
//
//   node scripts/build.js             build (npm run build runs it after the SDK's tsc)
//   node scripts/build.js --if-stale  build only when dist/concord is absent or stale (npm start)
//   node scripts/build.js --check     exit 1 unless dist/concord is fresh (the Docker image)
//
// With --if-stale and --check, a build that is fresh by content only gets its stamp rewritten
// with the current mtimes, so each start takes the stat-only path again instead of hashing src/.
//
// esbuild bundles the sources (packages stay external imports, as under tsx) with code splitting,
// so the command's lazy imports stay lazy: a client command does not load fastify or level.
// There are no __name wrappers (keepNames off): nothing in src/ reads a function's or class's
// name, and under load they cost a node 2-4 % of its CPU through tsx. Linked source maps, so with
// --enable-source-maps (bin/concord.js turns it on) stack traces name the .ts files and lines.
//
// Every output file sits directly in dist/concord/, two levels below the repository root like
// src/cli/, because the code finds files relative to its own module (../../package.json for
// `concord version`, ./main.js to start a node on the same build): keep it that way.
//
// The build is written to a temporary directory and moved into place whole, stamp included, so a
// process starting meanwhile sees either the old build or the new one, never half of one.
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_DIR, RACY_WINDOW_MS, STAMP_FILE, buildState, listInputs, readStamp, snapshotInputs } from '../bin/build-freshness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = path.join(root, BUILD_DIR);

function writeStamp(dir, stamp) {
  const temporary = path.join(dir, `.${STAMP_FILE}.${process.pid}`);
  writeFileSync(temporary, `${JSON.stringify(stamp)}\n`);
  renameSync(temporary, path.join(dir, STAMP_FILE));
}

function sameStats(a, b) {
  const files = Object.keys(a.files);
  return files.length === Object.keys(b.files).length &&
    files.every((file) => b.files[file]?.[0] === a.files[file][0] && b.files[file]?.[1] === a.files[file][1]);
}

async function compile() {
  const startedAt = performance.now();
  // Recorded before esbuild reads anything: a file edited during the build then differs from it.
  const inputs = snapshotInputs(root);
  const staging = path.join(root, 'dist', `.concord-build-${process.pid}-${randomBytes(4).toString('hex')}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    // Loaded only to build: `--if-stale` on a fresh build and `--check` do without esbuild.
    const { build } = await import('esbuild');
    const result = await build({
      absWorkingDir: root,
      entryPoints: ['src/cli/main.ts'],
      outdir: staging,
      entryNames: '[name]',
      chunkNames: '[name]-[hash]',
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      packages: 'external',
      keepNames: false,
      sourcemap: 'linked',
      sourcesContent: false,
      metafile: true,
      logLevel: 'warning',
    });
    // The stamp vouches only for the inputs it lists: a bundled file outside them would make
    // "fresh" a lie when it changes.
    const untracked = Object.keys(result.metafile.inputs).filter((file) => !(file in inputs.files));
    if (untracked.length > 0) throw new Error(`the build read files the stamp does not track: ${untracked.join(', ')} (see bin/build-freshness.js)`);
    if (!sameStats(inputs, snapshotInputs(root))) throw new Error('src/ changed during the build; run it again');
    writeStamp(staging, inputs);
    // Swap the directories. Should a concurrent build win the race, its build stands (its own
    // stamp describes it) and this one is dropped.
    const retired = `${outDir}.old-${process.pid}`;
    try {
      renameSync(outDir, retired);
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
    try {
      renameSync(staging, outDir);
    } catch (error) {
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    }
    rmSync(retired, { recursive: true, force: true });
    const ms = Math.round(performance.now() - startedAt);
    process.stderr.write(`concord: compiled src/ to ${BUILD_DIR}/ in ${ms} ms (${Object.keys(result.metafile.outputs).length} files)\n`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

const mode = process.argv.includes('--check') ? 'check' : process.argv.includes('--if-stale') ? 'if-stale' : 'build';
const state = mode === 'build' ? 'absent' : buildState(root);
if (state === 'fresh-by-content') {
  // Same contents with other mtimes (a checkout, a copy): record the new mtimes. Files changed
  // just now would still be judged by content; --check (an image build, where every file was
  // just copied) waits until they are old enough, npm start does not wait for the sake of ~10 ms.
  if (mode === 'check') {
    const newestMs = Math.max(...listInputs(root).map((file) => statSync(path.join(root, file)).mtimeMs));
    const waitMs = newestMs + RACY_WINDOW_MS + 10 - Date.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
  }
  const inputs = snapshotInputs(root);
  if (inputs.sha256 === readStamp(root)?.sha256) writeStamp(outDir, inputs);
}
if (state === 'fresh' || state === 'fresh-by-content') {
  // Nothing to build.
} else if (mode === 'check') {
  process.stderr.write(`concord: ${BUILD_DIR}/ is ${state === 'absent' ? 'absent' : 'not the build of src/ (stale)'}; run npm run build\n`);
  process.exitCode = 1;
} else {
  await compile();
}
