/**
 * Linear support vector classifier with scikit-learn's `LinearSVC` defaults: squared hinge loss,
 * L2 penalty, one-vs-rest for more than two classes. Each binary problem (labels s = ±1) minimises
 * liblinear's primal ½‖w̃‖² + C·Σ max(0, 1 − sᵢ·w̃·x̃ᵢ)², where x̃ = [x, 1] and w̃ = [w, b]: liblinear
 * appends a constant feature (`intercept_scaling = 1`) and so penalises the intercept like any
 * weight. We do the same, so that coefficients agree with scikit-learn's.
 *
 * The k one-vs-rest problems are independent, so the sum of their objectives has its optimum at
 * each problem's optimum. One L-BFGS run on the driver therefore solves all of them over the
 * stacked k·(d + 1) vector, and each evaluation of the loss and gradient is one pass of one kernel
 * over the partitions (k problems per pass instead of k passes).
 *
 * `loss: 'hinge'` (liblinear's L1-loss SVM) is not differentiable, so L-BFGS does not suit it; it is
 * trained instead by the SGD loop of sgd-classifier on the workers against the parameter server
 * (see sgd.ts), on the same objective divided by C·n: mean hinge + alpha/2·‖w‖² with alpha = 1/(C·n),
 * at a constant step, returning the mean of the second half of the iterates. Unlike liblinear, SGD
 * leaves the intercept unpenalised.
 */
import { ConvergenceError, DistmlError, ParamError } from '../../errors.ts';
import { minimizeLbfgs } from '../../optim/lbfgs.ts';
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
import { runSgd, type SgdParams } from './sgd.ts';
import { SVC_LOSS_GRADIENT } from './svc.kernels.ts';

/** The declared parameters of the linear support vector classifier. */
export const linearSvcParams = defineParams({
  C: {
    kind: 'number',
    min: 0,
    exclusiveMin: true,
    default: 1,
    doc: 'inverse L2 penalty strength (scikit-learn convention): smaller means a wider, softer margin',
  },
  fitIntercept: {
    kind: 'boolean',
    default: true,
    doc: 'learn an intercept (bias) term; like liblinear it is penalised with the weights',
  },
  maxIter: { kind: 'number', min: 1, integer: true, default: 1000, doc: 'maximum L-BFGS iterations' },
  tol: {
    kind: 'number',
    min: 0,
    exclusiveMin: true,
    default: 1e-4,
    doc: 'stop when the largest gradient component of ½‖w‖² + C·Σ squared hinge falls below tol',
  },
  standardize: {
    kind: 'boolean',
    default: true,
    doc: 'standardize numeric features before fitting (recorded in the model)',
  },
  loss: {
    kind: 'choice',
    choices: ['squared-hinge', 'hinge'] as const,
    default: 'squared-hinge' as const,
    doc: "squared-hinge (scikit-learn's default, solved by L-BFGS), or hinge (the standard SVM loss, trained by SGD on the parameter server)",
  },
  epochs: {
    kind: 'number',
    min: 1,
    integer: true,
    default: 50,
    doc: "passes over the data of loss 'hinge' (its SGD has no gradient test; maxIter and tol are L-BFGS's)",
  },
  consistency: {
    kind: 'choice',
    choices: ['bsp', 'asp', 'ssp'] as const,
    default: 'bsp' as const,
    doc: "parameter-server synchronisation of loss 'hinge': bulk synchronous, asynchronous, or bounded staleness",
  },
  staleness: {
    kind: 'number',
    min: 0,
    integer: true,
    default: 2,
    doc: "how many clocks a worker may run ahead under consistency 'ssp' (loss 'hinge')",
  },
});

/** Validated linear support vector classifier parameters. */
export type LinearSvcParams = ParamsOf<typeof linearSvcParams>;

const NAME = 'linear-svc';

/**
 * L-BFGS's function test: a step that lowers f by less than this fraction of |f| ends the fit as
 * converged. scipy's default (factr = 1e7, 2.2e-9) stops ~3e-4 (relative) short of the optimum on
 * breast_cancer, ten times looser than scikit-learn's own default, so tol should decide instead.
 * Without any function test, though, fits on 2e5 and 1e6 rows (makeClassification, 20 features,
 * 3 classes) never reached tol = 1e-4: f is ~1e5–1e6 there, the decreases a step can still make
 * are lost in its rounding, and L-BFGS ended in failed line searches (wasted passes and a false
 * "not converged"). With 1e-13, a few hundred ulps, both stop as converged.
 */
const ROUNDING_LEVEL_DECREASE = 1e-13;

/** An unfitted linear support vector classifier. */
export class LinearSvc implements Estimator<LinearSvcParams, FittedLinearSvc> {
  readonly name = NAME;
  readonly task = 'classification' as const;
  readonly params: Readonly<LinearSvcParams>;

  /** @throws ParamError when a parameter fails its declaration */
  constructor(params: RawParams = {}) {
    this.params = linearSvcParams.validate(NAME, params);
    // Each loss has its own solver; a parameter of the other one would be silently ignored.
    const unused = this.params.loss === 'hinge' ? ['maxIter', 'tol'] : ['epochs', 'consistency', 'staleness'];
    const given = unused.filter((key) => params[key] !== undefined);
    if (given.length > 0) {
      throw new ParamError(
        `${NAME}: ${given.join(', ')} ${given.length === 1 ? 'does' : 'do'} not apply to loss '${this.params.loss}'`,
        this.params.loss === 'hinge'
          ? "loss 'hinge' trains by SGD: set epochs instead"
          : "epochs, consistency and staleness belong to loss 'hinge' (SGD); squared-hinge uses maxIter and tol",
      );
    }
  }

  async fit(data: TrainingData, ctx: FitContext): Promise<FittedLinearSvc> {
    const { matrix, classes: k } = data;
    if (k < 2) throw new ConvergenceError(`${NAME} needs at least 2 classes, got ${k}`);
    const d = matrix.cols;
    const r = k === 2 ? 1 : k;
    if (this.params.loss === 'hinge') return this.fitHinge(data, ctx, r);
    const { C, fitIntercept, maxIter, tol } = this.params;
    const biasAt = r * d;
    const penalised = fitIntercept ? r * (d + 1) : biasAt;
    // liblinear's objective as it stands, not divided by C·n as logistic regression's is. Its ½‖θ‖²
    // term makes it 1-strongly convex, so ‖θ − θ*‖ ≤ ‖∇f(θ)‖: a gradient below tol keeps the
    // coefficients within ~√(r·(d + 1))·tol of the optimum whatever n and C are.
    const objective = async (theta: Float64Array, grad: Float64Array): Promise<number> => {
      if (!fitIntercept) theta.fill(0, biasAt);
      const sums = await ctx.engine.treeReduce(SVC_LOSS_GRADIENT, matrix, { coef: theta, rowsOfCoef: r });
      let f = C * sums[0]!;
      for (let j = 0; j < grad.length; j++) grad[j] = C * sums[1 + j]!;
      for (let j = 0; j < penalised; j++) {
        const w = theta[j]!;
        f += 0.5 * w * w;
        grad[j]! += w;
      }
      if (!fitIntercept) grad.fill(0, biasAt);
      return f;
    };
    // Resuming restarts L-BFGS from the saved iterate with an empty curvature memory: the same
    // optimum, reached along a slightly different path than an uninterrupted fit.
    const saved = await ctx.checkpoints?.restore();
    const start = saved?.tensors.theta;
    if (start !== undefined && start.length !== r * (d + 1)) {
      throw new ConvergenceError(
        `the checkpoint holds ${start.length} coefficients, this model needs ${r * (d + 1)}`,
      );
    }
    const done = start === undefined ? 0 : saved!.step;
    const result = await minimizeLbfgs(objective, start ?? new Float64Array(r * (d + 1)), {
      maxIterations: Math.max(1, maxIter - done),
      gradientTolerance: tol,
      relativeFunctionTolerance: ROUNDING_LEVEL_DECREASE,
      onIteration: async (it) => {
        const iteration = done + it.iteration;
        ctx.onProgress?.({ iteration, maxIterations: maxIter, loss: it.f });
        const cp = ctx.checkpoints;
        if (cp !== undefined && iteration % cp.every === 0) await cp.save(iteration, { theta: it.x });
      },
    });
    const theta = result.x;
    if (!fitIntercept) theta.fill(0, biasAt);
    const warnings: string[] = [];
    if (!result.converged) {
      warnings.push(
        `L-BFGS stopped after ${result.iterations} iterations (${result.reason}) before reaching tol=${tol}; ` +
          'raise maxIter or standardize the features',
      );
    }
    return new FittedLinearSvc(this.params, theta.slice(0, biasAt), theta.slice(biasAt), d, k, {
      iterations: done + result.iterations,
      ...(start === undefined ? {} : { resumedFrom: done }),
      converged: result.converged,
      reason: result.reason,
      finalLoss: result.f,
      warnings,
    });
  }

  /** Loss 'hinge': sgd-classifier's loop on liblinear's objective divided by C·n. */
  private async fitHinge(data: TrainingData, ctx: FitContext, r: number): Promise<FittedLinearSvc> {
    const { C, fitIntercept, standardize, epochs, consistency, staleness } = this.params;
    const d = data.matrix.cols;
    const sgd: SgdParams = {
      loss: 'hinge',
      // alpha = 1/(C·n) is small, and the 'optimal' schedule's 1/(alpha·t) steps then converge
      // slowly: after 50 epochs on digits its last iterate stood at 20× liblinear's objective,
      // and its mean at 21×. A constant step of 0.01 with the mean of the second half of the
      // iterates came within 5% on digits and breast_cancer (12% on wine), with liblinear's test
      // accuracy to a row; 0.03 and 0.001, and invscaling, did worse on digits.
      average: true,
      alpha: 1 / (C * data.matrix.rows),
      fitIntercept,
      epochs,
      batchSize: 32,
      miniBatch: false,
      shuffle: true,
      optimizer: 'sgd',
      momentum: 0,
      learningRate: 'constant',
      eta0: 0.01,
      powerT: 0.5,
      consistency,
      staleness,
      standardize,
    };
    const run = await runSgd(NAME, sgd, data, r, ctx, epochs);
    const theta = run.theta;
    return new FittedLinearSvc(this.params, theta.slice(0, r * d), theta.slice(r * d), d, data.classes, {
      ...run.info,
      reason: `SGD on the hinge loss: ${run.info.reason}`,
    });
  }
}

/**
 * A fitted linear support vector classifier: W (r×d) and b (r), r = 1 for binary models. It has
 * no `predictProba`: like scikit-learn's `LinearSVC`, its scores are margins, not probabilities.
 */
export class FittedLinearSvc implements FittedModel {
  readonly name = NAME;
  readonly task = 'classification' as const;

  constructor(
    readonly params: Readonly<LinearSvcParams>,
    /** Coefficients, row-major r×d. */
    readonly coef: Float64Array,
    /** Intercepts, one per coefficient row. */
    readonly intercept: Float64Array,
    readonly features: number,
    readonly classes: number,
    readonly info: FitInfo,
  ) {}

  /** Signed margins X·Wᵀ + b, row-major rows×r (binary: one column, positive means class 1). */
  decisionFunction(X: Float64Array, rows: number): Float64Array {
    return linearScores(X, rows, this.coef, this.intercept, this.features);
  }

  predict(X: Float64Array, rows: number): Float64Array {
    return classesFromScores(this.decisionFunction(X, rows), rows, this.classes);
  }

  tensors(): Record<string, Tensor> {
    const r = this.intercept.length;
    return { coef: f64Tensor(this.coef, [r, this.features]), intercept: f64Tensor(this.intercept, [r]) };
  }
}

/** Registry entry of the linear support vector classifier. */
export const linearSvcDefinition: ModelDefinition = {
  name: NAME,
  task: 'classification',
  summary:
    'Linear support vector classifier (L2 penalty with C, one-vs-rest): squared hinge by L-BFGS, or hinge by SGD on the parameter server',
  params: linearSvcParams,
  // The penalised intercept keeps a full one-hot block identifiable, so no level is dropped.
  inputNeeds: (params) => ({ standardize: params.standardize === true, dropFirstLevel: false }),
  create: (params) => new LinearSvc(params),
  restore(params, tensors, shape, info) {
    const p = linearSvcParams.validate(NAME, params);
    const coef = tensorData(tensors, 'coef');
    const intercept = tensorData(tensors, 'intercept');
    const r = shape.classes === 2 ? 1 : shape.classes;
    if (shape.classes < 2 || coef.length !== r * shape.features || intercept.length !== r) {
      throw new DistmlError(
        'MODEL_FILE',
        `${NAME} tensors do not match the model shape (${shape.features} features, ${shape.classes} classes)`,
      );
    }
    return new FittedLinearSvc(p, coef, intercept, shape.features, shape.classes, info);
  },
};
