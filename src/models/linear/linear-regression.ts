/**
 * Ordinary (optionally sample-weighted) least squares, solved exactly. One pass of a kernel over
 * the partitions sums XᵀX, Xᵀy and the column sums; the driver centres them (which removes the
 * intercept from the system) and solves by Cholesky. When that system is ill-conditioned (see
 * {@link GRAM_CONDITION_LIMIT}) or singular, a second pass computes a tall-skinny QR of the data
 * instead, and the solution is the minimum-norm one, with a warning naming the features that
 * are linear combinations of the others: what scikit-learn's LinearRegression returns.
 */
import { DistmlError } from '../../errors.ts';
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
import {
  GRAM_CONDITION_LIMIT,
  interceptOf,
  normalEquations,
  solveIfWellConditioned,
} from './normal-equations.ts';
import { solveByTsqr } from './tsqr.ts';

/** The declared parameters of linear regression. */
export const linearRegressionParams = defineParams({
  fitIntercept: { kind: 'boolean', default: true, doc: 'learn an intercept (bias) term' },
});

/** Validated linear regression parameters. */
export type LinearRegressionParams = ParamsOf<typeof linearRegressionParams>;

const NAME = 'linear-regression';

/** An unfitted least-squares linear regression. */
export class LinearRegression implements Estimator<LinearRegressionParams, FittedLinearRegression> {
  readonly name = NAME;
  readonly task = 'regression' as const;
  readonly params: Readonly<LinearRegressionParams>;

  /** @throws ParamError when a parameter fails its declaration */
  constructor(params: RawParams = {}) {
    this.params = linearRegressionParams.validate(NAME, params);
  }

  async fit(data: TrainingData, ctx: FitContext): Promise<FittedLinearRegression> {
    const weighted = data.weighted === true;
    const intercept = this.params.fitIntercept;
    const system = await normalEquations(ctx.engine, data.matrix, intercept, weighted);
    const gram = solveIfWellConditioned(system);
    let coef: Float64Array;
    let b: number;
    let info: FitInfo;
    if (gram.coef !== undefined) {
      coef = gram.coef;
      b = interceptOf(system, coef);
      info = { iterations: 1, converged: true, reason: 'normal equations' };
    } else {
      const qr = await solveByTsqr(ctx.engine, data.matrix, intercept, weighted);
      coef = qr.coef;
      b = qr.intercept;
      const condition = Number.isFinite(gram.condition) ? gram.condition.toExponential(1) : 'infinite';
      const warnings =
        qr.rank < system.d ? [rankWarning(qr.rank, system.d, qr.dependent, data.featureNames)] : [];
      info = {
        iterations: 1,
        converged: true,
        reason: `TSQR (normal equations' condition estimate ${condition} > ${GRAM_CONDITION_LIMIT.toExponential(0)})`,
        ...(warnings.length > 0 ? { warnings } : {}),
      };
    }
    ctx.onProgress?.({ iteration: 1, maxIterations: 1, loss: 0 });
    return new FittedLinearRegression(this.params, coef, b, system.d, info);
  }
}

/** The warning of a rank-deficient fit, naming the dependent features. */
function rankWarning(
  rank: number,
  d: number,
  dependent: Int32Array,
  names: readonly string[] | undefined,
): string {
  const named = [...dependent].map((j) => (names?.[j] === undefined ? `feature ${j}` : `'${names[j]}'`));
  const list =
    named.length > 8 ? `${named.slice(0, 8).join(', ')} and ${named.length - 8} more` : named.join(', ');
  return (
    `the design matrix is rank deficient (rank ${rank} of ${d} features): ${list} ` +
    `${named.length === 1 ? 'is a linear combination' : 'are linear combinations'} of the other features ` +
    '(or constant); the coefficients are the minimum-norm least-squares solution, as numpy.linalg.lstsq ' +
    'and scikit-learn give, so the weight is shared among collinear features; remove the duplicates for unique coefficients'
  );
}

/** A fitted linear regression: y = X·coef + intercept. */
export class FittedLinearRegression implements FittedModel {
  readonly name = NAME;
  readonly task = 'regression' as const;
  readonly classes = 0;

  constructor(
    readonly params: Readonly<LinearRegressionParams>,
    readonly coef: Float64Array,
    readonly intercept: number,
    readonly features: number,
    readonly info: FitInfo,
  ) {}

  predict(X: Float64Array, rows: number): Float64Array {
    const d = this.features;
    const out = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      let s = this.intercept;
      const off = i * d;
      for (let j = 0; j < d; j++) s += X[off + j]! * this.coef[j]!;
      out[i] = s;
    }
    return out;
  }

  tensors(): Record<string, Tensor> {
    return {
      coef: f64Tensor(this.coef, [this.features]),
      intercept: f64Tensor(Float64Array.of(this.intercept), [1]),
    };
  }
}

/** Registry entry of linear regression. */
export const linearRegressionDefinition: ModelDefinition = {
  name: NAME,
  task: 'regression',
  summary: 'Ordinary least squares, solved exactly (normal equations, or TSQR when ill-conditioned)',
  params: linearRegressionParams,
  sampleWeights: true,
  // Without a penalty, a full one-hot block plus an intercept is collinear: drop one level.
  inputNeeds: (params) => ({ standardize: false, dropFirstLevel: params.fitIntercept !== false }),
  create: (params) => new LinearRegression(params),
  restore(params, tensors, shape, info) {
    const p = linearRegressionParams.validate(NAME, params);
    const coef = tensorData(tensors, 'coef');
    const intercept = tensorData(tensors, 'intercept');
    if (coef.length !== shape.features || intercept.length !== 1) {
      throw new DistmlError('MODEL_FILE', `${NAME} tensors do not match ${shape.features} features`);
    }
    return new FittedLinearRegression(p, coef, intercept[0]!, shape.features, info);
  },
};
