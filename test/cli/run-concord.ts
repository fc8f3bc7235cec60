/**
 * Runs the real `concord` command (`node bin/concord.js --endpoints E ...args`) in a child
 * process, as a user would, to completion within a bound; for the CLI tests against an
 * in-process cluster. The global flag goes first, as `lock NAME -- CMD` passes what follows
 * `--` on. Colour is off and CONCORD_ENDPOINTS / CONCORD_LOCK_TOKEN / CONCORD_TOKEN are emptied, so only the
 * flags given reach the command.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/concord.js', import.meta.url));

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Killed (and the promise rejected) after this long; default 30 s. */
  readonly timeoutMs?: number;
  /** Called with all of stdout so far at each chunk. */
  readonly onStdout?: (soFar: string) => void;
}

export function runConcord(endpoints: string, args: readonly string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, '--endpoints', endpoints, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', CONCORD_LOCK_TOKEN: '', CONCORD_ENDPOINTS: '', CONCORD_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      options.onStdout?.(stdout);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`concord ${args.join(' ')} did not finish; stdout ${stdout} stderr ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
