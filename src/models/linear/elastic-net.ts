/**
 * Lasso and elastic net with scikit-learn's objective
 *   1/(2n)·‖y − Xw − b‖² + alpha·l1Ratio·‖w‖₁ + alpha·(1 − l1Ratio)/2·‖w‖²,
 * the intercept b unpenalised; lasso is l1Ratio = 1. The objective is a quadratic plus penalties,
 * so one distributed pass of the normal-equations kernel gives everything the fit needs (centred
 * XᵀX and Xᵀy); coordinate descent then runs on the driver over the d×d Gram matrix, as
 * scikit-learn's `precompute=True` path and glmnet's covariance updates do.
 */
import type { Estimator, FitContext, FitInfo, ModelDefinition, TrainingData } from '../estimator.ts';
import { defineParams, type ParamsOf, type RawParams } from '../params.ts';
import { FittedLinearModel, restoreLinearModel } from './fitted-linear-model.ts';
import { gramCoordinateDescent } from './gram-coordinate-descent.ts';
import { interceptOf, normalEquations, solveNormalEquations } from './normal-equations.ts';

const alpha = {
  kind: 'number',
  min: 0,
  exclusiveMin: true,
  default: 1,
  doc: 'penalty strength (scikit-learn convention, the squared loss scaled by 1/(2n))',
} as const;
const fitIntercept = {
  kind: 'boolean',
  default: true,
  doc: 'learn an unpenalised intercept (bias) term',
} as const;
const maxIter = {
  kind: 'number',
  min: 1,
  integer: true,
  default: 1000,
  doc: 'maximum coordinate-descent sweeps',
} as const;
const tol = {
  kind: 'number',
  min: 0,
  exclusiveMin: true,
  default: 1e-4,
  doc: 'when a sweep changes no coefficient by more than tol·max|w|, stop if the duality gap is below tol·yᵀy (y centred with an intercept)',
} as const;
const standardize = {
  kind: 'boolean',
  default: false,
  doc: 'standardize numeric features before fitting, so the penalty weighs them alike (recorded in the model)',
} as const;

/** The declared parameters of the lasso. */
export const lassoParams = defineParams({ alpha, fitIntercept, maxIter, tol, standardize });

/** The declared parameters of the elastic net. */
export const elasticNetParams = defineParams({
  alpha,
  l1Ratio: {
    kind: 'number',
    min: 0,
    max: 1,
    default: 0.5,
    doc: 'share of the penalty that is L1: 1 is the lasso, 0 is ridge (scaled as scikit-learn does)',
  },
  fitIntercept,
  maxIter,
  tol,
  standardize,
});

/** Validated lasso parameters. */
export type LassoParams = ParamsOf<typeof lassoParams>;

/** Validated elastic-net parameters. */
export type ElasticNetParams = ParamsOf<typeof elasticNetParams>;

/** A fitted lasso or elastic net. */
export type FittedElasticNet<P = ElasticNetParams> = FittedLinearModel<P>;

const LASSO = 'lasso';
const ELASTIC_NET = 'elastic-net';

/** An unfitted elastic net. */
export class ElasticNet implements Estimator<ElasticNetParams, FittedElasticNet> {
  readonly name = ELASTIC_NET;
  readonly task = 'regression' as const;
  readonly params: Readonly<ElasticNetParams>;

  /** @throws ParamError when a parameter fails its declaration */
  constructor(params: RawParams = {}) {
    this.params = elasticNetParams.validate(ELASTIC_NET, params);
  }

  async fit(data: TrainingData, ctx: FitContext): Promise<FittedElasticNet> {
    return fitElasticNet(ELASTIC_NET, this.params, this.params, data, ctx);
  }
}

/** An unfitted lasso: the elastic net with l1Ratio = 1. */
export class Lasso implements Estimator<LassoParams, FittedElasticNet<LassoParams>> {
  readonly name = LASSO;
  readonly task = 'regression' as const;
  readonly params: Readonly<LassoParams>;

  /** @throws ParamError when a parameter fails its declaration */
  constructor(params: RawParams = {}) {
    this.params = lassoParams.validate(LASSO, params);
  }

  async fit(data: TrainingData, ctx: FitContext): Promise<FittedElasticNet<LassoParams>> {
    return fitElasticNet(LASSO, this.params, { ...this.params, l1Ratio: 1 }, data, ctx);
  }
}

/** The one implementation behind both models; `params` is what the fitted model records. */
async function fitElasticNet<P>(
  name: string,
  params: Readonly<P>,
  settings: Omit<ElasticNetParams, 'standardize'>,
  data: TrainingData,
  ctx: FitContext,
): Promise<FittedLinearModel<P>> {
  const { maxIter, tol } = settings;
  const system = await normalEquations(ctx.engine, data.matrix, settings.fitIntercept);
  const { d, n } = system;
  // scikit-learn's weights once the loss is ½‖y − Xw‖² rather than 1/(2n)·‖y − Xw‖².
  const l1 = settings.alpha * settings.l1Ratio * n;
  const l2 = settings.alpha * (1 - settings.l1Ratio) * n;
  if (l1 === 0) {
    // No L1 part: the minimiser is the ridge solution, exact in one solve. (Coordinate descent's
    // duality gap never closes without an L1 term, which is why scikit-learn warns here.)
    const coef = solveNormalEquations(system, l2);
    ctx.onProgress?.({ iteration: 1, maxIterations: 1, loss: 0 });
    const info: FitInfo = { iterations: 1, converged: true, reason: 'solved exactly (l1Ratio = 0)' };
    return new FittedLinearModel(name, params, coef, interceptOf(system, coef), d, info);
  }
  const result = gramCoordinateDescent(system.gram, system.xty, system.yy, d, {
    l1,
    l2,
    maxIter,
    tol,
    onSweep: (sweep, objective) =>
      ctx.onProgress?.({ iteration: sweep, maxIterations: maxIter, loss: objective / n }),
  });
  const warnings: string[] = [];
  if (!result.converged) {
    warnings.push(
      `coordinate descent did not converge in ${result.sweeps} sweeps: duality gap ${result.gap.toPrecision(4)} ` +
        `> tol·yᵀy = ${result.gapTolerance.toPrecision(4)}; raise maxIter, set standardize=true or raise alpha`,
    );
  }
  const info: FitInfo = {
    iterations: result.sweeps,
    converged: result.converged,
    reason: result.converged ? 'duality gap' : 'max-iterations',
    finalLoss: result.objective / n,
    warnings,
  };
  return new FittedLinearModel(name, params, result.coef, interceptOf(system, result.coef), d, info);
}

// Neither model needs a level dropped: the L1 or L2 penalty keeps a full one-hot block solvable.
const inputNeeds = (params: Readonly<Record<string, unknown>>) => ({
  standardize: params.standardize === true,
  dropFirstLevel: false,
});

/** Registry entry of the lasso. */
export const lassoDefinition: ModelDefinition = {
  name: LASSO,
  task: 'regression',
  summary: 'Lasso (L1 penalty alpha): coordinate descent on the distributed Gram matrix',
  params: lassoParams,
  inputNeeds,
  create: (params) => new Lasso(params),
  restore: (params, tensors, shape, info) =>
    restoreLinearModel(LASSO, lassoParams.validate(LASSO, params), tensors, shape.features, info),
};

/** Registry entry of the elastic net. */
export const elasticNetDefinition: ModelDefinition = {
  name: ELASTIC_NET,
  task: 'regression',
  summary:
    'Elastic net (L1 + L2 penalty, alpha and l1Ratio): coordinate descent on the distributed Gram matrix',
  params: elasticNetParams,
  inputNeeds,
  create: (params) => new ElasticNet(params),
  restore: (params, tensors, shape, info) =>
    restoreLinearModel(
      ELASTIC_NET,
      elasticNetParams.validate(ELASTIC_NET, params),
      tensors,
      shape.features,
      info,
    ),
};
