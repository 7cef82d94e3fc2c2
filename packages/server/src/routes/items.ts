import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { checkBatchIds, type ItemRecord, type StoredRecord } from '../catalog.js';
import { ApiError } from '../errors.js';
import { itemIdSchema, itemSchema, putItemBodySchema, putItemsBodySchema } from '../schemas.js';
import type { RouteContext } from './context.js';
import {
  type Env,
  errorResponses,
  ownBody,
  parseWith,
  preCheckFinite,
  readJson,
  routeApp,
  toVector,
} from './http.js';

const idParams = z.object({ id: itemIdSchema });

const putItem = createRoute({
  method: 'put',
  path: '/v1/items/{id}',
  summary: 'Add or replace one item (vector or image, optional label and metadata). Answers after commit.',
  request: {
    params: idParams,
    body: { required: true, content: { 'application/json': { schema: ownBody('ItemWrite') } } },
  },
  responses: {
    200: { description: 'committed' },
    ...errorResponses([400, 401, 403, 413, 415, 422, 429]),
  },
});

const putItems = createRoute({
  method: 'post',
  path: '/v1/items',
  summary: 'Add or replace a batch of items atomically (all or none). Answers after commit.',
  request: {
    body: { required: true, content: { 'application/json': { schema: ownBody('ItemBatchWrite') } } },
  },
  responses: {
    200: { description: 'committed' },
    ...errorResponses([400, 401, 403, 413, 415, 422, 429]),
  },
});

const getItem = createRoute({
  method: 'get',
  path: '/v1/items/{id}',
  summary: 'Read one item.',
  request: { params: idParams },
  responses: {
    200: { description: 'the item', content: { 'application/json': { schema: itemSchema } } },
    ...errorResponses([401, 403, 404, 422, 429]),
  },
});

const deleteItem = createRoute({
  method: 'delete',
  path: '/v1/items/{id}',
  summary: 'Remove one item. Answers after commit.',
  request: { params: idParams },
  responses: {
    200: { description: 'deleted' },
    ...errorResponses([401, 403, 404, 422, 429]),
  },
});

const itemView = (r: StoredRecord) => ({
  id: r.id,
  vector: Array.from(r.vector),
  label: r.label ?? null,
  bucket: r.bucket,
  metadata: r.metadata ?? null,
});

/** `PUT /v1/items/{id}`, `POST /v1/items`, `GET` and `DELETE /v1/items/{id}`. */
export function itemRoutes(ctx: RouteContext): OpenAPIHono<Env> {
  const app = routeApp();
  app.openAPIRegistry.register('ItemWrite', putItemBodySchema);
  app.openAPIRegistry.register('ItemBatchWrite', putItemsBodySchema);
  const { dim, catalog } = ctx;

  const toRecord = async (
    item: { id: string; vector?: number[]; image?: string; label?: number; metadata?: unknown },
    at: string,
  ): Promise<ItemRecord> => {
    if ((item.vector === undefined) === (item.image === undefined)) {
      throw new ApiError(
        422,
        'VALIDATION_FAILED',
        `${at}: give exactly one of "vector" and "image"`,
        `${at}.vector`,
      );
    }
    ctx.checkLabel(item.label, `${at}.label`);
    ctx.checkMetadata(item.metadata, `${at}.metadata`);
    const vector = item.vector
      ? toVector(item.vector, dim, `${at}.vector`)
      : (await ctx.embedImage(item.image!, `${at}.image`)).vector;
    return { id: item.id, vector, label: item.label, metadata: item.metadata };
  };

  app.openapi({ ...putItem, middleware: ctx.guard('write') }, async (c) => {
    const { id } = c.req.valid('param');
    const raw = await readJson(c);
    preCheckFinite((raw as { vector?: unknown } | null)?.vector, dim, 'vector');
    const body = parseWith(putItemBodySchema, raw);
    const record = await toRecord({ ...body, id }, 'body');
    await catalog.put([record]);
    return c.json({ id, committed: true }, 200);
  });

  app.openapi({ ...putItems, middleware: ctx.guard('write') }, async (c) => {
    const raw = await readJson(c);
    const rawItems = (raw as { items?: unknown } | null)?.items;
    if (Array.isArray(rawItems)) {
      for (const [i, it] of rawItems.entries()) {
        preCheckFinite((it as { vector?: unknown } | null)?.vector, dim, `items[${i}].vector`);
      }
    }
    const body = parseWith(putItemsBodySchema, raw);
    checkBatchIds(body.items);
    // vector items are checked synchronously first, so a bad vector is reported before any image
    // is decoded; the images of a batch then embed together (one micro-batch)
    const records: ItemRecord[] = await Promise.all(
      body.items.map((item, i) => toRecord(item, `items[${i}]`)),
    );
    await catalog.put(records);
    return c.json({ ids: records.map((r) => r.id), committed: true }, 200);
  });

  app.openapi({ ...getItem, middleware: ctx.guard('read') }, async (c) => {
    const { id } = c.req.valid('param');
    const item = await catalog.get(id);
    if (!item) throw new ApiError(404, 'NOT_FOUND', `no item with id ${JSON.stringify(id)}`, 'id');
    return c.json(itemView(item), 200);
  });

  app.openapi({ ...deleteItem, middleware: ctx.guard('write') }, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await catalog.remove(id)))
      throw new ApiError(404, 'NOT_FOUND', `no item with id ${JSON.stringify(id)}`, 'id');
    return c.json({ id, deleted: true }, 200);
  });
  return app;
}
