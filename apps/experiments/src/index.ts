export {
  aggregate,
  type Cell,
  type ComparisonTable,
  comparisonTables,
  formatStat,
  METRIC_LABELS,
  METRICS,
  type Metric,
  markdownTable,
  type Stat,
  settingOf,
  stat,
  twoStageTables,
} from './aggregate.js';
export { estimatePlan, formatPlan, type Plan, type PlanRow } from './plan.js';
export { committedReport, reportMarkdown } from './report.js';
export { appendResult, type RunResult, readResults, repairResults, runResultSchema } from './results.js';
export { RunFailedError, RunInterruptedError, runDir, runSuite, versions } from './runner.js';
export { SUITE_RESULTS, selectSpecs } from './select.js';
export { REGIMES, type Regime, type RunGroup, type RunSpec, runId, shotsOf, trainArgs } from './spec.js';
export { BACKBONES, fullSuite, LOSSES, quickSuite, SEEDS } from './suite.js';
export { type ClaimVerdict, gap, settings, type Verdict, verdicts } from './verdict.js';
