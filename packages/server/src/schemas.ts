import { z } from '@hono/zod-openapi';
import { isWellFormedText } from './unicode.js';

/** Largest `k` a search may ask for. */
export const MAX_K = 1000;
/** Most queries in one batch search. */
export const MAX_BATCH_QUERIES = 1000;
/** Most items in one batch write. */
export const MAX_BATCH_ITEMS = 10_000;
/** Longest item id, in UTF-16 code units. */
export const MAX_ID_LENGTH = 256;
/** Deepest nesting of item metadata (a scalar is depth 0, `{"a": 1}` depth 1). */
export const MAX_METADATA_DEPTH = 32;

/**
 * How deeply `value` nests, without recursion (so no input can overflow the stack), stopping as
 * soon as it passes `limit`.
 */
export function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    const inner = depth + 1;
    if (inner > deepest) deepest = inner;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, inner]);
  }
  return deepest;
}

const vector = z
  .array(z.number())
  .min(1)
  .openapi({ description: 'The embedding, `dim` numbers.', example: [0.1, -0.2] });
const k = z.number().int().min(1).max(MAX_K).default(10).openapi({ description: 'Number of results.' });
const probe = z
  .number()
  .int()
  .min(1)
  .default(1)
  .openapi({ description: 'Nearest anchors whose buckets are ranked exactly, 1..classes.' });
const filter = z
  .strictObject({ labels: z.array(z.number().int().min(0)).min(1).max(10_000) })
  .openapi({ description: 'Keep only items whose label is one of `labels`.' });
const image = z.string().min(1).openapi({
  description: 'A JPEG, PNG or WebP image, base64 (a `data:` URL prefix is accepted).',
});

/** An item id: 1–256 characters, well-formed Unicode, no control characters, not `.` or `..`. */
export const itemIdSchema = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .refine((id) => !/\p{Cc}/u.test(id), 'must not contain control characters')
  // a lone surrogate cannot be stored as UTF-8: two such ids would become one (see isWellFormedText)
  .refine(isWellFormedText, 'must be well-formed Unicode (no lone surrogate)')
  // URLs resolve "." and ".." (also as %2E) away, so /v1/items/{id} could never reach such an item
  .refine((id) => id !== '.' && id !== '..', 'must not be "." or ".." (a URL path cannot address them)')
  .openapi({
    description:
      'Item id chosen by the client: 1–256 characters of well-formed Unicode, no control characters, not `.` or `..`.',
    example: 'shirt-0042',
  });

/** Body of `POST /v1/search`. Exactly one of `vector` and `image`. */
export const searchBodySchema = z
  .strictObject({ vector: vector.optional(), image: image.optional(), k, probe, filter: filter.optional() })
  .openapi('SearchRequest');

/** Body of `POST /v1/search/batch`. */
export const batchSearchBodySchema = z
  .strictObject({
    vectors: z.array(vector).min(1).max(MAX_BATCH_QUERIES),
    k,
    probe,
    filter: filter.optional(),
  })
  .openapi('BatchSearchRequest');

const label = z.number().int().min(0).openapi({ description: 'Class index, 0..classes-1.' });
const metadata = z
  .unknown()
  .superRefine((value, ctx) => {
    const depth = nestingDepth(value, MAX_METADATA_DEPTH);
    if (depth > MAX_METADATA_DEPTH) {
      ctx.addIssue({
        code: 'custom',
        message: `nests deeper than ${MAX_METADATA_DEPTH} levels (the limit)`,
        params: { apiCode: 'METADATA_TOO_DEEP' },
      });
    }
  })
  .optional()
  .openapi({
    description: `Any JSON value, at most ${MAX_METADATA_DEPTH} levels deep (and size-limited, 16 KiB of JSON by default).`,
  });

/** Body of `PUT /v1/items/{id}`. Exactly one of `vector` and `image`. */
export const putItemBodySchema = z
  .strictObject({ vector: vector.optional(), image: image.optional(), label: label.optional(), metadata })
  .openapi('ItemWrite');

/** Body of `POST /v1/items`. */
export const putItemsBodySchema = z
  .strictObject({
    items: z
      .array(
        z.strictObject({
          id: itemIdSchema,
          vector: vector.optional(),
          image: image.optional(),
          label: label.optional(),
          metadata,
        }),
      )
      .min(1)
      .max(MAX_BATCH_ITEMS),
  })
  .openapi('ItemBatchWrite');

const hit = z
  .object({
    id: z.string(),
    distance: z.number().openapi({ description: 'Squared Euclidean distance to the query.' }),
    label: z.number().int().nullable(),
    bucket: z.number().int(),
    metadata: z.unknown(),
  })
  .openapi('SearchHit');

const probed = z
  .object({
    class: z.number().int(),
    name: z.string(),
    distance: z.number().openapi({ description: 'Squared Euclidean distance from the query to the anchor.' }),
  })
  .openapi('ProbedAnchor');

/** One query's answer. */
export const searchResultSchema = z
  .object({
    results: z.array(hit),
    anchors: z
      .array(probed)
      .openapi({ description: 'The probed anchors, nearest first: the predicted classes.' }),
    scanned: z.number().int().openapi({ description: 'Stored vectors compared with the query.' }),
  })
  .openapi('SearchResult');

/** Response of `POST /v1/search`. */
export const searchResponseSchema = searchResultSchema
  .extend({
    timing: z.object({ totalMs: z.number(), embedMs: z.number().optional(), searchMs: z.number() }),
  })
  .openapi('SearchResponse');

/** Response of `POST /v1/search/batch`. */
export const batchSearchResponseSchema = z
  .object({
    queries: z.array(searchResultSchema),
    timing: z.object({ totalMs: z.number(), searchMs: z.number() }),
  })
  .openapi('BatchSearchResponse');

/** An item as read back. */
export const itemSchema = z
  .object({
    id: z.string(),
    vector: z.array(z.number()),
    label: z.number().int().nullable(),
    bucket: z.number().int(),
    metadata: z.unknown(),
  })
  .openapi('Item');

/** The error body every failure returns. */
export const errorSchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .openapi({ description: 'Stable machine-readable code.', example: 'DIMENSION_MISMATCH' }),
      message: z.string(),
      argument: z.string().optional(),
    }),
  })
  .openapi('Error');

/** Response of `GET /v1/stats`. */
export const statsSchema = z
  .object({
    items: z.number().int(),
    dim: z.number().int(),
    storage: z.string(),
    imageQueries: z.boolean(),
    anchors: z.number().int(),
    anchorGeometry: z
      .object({
        minNorm: z.number(),
        meanNorm: z.number(),
        minDistance: z.number(),
        meanDistance: z.number(),
      })
      .openapi({ description: 'Euclidean (not squared) norms of the anchors and distances between them.' }),
    buckets: z.array(
      z.object({ class: z.number().int(), name: z.string(), size: z.number().int(), anchorNorm: z.number() }),
    ),
    manifest: z.unknown(),
  })
  .openapi('Stats');
