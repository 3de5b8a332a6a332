/**
 * Ridge regression with scikit-learn's objective ‖y − Xw − b‖² + alpha·‖w‖², the intercept b
 * unpenalised. Exact: one pass of the normal-equations kernel over the partitions, then the driver
 * solves (XᵀX + alpha·I)·w = Xᵀy on the centred sums by Cholesky.
 */
import type { Estimator, FitContext, ModelDefinition, TrainingData } from '../estimator.ts';
import { defineParams, type ParamsOf, type RawParams } from '../params.ts';
import { FittedLinearModel, restoreLinearModel } from './fitted-linear-model.ts';
import { interceptOf, normalEquations, solveNormalEquations } from './normal-equations.ts';

/** The declared parameters of ridge regression. */
export const ridgeParams = defineParams({
  alpha: {
    kind: 'number',
    min: 0,
    default: 1,
    doc: 'L2 penalty strength on the coefficients (scikit-learn convention); 0 is ordinary least squares',
  },
  fitIntercept: { kind: 'boolean', default: true, doc: 'learn an unpenalised intercept (bias) term' },
  standardize: {
    kind: 'boolean',
    default: false,
    doc: 'standardize numeric features before fitting, so the penalty weighs them alike (recorded in the model)',
  },
});

/** Validated ridge parameters. */
export type RidgeParams = ParamsOf<typeof ridgeParams>;

/** A fitted ridge regression. */
export type FittedRidge = FittedLinearModel<RidgeParams>;

const NAME = 'ridge';

/** An unfitted ridge regression. */
export class Ridge implements Estimator<RidgeParams, FittedRidge> {
  readonly name = NAME;
  readonly task = 'regression' as const;
  readonly params: Readonly<RidgeParams>;

  /** @throws ParamError when a parameter fails its declaration */
  constructor(params: RawParams = {}) {
    this.params = ridgeParams.validate(NAME, params);
  }

  async fit(data: TrainingData, ctx: FitContext): Promise<FittedRidge> {
    // Weights enter the sums (scikit-learn's Ridge minimises Σ wᵢ·rᵢ² + alpha·‖w‖²).
    const system = await normalEquations(
      ctx.engine,
      data.matrix,
      this.params.fitIntercept,
      data.weighted === true,
    );
    const coef = solveNormalEquations(system, this.params.alpha);
    const intercept = interceptOf(system, coef);
    ctx.onProgress?.({ iteration: 1, maxIterations: 1, loss: 0 });
    return new FittedLinearModel(NAME, this.params, coef, intercept, system.d, {
      iterations: 1,
      converged: true,
    });
  }
}

/** Registry entry of ridge regression. */
export const ridgeDefinition: ModelDefinition = {
  name: NAME,
  task: 'regression',
  summary: 'Ridge regression (L2 penalty alpha), solved exactly from distributed normal equations',
  params: ridgeParams,
  sampleWeights: true,
  // A penalty makes a full one-hot block plus an intercept solvable; alpha = 0 is least squares
  // and needs one level dropped, as linear-regression does.
  inputNeeds: (params) => ({
    standardize: params.standardize === true,
    dropFirstLevel: params.alpha === 0 && params.fitIntercept !== false,
  }),
  create: (params) => new Ridge(params),
  restore: (params, tensors, shape, info) =>
    restoreLinearModel(NAME, ridgeParams.validate(NAME, params), tensors, shape.features, info),
};
