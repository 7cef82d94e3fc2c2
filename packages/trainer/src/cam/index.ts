export { type CamTerms, TfCamLoss, type TfCamLossOptions } from './cam-loss';
