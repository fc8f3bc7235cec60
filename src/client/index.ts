/**
 * Concord's TypeScript SDK: `import { Concord } from 'concord'`. See docs/sdk.md.
 */
export { Concord, type ConcordOptions } from './concord.ts';
export {
  ClusterClient,
  membershipRefusal,
  type ClusterView,
  type ClusterMember,
  type LeaderTransfer,
  type NewMember,
  type MemberChange,
  type MemberRemoval,
  type MembershipRefusal,
} from './cluster.ts';
export { ConcordError, type ConcordErrorCode } from './errors.ts';
export type { KeyValue, Consistency, CallOptions, WriteOptions, Fence, LeaseRef } from './types.ts';
export { KvClient, type GetOptions, type PutOptions, type PutResult, type DeleteOptions, type DeleteResult, type RangeOptions, type RangeResult } from './kv.ts';
export { TxnBuilder, Op, type Compare, type LockCompare, type CompareOperator, type CompareTarget, type TxnOp, type TxnOpResult, type TxnResult } from './txn.ts';
export { KvWatch, type WatchOptions, type WatchEvent, type WatchChange } from './watch.ts';
export { MaintenanceClient, type Backup, type CompactResult } from './maintenance.ts';
export { AuthClient, type AuthChange, type CreatedToken, type CreateTokenOptions, type Permission, type Role, type TokenInfo, type User, type UserDetail, type Whoami } from './auth.ts';
export { LeaseClient, type LeaseGrant, type LeaseStatus, type LeaseInfo } from './leases.ts';
export { LeaseKeepAlive, type KeepAliveOptions, type KeepAliveEvents, type SafetyStatus } from './keepalive.ts';
export { SafetyWindow, type SafetyPhase, type LossReason } from './lease-safety.ts';
export { Holding, type HoldingEvents } from './holding.ts';
export { LockHandle, DEFAULT_LOCK_TTL_MS, type LockOptions, type LockView } from './locks.ts';
export { Election, Leadership, type Leader, type LeaderChange, type CampaignOptions } from './elections.ts';
export {
  RegistryClient,
  Registration,
  type Instance,
  type InstanceStatus,
  type ServiceView,
  type DiscoverFilters,
  type DiscoverOptions,
  type RegisterOptions,
  type RegistrationEvents,
  type RegistryWatchOptions,
} from './registry.ts';
export { TokenFence, fencePlugin, type FencePluginOptions, type FencedRequest } from './fence.ts';
export { type ClientClock, systemClock } from './clock.ts';
export { type ClientTlsOptions, type Transport, type TransportRequest, type TransportResponse, type TransportStream, UndiciTransport, type UndiciTransportOptions } from './transport.ts';
export type { RetryOptions } from './core.ts';
