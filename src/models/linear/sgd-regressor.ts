/**
 * A linear regressor trained by minibatch SGD on the workers against the parameter server, after
 * scikit-learn's `SGDRegressor`: squared or Huber loss, L2 penalty. See sgd.kernels.ts for the
 * update rule and sgd.ts for the fit.
 */
import { DataFormatError, DistmlError } from '../../errors.ts';
import { f64Tensor, type Tensor } from '../../tensor.ts';
import type {
  Estimator,
  FitContext,
  FitInfo,
  FittedModel,
  ModelDefinition,
  TrainingData,
} from '../estimator.ts';
import { defineParams, type ParamsOf, type RawParams } from '../params.ts';
import { tensorData } from '../tensor-data.ts';
import { linearScores } from './linear-scores.ts';
import { checkSgdParams, runSgd, type SgdState, sgdParamDecls } from './sgd.ts';

/** The declared parameters of the SGD regressor. */
export const sgdRegressorParams = defineParams({
  loss: {
    kind: 'choice',
    choices: ['squared', 'huber'] as const,
    default: 'squared' as const,
    doc: 'squared error, or Huber (squared within epsilon of the target, linear beyond: robust to outliers)',
  },
  epsilon: {
    kind: 'number',
    min: 0,
    default: 0.1,
    doc: "where loss 'huber' turns from squared to linear, in units of the target",
  },
  ...sgdParamDecls({ learningRate: 'invscaling', powerT: 0.25 }),
});

/** Validated SGD regressor parameters. */
export type SgdRegressorParams = ParamsOf<typeof sgdRegressorParams>;

const NAME = 'sgd-regressor';

function validate(params: RawParams): SgdRegressorParams {
  const p = sgdRegressorParams.validate(NAME, params);
  checkSgdParams(NAME, p);
  return p;
}

/** An unfitted SGD regressor. */
export class SgdRegressor implements Estimator<SgdRegressorParams, FittedSgdRegressor> {
  readonly name = NAME;
  readonly task = 'regression' as const;
  readonly params: Readonly<SgdRegressorParams>;

  /** @throws ParamError when a parameter fails its declaration or contradicts another */
  constructor(params: RawParams = {}) {
    this.params = validate(params);
  }

  async fit(data: TrainingData, ctx: FitContext): Promise<FittedSgdRegressor> {
    const run = await runSgd(NAME, this.params, data, 1, ctx, this.params.epochs);
    return FittedSgdRegressor.from(this.params, data.matrix.cols, run, run.info);
  }
}

/**
 * A fitted SGD regressor, y = X·coef + intercept, with how far training has come, so that
 * {@link FittedSgdRegressor.partialFit} can carry on.
 */
export class FittedSgdRegressor implements FittedModel {
  readonly name = NAME;
  readonly task = 'regression' as const;
  readonly classes = 0;

  constructor(
    readonly params: Readonly<SgdRegressorParams>,
    /** One coefficient per feature, in the order of the preprocessed columns. */
    readonly coef: Float64Array,
    readonly intercept: number,
    readonly features: number,
    /** Rows seen and epochs started by every fit so far. */
    readonly progress: Pick<SgdState, 'rowsSeen' | 'epochsSeen'>,
    readonly info: FitInfo,
  ) {}

  /** @internal The fitted model of an SGD run. */
  static from(
    params: Readonly<SgdRegressorParams>,
    d: number,
    state: SgdState,
    info: FitInfo,
  ): FittedSgdRegressor {
    const { theta, rowsSeen, epochsSeen } = state;
    return new FittedSgdRegressor(params, theta.slice(0, d), theta[d]!, d, { rowsSeen, epochsSeen }, info);
  }

  /**
   * Online training: one more epoch over `data`, a new chunk of rows, starting from these
   * coefficients and continuing the step-size schedule and the shuffles where the earlier fits
   * left them (like scikit-learn's `partial_fit`). `data` must be preprocessed with this model's
   * plan. This model is left unchanged.
   *
   * @returns the model after the chunk; `info` describes this call's epoch
   * @throws DataFormatError when the chunk's features do not match the model's
   */
  async partialFit(data: TrainingData, ctx: FitContext): Promise<FittedSgdRegressor> {
    if (data.matrix.cols !== this.features) {
      throw new DataFormatError(
        `${NAME}.partialFit: the chunk has ${data.matrix.cols} features, the model ${this.features}`,
        "preprocess every chunk with the model's preprocessing plan",
      );
    }
    const theta = new Float64Array(this.features + 1);
    theta.set(this.coef);
    theta[this.features] = this.intercept;
    const run = await runSgd(NAME, this.params, data, 1, ctx, 1, { theta, ...this.progress });
    return FittedSgdRegressor.from(this.params, this.features, run, run.info);
  }

  predict(X: Float64Array, rows: number): Float64Array {
    return linearScores(X, rows, this.coef, Float64Array.of(this.intercept), this.features);
  }

  tensors(): Record<string, Tensor> {
    return {
      coef: f64Tensor(this.coef, [this.features]),
      intercept: f64Tensor(Float64Array.of(this.intercept), [1]),
      progress: f64Tensor(Float64Array.of(this.progress.rowsSeen, this.progress.epochsSeen), [2]),
    };
  }
}

/** Registry entry of the SGD regressor. */
export const sgdRegressorDefinition: ModelDefinition = {
  name: NAME,
  task: 'regression',
  summary:
    'Linear regressor (squared or Huber loss, L2), by SGD on the workers against a parameter server (BSP, ASP or SSP)',
  params: sgdRegressorParams,
  inputNeeds: (params) => ({ standardize: params.standardize === true, dropFirstLevel: false }),
  create: (params) => new SgdRegressor(params),
  restore(params, tensors, shape, info) {
    const p = validate(params);
    const coef = tensorData(tensors, 'coef');
    const intercept = tensorData(tensors, 'intercept');
    const progress = tensorData(tensors, 'progress');
    if (coef.length !== shape.features || intercept.length !== 1 || progress.length !== 2) {
      throw new DistmlError(
        'MODEL_FILE',
        `${NAME} tensors do not match ${shape.features} features: coef has ${coef.length} values, intercept ${intercept.length}`,
      );
    }
    return new FittedSgdRegressor(
      p,
      coef,
      intercept[0]!,
      shape.features,
      { rowsSeen: progress[0]!, epochsSeen: progress[1]! },
      info,
    );
  },
};
