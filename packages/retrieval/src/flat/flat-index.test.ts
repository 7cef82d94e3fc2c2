import { runConformanceSuite } from '../conformance.case.js';
import { FlatIndex } from './flat-index.js';

runConformanceSuite('FlatIndex', async ({ dim }) => new FlatIndex({ dim }), {
  twoStage: false,
  load: (path) => FlatIndex.load(path),
});
