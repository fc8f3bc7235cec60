/**
 * Schemas of the key-value routes. Keys are the rest of the path (`{key...}`), so they may hold
 * `/`; the state machine checks their length (413) and emptiness (400).
 */
import { Type } from '@sinclair/typebox';
import { Consistency, KeyValueRef, Revision, TimeoutMs } from './common.ts';
import { FenceSchema } from './locks.ts';

export const KeyParams = Type.Object(
  { '*': Type.String({ description: 'The key: the rest of the path, URL-decoded (may contain /).' }) },
  { additionalProperties: false },
);

const timeoutMs = Type.Optional(TimeoutMs);

export const kvSchemas = {
  putBody: Type.Object(
    {
      value: Type.String(),
      lease: Type.Optional(Type.String({ minLength: 1, description: 'Attach the key to this lease.' })),
      ifRevision: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "Only if the key's modRevision is this; 0: only if absent." })),
      fence: Type.Optional(FenceSchema),
      timeoutMs,
    },
    { additionalProperties: false },
  ),
  putQuery: Type.Object({ timeoutMs }, { additionalProperties: false }),
  putResponse: Type.Object({ revision: Revision, prev: Type.Optional(KeyValueRef) }),
  getQuery: Type.Object({ consistency: Type.Optional(Consistency), timeoutMs }, { additionalProperties: false }),
  rangeQuery: Type.Object(
    {
      prefix: Type.Optional(Type.String({ description: 'Keys starting with this; empty or absent: every key.' })),
      limit: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'At most this many items; 0: the server maximum.' })),
      consistency: Type.Optional(Consistency),
      timeoutMs,
    },
    { additionalProperties: false },
  ),
  rangeResponse: Type.Object({ revision: Revision, items: Type.Array(KeyValueRef), more: Type.Boolean() }),
  deleteQuery: Type.Object(
    { ifRevision: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })), timeoutMs },
    { additionalProperties: false },
  ),
  deleteResponse: Type.Object({ revision: Revision, deleted: Type.Integer({ minimum: 0 }) }),
  deletePrefixQuery: Type.Object(
    { prefix: Type.String({ minLength: 1, description: 'Non-empty: deleting every key is not one request away.' }), timeoutMs },
    { additionalProperties: false },
  ),
};
