export {
  type AnchorInitStrategy,
  type AnchorStats,
  anchorStats,
  type InitAnchorsOptions,
  initAnchors,
} from './anchors';
export { CamLoss, type CamLossInput, type CamLossResult, type CamLossTerms, camLoss } from './cam-loss';
export { AnchorageError, type AnchorageErrorCode } from './errors';
export { type NearestAnchors, nearestAnchors, nearestAnchorsInto, squaredDistance } from './nearest';
export {
  type AnchorReduction,
  type AttractorReduction,
  type CamLossOptions,
  type CamLossOptionsInput,
  DEFAULT_CAM_OPTIONS,
  resolveCamOptions,
} from './options';
export { Random, type RandomState } from './random';
export { checkDim, checkLabels, checkMatrix, type FloatArray } from './validate';
