/**
 * The simulator's state machine until the real KV store arrives: one register per key.
 * Commands are JSON; results are what the client sees. Deterministic, with snapshots.
 */
import type { StateMachine } from '../../src/node/state-machine.ts';
import type { LogIndex } from '../../src/raft/types.ts';

export type RegisterCommand =
  | { readonly op: 'put'; readonly key: string; readonly value: string | null }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string | null };

export interface RegisterResult {
  readonly casSucceeded?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: RegisterCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

export class RegisterMachine implements StateMachine<RegisterResult> {
  private values = new Map<string, string>();
  appliedCount = 0;

  apply(_index: LogIndex, data: Uint8Array): RegisterResult {
    const command = JSON.parse(decoder.decode(data)) as RegisterCommand;
    this.appliedCount++;
    if (command.op === 'put') {
      this.write(command.key, command.value);
      return {};
    }
    const current = this.values.get(command.key) ?? null;
    if (current !== command.expected) return { casSucceeded: false };
    this.write(command.key, command.value);
    return { casSucceeded: true };
  }

  /** A null value deletes the key. */
  private write(key: string, value: string | null): void {
    if (value === null) this.values.delete(key);
    else this.values.set(key, value);
  }

  get(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  snapshot(): Uint8Array {
    const sorted = [...this.values.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return encoder.encode(JSON.stringify(sorted));
  }

  restore(data: Uint8Array): void {
    this.values = new Map(JSON.parse(decoder.decode(data)) as [string, string][]);
  }

  /** A digest of the whole state, for comparing replicas. */
  digest(): string {
    return decoder.decode(this.snapshot());
  }
}
