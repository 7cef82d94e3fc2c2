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
export { classMeans } from './class-means';
export { registerTrainCommands } from './commands';
export { DEFAULT_TRAIN_CONFIG, resolveTrainConfig, type TrainConfig, type TrainConfigInput } from './config';
export type { EngineBatch, StepOutcome, StepTerms, TrainingEngine } from './engine';
export {
  type EvalReport,
  embedWithModel,
  evaluateCheckpoint,
  evaluatePixelBaseline,
  formatEvalReport,
  type LoadedCheckpoint,
  loadCheckpointModel,
  retrievalEmbeddings,
} from './evaluate';
export {
  createLocalEngine,
  type FlatGradients,
  type LocalEngine,
  type LocalEngineOptions,
} from './local-engine';
export { createProgram } from './program';
// The protocol's ranking lives in @anchorage/retrieval (`evaluateRetrieval`); the trainer's wrapper stays internal.
export type { TwoStageBuckets, TwoStageMetrics } from './retrieval-metrics';
export { loadTrainingSet, type StepEvent, type TrainOptions, type TrainResult, train } from './train';
