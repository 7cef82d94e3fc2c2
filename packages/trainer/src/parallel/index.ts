export {
  createParallelEngine,
  type ParallelEngine,
  type ParallelEngineOptions,
} from './parallel-engine';
