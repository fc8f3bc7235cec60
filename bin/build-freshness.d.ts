// Types of build-freshness.js (plain JavaScript, so bin/concord.js can run it before any
// TypeScript is compiled), for the tests that import it.

export declare const STAMP_FORMAT: number;
export declare const BUILD_DIR: string;
export declare const STAMP_FILE: string;
export declare const RACY_WINDOW_MS: number;

export interface BuildStamp {
  readonly format: number;
  readonly takenAtMs: number;
  /** Path relative to the root -> [size in bytes, mtime in ms]. */
  readonly files: Readonly<Record<string, readonly [number, number]>>;
  readonly sha256: string;
}

export type BuildState = 'fresh' | 'fresh-by-content' | 'stale' | 'absent';

export declare function listInputs(root: string): string[];
export declare function hashInputs(root: string, files: readonly string[]): string;
export declare function snapshotInputs(root: string): BuildStamp;
export declare function readStamp(root: string): unknown;
export declare function buildState(root: string): BuildState;
