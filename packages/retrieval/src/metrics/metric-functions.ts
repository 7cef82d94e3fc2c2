import { evaluateRetrieval, type RetrievalEvaluationInput } from './evaluate.js';

// One-number shortcuts. Each runs a whole evaluation: call `evaluateRetrieval` once when more
// than one metric is needed.

/** mAP over the full ranking (AP divided by R), mean over queries with R ≥ 1. */
export function meanAveragePrecision(input: RetrievalEvaluationInput): number {
  return evaluateRetrieval(input).meanAveragePrecision;
}

/** mAP truncated at rank k, each AP divided by min(R, k). */
export function mapAtK(input: RetrievalEvaluationInput, k: number): number {
  return evaluateRetrieval({ ...input, ks: [k] }).mapAtK[k]!;
}

/** Relevant items in the top k divided by k. */
export function precisionAtK(input: RetrievalEvaluationInput, k: number): number {
  return evaluateRetrieval({ ...input, ks: [k] }).precisionAtK[k]!;
}

/** Relevant items in the top R divided by R. */
export function rPrecision(input: RetrievalEvaluationInput): number {
  return evaluateRetrieval(input).rPrecision;
}

/** AP truncated at rank R, divided by R (pytorch-metric-learning's mean_average_precision_at_r). */
export function mapAtR(input: RetrievalEvaluationInput): number {
  return evaluateRetrieval(input).mapAtR;
}

/** |top k ∩ exact top k| / min(k, N): 1 for exhaustive search; set `input.twoStage` to measure it. */
export function recallAtK(input: RetrievalEvaluationInput, k: number): number {
  return evaluateRetrieval({ ...input, ks: [k] }).recallAtK[k]!;
}
