/**
 * Replays the write-ahead log's records, oldest segment first, into the log they describe.
 *
 * Segments wholly behind the snapshot are deleted, so the first segment left may append entries
 * after a gap (entries the deleted ones held, at or below a marker that a later record sets).
 * Gaps are therefore judged once, at the end: the entries left after the final marker must run
 * on from it without one, or the log is refused.
 */
import type { Entry, HardState, LogIndex } from '../../raft/types.ts';
import { EMPTY_HARD_STATE } from '../../raft/types.ts';
import { storageError } from '../storage-error.ts';
import type { SnapshotMarker, WalRecord } from './wal-record.ts';

export interface ReplayedLog {
  readonly marker: SnapshotMarker;
  readonly hardState: HardState;
  /** The entries after the marker, contiguous, terms never decreasing. */
  readonly entries: Entry[];
}

export class LogReplay {
  private marker: SnapshotMarker = { index: 0, term: 0 };
  private hardState: HardState = EMPTY_HARD_STATE;
  private readonly entries = new Map<LogIndex, Entry>();
  private lastIndex: LogIndex = 0;
  private records = 0;

  constructor(private readonly dataDir: string) {}

  /** Applies one record; returns the highest entry index it appended (0 for none). */
  apply(record: WalRecord): LogIndex {
    // (Each segment opening with a base record is recover.ts's check.)
    this.records += 1;
    this.moveMarker(record);
    const first = record.entries[0];
    if (first !== undefined) {
      this.truncateFrom(first.index);
      record.entries.forEach((entry, offset) => {
        if (entry.index !== first.index + offset) {
          throw storageError({ dataDir: this.dataDir, index: entry.index }, 'record entries not contiguous');
        }
        this.entries.set(entry.index, entry);
      });
      this.lastIndex = first.index + record.entries.length - 1;
    }
    if (record.hardState !== null) this.hardState = record.hardState;
    return first === undefined ? 0 : this.lastIndex;
  }

  /** The log the records describe, checked whole. */
  finish(): ReplayedLog {
    const { dataDir, marker } = this;
    const entries: Entry[] = [];
    let previousTerm = marker.term;
    for (let index = marker.index + 1; index <= this.lastIndex; index++) {
      const entry = this.entries.get(index);
      if (entry === undefined) throw storageError({ dataDir, index }, `log gap after snapshot ${marker.index}`);
      if (entry.term < previousTerm) {
        throw storageError({ dataDir, index }, `term ${entry.term} below the previous term ${previousTerm}`);
      }
      entries.push(entry);
      previousTerm = entry.term;
    }
    return { marker, hardState: this.hardState, entries };
  }

  private moveMarker(record: WalRecord): void {
    const { op, marker } = record;
    if (op === 'none') return;
    if (op === 'install') {
      this.entries.clear();
      this.marker = marker;
      this.lastIndex = marker.index;
      return;
    }
    // 'base' restates the marker; 'compact' moves it forward. An older one covers nothing new.
    if (marker.index < this.marker.index) return;
    if (marker.index === this.marker.index && marker.term !== this.marker.term && this.records > 1) {
      throw storageError({ dataDir: this.dataDir, index: marker.index }, `snapshot marker term ${marker.term} differs from ${this.marker.term}`);
    }
    for (const index of this.entries.keys()) if (index <= marker.index) this.entries.delete(index);
    this.marker = marker;
    this.lastIndex = Math.max(this.lastIndex, marker.index);
  }

  private truncateFrom(index: LogIndex): void {
    if (index <= this.marker.index) {
      throw storageError({ dataDir: this.dataDir, index }, `entry at or before the snapshot index ${this.marker.index}`);
    }
    for (let dropped = index; dropped <= this.lastIndex; dropped++) this.entries.delete(dropped);
    this.lastIndex = Math.min(this.lastIndex, index - 1);
  }
}
