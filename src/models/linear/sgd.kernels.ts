/**
 * Worker side of SGD for linear models: a loop kernel that trains against the parameter server.
 * Each worker walks its own rows (the partitions placed with it, p mod W = w) in a fresh seeded
 * order every epoch. A step (one clock) pulls θ, trains on the next `batchSize` rows one row at a
 * time on a local copy, pushes the difference and clocks. A worker thus sees its own updates at
 * once and the others' at the next pull (the parameter server's "read my writes" within a clock).
 *
 * θ stacks r coefficient rows and then r intercepts: [W (r×d, row-major) | b (r)]. Regression and
 * binary classification have r = 1; multiclass is one-vs-rest with r = k, and every row updates
 * all k rows. Coefficient row c sees a label as s = +1 (class c; class 1 when r = 1) or −1.
 *
 * The objective is scikit-learn's: (1/n)·Σᵢ Σ_c ℓ(zᵢc) + (alpha/2)·‖W‖², z = W·x + b, the intercept
 * unpenalised; the row update is scikit-learn's plain SGD step, w ← (1 − η·alpha)·w − η·ℓ′·x and
 * b ← b − η·ℓ′, with η from the schedule at t, the rows seen before this one (+1). On one worker
 * the loop is therefore scikit-learn's algorithm, and with `shuffle` off its very sequence of
 * updates (the tests compare coefficients to rounding). On W workers, updates add up (the server
 * sums pushes), so an epoch makes the same number of row steps on any W. `momentum` and `adam`
 * replace the step with theirs, keeping their state on each worker. `miniBatch` makes one step per
 * `batchSize` rows along their mean gradient instead, and `average` returns the mean of the second
 * half of the iterates instead of the last.
 */
import { blockRanges, type DesignMatrix } from '../../data/design-matrix.ts';
import { Rng } from '../../data/random.ts';
import { type KernelArgs, type ParameterClient, registerLoopKernel } from '../../engine/kernel-registry.ts';

/** Registry name of the SGD loop. */
export const SGD_LINEAR_LOOP = 'sgd.linearLoop';

/** Losses of the SGD loop: the first two for regression, the others for classification. */
export const SGD_LOSSES = [
  'squared',
  'huber',
  'log',
  'hinge',
  'modified-huber',
  'squared-hinge',
  'perceptron',
] as const;
/** A loss of the SGD loop. */
export type SgdLoss = (typeof SGD_LOSSES)[number];
/** How a worker turns gradients into updates. */
export type SgdOptimizer = 'sgd' | 'momentum' | 'adam';
/** How the step size η changes with t, the number of rows seen before the step (plus one). */
export type SgdSchedule = 'constant' | 'invscaling' | 'optimal';

/** Arguments of {@link SGD_LINEAR_LOOP}. */
export interface SgdLoopArgs extends KernelArgs {
  readonly loss: SgdLoss;
  /** Huber's threshold between the squared and the linear part. */
  readonly epsilon: number;
  /** Features d. */
  readonly features: number;
  /** Coefficient rows r: 1 for regression and binary problems, k for one-vs-rest. */
  readonly outputs: number;
  /** L2 strength. */
  readonly alpha: number;
  readonly fitIntercept: boolean;
  readonly optimizer: SgdOptimizer;
  /** Momentum coefficient μ, and Adam's β1. */
  readonly momentum: number;
  readonly schedule: SgdSchedule;
  readonly eta0: number;
  /** Exponent of `invscaling`: η = eta0 / t^powerT. */
  readonly powerT: number;
  /** Offset t0 of `optimal`: η = 1 / (alpha·(t0 + t − 1)). */
  readonly optimalInit: number;
  /** Passes over each worker's rows; see {@link loopShape}. */
  readonly epochs: number;
  readonly batchSize: number;
  /** Rows and partitions of the placement, and the engine's worker count, for {@link loopShape}. */
  readonly rows: number;
  readonly partitions: number;
  readonly workers: number;
  /** Rows seen by earlier fits (partialFit continues the schedule from there). */
  readonly rowsBefore: number;
  /** Epochs run by earlier fits (the shuffles continue from there). */
  readonly epochsBefore: number;
  readonly seed: number;
  /**
   * Shuffle each worker's rows every epoch (scikit-learn's `shuffle`). Without it a worker walks its
   * rows in partition order, so one worker over one partition runs exactly scikit-learn's
   * `shuffle=False` sequence of updates.
   */
  readonly shuffle: boolean;
  /**
   * Suffix-averaged SGD: each worker also keeps the mean of its iterates after each row step of the
   * second half of its steps, and returns it after {@link SGD_RESULT}'s slots; the driver weighs
   * the workers' means by their rows. The mean converges where the last iterate still jitters,
   * which matters for small alpha (weakly regularised problems). Unlike scikit-learn's
   * `average=True`, the first half is left out: under the 'optimal' schedule its first steps are
   * of size ~alpha^(−1/4) and would dominate a mean over every iterate (Rakhlin, Shamir and
   * Sridharan 2012 show the suffix mean keeps SGD's O(1/t) rate on strongly convex objectives).
   */
  readonly average: boolean;
  /**
   * Mini-batch SGD: one step per `batchSize` rows along their mean gradient, the schedule's t
   * counting steps. Without it (scikit-learn's algorithm) every row is a step and `batchSize` only
   * sets how often a worker synchronises.
   */
  readonly miniBatch: boolean;
}

/** Slots of each worker's result vector. */
export const SGD_RESULT = {
  /** Σ loss over this worker's last complete pass through its rows (at the iterates of the pass). */
  lastLoss: 0,
  lastRows: 1,
  /** Σ loss over the pass before it (0 rows if there was none). */
  previousLoss: 2,
  previousRows: 3,
  /** Clocks this worker ran. */
  steps: 4,
  /** Rows all workers took per clock, as this worker counted them. */
  rowsPerClock: 5,
  /** Epochs this worker started, counting those of earlier fits: the next fit's first shuffle. */
  epochsSeen: 6,
  /** Row updates this worker made: `epochs` × its rows. */
  rowsTrained: 7,
  length: 8,
} as const;

/** The clock plan every worker of a loop agrees on. */
export interface LoopShape {
  /**
   * Clocks per worker: ⌈epochs × rows of the busiest worker / batchSize⌉. A worker makes exactly
   * `epochs` × its own rows updates over them (as scikit-learn makes `max_iter` × n), so its last
   * clocks may take fewer rows, or none.
   */
  readonly steps: number;
  /** Rows taken per clock over all workers: batchSize for each worker that has rows. */
  readonly rowsPerClock: number;
}

/**
 * The clock plan of a loop over `rows` rows in `partitions` near-equal blocks (as placements split
 * them) on `workers` workers, partition p on worker p mod W. Every worker runs the same number of
 * clocks, else synchronous clocks would wait forever for the worker that stopped; workers with
 * fewer rows cycle through theirs a little more than `epochs` times.
 */
export function loopShape(
  rows: number,
  partitions: number,
  workers: number,
  epochs: number,
  batchSize: number,
): LoopShape {
  const perWorker = new Float64Array(workers);
  blockRanges(rows, partitions).forEach(([s, e], p) => {
    perWorker[p % workers]! += e - s;
  });
  let busiest = 0;
  let active = 0;
  for (const r of perWorker) {
    busiest = Math.max(busiest, r);
    if (r > 0) active++;
  }
  return { steps: Math.ceil((epochs * busiest) / batchSize), rowsPerClock: active * batchSize };
}

// Loss codes, so the per-row dispatch is an integer switch.
const SQUARED = 0;
const HUBER = 1;
const LOG = 2;
const HINGE = 3;
const MODIFIED_HUBER = 4;
const SQUARED_HINGE = 5;
const PERCEPTRON = 6;

const PLAIN = 0;
const MOMENTUM = 1;
const ADAM = 2;
const CONSTANT = 0;
const INVSCALING = 1;
const OPTIMAL = 2;
const ADAM_BETA2 = 0.999;
const MAX_DLOSS = 1e12;
const ADAM_EPSILON = 1e-8;

/** The step size η at step t (1, 2, …) of `schedule`, with scikit-learn's formulas. */
function stepSize(
  schedule: number,
  t: number,
  eta0: number,
  powerT: number,
  alpha: number,
  optimalInit: number,
): number {
  if (schedule === CONSTANT) return eta0;
  if (schedule === INVSCALING) return eta0 / t ** powerT;
  return 1 / (alpha * (optimalInit + t - 1));
}

/**
 * θ ← θ − (step along `grad`): plain (η·grad), momentum (velocity in m1) or Adam (moments in m1 and
 * m2, and β1^t, β2^t in `powers`, updated here).
 */
function descend(
  optimizer: number,
  theta: Float64Array,
  grad: Float64Array,
  m1: Float64Array,
  m2: Float64Array,
  powers: Float64Array,
  eta: number,
  mu: number,
): void {
  const size = theta.length;
  if (optimizer === PLAIN) {
    for (let j = 0; j < size; j++) theta[j]! -= eta * grad[j]!;
  } else if (optimizer === MOMENTUM) {
    for (let j = 0; j < size; j++) theta[j]! -= m1[j] = mu * m1[j]! + eta * grad[j]!;
  } else {
    // Adam, whose η is the size of a step whatever the scale of the gradient.
    const mu1 = (powers[0]! *= mu);
    const mu2 = (powers[1]! *= ADAM_BETA2);
    for (let j = 0; j < size; j++) {
      const g = grad[j]!;
      const v1 = (m1[j] = mu * m1[j]! + (1 - mu) * g);
      const v2 = (m2[j] = ADAM_BETA2 * m2[j]! + (1 - ADAM_BETA2) * g * g);
      theta[j]! -= (eta * (v1 / (1 - mu1))) / (Math.sqrt(v2 / (1 - mu2)) + ADAM_EPSILON);
    }
  }
}

/** A pass just ended: keeps its loss and the one before, for the driver's stopping test. */
function endPass(out: Float64Array, lossSum: number, lossRows: number): void {
  out[SGD_RESULT.previousLoss] = out[SGD_RESULT.lastLoss]!;
  out[SGD_RESULT.previousRows] = out[SGD_RESULT.lastRows]!;
  out[SGD_RESULT.lastLoss] = lossSum;
  out[SGD_RESULT.lastRows] = lossRows;
}

registerLoopKernel({
  name: SGD_LINEAR_LOOP,
  resultLength: (args) => {
    const a = args as SgdLoopArgs;
    return SGD_RESULT.length + (a.average ? a.outputs * (a.features + 1) : 0);
  },
  run(parts: readonly DesignMatrix[], args: KernelArgs, ps: ParameterClient, worker: number, out) {
    const a = args as SgdLoopArgs;
    const code = SGD_LOSSES.indexOf(a.loss);
    if (code < 0) throw new RangeError(`${SGD_LINEAR_LOOP}: unknown loss '${String(a.loss)}'`);
    const regression = code <= HUBER;
    const r = a.outputs;
    const { epsilon, alpha, momentum: mu, eta0, powerT, optimalInit, batchSize: B, fitIntercept } = a;
    const { rowsBefore, seed, shuffle, average, miniBatch } = a;
    const optimizer = a.optimizer === 'adam' ? ADAM : a.optimizer === 'momentum' ? MOMENTUM : PLAIN;
    const schedule =
      a.schedule === 'constant' ? CONSTANT : a.schedule === 'invscaling' ? INVSCALING : OPTIMAL;
    // Engines run a loop on one worker over every partition when the data is small. On W ≥ 2
    // workers no worker holds every partition, unless there is only one, and then both plans agree.
    const W = parts.length === a.partitions ? 1 : a.workers;
    const { steps, rowsPerClock } = loopShape(a.rows, a.partitions, W, a.epochs, B);
    const active = rowsPerClock / B;

    // θ's size comes from the arguments: a worker without rows cannot read d from its partitions.
    const cols = a.features;
    const size = r * (cols + 1);
    const biasAt = r * cols;
    const pulled = new Float64Array(size);
    const theta = new Float64Array(size);
    const delta = new Float64Array(size);
    const grad = new Float64Array(optimizer === PLAIN && !miniBatch ? 0 : size);
    // A mini-batch's summed loss derivatives times x (and the rows in it).
    const gsum = new Float64Array(miniBatch ? size : 0);
    let inBatch = 0;
    let averaged = 0;
    // Momentum's velocity or Adam's first moment, Adam's second moment, and β1^t and β2^t.
    const m1 = new Float64Array(optimizer === PLAIN ? 0 : size);
    const m2 = new Float64Array(optimizer === ADAM ? size : 0);
    const powers = Float64Array.of(1, 1);
    const z = new Float64Array(r);
    const dl = new Float64Array(r);
    const avg = out.subarray(SGD_RESULT.length);

    // This worker's rows, concatenated in partition order: row `i` lives in part `p` where
    // starts[p] ≤ i < starts[p + 1].
    const starts = new Float64Array(parts.length + 1);
    for (let p = 0; p < parts.length; p++) starts[p + 1] = starts[p]! + parts[p]!.rows;
    const total = starts[parts.length]!;
    const order = new Uint32Array(total);
    let epoch = a.epochsBefore;
    let pos = total; // start with a shuffle
    const budget = a.epochs * total;
    const averageFrom = Math.floor(budget / 2);
    let trained = 0;
    // Plain locals, not captured by any closure: V8 keeps them unboxed in the hot loop.
    let lossSum = 0;
    let lossRows = 0;

    for (let step = 0; step < steps; step++) {
      ps.pull(pulled);
      theta.set(pulled);
      // A worker with no rows still clocks, so synchronous modes do not wait for it forever.
      for (let k = 0; k < B && trained < budget; k++, trained++) {
        if (pos === total) {
          if (lossRows === total) {
            endPass(out, lossSum, lossRows);
            lossSum = 0;
            lossRows = 0;
          }
          // The order depends only on (seed, worker, epoch); the factor keeps worker w's epoch e
          // and worker w + 1's epoch e − 1 from sharing a permutation.
          for (let i = 0; i < total; i++) order[i] = i;
          if (shuffle) new Rng(seed + 7919 * worker + epoch).shuffle(order);
          epoch++;
          pos = 0;
        }
        const i = order[pos++]!;
        let p = 0;
        while (i >= starts[p + 1]!) p++;
        const { X, y } = parts[p]!;
        const row = i - starts[p]!;
        const off = row * cols;
        const yi = y[row]!;

        for (let c = 0; c < r; c++) {
          let zc = theta[biasAt + c]!;
          const w = c * cols;
          for (let j = 0; j < cols; j++) zc += theta[w + j]! * X[off + j]!;
          z[c] = zc;
        }
        for (let c = 0; c < r; c++) {
          const zc = z[c]!;
          // Regression compares z with y; classification row c scores the margin m = s·z.
          const s = regression ? 0 : (r === 1 ? yi === 1 : yi === c) ? 1 : -1;
          const m = s * zc;
          let g = 0;
          switch (code) {
            case SQUARED:
              g = zc - yi;
              lossSum += 0.5 * g * g;
              break;
            case HUBER: {
              const res = zc - yi;
              if (Math.abs(res) <= epsilon) {
                g = res;
                lossSum += 0.5 * res * res;
              } else {
                g = res > 0 ? epsilon : -epsilon;
                lossSum += epsilon * Math.abs(res) - 0.5 * epsilon * epsilon;
              }
              break;
            }
            case LOG:
              // log(1 + e^−m) and its derivative −s/(1 + e^m), with scikit-learn's cut-offs at
              // |m| > 18 (where they agree with the exact forms to 1e-8 relative) against overflow.
              if (m > 18) {
                const e = Math.exp(-m);
                lossSum += e;
                g = -s * e;
              } else if (m < -18) {
                lossSum -= m;
                g = -s;
              } else {
                lossSum += Math.log1p(Math.exp(-m));
                g = -s / (Math.exp(m) + 1);
              }
              break;
            case HINGE:
              // scikit-learn takes the subgradient −s on the hinge itself (m = 1) too.
              if (m <= 1) {
                lossSum += 1 - m;
                g = -s;
              }
              break;
            case MODIFIED_HUBER:
              if (m >= 1) break;
              if (m >= -1) {
                lossSum += (1 - m) * (1 - m);
                g = -2 * s * (1 - m);
              } else {
                lossSum -= 4 * m;
                g = -4 * s;
              }
              break;
            case PERCEPTRON:
              // The hinge at 0 instead of 1: only misclassified rows (and m = 0) move the weights.
              if (m <= 0) {
                lossSum -= m;
                g = -s;
              }
              break;
            case SQUARED_HINGE:
              if (m < 1) {
                lossSum += (1 - m) * (1 - m);
                g = -2 * s * (1 - m);
              }
              break;
          }
          // scikit-learn's clip: a runaway fit then grows linearly instead of overflowing.
          dl[c] = g < -MAX_DLOSS ? -MAX_DLOSS : g > MAX_DLOSS ? MAX_DLOSS : g;
        }
        lossRows++;

        if (miniBatch) {
          for (let c = 0; c < r; c++) {
            const g = dl[c]!;
            const w = c * cols;
            for (let j = 0; j < cols; j++) gsum[w + j]! += g * X[off + j]!;
            gsum[biasAt + c]! += g;
          }
          inBatch++;
          continue;
        }
        const t = rowsBefore + step * rowsPerClock + k * active + 1;
        const eta = stepSize(schedule, t, eta0, powerT, alpha, optimalInit);
        if (optimizer === PLAIN) {
          // scikit-learn's step; the shrink factor is floored at 0 as there, so a huge step cannot
          // flip the weights' sign.
          const shrink = Math.max(0, 1 - eta * alpha);
          for (let c = 0; c < r; c++) {
            const u = -eta * dl[c]!;
            const w = c * cols;
            for (let j = 0; j < cols; j++) theta[w + j] = shrink * theta[w + j]! + u * X[off + j]!;
            if (fitIntercept) theta[biasAt + c]! += u;
          }
        } else {
          // Momentum and Adam follow the gradient of this row's term of the objective.
          for (let c = 0; c < r; c++) {
            const w = c * cols;
            const g = dl[c]!;
            for (let j = 0; j < cols; j++) grad[w + j] = g * X[off + j]! + alpha * theta[w + j]!;
            grad[biasAt + c] = fitIntercept ? g : 0;
          }
          descend(optimizer, theta, grad, m1, m2, powers, eta, mu);
        }
        if (average && trained >= averageFrom) {
          // The running mean of this worker's iterates after each row step of the second half.
          const f = 1 / ++averaged;
          for (let j = 0; j < size; j++) avg[j]! += (theta[j]! - avg[j]!) * f;
        }
      }
      if (inBatch > 0) {
        // One step along the batch's mean gradient; t counts steps over all workers.
        const t = Math.floor(rowsBefore / B) + step * active + 1;
        const eta = stepSize(schedule, t, eta0, powerT, alpha, optimalInit);
        for (let c = 0; c < r; c++) {
          const w = c * cols;
          for (let j = 0; j < cols; j++) grad[w + j] = gsum[w + j]! / inBatch + alpha * theta[w + j]!;
          grad[biasAt + c] = fitIntercept ? gsum[biasAt + c]! / inBatch : 0;
        }
        descend(optimizer, theta, grad, m1, m2, powers, eta, mu);
        gsum.fill(0);
        inBatch = 0;
        if (average && trained > averageFrom) {
          const f = 1 / ++averaged;
          for (let j = 0; j < size; j++) avg[j]! += (theta[j]! - avg[j]!) * f;
        }
      }
      if (total > 0) {
        for (let j = 0; j < size; j++) delta[j] = theta[j]! - pulled[j]!;
        ps.push(delta);
      }
      ps.clock();
    }
    if (total > 0 && lossRows === total) endPass(out, lossSum, lossRows);
    else if (out[SGD_RESULT.lastRows] === 0) {
      // Less than one pass: report what there is.
      out[SGD_RESULT.lastLoss] = lossSum;
      out[SGD_RESULT.lastRows] = lossRows;
    }
    out[SGD_RESULT.steps] = steps;
    out[SGD_RESULT.rowsPerClock] = rowsPerClock;
    out[SGD_RESULT.epochsSeen] = epoch;
    out[SGD_RESULT.rowsTrained] = trained;
  },
});
