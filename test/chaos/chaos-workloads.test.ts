/**
 * The watch and registry workloads on real processes under a bridge partition overlapping a
 * membership change (kept short: CI budget): every check must hold, the run must end with three voters
 * and leave no iptables chain. And an interrupted run (SIGINT to `npm run chaos`) must say so,
 * exit 3 and still leave its partial history and timeline in the run folder.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionSupport } from '../../chaos/netfilter.ts';
import { DEFAULT_OPTIONS, runChaos } from '../../chaos/run.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const folders: string[] = [];

async function folder(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'concord-chaos-test-'));
  folders.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('npm run chaos: watch and registry workloads', () => {
  it('passes every check under a bridge partition during a membership change', async () => {
    const support = await partitionSupport();
    const result = await runChaos({
      ...DEFAULT_OPTIONS,
      outDir: await folder(),
      progress: null,
      durationMs: 12_000,
      workloads: ['watch', 'registry'],
      nemeses: ['partition-bridge', 'membership'],
      seed: 2,
      // Seed 2 picks the membership change first; with overlapChance 1 the bridge partition
      // starts while the member is out (an overlap), and is healed before it joins again.
      timing: { gapMs: [1_000, 2_000], holdMs: [2_000, 3_000], overlapChance: 1 },
      // The full-cluster restart is test/chaos/chaos.test.ts's business; this one stays short.
      fullRestart: false,
    });
    if (!result.ok) console.error(result.summary);
    expect(result.ok).toBe(true);
    expect(result.interrupted).toBeNull();
    const verdicts = Object.fromEntries(result.checks.map((check) => [check.name, check.verdict]));
    expect(verdicts).toMatchObject({
      'three voters (after the final heal)': 'ok',
      'watch streams gapless and identical': 'ok',
      'watch events match the writes': 'ok',
      'watch final state': 'ok',
      'registry: live instances kept': 'ok',
      'registry: stopped instances removed in time': 'ok',
      'registry: discovery agrees on every node': 'ok',
      'recovery (after the final heal)': 'ok',
    });
    const timeline = await readFile(path.join(result.outDir, 'timeline.txt'), 'utf8');
    expect(timeline).toMatch(/start\s+membership\s+n\d.* removed via n\d \(200\)/);
    expect(timeline).toMatch(/heal\s+membership\s+n\d joining through n\d/);
    if (support.ok) {
      expect(timeline).toMatch(/start\s+partition-bridge\s+n\d-n\d-n\d: n\d and n\d cut/);
      expect(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' })).not.toContain(`CONCORD-CHAOS-${process.pid}`);
    } else {
      expect(result.skippedNemeses.join('\n')).toMatch(/^partition-bridge: /);
    }
    const history = await readFile(path.join(result.outDir, 'history.jsonl'), 'utf8');
    expect(history).toContain('"f":"heartbeat"');
    expect(history).toContain('"workload":"watch"');
  }, 170_000);

  it('an interrupted run says INTERRUPTED, exits 3 and keeps its partial history and timeline', async () => {
    const out = await folder();
    const child = spawn(process.execPath, ['--import', 'tsx', 'chaos/cli.ts', '--duration', '60s', '--workload', 'register', '--nemesis', 'pause', '--seed', '7', '--out', out], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // Interrupt once the workload is running (the first progress line).
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no progress line: ${stderr}`)), 90_000);
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (/\[chaos +\d+s\/60s\] ops [1-9]/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    child.kill('SIGINT');
    expect(await exited).toBe(3);
    expect(stdout).toMatch(/^INTERRUPTED: interrupted by SIGINT/m);
    expect(stdout).toMatch(/^INTERRUPTED: \d+ of \d+ checks violated/m);
    expect(stderr).toContain('SIGINT: stopping the faults');
    const history = await readFile(path.join(out, 'history.jsonl'), 'utf8');
    expect(history.trim().split('\n').length).toBeGreaterThan(0);
    expect(await readFile(path.join(out, 'timeline.txt'), 'utf8')).toMatch(/start\s+interrupted\s+SIGINT/);
    expect(existsSync(path.join(out, 'summary.txt'))).toBe(true);
    // The full-cluster restart is skipped when interrupted.
    expect(stdout).not.toContain('after the full restart');
  }, 150_000);
});
