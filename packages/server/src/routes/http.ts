import { OpenAPIHono, type RouteConfig, type z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type pino from 'pino';
import { ApiError, type ApiErrorCode } from '../errors.js';
import { errorSchema } from '../schemas.js';

/** The variables every request carries (set by the app's first middleware). */
export type Env = { Variables: { requestId: string; log: pino.Logger } };

const JSON_ERRORS = {
  400: 'Malformed JSON',
  401: 'Missing or malformed API key',
  403: 'Wrong API key, or writes disabled',
  404: 'Unknown id',
  413: 'Body over the limit',
  415: 'Unsupported content type or image format',
  422: 'Invalid input',
  429: 'Rate limited',
  503: 'Loading, or too much search work admitted (retry shortly)',
} as const;

/** The documented error answers of a route (every one is `{ error: { code, message } }`). */
export function errorResponses(statuses: (keyof typeof JSON_ERRORS)[]): RouteConfig['responses'] {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: JSON_ERRORS[s], content: { 'application/json': { schema: errorSchema } } },
    ]),
  );
}

/**
 * A JSON body the handler parses itself, documented by reference to its registered schema. The
 * route then gets no validator of its own: the handler reads the body (content type, charset,
 * JSON, non-finite numbers) and validates it with the same schema object, so the API's error
 * codes stay its own and the document cannot drift from what is checked.
 */
export function ownBody(name: string): { $ref: string } {
  return { $ref: `#/components/schemas/${name}` };
}

/**
 * A sub-app for route modules: each route is declared once, `app.openapi(route, handler)`, and a
 * path parameter that fails its schema is the API's 422, as if the handler had checked it.
 */
export function routeApp(): OpenAPIHono<Env> {
  return new OpenAPIHono<Env>({
    defaultHook: (result) => {
      if (!result.success) throw zodError(result.error, result.target === 'param' ? 'id' : 'body');
    },
  });
}

/** A zod issue path as the API's other errors write it: `items[0].id`. */
function argumentPath(path: readonly PropertyKey[], base: string): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out || base;
}

/**
 * First zod issue, as a client-facing error: ranges are OUT_OF_RANGE, custom checks may name their
 * own code, the rest VALIDATION_FAILED. `base` names the value when the issue is about all of it.
 */
export function zodError(error: z.ZodError, base: string): ApiError {
  const issue = error.issues[0]!;
  const where = argumentPath(issue.path, base);
  const range = issue.code === 'too_big' || issue.code === 'too_small';
  const numeric = range && (issue as { origin?: string }).origin === 'number';
  const own =
    issue.code === 'custom' ? (issue.params as { apiCode?: ApiErrorCode } | undefined)?.apiCode : undefined;
  return new ApiError(
    422,
    own ?? (numeric ? 'OUT_OF_RANGE' : 'VALIDATION_FAILED'),
    `${where}: ${issue.message}`,
    where,
  );
}

export function parseWith<T>(schema: z.ZodType<T>, value: unknown, base = 'body'): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw zodError(parsed.error, base);
  return parsed.data;
}

export async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  const match = /^\s*application\/(?:[\w.+-]+\+)?json\s*(;.*)?$/i.exec(type);
  if (!match) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json');
  }
  // the body is read as UTF-8 (JSON's only encoding on the wire, RFC 8259): another charset would
  // be silently misread, so it is refused
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(match[1] ?? '')?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `charset ${JSON.stringify(charset)} is not supported: send UTF-8 JSON (charset=utf-8 or none)`,
    );
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'MALFORMED_JSON', 'the request body is not valid JSON');
  }
}

/**
 * Converts a JSON vector to float32, refusing a wrong length and values that are not finite
 * (JSON's `1e999` parses to Infinity; `1e39` overflows float32).
 */
export function toVector(values: readonly number[], dim: number, argument: string): Float32Array {
  if (values.length !== dim) {
    throw new ApiError(
      422,
      'DIMENSION_MISMATCH',
      `${argument} has ${values.length} numbers, expected ${dim}`,
      argument,
    );
  }
  const out = Float32Array.from(values);
  for (let i = 0; i < dim; i++) {
    if (!Number.isFinite(out[i]!)) {
      throw new ApiError(
        422,
        'NON_FINITE',
        `${argument}[${i}] is ${values[i]}, not a finite float32 number`,
        `${argument}[${i}]`,
      );
    }
  }
  return out;
}

/** Checks an all-number vector before the schema does: zod calls Infinity a type error, the API calls it NON_FINITE. */
export function preCheckFinite(value: unknown, dim: number, argument: string): void {
  if (Array.isArray(value) && value.every((v) => typeof v === 'number'))
    toVector(value as number[], dim, argument);
}

export function decodeBase64(text: string, argument: string): Uint8Array {
  const body = text.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
  if (body.length === 0 || body.length % 4 === 1 || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(body)) {
    throw new ApiError(422, 'CORRUPT_IMAGE', `${argument} is not valid base64`, argument);
  }
  return Buffer.from(body, 'base64');
}

/** The client's address, as rate limits and failure counts key it. */
export function remote(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return `ip:${incoming?.socket?.remoteAddress ?? 'unknown'}`;
}
