import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunSpec, runId } from './spec.js';
import { fullSuite, quickSuite } from './suite.js';

/** The committed result file of the full suite. */
export const SUITE_RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'suite.jsonl');

export interface SelectOptions {
  quick?: boolean;
  /** Add the parts of the comparison that take many hours more (ViT full-set, ResNet-18, MNIST). */
  extended?: boolean;
  /** Keep the runs whose id matches. */
  only?: RegExp;
  /** Run the Fashion-MNIST configurations on this dataset instead. */
  dataset?: string;
}

/** The specs a command acts on: the suite (or the quick one), its main dataset swapped if asked, filtered by --only. */
export function selectSpecs(flags: SelectOptions): RunSpec[] {
  let specs = flags.quick ? quickSuite() : fullSuite({ extended: flags.extended ?? false });
  if (flags.dataset !== undefined) {
    const dataset = flags.dataset;
    specs = specs.map((s) => (s.dataset === 'fashion-mnist' ? { ...s, dataset } : s));
  }
  if (flags.only !== undefined) specs = specs.filter((s) => flags.only!.test(runId(s)));
  return specs;
}
