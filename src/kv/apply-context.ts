/**
 * What a command handler works on: the store, the lease table and the watch feed of one state
 * machine, plus the batches of events this apply produced. finishWrite is the one way a write
 * ends, so a revision never moves without its events reaching the feed.
 */
import type { LeaseTable } from './leases.ts';
import type { MvccStore, MvccWrite } from './mvcc-store.ts';
import type { WatchBatch, WatchFeed } from './watch-feed.ts';

export interface ApplyContext {
  readonly store: MvccStore;
  readonly leases: LeaseTable;
  readonly feed: WatchFeed;
  /** Filled by finishWrite; published to listeners once the apply is complete. */
  readonly batches: WatchBatch[];
}

/** Commits `write`, records its events in the feed; returns the store revision after it. */
export function finishWrite(context: ApplyContext, write: MvccWrite): number {
  const revision = write.commit();
  if (write.events.length > 0) {
    context.feed.append(write.revision, write.events);
    context.batches.push({ revision: write.revision, events: write.events });
  }
  return revision;
}
