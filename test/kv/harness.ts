// A KvStateMachine driven the way a node drives it: commands encoded into log entries at
// increasing indexes, with a proposer clock that the test controls.
import { type KvApplyOutcome, type KvCommandBody, type KvStateMachineOptions, KvStateMachine, encodeCommand } from '../../src/kv/index.ts';

export interface ProposeOptions {
  readonly idempotencyKey?: string;
  readonly proposedAtMs?: number;
}

export class Harness {
  readonly machine: KvStateMachine;
  index = 0;
  nowMs = 1_000_000;

  constructor(options: KvStateMachineOptions | KvStateMachine = {}) {
    this.machine = options instanceof KvStateMachine ? options : new KvStateMachine(options);
    this.index = this.machine.appliedIndex;
  }

  /** Encodes and applies one command at the next index. */
  apply(body: KvCommandBody, options: ProposeOptions = {}): KvApplyOutcome {
    const data = encodeCommand({
      proposedAtMs: options.proposedAtMs ?? this.nowMs,
      ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      body,
    });
    return this.machine.apply(++this.index, data);
  }

  /** The result of one command (any type; tests narrow with expect). */
  run(body: KvCommandBody, options: ProposeOptions = {}): Record<string, unknown> {
    return this.apply(body, options).result as unknown as Record<string, unknown>;
  }

  put(key: string, value: string, extra: { lease?: string; ifRevision?: number; prevKv?: boolean } = {}): Record<string, unknown> {
    return this.run({ type: 'put', key, value, ...extra });
  }

  grant(ttlMs = 1000, id?: string): string {
    const result = this.run({ type: 'leaseGrant', ttlMs, ...(id === undefined ? {} : { id }) });
    if (typeof result['id'] !== 'string') throw new Error(`grant failed: ${JSON.stringify(result)}`);
    return result['id'];
  }
}

/** FNV-1a over bytes: a digest to compare replicas' snapshots by. */
export function digest(data: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of data) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `${hash.toString(16)}:${data.length}`;
}
