// Whether the compiled build in dist/concord/ (scripts/build.js) is the build of the sources in
// this checkout, so that bin/concord.js may run it instead of src/ through tsx. Plain JavaScript:
// it runs before anything could compile TypeScript.
//
// How staleness is judged. The build's inputs are every file under src/, plus tsconfig.json (its
// compiler options change how esbuild compiles, e.g. class fields) and scripts/build.js (the
// build's own options). Before compiling, the build records each input's path, size and mtime and
// one SHA-256 over all of their paths and contents, and writes that record to
// dist/concord/build-stamp.json last. The build is fresh when the same set of input files exists
// and either
//   - every file's size and mtime equal the recorded ones, and every recorded mtime is more than
//     RACY_WINDOW_MS older than the record (a file written just before the record could change
//     again without its mtime moving, on file systems with coarse timestamps; such a file is
//     judged by its content, as git judges "racily clean" files), or
//   - the SHA-256 over the current contents equals the recorded one (a checkout, a copy or an
//     npm install moved mtimes but not contents).
// Anything else (a file edited, added, removed or renamed; no stamp; an unreadable stamp) is
// stale. The common case costs a walk of src/ and one stat per file, no reads.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** Bump when the stamp's meaning changes: an older stamp then reads as stale. */
export const STAMP_FORMAT = 1;
/** Where the build goes, relative to the repository root. Two levels deep: see scripts/build.js. */
export const BUILD_DIR = 'dist/concord';
export const STAMP_FILE = 'build-stamp.json';
/** Inputs besides src/: the build depends on them too. */
const EXTRA_INPUTS = ['tsconfig.json', 'scripts/build.js'];
/** Files changed this close to the snapshot (either side) are judged by content, not mtime. */
export const RACY_WINDOW_MS = 2_000;

/** The build's input files, as sorted POSIX paths relative to root. */
export function listInputs(root) {
  const found = [];
  const walk = (relative) => {
    for (const entry of readdirSync(path.join(root, relative), { withFileTypes: true })) {
      const child = `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else found.push(child);
    }
  };
  walk('src');
  for (const extra of EXTRA_INPUTS) {
    try {
      if (statSync(path.join(root, extra)).isFile()) found.push(extra);
    } catch {
      // Absent (an installed package without scripts/): a stamp that lists it reads as stale.
    }
  }
  return found.sort();
}

/** SHA-256 over each input's path and contents, in order. */
export function hashInputs(root, files) {
  const hash = createHash('sha256');
  for (const file of files) {
    const contents = readFileSync(path.join(root, file));
    hash.update(`${file}\0${contents.length}\0`);
    hash.update(contents);
  }
  return hash.digest('hex');
}

/** What the build records before it compiles: see the header comment. */
export function snapshotInputs(root) {
  const takenAtMs = Date.now();
  const files = listInputs(root);
  const stats = Object.fromEntries(files.map((file) => {
    const stat = statSync(path.join(root, file));
    return [file, [stat.size, stat.mtimeMs]];
  }));
  return { format: STAMP_FORMAT, takenAtMs, files: stats, sha256: hashInputs(root, files) };
}

/** The build's stamp as written (any JSON value), or undefined when there is none to read. */
export function readStamp(root) {
  try {
    return JSON.parse(readFileSync(path.join(root, BUILD_DIR, STAMP_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * 'fresh' when dist/concord holds the build of root's current inputs and sizes and mtimes say
 * so; 'fresh-by-content' when it does but only their contents say so (`npm start` then rewrites
 * the stamp, so later starts take the cheap path again); 'stale' when it holds a build of other
 * inputs; 'absent' when there is no build (no readable stamp).
 */
export function buildState(root) {
  const stamp = readStamp(root);
  if (stamp === undefined) return 'absent';
  if (stamp === null || typeof stamp !== 'object' || stamp.format !== STAMP_FORMAT || typeof stamp.files !== 'object' || stamp.files === null) return 'stale';
  let files;
  try {
    files = listInputs(root);
  } catch {
    return 'stale';
  }
  const recorded = Object.keys(stamp.files).sort();
  if (recorded.length !== files.length || recorded.some((file, i) => file !== files[i])) return 'stale';
  const unchanged = files.every((file) => {
    const [size, mtimeMs] = stamp.files[file];
    const stat = statSync(path.join(root, file), { throwIfNoEntry: false });
    return stat !== undefined && stat.size === size && stat.mtimeMs === mtimeMs && mtimeMs < stamp.takenAtMs - RACY_WINDOW_MS;
  });
  if (unchanged) return 'fresh';
  try {
    return hashInputs(root, files) === stamp.sha256 ? 'fresh-by-content' : 'stale';
  } catch {
    return 'stale';
  }
}
