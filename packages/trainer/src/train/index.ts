export {
  CHECKPOINT_DIR,
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointState,
  loadCheckpoint,
  modelFromSnapshot,
  modelSnapshot,
  type OptimizerSnapshot,
  optimizerSnapshot,
  resolveCheckpointDir,
  restoreOptimizer,
  saveCheckpoint,
  type TensorBundle,
  type TrainingSnapshot,
  type TrainProgress,
} from './checkpoint';
export { registerTrainCommands } from './commands';
export { DEFAULT_TRAIN_CONFIG, resolveTrainConfig, type TrainConfig, type TrainConfigInput } from './config';
export type { EngineBatch, StepOutcome, TrainingEngine } from './engine';
export {
  type EvalReport,
  embedWithModel,
  evaluateCheckpoint,
  evaluatePixelBaseline,
  formatEvalReport,
  type LoadedCheckpoint,
  loadCheckpointModel,
} from './evaluate';
export {
  createLocalEngine,
  type FlatGradients,
  type LocalEngine,
  type LocalEngineOptions,
} from './local-engine';
export { createProgram } from './program';
export {
  evaluateRetrieval,
  type RetrievalInput,
  type RetrievalMetrics,
  type TwoStageMetrics,
} from './retrieval-metrics';
export { loadTrainingSet, type StepEvent, type TrainOptions, type TrainResult, train } from './train';
