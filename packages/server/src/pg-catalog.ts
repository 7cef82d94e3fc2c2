import type pino from 'pino';
import type { ModelBundle } from './bundle.js';
import type { Catalog } from './catalog.js';

/** Options of `openPgCatalog`. */
export interface PgCatalogOptions {
  url: string;
  table: string;
  bundle: ModelBundle;
  indexPath: string | undefined;
  log: pino.Logger;
}

/** PostgreSQL + pgvector storage. */
export async function openPgCatalog(_options: PgCatalogOptions): Promise<Catalog> {
  throw new Error('PostgreSQL storage is not available yet');
}
