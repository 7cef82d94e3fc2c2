export { SearchPool, type SearchPoolOptions } from './search-pool.js';
