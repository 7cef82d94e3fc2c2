export { type AppDeps, type AppOptions, createApp } from './app.js';
export { ApiKeys } from './auth.js';
export { loadBundle, type Manifest, type ModelBundle, manifestSchema } from './bundle.js';
export type {
  Catalog,
  CatalogHit,
  CatalogResult,
  CatalogSearchOptions,
  ItemRecord,
  StoredRecord,
} from './catalog.js';
export {
  ConfigError,
  configFromEnv,
  configFromFile,
  resolveConfig,
  type ServerConfig,
  type ServerConfigInput,
  serverConfigSchema,
} from './config.js';
export { type EmbedderOptions, OnnxEmbedder } from './embedder.js';
export { ApiError, type ApiErrorCode, type ErrorBody } from './errors.js';
export { decodeImage, type ImageFormat, sniffImageFormat } from './image.js';
export { Metrics } from './metrics.js';
export { RateLimiter } from './rate-limit.js';
export { type RunningServer, startServer } from './server.js';
export {
  type CreateIndex,
  type LoadIndex,
  SqliteCatalog,
  type SqliteCatalogOptions,
} from './sqlite-catalog.js';
