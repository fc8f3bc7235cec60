/**
 * The Raft log as the core sees it: a compacted prefix (summarized by the snapshot's index and
 * term) followed by every later entry, all in memory. The core reads it synchronously, as
 * etcd-io/raft does; storage only makes it durable and loads it at start.
 *
 * Invariants (checked by checkInvariants):
 *   snapshotIndex <= applyingIndex, appliedIndex <= applyingIndex <= commitIndex <= lastIndex
 *   stableIndex <= lastIndex, unstableFrom <= lastIndex + 1
 *   entries[i].index === snapshotIndex + 1 + i, and terms never decrease along the log.
 */
import { assert } from '../common/assert.ts';
import { decodeConfigEntry } from './membership.ts';
import type { ClusterConfig, Entry, LogIndex, SnapshotMeta, Term } from './types.ts';

/** A configuration and the index of the config entry that made it (0: the snapshot's or bootstrap). */
export interface IndexedConfig {
  readonly index: LogIndex;
  readonly config: ClusterConfig;
}

export class RaftLog {
  private snapshotIndexValue: LogIndex = 0;
  private snapshotTermValue: Term = 0;
  private entries: Entry[] = [];
  /** The configuration in effect at the snapshot's index (the bootstrap one before any). */
  private snapshotConfig: ClusterConfig;
  /** Config entries after the snapshot, in log order: the last one is the configuration in effect. */
  private configs: IndexedConfig[] = [];
  /** Highest index known to be committed. */
  commitIndex: LogIndex = 0;
  /** Highest index the application has applied (acknowledged through advance()). */
  appliedIndex: LogIndex = 0;
  /** Highest index handed out for applying but not yet acknowledged. */
  applyingIndex: LogIndex = 0;
  /** Highest index known durable in storage. */
  stableIndex: LogIndex = 0;
  /** First index not yet handed to storage. */
  unstableFrom: LogIndex = 1;

  private constructor(bootstrap: ClusterConfig) {
    this.snapshotConfig = bootstrap;
  }

  /** Rebuilds the log from what storage loaded at start. */
  static fromStorage(
    snapshot: SnapshotMeta | null,
    entries: readonly Entry[],
    commit: LogIndex,
    bootstrap: ClusterConfig,
  ): RaftLog {
    const log = new RaftLog(snapshot?.config ?? bootstrap);
    if (snapshot !== null) {
      log.snapshotIndexValue = snapshot.index;
      log.snapshotTermValue = snapshot.term;
    }
    log.entries = entries.slice();
    for (const entry of log.entries) log.noteConfig(entry);
    log.stableIndex = log.lastIndex();
    log.unstableFrom = log.lastIndex() + 1;
    assert(commit <= log.lastIndex(), () => `stored commit ${commit} beyond last index ${log.lastIndex()}`);
    log.commitIndex = Math.max(commit, log.snapshotIndexValue);
    log.appliedIndex = log.snapshotIndexValue;
    log.applyingIndex = log.snapshotIndexValue;
    log.checkInvariants();
    return log;
  }

  get snapshotIndex(): LogIndex {
    return this.snapshotIndexValue;
  }

  get snapshotTerm(): Term {
    return this.snapshotTermValue;
  }

  firstIndex(): LogIndex {
    return this.snapshotIndexValue + 1;
  }

  lastIndex(): LogIndex {
    return this.snapshotIndexValue + this.entries.length;
  }

  lastTerm(): Term {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.snapshotTermValue : last.term;
  }

  /** The configuration in effect: the latest one in the log, committed or not (thesis §4.1). */
  latestConfig(): IndexedConfig {
    return this.configs[this.configs.length - 1] ?? { index: 0, config: this.snapshotConfig };
  }

  /** The configuration in effect once the log is cut at `index` (for a snapshot taken there). */
  configAt(index: LogIndex): ClusterConfig {
    let config = this.snapshotConfig;
    for (const candidate of this.configs) {
      if (candidate.index > index) break;
      config = candidate.config;
    }
    return config;
  }

  /** The term at `index`, or undefined when it is compacted away or beyond the log. */
  term(index: LogIndex): Term | undefined {
    if (index === this.snapshotIndexValue) return this.snapshotTermValue;
    return this.entry(index)?.term;
  }

  entry(index: LogIndex): Entry | undefined {
    if (index <= this.snapshotIndexValue) return undefined;
    return this.entries[index - this.snapshotIndexValue - 1];
  }

  matchTerm(index: LogIndex, term: Term): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: is a log ending at (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: LogIndex, lastTerm: Term): boolean {
    const ourLastTerm = this.lastTerm();
    return lastTerm > ourLastTerm || (lastTerm === ourLastTerm && lastIndex >= this.lastIndex());
  }

  /** The first index of the run of entries with the term at `index` (for fast backtracking). */
  firstIndexOfTermAt(index: LogIndex): LogIndex {
    const term = this.term(index);
    let first = index;
    while (first - 1 > this.snapshotIndexValue && this.term(first - 1) === term) first--;
    return first;
  }

  /** The last index in our log whose term is `term`, or 0 when we hold none. */
  lastIndexOfTerm(term: Term): LogIndex {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const entry = this.entries[i];
      if (entry === undefined || entry.term < term) break;
      if (entry.term === term) return entry.index;
    }
    return this.snapshotTermValue === term ? this.snapshotIndexValue : 0;
  }

  /** Entries in [from, to], at most `maxCount` and about `maxBytes` (always at least one). */
  slice(from: LogIndex, to: LogIndex, maxCount: number, maxBytes: number): Entry[] {
    assert(from > this.snapshotIndexValue, () => `slice from ${from} is compacted (snapshot ${this.snapshotIndexValue})`);
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = from; index <= to && result.length < maxCount; index++) {
      const entry = this.entry(index);
      assert(entry !== undefined, () => `slice: missing entry ${index}`);
      bytes += entry.data.byteLength;
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  /** Appends entries at the end (the leader's own proposals). */
  append(entries: readonly Entry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, () => `append: index ${entry.index} after ${this.lastIndex()}`);
      assert(entry.term >= this.lastTerm(), () => `append: term ${entry.term} after ${this.lastTerm()}`);
      this.entries.push(entry);
      this.noteConfig(entry);
    }
  }

  /**
   * A follower's append: if our log matches (prevIndex, prevTerm), drop any conflicting suffix,
   * add what is new and return the index of the last entry the request covers; otherwise null.
   */
  tryAppend(prevIndex: LogIndex, prevTerm: Term, entries: readonly Entry[]): LogIndex | null {
    if (prevIndex < this.snapshotIndexValue) {
      // Everything up to our snapshot is committed and so matches the leader: skip that part.
      const skip = this.snapshotIndexValue - prevIndex;
      if (skip >= entries.length) return prevIndex + entries.length;
      const first = entries[skip - 1];
      return this.tryAppend(this.snapshotIndexValue, first === undefined ? prevTerm : first.term, entries.slice(skip));
    }
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    for (const entry of entries) {
      const existingTerm = this.term(entry.index);
      if (existingTerm === entry.term) continue;
      if (existingTerm !== undefined) this.truncateFrom(entry.index);
      this.entries.push(entry);
      this.noteConfig(entry);
    }
    return prevIndex + entries.length;
  }

  private truncateFrom(index: LogIndex): void {
    assert(index > this.commitIndex, () => `truncating committed entry ${index} (commit ${this.commitIndex})`);
    this.entries.length = index - this.snapshotIndexValue - 1;
    // A configuration whose entry is gone is no longer in effect: the previous one is again.
    while ((this.configs[this.configs.length - 1]?.index ?? 0) >= index) this.configs.pop();
    this.unstableFrom = Math.min(this.unstableFrom, index);
    this.stableIndex = Math.min(this.stableIndex, index - 1);
  }

  commitTo(index: LogIndex): boolean {
    if (index <= this.commitIndex) return false;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.commitIndex = index;
    return true;
  }

  /** Entries not yet handed to storage. */
  unstableEntries(): Entry[] {
    if (this.unstableFrom > this.lastIndex()) return [];
    return this.entries.slice(this.unstableFrom - this.snapshotIndexValue - 1);
  }

  /** Marks every current entry as handed to storage. */
  markHandedToStorage(): void {
    this.unstableFrom = this.lastIndex() + 1;
  }

  /** Storage made `written` durable; entries since replaced by a conflict stay unstable. */
  stableTo(written: readonly Entry[]): void {
    for (let i = written.length - 1; i >= 0; i--) {
      const entry = written[i];
      if (entry !== undefined && this.matchTerm(entry.index, entry.term)) {
        this.stableIndex = Math.max(this.stableIndex, entry.index);
        return;
      }
    }
  }

  /** Committed entries not yet handed out for applying, at most `maxCount`. */
  nextEntriesToApply(maxCount: number): Entry[] {
    const to = Math.min(this.commitIndex, this.applyingIndex + maxCount);
    if (to <= this.applyingIndex) return [];
    return this.slice(this.applyingIndex + 1, to, maxCount, Number.POSITIVE_INFINITY);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(meta: SnapshotMeta): void {
    assert(meta.index > this.commitIndex, () => `restore to ${meta.index} at or below commit ${this.commitIndex}`);
    this.snapshotIndexValue = meta.index;
    this.snapshotTermValue = meta.term;
    this.entries = [];
    this.snapshotConfig = meta.config;
    this.configs = [];
    this.commitIndex = meta.index;
    // The snapshot itself brings the state machine to meta.index.
    this.applyingIndex = meta.index;
    this.unstableFrom = meta.index + 1;
    this.stableIndex = Math.min(this.stableIndex, meta.index);
  }

  /** Forgets entries up to `index`, which the application's snapshot now covers. */
  compact(index: LogIndex): void {
    assert(index <= this.appliedIndex, () => `compact to ${index} beyond applied ${this.appliedIndex}`);
    if (index <= this.snapshotIndexValue) return;
    const term = this.term(index);
    assert(term !== undefined, () => `compact: no term at ${index}`);
    this.entries = this.entries.slice(index - this.snapshotIndexValue);
    this.snapshotConfig = this.configAt(index);
    this.configs = this.configs.filter((candidate) => candidate.index > index);
    this.snapshotIndexValue = index;
    this.snapshotTermValue = term;
  }

  private noteConfig(entry: Entry): void {
    if (entry.type === 'config') this.configs.push({ index: entry.index, config: decodeConfigEntry(entry.data).config });
  }

  checkInvariants(): void {
    const last = this.lastIndex();
    assert(this.snapshotIndexValue <= this.applyingIndex, 'log: applying below snapshot');
    assert(this.appliedIndex <= this.applyingIndex, 'log: applying below applied');
    assert(this.applyingIndex <= this.commitIndex, 'log: applying beyond commit');
    assert(this.commitIndex <= last, () => `log: commit ${this.commitIndex} beyond last ${last}`);
    assert(this.stableIndex <= last, 'log: stable beyond last');
    assert(this.unstableFrom <= last + 1, 'log: unstable beyond last');
    const first = this.entries[0];
    if (first !== undefined) {
      assert(first.index === this.snapshotIndexValue + 1, 'log: first entry does not follow the snapshot');
      assert(first.term >= this.snapshotTermValue, 'log: first entry term below snapshot term');
    }
  }
}
