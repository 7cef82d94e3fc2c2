export {
  createParallelEngine,
  type ParallelEngine,
  type ParallelEngineOptions,
  shardBatch,
  startWorker,
} from './parallel-engine';
