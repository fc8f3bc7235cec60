/**
 * The registry's shapes: its commands (members of the KV command union, applied by the same
 * state machine), their results, and an instance as queries return it.
 */

export const INSTANCE_STATUSES = ['passing', 'warning', 'critical'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

/** Registers an instance, or replaces the registration of one that exists. */
export interface ServiceRegisterCommand {
  readonly type: 'serviceRegister';
  readonly service: string;
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  /** Exactly one of ttlMs and lease. ttlMs: a lease owned by the instance (revoked with it). */
  readonly ttlMs?: number;
  /** An existing lease the instance lives and dies with (shared, not revoked on deregister). */
  readonly lease?: string;
}

export interface ServiceDeregisterCommand {
  readonly type: 'serviceDeregister';
  readonly service: string;
  readonly id: string;
}

/** A heartbeat that changes an instance's status or note (a plain heartbeat is never logged). */
export interface ServiceStatusCommand {
  readonly type: 'serviceStatus';
  readonly service: string;
  readonly id: string;
  readonly status: InstanceStatus;
  readonly note: string;
}

export type RegistryCommandBody = ServiceRegisterCommand | ServiceDeregisterCommand | ServiceStatusCommand;

export interface ServiceRegisterResult {
  readonly service: string;
  readonly id: string;
  readonly lease: string;
  readonly revision: number;
}

export interface ServiceDeregisterResult {
  readonly revision: number;
}

export interface ServiceStatusResult {
  readonly revision: number;
  /** False when the instance already had this status and note: nothing was written. */
  readonly changed: boolean;
}

/** An instance as discovery returns it (the contract's fields, plus `note` when there is one). */
export interface ServiceInstance {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  readonly status: InstanceStatus;
  readonly note?: string;
  readonly lease: string;
  readonly modRevision: number;
}
