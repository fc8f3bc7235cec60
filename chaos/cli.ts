/**
 * `npm run chaos -- [--duration 60s] [--workload register,lock] [--nemesis kill,pause,partition,...]
 * [--seed N] [--out DIR] [--recovery-bound 20s] [--plant-stale-reads MS] [--echo]`
 *
 * Attacks a live three-node cluster (see docs/chaos.md) and exits 0 only if every check held,
 * 1 on a violation, 2 on bad flags, 3 when the run was interrupted (a signal, an internal
 * error). Ctrl-C ends the workload phase early and still heals, checks and cleans up (the
 * summary says INTERRUPTED); a second Ctrl-C saves the partial history and timeline, kills the
 * nodes and removes the iptables chain at once.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { NEMESES, NEMESIS_NAMES, PARTITION_NEMESES, type NemesisName } from './nemesis.ts';
import { partitionSupport } from './netfilter.ts';
import { DEFAULT_OPTIONS, runChaos, WORKLOAD_NAMES, type WorkloadName } from './run.ts';
import type { Netfilter } from './netfilter.ts';
import type { ChaosCluster } from './cluster.ts';

const USAGE = `usage: npm run chaos -- [flags]
  --duration D          workload and fault phase, e.g. 60s, 5m, 30000 (ms)   [60s]
  --workload W,...      ${WORKLOAD_NAMES.join(', ')}, or all                         [register]
  --nemesis N,...       see below, all, or none                               [kill,pause,partition]
  --seed N              PRNG seed of the workloads and the fault schedule      [random]
  --out DIR             run folder                                 [chaos-runs/<time>-seed<N>]
  --recovery-bound D    a leader and an accepted write within D after faults  [20s]
  --plant-stale-reads MS  TEST ONLY: nodes serve stale cached GETs (proves the checker bites)
  --echo                echo the nodes' logs
nemeses:
${NEMESIS_NAMES.map((name) => `  ${name.padEnd(18)}${NEMESES[name]}`).join('\n')}
`;

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n\n${USAGE}`);
  process.exit(2);
}

export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) fail(`--${flag} must be a duration like 500ms, 60s, 5m, got ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(match[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(match[1]) * unit);
}

function parseList<T extends string>(text: string, known: readonly T[], flag: string): T[] {
  if (text === 'all') return [...known];
  if (text === 'none' || text === '') return [];
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) if (!(known as readonly string[]).includes(name)) fail(`--${flag}: unknown ${JSON.stringify(name)} (known: ${known.join(', ')})`);
  return [...new Set(names)] as T[];
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: process.argv.slice(2),
      options: {
        duration: { type: 'string' },
        workload: { type: 'string' },
        nemesis: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'recovery-bound': { type: 'string' },
        'plant-stale-reads': { type: 'string' },
        echo: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  const text = (name: string): string | undefined => (typeof values[name] === 'string' ? values[name] : undefined);
  const seedText = text('seed');
  const seed = seedText === undefined ? Math.floor(Math.random() * 1_000_000) : Number(seedText);
  if (!Number.isSafeInteger(seed) || seed < 0) fail(`--seed must be a non-negative integer, got ${JSON.stringify(seedText)}`);
  const workloads = parseList<WorkloadName>(text('workload') ?? DEFAULT_OPTIONS.workloads.join(','), WORKLOAD_NAMES, 'workload');
  if (workloads.length === 0) fail('--workload: at least one workload');
  const nemeses = parseList<NemesisName>(text('nemesis') ?? DEFAULT_OPTIONS.nemeses.join(','), NEMESIS_NAMES, 'nemesis');
  const plantText = text('plant-stale-reads') ?? '0';
  const plantStaleReadsMs = Number(plantText);
  if (!Number.isSafeInteger(plantStaleReadsMs) || plantStaleReadsMs < 0) fail(`--plant-stale-reads must be ms >= 0, got ${JSON.stringify(plantText)}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = path.resolve(text('out') ?? path.join('chaos-runs', `${stamp}-seed${seed}`));

  // Cleanup even when interrupted: the first signal ends the run early (checks and cleanup
  // follow), a second one tears down synchronously and exits.
  const abort = new AbortController();
  let netfilter: Netfilter | undefined;
  let cluster: ChaosCluster | undefined;
  let savePartial: ((why: string) => void) | undefined;
  const teardownNow = (): void => {
    netfilter?.removeSync();
    cluster?.killAllSync();
  };
  process.on('exit', teardownNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (!abort.signal.aborted) {
        process.stderr.write(`\nchaos: ${signal}: stopping the faults, checking and cleaning up (again to quit at once)\n`);
        abort.abort(signal);
        return;
      }
      savePartial?.(`second ${signal}`);
      teardownNow();
      process.stderr.write(`chaos: INTERRUPTED by a second ${signal}: nodes killed, firewall chain removed; partial history and timeline in ${outDir}\n`);
      process.exit(3);
    });
  }

  const partitions = nemeses.filter((name) => PARTITION_NEMESES.includes(name));
  if (partitions.length > 0) {
    const support = await partitionSupport();
    if (!support.ok) process.stderr.write(`chaos: SKIPPING ${partitions.join(', ')}: ${support.reason}\n`);
  }
  process.stderr.write(`chaos: seed ${seed}, run folder ${outDir}\n`);

  const tty = process.stderr.isTTY;
  let lastPrinted = 0;
  const result = await runChaos({
    ...DEFAULT_OPTIONS,
    durationMs: parseDuration(text('duration') ?? '60s', 'duration'),
    workloads,
    nemeses,
    seed,
    outDir,
    recoveryBoundMs: parseDuration(text('recovery-bound') ?? '20s', 'recovery-bound'),
    plantStaleReadsMs,
    echo: values.echo === true,
    signal: abort.signal,
    onResources: (resources) => {
      netfilter = resources.netfilter ?? netfilter;
      cluster = resources.cluster ?? cluster;
      savePartial = resources.savePartial ?? savePartial;
    },
    progress: (line, final) => {
      if (tty) process.stderr.write(`\r\u001b[2K${line}${final ? '\n' : ''}`);
      else if (final || Date.now() - lastPrinted >= 5_000) {
        lastPrinted = Date.now();
        process.stderr.write(`${line}\n`);
      }
    },
  });
  process.stdout.write(`\n${result.summary}`);
  process.exitCode = result.ok ? 0 : result.interrupted !== null ? 3 : 1;
}

await main().catch((error: unknown) => {
  process.stderr.write(`chaos: INTERRUPTED by an internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exitCode = 3;
});
