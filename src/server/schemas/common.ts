/**
 * Schema pieces shared by the routes: the contract's error body, the kv object, revisions, the
 * deadline parameter. Routes validate with them and the OpenAPI document is generated from them,
 * so the documentation cannot drift from what the server enforces.
 */
import { Type } from '@sinclair/typebox';

/** A revision, index or count: a non-negative safe integer. */
export const Revision = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'A stable code from the contract, e.g. invalid_argument, compare_failed.' }),
        message: Type.String(),
      },
      { additionalProperties: true, description: 'Details such as `current` (compare_failed) ride beside code and message.' },
    ),
  },
  { $id: 'ConcordError', title: 'Error' },
);

export const KeyValueSchema = Type.Object(
  {
    key: Type.String(),
    value: Type.String(),
    createRevision: Revision,
    modRevision: Revision,
    version: Revision,
    lease: Type.Optional(Type.String()),
  },
  { $id: 'KeyValue', title: 'KeyValue' },
);

/**
 * The hard ceiling of `timeoutMs` in the schemas. Schemas are module constants (shared by every
 * server in a process, compiled once), so the configured, lower maximum is checked by
 * RequestScope instead.
 */
export const TIMEOUT_MS_CEILING = 3_600_000;

/** `timeoutMs`: the request's deadline (the contract's default 5000). */
export const TimeoutMs = Type.Integer({ minimum: 1, maximum: TIMEOUT_MS_CEILING, description: 'Deadline of this request in ms (default 5000).' });

export const TimeoutQuery = Type.Object({ timeoutMs: Type.Optional(TimeoutMs) }, { additionalProperties: false });

/** The answers every route may give besides its success. */
export const KeyValueRef = Type.Unsafe<{ key: string; value: string; createRevision: number; modRevision: number; version: number; lease?: string }>(Type.Ref('KeyValue'));

export const ERROR_RESPONSES = {
  '4xx': Type.Ref('ConcordError'),
  '5xx': Type.Ref('ConcordError'),
} as const;

export const Consistency = Type.Union([Type.Literal('linearizable'), Type.Literal('serializable')], {
  description: 'linearizable (default) waits for a ReadIndex round; serializable answers from this replica as is.',
});
