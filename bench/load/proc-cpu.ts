/**
 * CPU time of other processes from Linux's /proc/<pid>/stat (utime + stime, in clock ticks),
 * for the server-side CPU figures: a node's share of a core over a phase, CPU per put.
 * Only local processes (the suite's own cluster and floor server) have a pid to read.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let clockTicksPerSecond: number | null = null;

function ticksPerSecond(): number {
  if (clockTicksPerSecond === null) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100; // the value on every Linux this runs on
    }
  }
  return clockTicksPerSecond;
}

/** utime + stime of process `pid`, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name, field 3 (state) is at 0, so utime (14) and stime (15) are at 11 and 12.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

/** CPU seconds of several processes, read together at the start of a phase; `delta()` at its end. */
export class CpuMeter {
  private readonly start: readonly number[];
  private readonly wallStart = performance.now();

  constructor(private readonly pids: readonly number[]) {
    this.start = pids.map(cpuSeconds);
  }

  /** Per process: CPU seconds used since construction, and the wall seconds that passed. */
  delta(): { readonly cpuSeconds: readonly number[]; readonly wallSeconds: number } {
    return {
      cpuSeconds: this.pids.map((pid, position) => cpuSeconds(pid) - (this.start[position] ?? 0)),
      wallSeconds: (performance.now() - this.wallStart) / 1000,
    };
  }

  /** CPU µs per operation, summed over the processes, since construction (NaN without operations). */
  microsecondsPer(operations: number): number {
    const total = this.delta().cpuSeconds.reduce((sum, seconds) => sum + seconds, 0);
    return operations > 0 ? (total * 1e6) / operations : Number.NaN;
  }
}
