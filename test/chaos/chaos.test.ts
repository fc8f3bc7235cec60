/**
 * The chaos tool against real processes, kept short (CI budget): with the planted stale-read
 * bug (hidden `serve --test-stale-reads-ms`) the linearizability check must report a violation
 * and the run must fail; without it, a run under kill / pause / partition faults with both
 * workloads must pass every check and leave no iptables chain behind.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionSupport } from '../../chaos/netfilter.ts';
import { DEFAULT_OPTIONS, runChaos, type ChaosOptions } from '../../chaos/run.ts';

const folders: string[] = [];

async function options(overrides: Partial<ChaosOptions>): Promise<ChaosOptions> {
  const outDir = await mkdtemp(path.join(os.tmpdir(), 'concord-chaos-test-'));
  folders.push(outDir);
  return { ...DEFAULT_OPTIONS, outDir, progress: null, ...overrides };
}

afterAll(async () => {
  await Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true })));
});

describe('npm run chaos', () => {
  it('catches the planted stale-read bug as a linearizability violation', async () => {
    const result = await runChaos(await options({
      durationMs: 8_000,
      workloads: ['register'],
      nemeses: [],
      seed: 11,
      // Blatant on purpose: every node answers GETs from a 2 s old cache, faults or not.
      plantStaleReadsMs: 2_000,
    }));
    expect(result.ok).toBe(false);
    const linearizable = result.checks.find((check) => check.name === 'register linearizable');
    expect(linearizable?.verdict).toBe('violated');
    expect(linearizable?.detail).toMatch(/is not linearizable/);
    // The plant breaks reads, not writes: what was acknowledged is still there.
    expect(result.checks.filter((check) => check.name.startsWith('acknowledged writes')).map((check) => check.verdict)).toEqual(['ok', 'ok']);
    expect(result.summary).toContain('PLANTED BUG');
    const report = await readFile(path.join(result.outDir, 'violation-register-linearizable.txt'), 'utf8');
    expect(report).toMatch(/get "chaos\/reg\//);
  }, 150_000);

  it('passes every check under kill, pause and partition faults without the plant', async () => {
    const support = await partitionSupport();
    const result = await runChaos(await options({
      durationMs: 20_000,
      workloads: ['register', 'lock'],
      nemeses: ['kill-leader', 'pause', 'partition-leader'],
      seed: 5,
      timing: { gapMs: [1_000, 2_000], holdMs: [1_500, 3_000], overlapChance: 0 },
    }));
    if (!result.ok) console.error(result.summary);
    expect(result.ok).toBe(true);
    const verdicts = Object.fromEntries(result.checks.map((check) => [check.name, check.verdict]));
    expect(verdicts).toMatchObject({
      'register linearizable': 'ok',
      'fenced tokens monotonic': 'ok',
      'lock tokens grow in real time': 'ok',
      'lock history linearizable': 'ok',
      'acknowledged writes present (after the final heal)': 'ok',
      'acknowledged writes present (after the full restart)': 'ok',
      'recovery (after the final heal)': 'ok',
      'recovery (after the full restart)': 'ok',
    });
    const timeline = await readFile(path.join(result.outDir, 'timeline.txt'), 'utf8');
    expect(timeline).toMatch(/start\s+(kill-leader|pause|partition-leader)/);
    expect(await readFile(path.join(result.outDir, 'history.jsonl'), 'utf8')).toContain('"f":"fenced-write"');
    if (support.ok) {
      expect(result.skippedNemeses).toEqual([]);
      expect(execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' })).not.toContain(`CONCORD-CHAOS-${process.pid}`);
    } else {
      expect(result.skippedNemeses.join('\n')).toMatch(/^partition-leader: /);
    }
  }, 150_000);
});
