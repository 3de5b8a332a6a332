/**
 * Logistic regression, binary (sigmoid) and multinomial (softmax), with scikit-learn's penalties
 * and scaling: minimise (1/n)·Σ ωᵢ·log-lossᵢ + [½(1 − ρ)‖W‖² + ρ‖W‖₁] / (C·n), the intercept
 * unpenalised, where ρ is 0 for `l2`, 1 for `l1`, `l1Ratio` for `elasticnet` (saga's convention)
 * and ωᵢ the weight of row i's class (1, or scikit-learn's `balanced` n / (k·n_c)). L-BFGS runs on
 * the driver, or OWL-QN when the penalty has an L1 part; each evaluation of the smooth loss and
 * gradient is one pass of a kernel over all partitions.
 */

import type { DistributedMatrix, Engine } from '../../engine/engine.ts';
import { ConvergenceError, DistmlError, TargetError } from '../../errors.ts';
import { type LbfgsOptions, minimizeLbfgs } from '../../optim/lbfgs.ts';
import { minimizeOwlqn } from '../../optim/owlqn.ts';
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
import { classesFromScores, linearScores } from './linear-scores.ts';
import {
  type ClassCountArgs,
  LOGISTIC_CLASS_COUNTS,
  LOGISTIC_LOSS_GRADIENT,
  type LogisticArgs,
} from './logistic.kernels.ts';

/** The declared parameters of logistic regression. */
export const logisticRegressionParams = defineParams({
  C: {
    kind: 'number',
    min: 0,
    exclusiveMin: true,
    default: 1,
    doc: 'inverse L2 penalty strength, or of the chosen penalty (scikit-learn convention): smaller means stronger regularization',
  },
  penalty: {
    kind: 'choice',
    choices: ['l2', 'l1', 'elasticnet', 'none'],
    default: 'l2',
    doc: 'the penalty on the coefficients (never on the intercept); l1 and elasticnet give exact zeros and fit by OWL-QN; none ignores C',
  },
  l1Ratio: {
    kind: 'number',
    min: 0,
    max: 1,
    default: 0.5,
    doc: 'the L1 share ρ of the elasticnet penalty ρ‖W‖₁ + ½(1 − ρ)‖W‖²; other penalties ignore it',
  },
  classWeight: {
    kind: 'choice',
    choices: ['none', 'balanced'],
    default: 'none',
    doc: "weight each row's loss by its class: balanced gives class c the weight n / (k·n_c), as scikit-learn",
  },
  fitIntercept: { kind: 'boolean', default: true, doc: 'learn an intercept (bias) term' },
  maxIter: {
    kind: 'number',
    min: 1,
    integer: true,
    default: 100,
    doc: 'maximum L-BFGS or OWL-QN iterations',
  },
  tol: {
    kind: 'number',
    min: 0,
    exclusiveMin: true,
    default: 1e-4,
    doc: 'stop when the largest gradient component (pseudo-gradient with an L1 part) falls below tol',
  },
  standardize: {
    kind: 'boolean',
    default: true,
    doc: 'standardize numeric features before fitting (recorded in the model)',
  },
});

/** Validated logistic regression parameters. */
export type LogisticRegressionParams = ParamsOf<typeof logisticRegressionParams>;

const NAME = 'logistic-regression';

/**
 * Both solvers' function test: a step that lowers f by less than this fraction of max(|f|, 1) ends
 * the fit as converged. The loss is a mean, so f is O(1) and this is a few ulps of 1: the test fires
 * once progress is lost in rounding, and tol decides until then. scipy's default (factr = 1e7,
 * 2.2e-9), which scikit-learn 1.2's lbfgs uses too, stopped fits asked for tol = 1e-10 with
 * gradients near 1e-6 and coefficients up to 1e-2 (relative) from the optimum on breast_cancer and
 * wine; 1e-13 still left 3e-4. The default tol = 1e-4 is met first on every bundled dataset, so
 * default fits take the same steps as before.
 */
const ROUNDING_LEVEL_DECREASE = 1e-15;

/** An unfitted logistic regression. */
export class LogisticRegression implements Estimator<LogisticRegressionParams, FittedLogisticRegression> {
  readonly name = NAME;
  readonly task = 'classification' as const;
  readonly params: Readonly<LogisticRegressionParams>;

  /** @throws ParamError when a parameter fails its declaration */
  constructor(params: RawParams = {}) {
    this.params = logisticRegressionParams.validate(NAME, params);
  }

  async fit(data: TrainingData, ctx: FitContext): Promise<FittedLogisticRegression> {
    const { matrix, classes: k } = data;
    if (k < 2) throw new ConvergenceError(`${NAME} needs at least 2 classes, got ${k}`);
    const d = matrix.cols;
    const n = matrix.rows;
    const r = k === 2 ? 1 : k;
    const { C, penalty, fitIntercept, maxIter, tol } = this.params;
    const l1Share = penalty === 'l1' ? 1 : penalty === 'elasticnet' ? this.params.l1Ratio : 0;
    const strength = penalty === 'none' ? 0 : 1 / (C * n);
    const l2Strength = (1 - l1Share) * strength;
    const l1Strength = l1Share * strength;
    const biasAt = r * d;
    const classWeight =
      this.params.classWeight === 'balanced' ? await balancedClassWeights(ctx.engine, matrix, k) : undefined;
    const objective = async (theta: Float64Array, grad: Float64Array): Promise<number> => {
      if (!fitIntercept) theta.fill(0, biasAt);
      const args: LogisticArgs = {
        coef: theta,
        rowsOfCoef: r,
        ...(classWeight === undefined ? {} : { classWeight }),
      };
      const sums = await ctx.engine.treeReduce(LOGISTIC_LOSS_GRADIENT, matrix, args);
      let f = sums[0]! / n;
      for (let j = 0; j < grad.length; j++) grad[j] = sums[1 + j]! / n;
      for (let j = 0; j < biasAt; j++) {
        const w = theta[j]!;
        f += 0.5 * l2Strength * w * w;
        grad[j]! += l2Strength * w;
      }
      if (!fitIntercept) grad.fill(0, biasAt);
      return f;
    };
    // Resuming restarts the optimizer from the saved iterate with an empty curvature memory: the
    // same optimum, reached along a slightly different path than an uninterrupted fit.
    const saved = await ctx.checkpoints?.restore();
    const start = saved?.tensors.theta;
    if (start !== undefined && start.length !== r * (d + 1)) {
      throw new ConvergenceError(
        `the checkpoint holds ${start.length} coefficients, this model needs ${r * (d + 1)}`,
      );
    }
    const done = start === undefined ? 0 : saved!.step;
    const x0 = start ?? new Float64Array(r * (d + 1));
    const options: LbfgsOptions = {
      maxIterations: Math.max(1, maxIter - done),
      gradientTolerance: tol,
      relativeFunctionTolerance: ROUNDING_LEVEL_DECREASE,
      onIteration: async (it) => {
        const iteration = done + it.iteration;
        ctx.onProgress?.({ iteration, maxIterations: maxIter, loss: it.f });
        const cp = ctx.checkpoints;
        if (cp !== undefined && iteration % cp.every === 0) await cp.save(iteration, { theta: it.x });
      },
    };
    // The L1 term is not differentiable at zero, which L-BFGS cannot handle; OWL-QN can, and with
    // no L1 part it would only trade L-BFGS's Wolfe line search for a cruder one.
    const solver = l1Strength > 0 ? 'OWL-QN' : 'L-BFGS';
    const result =
      l1Strength > 0
        ? await minimizeOwlqn(
            objective,
            x0,
            { strength: l1Strength, mask: coefficientMask(r * (d + 1), biasAt) },
            options,
          )
        : await minimizeLbfgs(objective, x0, options);
    const theta = result.x;
    if (!fitIntercept) theta.fill(0, biasAt);
    const warnings: string[] = [];
    if (!result.converged) {
      warnings.push(
        `${solver} stopped after ${result.iterations} iterations (${result.reason}) before reaching tol=${tol}; ` +
          'raise maxIter or standardize the features',
      );
    }
    return new FittedLogisticRegression(this.params, theta.slice(0, biasAt), theta.slice(biasAt), d, k, {
      iterations: done + result.iterations,
      ...(start === undefined ? {} : { resumedFrom: done }),
      converged: result.converged,
      reason: result.reason,
      finalLoss: result.f,
      warnings,
    });
  }
}

/** The L1 mask of θ = [W | b]: the r·d coefficients are penalised, the intercepts are not. */
function coefficientMask(length: number, biasAt: number): Uint8Array {
  return new Uint8Array(length).fill(1, 0, biasAt);
}

/**
 * scikit-learn's `class_weight='balanced'`: ω_c = n / (k·n_c), from one pass that counts the
 * classes of the training rows.
 * @throws TargetError when a class has no training rows (its weight would be infinite)
 */
async function balancedClassWeights(
  engine: Engine,
  matrix: DistributedMatrix,
  k: number,
): Promise<Float64Array> {
  const args: ClassCountArgs = { classes: k };
  const counts = await engine.treeReduce(LOGISTIC_CLASS_COUNTS, matrix, args);
  const weights = new Float64Array(k);
  for (let c = 0; c < k; c++) {
    const count = counts[c]!;
    if (count === 0) {
      throw new TargetError(
        `${NAME}: class ${c} of ${k} has no training rows, so classWeight=balanced cannot weight it`,
        'use classWeight=none, or a split that keeps every class in the training rows',
      );
    }
    weights[c] = matrix.rows / (k * count);
  }
  return weights;
}

/** A fitted logistic regression: W (r×d) and b (r), r = 1 for binary models. */
export class FittedLogisticRegression implements FittedModel {
  readonly name = NAME;
  readonly task = 'classification' as const;

  constructor(
    readonly params: Readonly<LogisticRegressionParams>,
    /** Coefficients, row-major r×d. */
    readonly coef: Float64Array,
    /** Intercepts, one per coefficient row. */
    readonly intercept: Float64Array,
    readonly features: number,
    readonly classes: number,
    readonly info: FitInfo,
  ) {}

  /** Raw scores X·Wᵀ + b, row-major rows×r. */
  decisionFunction(X: Float64Array, rows: number): Float64Array {
    return linearScores(X, rows, this.coef, this.intercept, this.features);
  }

  predictProba(X: Float64Array, rows: number): Float64Array {
    const k = this.classes;
    const z = this.decisionFunction(X, rows);
    const out = new Float64Array(rows * k);
    if (k === 2) {
      for (let i = 0; i < rows; i++) {
        const zi = z[i]!;
        const p = zi >= 0 ? 1 / (1 + Math.exp(-zi)) : Math.exp(zi) / (1 + Math.exp(zi));
        out[2 * i] = 1 - p;
        out[2 * i + 1] = p;
      }
      return out;
    }
    for (let i = 0; i < rows; i++) {
      let max = Number.NEGATIVE_INFINITY;
      for (let c = 0; c < k; c++) max = Math.max(max, z[i * k + c]!);
      let sum = 0;
      for (let c = 0; c < k; c++) {
        const e = Math.exp(z[i * k + c]! - max);
        out[i * k + c] = e;
        sum += e;
      }
      for (let c = 0; c < k; c++) out[i * k + c]! /= sum;
    }
    return out;
  }

  predict(X: Float64Array, rows: number): Float64Array {
    return classesFromScores(this.decisionFunction(X, rows), rows, this.classes);
  }

  tensors(): Record<string, Tensor> {
    const r = this.intercept.length;
    return { coef: f64Tensor(this.coef, [r, this.features]), intercept: f64Tensor(this.intercept, [r]) };
  }
}

/** Registry entry of logistic regression. */
export const logisticRegressionDefinition: ModelDefinition = {
  name: NAME,
  task: 'classification',
  summary:
    'Logistic regression (binary or multinomial), L2, L1 or elastic-net penalty with C, class weights; L-BFGS or OWL-QN',
  params: logisticRegressionParams,
  inputNeeds: (params) => ({ standardize: params.standardize === true, dropFirstLevel: false }),
  create: (params) => new LogisticRegression(params),
  restore(params, tensors, shape, info) {
    const p = logisticRegressionParams.validate(NAME, params);
    const coef = tensorData(tensors, 'coef');
    const intercept = tensorData(tensors, 'intercept');
    const r = shape.classes === 2 ? 1 : shape.classes;
    if (coef.length !== r * shape.features || intercept.length !== r) {
      throw new DistmlError(
        'MODEL_FILE',
        `${NAME} tensors do not match the model shape (${shape.features} features, ${shape.classes} classes)`,
      );
    }
    return new FittedLogisticRegression(p, coef, intercept, shape.features, shape.classes, info);
  },
};
