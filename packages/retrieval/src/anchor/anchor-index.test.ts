import { runConformanceSuite } from '../conformance.case.js';
import { AnchorIndex } from './anchor-index.js';

runConformanceSuite('AnchorIndex', async ({ dim, anchors }) => new AnchorIndex({ dim, anchors }), {
  twoStage: true,
  fullRanking: true,
  load: (path) => AnchorIndex.load(path),
});
