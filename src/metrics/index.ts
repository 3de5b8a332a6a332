/**
 * Metrics: classification, regression and clustering scores with scikit-learn 1.2 semantics.
 */
export type {
  AucAverage,
  Average,
  ClassificationScores,
  PerClassScores,
  PrecisionRecallF1,
} from './classification.ts';
export {
  accuracy,
  balancedAccuracy,
  classificationScores,
  confusionMatrix,
  logLoss,
  precisionRecallF1,
  precisionRecallF1PerClass,
  rocAuc,
  rocAucOvr,
} from './classification.ts';
export { adjustedRandIndex, inertia } from './clustering.ts';
export type { RegressionScores } from './regression.ts';
export { explainedVariance, mae, mse, r2, regressionScores, rmse } from './regression.ts';
