// The compiled build (scripts/build.js) and how bin/concord.js judges it fresh
// (bin/build-freshness.js): first on small trees of made-up inputs, then with the real build in a
// copy of the repository (the checkout's own dist/ is left alone), where `concord version` says
// which code ran and a local-cluster-style child runs the same build.
import { execFile, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_DIR, STAMP_FILE, buildState, snapshotInputs } from '../../bin/build-freshness.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

/** An hour ago: older than the stamp's racy window. */
const LONG_AGO = new Date(Date.now() - 3_600_000);

function tree(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'concord-freshness-'));
  mkdirSync(path.join(root, 'src', 'cli'), { recursive: true });
  mkdirSync(path.join(root, 'scripts'));
  writeFileSync(path.join(root, 'src', 'cli', 'main.ts'), 'export const a = 1;\n');
  writeFileSync(path.join(root, 'src', 'index.ts'), 'export const b = 2;\n');
  writeFileSync(path.join(root, 'tsconfig.json'), '{}\n');
  writeFileSync(path.join(root, 'scripts', 'build.js'), '// build\n');
  return root;
}

function age(root: string, file: string, when: Date = LONG_AGO): void {
  utimesSync(path.join(root, file), when, when);
}

function ageAll(root: string): void {
  for (const file of ['src/cli/main.ts', 'src/index.ts', 'tsconfig.json', 'scripts/build.js']) age(root, file);
}

function stamp(root: string): void {
  mkdirSync(path.join(root, BUILD_DIR), { recursive: true });
  writeFileSync(path.join(root, BUILD_DIR, STAMP_FILE), JSON.stringify(snapshotInputs(root)));
}

describe('build freshness', () => {
  const roots: string[] = [];
  const fresh = (): string => {
    const root = tree();
    roots.push(root);
    ageAll(root);
    stamp(root);
    return root;
  };
  afterAll(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  it('is absent without a stamp, fresh by stats right after one', () => {
    const root = tree();
    roots.push(root);
    expect(buildState(root)).toBe('absent');
    ageAll(root);
    stamp(root);
    expect(buildState(root)).toBe('fresh');
  });

  it('is stale when a file changes, even to the same size', () => {
    const root = fresh();
    writeFileSync(path.join(root, 'src', 'index.ts'), 'export const b = 3;\n');
    expect(buildState(root)).toBe('stale');
  });

  it('is stale when a build option changes (tsconfig.json, scripts/build.js)', () => {
    const root = fresh();
    writeFileSync(path.join(root, 'tsconfig.json'), '{"compilerOptions":{}}\n');
    expect(buildState(root)).toBe('stale');
    const other = fresh();
    writeFileSync(path.join(other, 'scripts', 'build.js'), '// other options\n');
    expect(buildState(other)).toBe('stale');
  });

  it('is stale when a file is added, removed or renamed', () => {
    const added = fresh();
    writeFileSync(path.join(added, 'src', 'cli', 'new.ts'), '');
    expect(buildState(added)).toBe('stale');
    const removed = fresh();
    unlinkSync(path.join(removed, 'src', 'index.ts'));
    expect(buildState(removed)).toBe('stale');
    const renamed = fresh();
    cpSync(path.join(renamed, 'src', 'index.ts'), path.join(renamed, 'src', 'other.ts'), { preserveTimestamps: true });
    unlinkSync(path.join(renamed, 'src', 'index.ts'));
    expect(buildState(renamed)).toBe('stale');
  });

  it('is fresh by content when only mtimes moved (a checkout, a copy)', () => {
    const root = fresh();
    age(root, 'src/index.ts', new Date());
    expect(buildState(root)).toBe('fresh-by-content');
  });

  it('judges a file written just before the stamp by content, not by its mtime', () => {
    const root = tree();
    roots.push(root);
    ageAll(root);
    age(root, 'src/index.ts', new Date());
    stamp(root);
    expect(buildState(root)).toBe('fresh-by-content');
    // Same size, same mtime as recorded: only the content tells.
    const mtime = new Date(snapshotInputs(root).files['src/index.ts']![1]);
    writeFileSync(path.join(root, 'src', 'index.ts'), 'export const b = 9;\n');
    utimesSync(path.join(root, 'src', 'index.ts'), mtime, mtime);
    expect(buildState(root)).toBe('stale');
  });

  it('is stale with a stamp of another format or unreadable', () => {
    const root = fresh();
    const file = path.join(root, BUILD_DIR, STAMP_FILE);
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), format: 0 }));
    expect(buildState(root)).toBe('stale');
    writeFileSync(file, '{');
    expect(buildState(root)).toBe('absent');
  });
});

describe('the compiled build', () => {
  let copy = '';
  const concord = async (args: readonly string[], env: Record<string, string> = {}): Promise<string> =>
    (await run(process.execPath, [path.join(copy, 'bin', 'concord.js'), ...args], { env: { ...process.env, ...env }, timeout: 30_000 })).stdout;

  beforeAll(async () => {
    // What the build reads and the command needs, copied; dependencies linked.
    copy = mkdtempSync(path.join(os.tmpdir(), 'concord-build-'));
    for (const part of ['bin', 'scripts', 'src', 'tsconfig.json', 'package.json']) cpSync(path.join(REPO, part), path.join(copy, part), { recursive: true });
    symlinkSync(path.join(REPO, 'node_modules'), path.join(copy, 'node_modules'));
    await run(process.execPath, [path.join(copy, 'scripts', 'build.js')], { timeout: 60_000 });
  }, 90_000);
  afterAll(() => {
    if (copy !== '') rmSync(copy, { recursive: true, force: true });
  });

  it('runs when fresh, and from source when src/ changed or CONCORD_RUNTIME=source', async () => {
    const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(await concord(['version'])).toBe(`concord ${version} (compiled build)\n`);
    expect(await concord(['version'], { CONCORD_RUNTIME: 'source' })).toBe(`concord ${version} (from source through tsx)\n`);

    const edited = path.join(copy, 'src', 'cli', 'main.ts');
    writeFileSync(edited, `${readFileSync(edited, 'utf8')}// edited after the build\n`);
    expect(await concord(['version'])).toBe(`concord ${version} (from source through tsx)\n`);
    await expect(run(process.execPath, [path.join(copy, 'scripts', 'build.js'), '--check'])).rejects.toThrow(/stale/);
    await run(process.execPath, [path.join(copy, 'scripts', 'build.js'), '--if-stale'], { timeout: 60_000 });
    expect(await concord(['version'])).toBe(`concord ${version} (compiled build)\n`);
  }, 90_000);

  it('has source maps that name the .ts files', () => {
    const map = JSON.parse(readFileSync(path.join(copy, BUILD_DIR, 'main.js.map'), 'utf8')) as { sources: string[] };
    expect(map.sources).toContain('../../src/cli/main.ts');
  });

  it('starts the local cluster\'s nodes on the same build', async () => {
    const basePort = 20_000 + Math.floor(Math.random() * 20_000);
    const launcher = spawn(process.execPath, [path.join(copy, 'bin', 'concord.js'), 'local-cluster', '--data-dir', path.join(copy, 'data'), '--base-port', String(basePort)], {
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((resolve) => launcher.on('exit', resolve));
    const started = new Map<string, string>();
    let output = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the nodes did not start in time:\n${output}`)), 60_000);
        launcher.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8');
          for (const match of output.matchAll(/^(node\d) +\| .*concord node started .*runtime=(\w+)/gm)) started.set(match[1] ?? '', match[2] ?? '');
          if (started.size === 3) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } finally {
      launcher.kill('SIGINT');
      const timer = setTimeout(() => launcher.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    expect([...started.values()]).toEqual(['compiled', 'compiled', 'compiled']);
  }, 90_000);
});
