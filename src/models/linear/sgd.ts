/**
 * What sgd-classifier and sgd-regressor share: the parameters both declare, and the fit itself.
 * A fit is one loop of the `sgd.linearLoop` kernel on the engine's workers against its parameter
 * server (`ctx.engine.runLoop`), under BSP, ASP or SSP as the parameters say. The driver only
 * builds the arguments and reads the result; the kernel module explains the update rule.
 *
 * A fit is not checkpointed: a loop runs to its end or fails (see the engine's runLoop). Training
 * in pieces is what `partialFit` is for.
 */
import type { Consistency } from '../../engine/engine.ts';
import { ConvergenceError, ParamError } from '../../errors.ts';
import type { FitContext, FitInfo, TrainingData } from '../estimator.ts';
import type { ParamSpec, ParamsOf } from '../params.ts';
import {
  SGD_LINEAR_LOOP,
  SGD_RESULT,
  type SgdLoopArgs,
  type SgdLoss,
  type SgdSchedule,
} from './sgd.kernels.ts';

/**
 * The declarations both SGD models share; each model adds its losses and passes the schedule
 * defaults scikit-learn gives it (`optimal` and powerT 0.5 for the classifier, `invscaling` and
 * 0.25 for the regressor).
 */
export function sgdParamDecls(defaults: { readonly learningRate: SgdSchedule; readonly powerT: number }) {
  return {
    alpha: {
      kind: 'number',
      min: 0,
      default: 1e-4,
      doc: 'L2 penalty strength, scaled as scikit-learn: minimise mean loss + alpha/2·‖w‖² (intercept unpenalised)',
    },
    fitIntercept: { kind: 'boolean', default: true, doc: 'learn an intercept (bias) term' },
    epochs: {
      kind: 'number',
      min: 1,
      integer: true,
      default: 5,
      doc: 'passes over the data (max_iter of scikit-learn with tol=None): each worker makes epochs × its rows updates',
    },
    batchSize: {
      kind: 'number',
      min: 1,
      integer: true,
      default: 32,
      doc: 'rows each worker trains on between pulling and pushing the parameters (larger means fewer synchronisations, smaller fresher parameters), and the rows of a step with miniBatch',
    },
    miniBatch: {
      kind: 'boolean',
      default: false,
      doc: 'one step per batchSize rows along their mean gradient (mini-batch SGD, t counting steps); false steps on every row, as scikit-learn',
    },
    shuffle: {
      kind: 'boolean',
      default: true,
      doc: "shuffle each worker's rows every epoch (seeded by --seed); false walks them in order, as scikit-learn's shuffle=False",
    },
    optimizer: {
      kind: 'choice',
      choices: ['sgd', 'momentum', 'adam'] as const,
      default: 'sgd' as const,
      doc: "plain SGD, heavy-ball momentum, or Adam (state kept on each worker); for 'adam', eta is the step size",
    },
    momentum: {
      kind: 'number',
      min: 0,
      max: 0.999,
      default: 0.9,
      doc: "momentum coefficient of optimizer 'momentum', and Adam's beta1",
    },
    learningRate: {
      kind: 'choice',
      choices: ['constant', 'invscaling', 'optimal'] as const,
      default: defaults.learningRate,
      doc: "step size at row step t = 1, 2, …, as scikit-learn: 'constant' eta0, 'invscaling' eta0/t^powerT, 'optimal' 1/(alpha·(t0 + t − 1)) with t0 = alpha^(−3/4) (scikit-learn's heuristic: a first step of alpha^(−1/4))",
    },
    eta0: {
      kind: 'number',
      min: 0,
      exclusiveMin: true,
      default: 0.01,
      doc: "initial step size of the 'constant' and 'invscaling' schedules",
    },
    powerT: {
      kind: 'number',
      min: 0,
      default: defaults.powerT,
      doc: "exponent of the 'invscaling' schedule",
    },
    consistency: {
      kind: 'choice',
      choices: ['bsp', 'asp', 'ssp'] as const,
      default: 'bsp' as const,
      doc: 'parameter-server synchronisation: bulk synchronous (reproducible), asynchronous (Hogwild), or bounded staleness',
    },
    staleness: {
      kind: 'number',
      min: 0,
      integer: true,
      default: 2,
      doc: "how many clocks a worker may run ahead of the slowest under consistency 'ssp'",
    },
    standardize: {
      kind: 'boolean',
      default: true,
      doc: 'standardize numeric features before fitting (recorded in the model)',
    },
  } as const;
}

/** The validated parameters an SGD fit reads: the shared ones, the loss, and Huber's epsilon. */
export type SgdParams = ParamsOf<ParamSpec<ReturnType<typeof sgdParamDecls>>> & {
  readonly loss: SgdLoss;
  readonly epsilon?: number;
  /** Return the mean of the iterates instead of the last (see the kernel's `average`). */
  readonly average?: boolean;
};

/**
 * The rules between parameters that their declarations cannot state.
 * @throws ParamError naming the model, the parameters and the values
 */
export function checkSgdParams(model: string, p: SgdParams): void {
  if (p.learningRate !== 'optimal') return;
  if (p.alpha === 0) {
    throw new ParamError(
      `${model} parameter alpha must be > 0 with learningRate 'optimal' (eta = 1/(alpha·(t0 + t))), got 0`,
      "set alpha, or choose learningRate 'constant' or 'invscaling'",
    );
  }
  if (p.optimizer !== 'sgd') {
    throw new ParamError(
      `${model} parameter learningRate 'optimal' is plain SGD's schedule and does not suit optimizer '${p.optimizer}'`,
      "choose learningRate 'constant' or 'invscaling'",
    );
  }
}

/** Where a fit starts: the coefficients and how far the schedule and the shuffles have come. */
export interface SgdState {
  /** [W (r×d) | b (r)]. */
  readonly theta: Float64Array;
  /** Rows seen so far, t of the schedule. */
  readonly rowsSeen: number;
  /** Epochs started so far, which seed the next shuffles. */
  readonly epochsSeen: number;
}

/** The workers' means of their iterates, weighed by the rows each trained on. */
function averagedIterate(perWorker: readonly Float64Array[], size: number): Float64Array {
  const theta = new Float64Array(size);
  let rows = 0;
  for (const out of perWorker) rows += out[SGD_RESULT.rowsTrained]!;
  for (const out of perWorker) {
    const weight = out[SGD_RESULT.rowsTrained]! / rows;
    for (let j = 0; j < size; j++) theta[j]! += weight * out[SGD_RESULT.length + j]!;
  }
  return theta;
}

/** What {@link runSgd} returns. */
export interface SgdRun extends SgdState {
  readonly info: FitInfo;
}

/**
 * scikit-learn's test on the training loss: the fit stopped improving when an epoch's mean loss is
 * no more than this below the previous one (its `tol` default).
 */
const LOSS_TOLERANCE = 1e-3;

/**
 * Runs `epochs` epochs of SGD with `outputs` coefficient rows over `data`, from `start` or from
 * zero, on the workers of `ctx.engine`.
 * @throws ConvergenceError when the coefficients become non-finite (the step size is too large)
 */
export async function runSgd(
  model: string,
  p: SgdParams,
  data: TrainingData,
  outputs: number,
  ctx: FitContext,
  epochs: number,
  start?: SgdState,
): Promise<SgdRun> {
  const { matrix } = data;
  const d = matrix.cols;
  const init = new Float64Array(outputs * (d + 1));
  if (start !== undefined) init.set(start.theta);
  // scikit-learn's t0 of the 'optimal' schedule: it divides typw by max(1, dloss(−typw, 1)),
  // which is 1 for every loss here, so the first step is typw = alpha^(−1/4).
  const typw = Math.sqrt(1 / Math.sqrt(p.alpha));
  const args: SgdLoopArgs = {
    loss: p.loss,
    epsilon: p.epsilon ?? 0,
    features: d,
    outputs,
    alpha: p.alpha,
    fitIntercept: p.fitIntercept,
    optimizer: p.optimizer,
    momentum: p.momentum,
    schedule: p.learningRate,
    eta0: p.eta0,
    powerT: p.powerT,
    optimalInit: p.alpha > 0 ? 1 / (typw * p.alpha) : 0,
    epochs,
    batchSize: p.batchSize,
    rows: matrix.rows,
    partitions: matrix.partitions,
    workers: ctx.engine.workers,
    rowsBefore: start?.rowsSeen ?? 0,
    epochsBefore: start?.epochsSeen ?? 0,
    seed: ctx.seed,
    shuffle: p.shuffle,
    average: p.average ?? false,
    miniBatch: p.miniBatch,
  };
  const consistency: Consistency =
    p.consistency === 'ssp' ? { mode: 'ssp', staleness: p.staleness } : { mode: p.consistency };
  const result = await ctx.engine.runLoop(SGD_LINEAR_LOOP, matrix, args, init, consistency);
  const theta = args.average ? averagedIterate(result.perWorker, init.length) : result.params;
  const diverged = (what: string) =>
    new ConvergenceError(
      `${model} diverged: ${what} (learningRate '${p.learningRate}', eta0 ${p.eta0}, optimizer '${p.optimizer}')`,
      'lower eta0, or standardize the features',
    );
  for (let j = 0; j < theta.length; j++) {
    if (!Number.isFinite(theta[j]!)) throw diverged(`coefficient ${j} became ${theta[j]}`);
  }

  let last = 0;
  let lastRows = 0;
  let previous = 0;
  let previousRows = 0;
  let epochsSeen = 0;
  let rowsTrained = 0;
  for (const out of result.perWorker) {
    rowsTrained += out[SGD_RESULT.rowsTrained]!;
    last += out[SGD_RESULT.lastLoss]!;
    lastRows += out[SGD_RESULT.lastRows]!;
    previous += out[SGD_RESULT.previousLoss]!;
    previousRows += out[SGD_RESULT.previousRows]!;
    epochsSeen = Math.max(epochsSeen, out[SGD_RESULT.epochsSeen]!);
  }
  const first = result.perWorker[0]!;
  const steps = first[SGD_RESULT.steps]!;
  let penalty = 0;
  for (let j = 0; j < outputs * d; j++) penalty += theta[j]! * theta[j]!;
  const lastMean = lastRows > 0 ? last / lastRows : 0;
  const finalLoss = lastMean + 0.5 * p.alpha * penalty;
  if (!Number.isFinite(finalLoss)) throw diverged(`the training loss became ${finalLoss}`);
  const warnings: string[] = [];
  let converged: boolean | undefined;
  if (previousRows > 0) {
    const fell = previous / previousRows - lastMean;
    converged = fell <= LOSS_TOLERANCE;
    if (!converged) {
      warnings.push(
        `the mean training loss still fell by ${fell.toPrecision(3)} in the last epoch ` +
          `(more than scikit-learn's tol of ${LOSS_TOLERANCE}); raise epochs`,
      );
    }
  }
  const mode = p.consistency === 'ssp' ? `SSP(s=${p.staleness})` : p.consistency.toUpperCase();
  const reason =
    `${epochs} epoch(s) as ${steps} steps of ${p.batchSize} rows on each of ${result.workers} worker(s) under ${mode}; ` +
    `staleness measured max ${result.staleness.max}, mean ${result.staleness.mean.toFixed(2)} clocks`;
  ctx.onProgress?.({ iteration: steps, maxIterations: steps, loss: finalLoss });
  return {
    theta,
    rowsSeen: args.rowsBefore + rowsTrained,
    epochsSeen,
    info: {
      iterations: steps,
      ...(converged === undefined ? {} : { converged }),
      reason,
      finalLoss,
      warnings,
    },
  };
}
