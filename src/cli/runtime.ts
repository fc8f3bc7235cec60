/**
 * Which code this process runs — the compiled build in dist/concord/ or src/ through tsx, as
 * bin/concord.js chose at start (bin/build-freshness.js) — and how to start another concord
 * process on the very same code, as the local cluster does for its nodes.
 *
 * The answer comes from this module's own URL: compiled, it lives in a .js file of
 * dist/concord/ (scripts/build.js puts every output file there, next to main.js); from source,
 * it is this .ts file.
 */
import { fileURLToPath } from 'node:url';

export type Runtime = 'compiled' | 'source';

export const RUNTIME: Runtime = import.meta.url.endsWith('.ts') ? 'source' : 'compiled';

export interface ConcordCommand {
  /** Arguments for process.execPath, before the concord command's own. */
  readonly args: readonly string[];
  /** Environment to add to the child's. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Compiled: node runs this build's main.js directly, with source maps on — the child runs what
 * this process runs, even if src/ changed since (bin/concord.js judged it fresh at this
 * process's start). From source: bin/concord.js with CONCORD_RUNTIME=source, so the child does
 * not pick a build that appeared meanwhile.
 */
export function sameRuntimeCommand(): ConcordCommand {
  if (RUNTIME === 'compiled') {
    return { args: ['--enable-source-maps', fileURLToPath(new URL('./main.js', import.meta.url))], env: {} };
  }
  return { args: [fileURLToPath(new URL('../../bin/concord.js', import.meta.url))], env: { CONCORD_RUNTIME: 'source' } };
}
