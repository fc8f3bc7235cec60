/**
 * Authentication and authorization as replicated state: the model (types.ts), its bounds
 * (limits.ts), the permission checks (permissions.ts), the table and its rules (auth-table.ts),
 * the commands' parser and apply, and the snapshot form. Pure like src/kv, which applies them.
 */
export * from './types.ts';
export * from './limits.ts';
export * from './permissions.ts';
export { AuthTable, tokenInfo, type AuthQueries, type AuthTableState } from './auth-table.ts';
export { parsePermission } from './command-parse.ts';
