/**
 * Request validation and parsing, stricter than fastify's defaults, because the contract says
 * wrong types and unknown fields are 400s:
 * - bodies are validated as sent: no type coercion (a number is not a string), no silent removal
 *   of unknown fields (fastify's default `removeAdditional` would drop them and succeed);
 * - query strings and path parameters arrive as text, so there types are coerced ("5" → 5),
 *   but unknown parameters are still refused;
 * - a body is required where a route has a body schema, unless that schema is Type.Optional;
 * - an empty body with a JSON content type is no body (a bodiless POST from a client that
 *   always sends the header), rather than fastify's "empty JSON body" error.
 */
import { OptionalKind } from '@sinclair/typebox';
import { Ajv, type Options as AjvOptions } from 'ajv';
import type { FastifyInstance, FastifySchemaValidationError } from 'fastify';

const SHARED_AJV_OPTIONS: AjvOptions = {
  removeAdditional: false,
  useDefaults: false,
  allErrors: false,
  // TypeBox schemas carry only standard keywords, but its option bags may add annotations.
  strict: false,
};

// Shared by every server in the process: Ajv caches by schema object, and the route schemas are
// module constants, so each is compiled once (tests run several nodes in one process).
const bodyAjv = new Ajv({ ...SHARED_AJV_OPTIONS, coerceTypes: false });
const textPartsAjv = new Ajv({ ...SHARED_AJV_OPTIONS, coerceTypes: true });

/** What fastify calls to validate a request part; it reads `errors` after a failed call. */
interface Validator {
  (data: unknown): boolean;
  readonly errors?: FastifySchemaValidationError[] | null;
}

/** Validators made and not yet compiled (see compileOnFirstUse). */
const uncompiled = new Set<() => void>();

/**
 * A validator that compiles its schema on its first call. Compiling every route's schemas at
 * start took about a second of CPU per node (Ajv generating and compiling ~200 functions), most
 * of them for routes a node never serves; each now costs a few ms on its route's first request
 * (the process's very first one ~50-80 ms more: Ajv checks its meta-schema once). Not yet
 * compiled validators stay in `uncompiled` for compileEveryValidator: a few hundred closures per
 * server, which matters only to test processes that start many.
 * `errors` is a live getter: fastify reads it after a failed call.
 */
function compileOnFirstUse(ajv: Ajv, schema: object): Validator {
  let compiled: ReturnType<Ajv['compile']> | undefined;
  const compile = (): ReturnType<Ajv['compile']> => {
    uncompiled.delete(compile);
    compiled ??= ajv.compile(schema);
    return compiled;
  };
  uncompiled.add(compile);
  const validate = (data: unknown): boolean => (compiled ?? compile())(data) as boolean;
  Object.defineProperty(validate, 'errors', { get: () => compiled?.errors });
  return validate as Validator;
}

/**
 * Compiles every validator not compiled yet, throwing on the first schema Ajv refuses: the
 * check the lazy validators skip at start, for tests to run once over every route.
 */
export function compileEveryValidator(): number {
  const pending = [...uncompiled];
  for (const compile of pending) compile();
  return pending.length;
}

export function installValidation(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (httpPart !== 'body') return compileOnFirstUse(textPartsAjv, schema as object);
    const validate = compileOnFirstUse(bodyAjv, schema as object);
    // A body schema wrapped in Type.Optional (keepalive, transfer-leader, heartbeat) lets the body
    // be absent; fastify hands an absent body to validators as null. A body that is there is
    // validated in full. fastify reads `errors` after a failed call, so it must be a live getter
    // (Object.assign would copy its value once, undefined, and fastify would take that as a pass).
    if (!(OptionalKind in (schema as object))) return validate;
    const validateOptional = (body: unknown): boolean => body === undefined || body === null || validate(body);
    Object.defineProperty(validateOptional, 'errors', { get: () => validate.errors });
    return validateOptional as Validator;
  });

  // Response schemas document the answers (OpenAPI); they do not shape them. Serializing with
  // JSON.stringify means a field a schema forgot is never silently dropped, and startup skips
  // compiling a serializer per route.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
