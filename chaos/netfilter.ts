/**
 * Network partitions for the chaos tool: iptables DROP rules between the nodes' loopback
 * addresses, matched on the run's peer port so that other clusters sharing 127.0.0.11-13 (a
 * cluster test running at the same time) are not cut. All rules live in one chain of this run,
 * CONCORD-CHAOS-<pid>, jumped to from INPUT; remove() deletes the jump and the chain, and the
 * caller runs it in a finally block and from its signal handlers. Chains left by a run that
 * died (its pid gone) are removed when the next one starts.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const CHAIN_PREFIX = 'CONCORD-CHAOS-';

/** Whether partitions can be made here, and if not, why (for the "skipped" line). */
export async function partitionSupport(): Promise<{ readonly ok: true } | { readonly ok: false; readonly reason: string }> {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root (iptables needs it)' };
  try {
    await run('iptables', ['-w', '-S', 'INPUT']);
    return { ok: true };
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ok: false, reason: `iptables unusable: ${message} (as root: apt-get install -y iptables)` };
  }
}

async function iptables(args: readonly string[]): Promise<void> {
  await run('iptables', ['-w', ...args]);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function dropChain(chain: string): Promise<void> {
  // Each step may fail when an earlier run got halfway: go on, the aim is "no chain left".
  for (;;) {
    try {
      await iptables(['-D', 'INPUT', '-j', chain]);
    } catch {
      break;
    }
  }
  await iptables(['-F', chain]).catch(() => undefined);
  await iptables(['-X', chain]).catch(() => undefined);
}

/** A directed cut: packets from `from` to `to` (on the run's peer port) are dropped. */
export interface Cut {
  readonly from: string;
  readonly to: string;
}

export class Netfilter {
  readonly chain = `${CHAIN_PREFIX}${process.pid}`;
  private installed = false;

  constructor(private readonly peerPort: number) {}

  /** Removes chains of dead runs, then creates this run's (empty) chain and its jump. */
  async install(): Promise<void> {
    const { stdout } = await run('iptables', ['-w', '-S']);
    for (const match of stdout.matchAll(/^-N (CONCORD-CHAOS-(\d+))$/gm)) {
      const [, chain = '', pid = ''] = match;
      if (chain !== this.chain && !pidAlive(Number(pid))) await dropChain(chain);
    }
    await dropChain(this.chain);
    await iptables(['-N', this.chain]);
    this.installed = true;
    await iptables(['-I', 'INPUT', '-j', this.chain]);
  }

  /** Replaces the current cuts with `cuts` (an empty list heals the network). */
  async apply(cuts: readonly Cut[]): Promise<void> {
    if (!this.installed) throw new Error('netfilter chain not installed');
    await iptables(['-F', this.chain]);
    for (const { from, to } of cuts) {
      // Both directions of the peer protocol's TCP streams that carry from → to: connections
      // `from` dials to `to`'s peer port, and answers `from`'s peer port sends to `to`.
      await iptables(['-A', this.chain, '-s', from, '-d', to, '-p', 'tcp', '--dport', String(this.peerPort), '-j', 'DROP']);
      await iptables(['-A', this.chain, '-s', from, '-d', to, '-p', 'tcp', '--sport', String(this.peerPort), '-j', 'DROP']);
    }
  }

  /** The rules now in the chain (for tests and the timeline). */
  async rules(): Promise<string[]> {
    const { stdout } = await run('iptables', ['-w', '-S', this.chain]);
    return stdout.split('\n').filter((line) => line.startsWith('-A '));
  }

  /** Deletes the jump and the chain. Safe to call twice and when install() failed halfway. */
  async remove(): Promise<void> {
    this.installed = false;
    await dropChain(this.chain);
  }

  /** Synchronous removal for an 'exit' handler, where nothing async runs any more. */
  removeSync(): void {
    if (!this.installed) return;
    this.installed = false;
    const quiet = { stdio: 'ignore' as const };
    for (let guard = 0; guard < 10; guard++) {
      try {
        execFileSync('iptables', ['-w', '-D', 'INPUT', '-j', this.chain], quiet);
      } catch {
        break;
      }
    }
    for (const step of [['-F', this.chain], ['-X', this.chain]]) {
      try {
        execFileSync('iptables', ['-w', ...step], quiet);
      } catch {
        // already gone
      }
    }
  }
}

/** Cuts that separate `island` from every other host, both ways. */
export function isolate(island: readonly string[], hosts: readonly string[]): Cut[] {
  const others = hosts.filter((host) => !island.includes(host));
  return island.flatMap((inside) => others.flatMap((outside) => [{ from: inside, to: outside }, { from: outside, to: inside }]));
}
