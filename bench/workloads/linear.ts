/**
 * The linear-model workloads: logistic regression and linear SVC on 1,000,000 × 50 classification,
 * least squares on 1,000,000 × 100 regression, and the SGD classifier (5 epochs), each on distml
 * (inline, 1 and 2 workers) against scikit-learn (and XGBoost's linear booster where it fits).
 */
import { getModel } from '../../src/models/registry.ts';
import type { BenchContext } from '../lib/context.ts';
import type { SystemsSection } from '../lib/results.ts';
import { type PythonPeer, runModelWorkload } from './systems.ts';

const SKLEARN: PythonPeer = { id: 'sklearn', system: 'scikit-learn', peer: 'sklearn', script: 'sklearn' };
const SKLEARN_NEWTON: PythonPeer = {
  id: 'sklearn-newton',
  system: 'scikit-learn',
  peer: 'sklearn',
  script: 'sklearn-newton',
  variant: 'newton-cholesky',
};
const SKLEARN_CHOLESKY: PythonPeer = {
  id: 'sklearn-cholesky',
  system: 'scikit-learn',
  peer: 'sklearn',
  script: 'sklearn-cholesky',
  variant: 'Ridge cholesky',
};
const XGBOOST: PythonPeer = { id: 'xgboost', system: 'XGBoost', peer: 'xgboost', script: 'xgboost' };
const ITERATIONS = 100;
const TOL = 1e-4;

/** Rows of the classification and regression data: 1,000,000, or 50,000 with `--quick`. */
export function linearRows(ctx: BenchContext): number {
  return ctx.quick ? 50_000 : 1_000_000;
}

/** Training rows under the suite's 20% tail split. */
function trainRows(rows: number): number {
  return rows - Math.round(rows * 0.2);
}

/** Logistic regression, L-BFGS, at most 100 iterations, C = 1, both sides standardized. */
export function logisticWorkload(ctx: BenchContext): SystemsSection {
  const rows = linearRows(ctx);
  return runModelWorkload(
    {
      id: 'logistic',
      title: `Logistic regression, ${rows.toLocaleString('en-US')} × 50`,
      about: [
        'L-BFGS with at most 100 iterations and C = 1 on both sides, on standardized features: distml ' +
          'standardizes by default, inside its fit; the Python peers run StandardScaler on the training rows ' +
          'inside their timed fit too, as a pipeline would (its share is in the notes), and on the test rows ' +
          'inside the predict time. ' +
          "distml minimises scikit-learn's objective divided by the number of training rows n, and its " +
          'tol bounds the largest component of that gradient; scikit-learn is therefore given tol·n, the ' +
          'same stopping rule, so both stop at the same point of the same problem. scikit-learn also runs ' +
          'newton-cholesky, the solver its documentation advises when rows far outnumber features; it ' +
          'minimises the mean loss, so it takes tol unscaled. XGBoost has no L-BFGS: ' +
          'its row is its linear booster (coordinate descent) for 100 rounds, unpenalized, as the nearest ' +
          'thing it offers. Fit time excludes reading the file on every side.',
      ],
      data: { kind: 'classification', rows, features: 50, seed: 1 },
      target: 'label',
      task: 'logistic',
      model: 'logistic-regression',
      params: ['C=1', `maxIter=${ITERATIONS}`, `tol=${TOL}`],
      distmlSettings: `L-BFGS, C=1, maxIter=${ITERATIONS}, tol=${TOL} (on the objective ÷ n)`,
      peerArgs: ['--max-iter', String(ITERATIONS), '--tol', String(TOL), '--C', '1'],
      scoreKey: 'accuracy',
      pythonPeers: [SKLEARN, SKLEARN_NEWTON, XGBOOST],
    },
    ctx,
  );
}

/** Linear SVC, squared hinge, C = 1. */
export function svcWorkload(ctx: BenchContext): SystemsSection {
  const rows = linearRows(ctx);
  // liblinear's primal solver stops on a gradient relative to the first one, which grows with n;
  // distml's tol is absolute, so it is scaled by n as for logistic regression.
  const tol = TOL * trainRows(rows);
  return runModelWorkload(
    {
      id: 'svc',
      title: `Linear SVC, ${rows.toLocaleString('en-US')} × 50`,
      about: [
        "liblinear's squared-hinge objective with C = 1 on both sides, standardized features (inside the timed " +
          'fit on both sides, as in the logistic section). scikit-learn ' +
          "runs liblinear's primal trust-region Newton solver (`dual=False`), its fast path when rows far " +
          "outnumber features (the dual default is many times slower here). liblinear stops when the gradient's " +
          "norm falls to tol times the first one, which grows with n; distml's tol is absolute, so it gets " +
          `1e-4·n = ${tol}. The test accuracies show whether both fits are equally good.`,
      ],
      data: { kind: 'classification', rows, features: 50, seed: 1 },
      target: 'label',
      task: 'svc',
      model: 'linear-svc',
      params: ['C=1', `maxIter=${ITERATIONS}`, `tol=${tol}`],
      distmlSettings: `L-BFGS, squared hinge, C=1, maxIter=${ITERATIONS}, tol=${tol}`,
      peerArgs: ['--tol', String(TOL), '--C', '1'],
      scoreKey: 'accuracy',
      pythonPeers: [SKLEARN],
    },
    ctx,
  );
}

/** Exact least squares on 1,000,000 × 100. */
export function leastSquaresWorkload(ctx: BenchContext): SystemsSection {
  const rows = linearRows(ctx);
  return runModelWorkload(
    {
      id: 'lsq',
      title: `Least squares, ${rows.toLocaleString('en-US')} × 100`,
      about: [
        'Exact ordinary least squares with an intercept, raw features on both sides. distml sums XᵀX and Xᵀy ' +
          "in one pass over the partitions and solves by Cholesky; scikit-learn's LinearRegression calls " +
          "scipy's lstsq (LAPACK, through its BLAS); its Ridge with a vanishing alpha and the Cholesky solver " +
          "runs distml's method on scikit-learn. XGBoost's row is its linear booster, 100 rounds, unpenalized.",
      ],
      data: { kind: 'regression', rows, features: 100, seed: 1 },
      target: 'target',
      task: 'lsq',
      model: 'linear-regression',
      params: [],
      distmlSettings: 'normal equations, Cholesky',
      peerArgs: ['--max-iter', String(ITERATIONS)],
      scoreKey: 'r2',
      pythonPeers: [SKLEARN, SKLEARN_CHOLESKY, XGBOOST],
    },
    ctx,
  );
}

/** Why distml's `sgd-classifier` cannot run here, or undefined when it is registered. */
export function sgdUnavailable(): string | undefined {
  try {
    getModel('sgd-classifier');
    return undefined;
  } catch {
    return 'sgd-classifier not available';
  }
}

/**
 * The `--param` words that ask distml's sgd-classifier for `epochs` passes of log loss without an
 * early stop. The model is being written elsewhere, so the names are looked up in its declared
 * parameters, and a word its declaration refuses is left out (the model's default stands).
 */
function sgdParams(epochs: number): string[] {
  const definition = getModel('sgd-classifier');
  const decls = definition.params.decls as Record<string, { kind: string; choices?: readonly string[] }>;
  const candidates: string[] = [];
  const epochName = ['epochs', 'maxEpochs', 'maxIter', 'nEpochs'].find((n) => n in decls);
  if (epochName !== undefined) candidates.push(`${epochName}=${epochs}`);
  const loss = decls.loss?.choices?.find((c) => c === 'log' || c === 'log_loss' || c === 'logistic');
  if (loss !== undefined) candidates.push(`loss=${loss}`);
  if ('tol' in decls) candidates.push('tol=0');
  if ('earlyStopping' in decls) candidates.push('earlyStopping=false');
  return candidates.filter((word) => {
    try {
      definition.params.parse(definition.name, [word]);
      return true;
    } catch {
      return false;
    }
  });
}

/** SGD classifier, log loss, 5 epochs. */
export function sgdWorkload(ctx: BenchContext): SystemsSection {
  const rows = linearRows(ctx);
  const epochs = 5;
  const skipped = sgdUnavailable();
  const params = skipped === undefined ? sgdParams(epochs) : [];
  return runModelWorkload(
    {
      id: 'sgd',
      title: `SGD classifier, ${epochs} epochs, ${rows.toLocaleString('en-US')} × 50`,
      about: [
        `Log loss, ${epochs} passes over the training rows, no early stop, standardized features (inside the ` +
          'timed fit on both sides, as in the logistic section). ' +
          "scikit-learn's SGDClassifier runs its defaults otherwise (L2 alpha = 1e-4, the 'optimal' " +
          "learning rate); distml's sgd-classifier runs on the parameter server with its defaults otherwise.",
      ],
      data: { kind: 'classification', rows, features: 50, seed: 1 },
      target: 'label',
      task: 'sgd',
      model: 'sgd-classifier',
      params,
      distmlSettings: params.join(', '),
      peerArgs: ['--epochs', String(epochs)],
      scoreKey: 'accuracy',
      pythonPeers: [SKLEARN],
      ...(skipped === undefined ? {} : { distmlSkipped: skipped }),
    },
    ctx,
  );
}
