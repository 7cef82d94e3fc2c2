export {
  AnchorIndex,
  type AnchorIndexOptions,
  anchorBuckets,
  type Compression,
  type LoadOptions,
} from './anchor/index.js';
export {
  crc32,
  decodeIndexFile,
  encodeIndexFile,
  INDEX_FILE_MAGIC,
  INDEX_FILE_VERSION,
  type IndexFileContents,
  readIndexFile,
  writeIndexFile,
} from './file/index.js';
export { FlatIndex, type FlatIndexOptions } from './flat/index.js';
export { simdAvailable, squaredL2 } from './kernel/index.js';
export { loadIndex } from './load-index.js';
export {
  type AnchorIndexEvaluationOptions,
  evaluateAnchorIndex,
  evaluateRetrieval,
  evaluateRetrievalMany,
  mapAtK,
  mapAtR,
  meanAveragePrecision,
  precisionAtK,
  type RetrievalEvaluationInput,
  type RetrievalMetrics,
  recallAtK,
  rPrecision,
  type TwoStageEvaluation,
} from './metrics/index.js';
export { encodeNpy, type NpyArray, type NpyDtype, parseNpy, readNpy, writeNpy } from './npy/index.js';
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
} from './pgvector/index.js';
export { SearchPool, type SearchPoolOptions } from './pool/index.js';
export type {
  AddBatch,
  AsyncVectorIndex,
  ItemId,
  SearchHit,
  SearchOptions,
  SearchResult,
  StoredItem,
  VectorIndex,
} from './types.js';
