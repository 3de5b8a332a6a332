/**
 * The fitted form shared by the penalised least-squares models (ridge, lasso, elastic net): they
 * differ in how they find the coefficients, not in what they keep or how they predict.
 */
import { DistmlError } from '../../errors.ts';
import { f64Tensor, type Tensor } from '../../tensor.ts';
import type { FitInfo, FittedModel } from '../estimator.ts';
import { tensorData } from '../tensor-data.ts';
import { linearScores } from './linear-scores.ts';

/** A fitted linear regressor: y = X·coef + intercept. */
export class FittedLinearModel<P> implements FittedModel {
  readonly task = 'regression' as const;
  readonly classes = 0;

  constructor(
    /** Registry name of the model that fitted it. */
    readonly name: string,
    readonly params: Readonly<P>,
    /** One coefficient per feature, in the order of the preprocessed columns. */
    readonly coef: Float64Array,
    readonly intercept: number,
    readonly features: number,
    readonly info: FitInfo,
  ) {}

  predict(X: Float64Array, rows: number): Float64Array {
    return linearScores(X, rows, this.coef, Float64Array.of(this.intercept), this.features);
  }

  tensors(): Record<string, Tensor> {
    return {
      coef: f64Tensor(this.coef, [this.features]),
      intercept: f64Tensor(Float64Array.of(this.intercept), [1]),
    };
  }
}

/**
 * Rebuilds a {@link FittedLinearModel} from a model file's `coef` and `intercept` tensors.
 * @throws DistmlError (MODEL_FILE) when a tensor is missing or does not match `features`
 */
export function restoreLinearModel<P>(
  name: string,
  params: Readonly<P>,
  tensors: Readonly<Record<string, Tensor>>,
  features: number,
  info: FitInfo,
): FittedLinearModel<P> {
  const coef = tensorData(tensors, 'coef');
  const intercept = tensorData(tensors, 'intercept');
  if (coef.length !== features || intercept.length !== 1) {
    throw new DistmlError(
      'MODEL_FILE',
      `${name} tensors do not match ${features} features: coef has ${coef.length} values, intercept ${intercept.length}`,
    );
  }
  return new FittedLinearModel(name, params, coef, intercept[0]!, features, info);
}
