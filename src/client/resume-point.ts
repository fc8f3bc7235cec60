/**
 * Where a watch resumes. The contract lets a client reconnect with `fromRevision = last seen
 * modRevision + 1`; that is exact when a revision's events all arrived. A txn writes several
 * keys at one revision, and a connection can break between their events, so this also counts
 * the events seen at the last revision: it then resumes *at* that revision and skips the ones
 * already delivered (the server sends a revision's events in the same order every time).
 * Progress and snapshot events mark everything through their revision as delivered.
 */
export class ResumePoint {
  /** Every change through this revision has been delivered (null: not started, "from now"). */
  private complete: number | null;
  /** The revision of the last delivered change. */
  private lastRevision: number;
  /** How many changes at `lastRevision` were delivered. */
  private seenAtLast = 0;
  /** After a resume at `lastRevision`: how many of its changes to drop as already delivered. */
  private skip = 0;

  constructor(fromRevision: number | undefined) {
    this.complete = fromRevision === undefined ? null : fromRevision - 1;
    this.lastRevision = this.complete ?? 0;
  }

  /** The revision to ask for on (re)connect, or undefined for "changes after now". */
  nextFromRevision(): number | undefined {
    if (this.complete === null) return undefined;
    if (this.lastRevision > this.complete && this.seenAtLast > 0) {
      this.skip = this.seenAtLast;
      return this.lastRevision;
    }
    this.skip = 0;
    return this.complete + 1;
  }

  /** A stream opened "from now" at `revision` (the answer's x-concord-revision). */
  started(revision: number): void {
    if (this.complete !== null) return;
    this.complete = revision;
    this.lastRevision = revision;
  }

  /** Whether the change at `modRevision` is new (true) or a re-sent duplicate (false). */
  accept(modRevision: number): boolean {
    if (this.complete !== null && modRevision <= this.complete) return false;
    if (modRevision < this.lastRevision) return false;
    if (modRevision === this.lastRevision) {
      if (this.skip > 0) {
        this.skip -= 1;
        return false;
      }
      this.seenAtLast += 1;
      return true;
    }
    if (this.lastRevision > (this.complete ?? 0)) this.complete = this.lastRevision;
    this.lastRevision = modRevision;
    this.seenAtLast = 1;
    this.skip = 0;
    return true;
  }

  /** Every change through `revision` has been sent (progress, snapshot). */
  through(revision: number): void {
    if (revision < this.lastRevision) return;
    this.complete = Math.max(this.complete ?? 0, revision);
    this.lastRevision = Math.max(this.lastRevision, revision);
    this.seenAtLast = 0;
    this.skip = 0;
  }
}
