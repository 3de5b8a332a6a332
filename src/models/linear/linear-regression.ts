/**
 * Ordinary least squares, solved exactly from distributed normal equations: one pass of a kernel
 * over the partitions sums XᵀX, Xᵀy and the column sums; the driver centres them (which removes the
 * intercept from the system and improves its conditioning) and solves by Cholesky.
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
import { interceptOf, normalEquations, solveNormalEquations } from './normal-equations.ts';

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
    const system = await normalEquations(ctx.engine, data.matrix, this.params.fitIntercept);
    const coef = solveNormalEquations(system);
    const intercept = interceptOf(system, coef);
    ctx.onProgress?.({ iteration: 1, maxIterations: 1, loss: 0 });
    return new FittedLinearRegression(this.params, coef, intercept, system.d, {
      iterations: 1,
      converged: true,
    });
  }
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
  summary: 'Ordinary least squares, solved exactly from distributed normal equations',
  params: linearRegressionParams,
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
