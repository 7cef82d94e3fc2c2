export {
  createStatements,
  type JsonValue,
  type PgAddBatch,
  type PgOrder,
  type PgSearchHit,
  type PgSearchOptions,
  type PgSearchResult,
  type PgStoredItem,
  PgVectorIndex,
  type PgVectorIndexCreateOptions,
  type PgVectorIndexOpenOptions,
  type SqlClient,
} from './pgvector-index.js';
