/**
 * Three NodeHosts in virtual time (the simulator's event queue and clocks), over a transport
 * that delivers in 0.5 ms unless a node is cut off, and storage whose synced writes take 1 ms
 * (50 ms on a `slow` node, forever on a `hung` one). Their state machine is a counter of what it
 * applied; its snapshot is the index it reflects, and it records what it did, so that tests can
 * check the order of restores and applies.
 */
import { SeededRandom } from '../../src/common/random.ts';
import type { Slices } from '../../src/common/slices.ts';
import { NodeHost } from '../../src/node/node-host.ts';
import type { StateMachine } from '../../src/node/state-machine.ts';
import { DEFAULT_RAFT_CONFIG } from '../../src/raft/config.ts';
import type { Message } from '../../src/raft/messages.ts';
import { EMPTY_HARD_STATE, type NodeId } from '../../src/raft/types.ts';
import { MemoryStorage } from '../../src/storage/memory-storage.ts';
import type { Storage } from '../../src/storage/storage.ts';
import { EventQueue } from '../sim/event-queue.ts';
import { SimClock } from '../sim/sim-clock.ts';

export interface VirtualClusterOptions {
  readonly snapshotEveryEntries?: number;
  /** NodeHost's snapshotEveryBytes (absent: no byte bound). */
  readonly snapshotEveryBytes?: number;
  /** Snapshots are encoded in slices over this many turns (absent: at once). */
  readonly encodeSlices?: number;
  /** Snapshots are restored in slices over this many turns (absent: at once). */
  readonly restoreSlices?: number;
  /** Virtual milliseconds each slice takes (NodeHost's snapshotSliceDelayMs). */
  readonly sliceDelayMs?: number;
}

/** What a node's state machine did: `apply 7`, `restore 12` (the index a snapshot reflects). */
export type MachineEvent = `apply ${number}` | `restore ${number}`;

export interface VirtualCluster {
  readonly queue: EventQueue;
  readonly hosts: Map<NodeId, NodeHost<string>>;
  /** Synced and unsynced writes issued, per node. */
  readonly writes: Map<NodeId, number>;
  readonly slow: Set<NodeId>;
  /** Nodes whose next writes never finish (a disk that stalled). */
  readonly hung: Set<NodeId>;
  /** Nodes no message reaches or leaves. */
  readonly cut: Set<NodeId>;
  /** Every compaction written: the index it is labelled with, and the one its data reflects. */
  readonly compactions: { labelled: number; reflects: number }[];
  readonly machineEvents: Map<NodeId, MachineEvent[]>;
  /** Runs events until `done()` or until `untilMs` of virtual time. */
  runUntil(untilMs: number, done?: () => boolean): void;
  /** Elects a leader and lets the election's writes finish. */
  elect(): NodeHost<string>;
  stop(): void;
}

export function virtualCluster(options: VirtualClusterOptions = {}): VirtualCluster {
  const queue = new EventQueue();
  const ids = ['a', 'b', 'c'];
  const hosts = new Map<NodeId, NodeHost<string>>();
  const writes = new Map<NodeId, number>(ids.map((id) => [id, 0]));
  const slow = new Set<NodeId>();
  const hung = new Set<NodeId>();
  const cut = new Set<NodeId>();
  const compactions: { labelled: number; reflects: number }[] = [];
  const machineEvents = new Map<NodeId, MachineEvent[]>(ids.map((id) => [id, []]));
  for (const id of ids) {
    const clock = new SimClock(queue, 1);
    const storage = new MemoryStorage({
      scheduler: (delayMs, fn) => clock.schedule(delayMs, fn),
      latencyMs: (written) => (written.sync ? (hung.has(id) ? 1e9 : slow.has(id) ? 50 : 1) : 0),
    });
    const counted: Storage = {
      load: () => storage.load(),
      close: () => storage.close(),
      persist: (written, done) => {
        writes.set(id, (writes.get(id) ?? 0) + 1);
        if (written.compaction !== null) {
          const { meta, data } = written.compaction;
          compactions.push({ labelled: meta.index, reflects: Number(new TextDecoder().decode(data)) });
        }
        storage.persist(written, done);
      },
    };
    const host: NodeHost<string> = new NodeHost<string>({
      raftConfig: { ...DEFAULT_RAFT_CONFIG, id },
      bootstrap: { voters: ids, learners: [] },
      persisted: { hardState: EMPTY_HARD_STATE, snapshot: null, entries: [] },
      random: new SeededRandom(ids.indexOf(id) + 1),
      clock,
      transport: {
        send: (messages: readonly Message[]) => {
          for (const message of messages) {
            // Only the KV node sends keepalive forwards; NodeHost alone never does.
            if (message.type === 'forward-keepalives' || message.type === 'forward-keepalives-response') continue;
            if (cut.has(id) || cut.has(message.to)) continue;
            queue.schedule(0.5, () => {
              if (!cut.has(message.to)) hosts.get(message.to)?.receive(message);
            });
          }
        },
      },
      storage: counted,
      stateMachine: countingMachine(machineEvents.get(id)!, options),
      tickMs: 10,
      snapshotEveryEntries: options.snapshotEveryEntries ?? 1_000_000,
      ...(options.snapshotEveryBytes === undefined ? {} : { snapshotEveryBytes: options.snapshotEveryBytes }),
      ...(options.sliceDelayMs === undefined ? {} : { snapshotSliceDelayMs: options.sliceDelayMs }),
      maxPendingProposals: 1000,
      maxPendingReads: 1000,
    });
    hosts.set(id, host);
  }
  for (const host of hosts.values()) host.start();

  const runUntil = (untilMs: number, done: () => boolean = () => false): void => {
    let more = true;
    while (more && !done()) more = queue.runNext(untilMs);
    if (!done()) queue.advanceTo(untilMs);
  };
  const elect = (): NodeHost<string> => {
    const leaderOf = (): NodeHost<string> | undefined => [...hosts.values()].find((host) => host.role === 'leader');
    runUntil(5_000, () => leaderOf() !== undefined);
    const leader = leaderOf()!;
    runUntil(queue.now + 100);
    return leader;
  };
  const stop = (): void => {
    for (const host of hosts.values()) host.stop();
  };
  return { queue, hosts, writes, slow, hung, cut, compactions, machineEvents, runUntil, elect, stop };
}

/** A state machine that counts: its state is the last index it applied. */
function countingMachine(events: MachineEvent[], options: VirtualClusterOptions): StateMachine<string> {
  let applied = 0;
  let lastIndex = 0;
  const encode = (index: number): Uint8Array => new TextEncoder().encode(String(index));
  const decode = (data: Uint8Array): number => Number(new TextDecoder().decode(data));
  const restore = (data: Uint8Array): void => {
    lastIndex = decode(data);
    events.push(`restore ${lastIndex}`);
  };
  const { encodeSlices, restoreSlices } = options;
  return {
    apply: (index, data) => {
      lastIndex = index;
      events.push(`apply ${index}`);
      return `applied ${++applied}: ${new TextDecoder().decode(data)}`;
    },
    snapshot: () => encode(lastIndex),
    restore,
    ...(encodeSlices === undefined
      ? {}
      : {
          snapshotInSlices: function* (): Slices<Uint8Array> {
            const captured = lastIndex;
            for (let slice = 1; slice < encodeSlices; slice++) yield;
            return encode(captured);
          },
        }),
    ...(restoreSlices === undefined
      ? {}
      : {
          restoreInSlices: function* (data: Uint8Array): Slices<void> {
            for (let slice = 1; slice < restoreSlices; slice++) yield;
            restore(data);
          },
        }),
  };
}
