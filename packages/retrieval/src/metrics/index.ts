export { type AnchorIndexEvaluationOptions, evaluateAnchorIndex } from './anchor-evaluation.js';
export {
  evaluateRetrieval,
  evaluateRetrievalMany,
  type RetrievalEvaluationInput,
  type RetrievalMetrics,
  type TwoStageEvaluation,
} from './evaluate.js';
export {
  mapAtK,
  mapAtR,
  meanAveragePrecision,
  precisionAtK,
  recallAtK,
  rPrecision,
} from './metric-functions.js';
