export { type CamDeviceValue, camLossOnDevice } from './cam-device';
export { type CamTerms, TfCamLoss, type TfCamLossOptions } from './cam-op';
export type { LossCreateOptions, LossFactory, LossOptionSpec, LossValue, TrainableLoss } from './loss';
export { l2NormalizeRows, l2NormalizeRowsInPlace, NORM_EPSILON } from './normalize';
export { createLoss, getLossFactory, listLosses, registerLoss, resolveLossOptions } from './registry';
