/**
 * Seeded synthetic data sets: classification, regression and blobs, in the spirit of
 * scikit-learn's `make_*` helpers. Columns are filled one at a time straight into `Float64Array`s,
 * so a million rows of fifty features cost one pass per column and no row objects.
 *
 * The same options and seed give bit-identical frames on every machine: every random number comes
 * from {@link Rng}, drawn in a fixed order (parameters first, then labels, then columns left to
 * right, then label noise).
 */
import { didYouMean, ParamError } from '../errors.ts';
import { type Column, Frame, numericColumn } from './frame.ts';
import { Rng } from './random.ts';

/** Options of {@link makeClassification}. */
export interface ClassificationOptions {
  /** Number of rows. */
  rows: number;
  /** Number of feature columns `x0..x{features-1}`. */
  features: number;
  /**
   * Number of classes; the `label` column holds 0..classes-1.
   * @defaultValue 2
   */
  classes?: number;
  /**
   * Number of leading features that carry the class signal.
   * @defaultValue min(features, max(2, ceil(features / 2)))
   */
  informative?: number;
  /**
   * Half the distance between two class centroids, in units of the per-feature noise. With two
   * classes the Bayes error is Φ(-classSeparation): about 16% at 1, 2.3% at 2.
   * @defaultValue 1
   */
  classSeparation?: number;
  /**
   * Fraction of rows whose label is redrawn uniformly at random (it may redraw the same class).
   * @defaultValue 0.01
   */
  labelNoise?: number;
  /** Seed of every random choice. */
  seed: number;
}

/** What {@link makeClassification} returns. */
export interface Classification {
  /** Columns `x0..x{d-1}` then `label`. */
  frame: Frame;
  /** Class centroids on the informative features, row-major `classes × informative`. */
  centroids: Float64Array;
  /** Number of informative features (the first ones). */
  informative: number;
  /** Number of redundant features (noisy linear combinations of the informative ones), which follow. */
  redundant: number;
}

/** Options of {@link makeRegression}. */
export interface RegressionOptions {
  /** Number of rows. */
  rows: number;
  /** Number of feature columns `x0..x{features-1}`, each standard normal. */
  features: number;
  /**
   * Number of leading features with a non-zero coefficient.
   * @defaultValue features
   */
  informative?: number;
  /**
   * Standard deviation of the Gaussian noise added to the target.
   * @defaultValue 0.1
   */
  noise?: number;
  /**
   * Intercept of the target.
   * @defaultValue 0
   */
  bias?: number;
  /** Seed of every random choice. */
  seed: number;
}

/** What {@link makeRegression} returns: the data and the true model `target = X·coefficients + bias + noise`. */
export interface Regression {
  /** Columns `x0..x{d-1}` then `target`. */
  frame: Frame;
  /** The true coefficient of each feature; zero beyond `informative`. */
  coefficients: Float64Array;
  /** The true intercept. */
  bias: number;
}

/** Options of {@link makeBlobs}. */
export interface BlobsOptions {
  /** Number of rows. */
  rows: number;
  /** Number of feature columns `x0..x{features-1}`. */
  features: number;
  /**
   * Number of clusters; the `cluster` column holds 0..centers-1.
   * @defaultValue 3
   */
  centers?: number;
  /**
   * Standard deviation of every cluster along every feature.
   * @defaultValue 1
   */
  clusterStd?: number;
  /** Seed of every random choice. */
  seed: number;
}

/** What {@link makeBlobs} returns. */
export interface Blobs {
  /** Columns `x0..x{d-1}` then `cluster`. */
  frame: Frame;
  /** Cluster centers, row-major `centers × features`, uniform in [-10, 10) like scikit-learn's. */
  centers: Float64Array;
}

/** The kinds of synthetic data {@link generate} makes. */
export type GeneratorKind = 'classification' | 'regression' | 'blobs';

/** Every generator kind, for CLI help and validation. */
export const GENERATOR_KINDS: readonly GeneratorKind[] = ['classification', 'regression', 'blobs'];

/** The options type of each generator kind. */
export interface GeneratorOptions {
  classification: ClassificationOptions;
  regression: RegressionOptions;
  blobs: BlobsOptions;
}

/**
 * Makes a synthetic frame of the given kind.
 * @throws ParamError for an unknown kind or an option out of range, naming the option and the value
 */
export function generate<K extends GeneratorKind>(kind: K, options: GeneratorOptions[K]): Frame {
  switch (kind) {
    case 'classification':
      return makeClassification(options as ClassificationOptions).frame;
    case 'regression':
      return makeRegression(options as RegressionOptions).frame;
    case 'blobs':
      return makeBlobs(options as BlobsOptions).frame;
    default:
      throw new ParamError(
        `unknown generator '${String(kind)}' (expected ${GENERATOR_KINDS.join(', ')})`,
        didYouMean(String(kind), GENERATOR_KINDS),
      );
  }
}

/**
 * A classification problem that linear models learn well but not perfectly: each class is a
 * Gaussian cloud (unit variance per feature) around its centroid on the informative features.
 *
 * When `classes ≤ informative` the centroids are orthogonal, so every pair of classes sits
 * `2·classSeparation` apart; otherwise they are spaced `2·classSeparation` apart along one random
 * direction. Centroids are centred, so every feature has mean ≈ 0. After the informative features
 * come `floor((features - informative) / 2)` redundant ones (random linear combinations of the
 * informative features plus 0.1·N(0,1), so the design keeps full rank), then pure N(0,1) noise.
 * Classes are balanced (sizes equal ±1) before label noise.
 * @throws ParamError naming the option that is out of range
 */
export function makeClassification(options: ClassificationOptions): Classification {
  const n = positiveInt('--rows', options.rows);
  const d = positiveInt('--features', options.features);
  const k = intAtLeast('--classes', options.classes ?? 2, 2);
  const p = options.informative ?? Math.min(d, Math.max(2, Math.ceil(d / 2)));
  if (!Number.isInteger(p) || p < 1 || p > d) {
    throw new ParamError(`--informative must be an integer from 1 to --features (${d}), got ${p}`);
  }
  const sep = nonNegative('--class-separation', options.classSeparation ?? 1);
  const labelNoise = options.labelNoise ?? 0.01;
  if (!(labelNoise >= 0 && labelNoise <= 1)) {
    throw new ParamError(`--label-noise must be a number from 0 to 1, got ${labelNoise}`);
  }
  const rng = new Rng(seedOf(options.seed));

  const centroids = classCentroids(rng, k, p, sep);
  const redundant = Math.floor((d - p) / 2);
  // Mixing weights scaled by 1/√p keep a redundant feature's variance near an informative one's.
  const mixing = new Float64Array(redundant * p);
  const scale = 1 / Math.sqrt(p);
  for (let i = 0; i < mixing.length; i++) mixing[i] = rng.normal() * scale;

  const cls = balancedLabels(rng, n, k);
  const columns: Column[] = [];
  const X: Float64Array[] = [];
  for (let j = 0; j < p; j++) {
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = centroids[cls[i]! * p + j]! + rng.normal();
    X.push(x);
  }
  for (let r = 0; r < redundant; r++) {
    const x = new Float64Array(n);
    for (let j = 0; j < p; j++) {
      const w = mixing[r * p + j]!;
      const src = X[j]!;
      for (let i = 0; i < n; i++) x[i] = x[i]! + w * src[i]!;
    }
    for (let i = 0; i < n; i++) x[i] = x[i]! + 0.1 * rng.normal();
    X.push(x);
  }
  for (let j = p + redundant; j < d; j++) {
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = rng.normal();
    X.push(x);
  }
  for (let j = 0; j < d; j++) columns.push(numericColumn(`x${j}`, X[j]!));

  const label = new Float64Array(n);
  for (let i = 0; i < n; i++) label[i] = cls[i]!;
  if (labelNoise > 0) {
    for (let i = 0; i < n; i++) if (rng.next() < labelNoise) label[i] = rng.int(k);
  }
  columns.push(numericColumn('label', label));
  return { frame: new Frame(columns), centroids, informative: p, redundant };
}

/**
 * A linear regression problem: standard normal features and
 * `target = X·coefficients + bias + noise·N(0,1)`. The first `informative` coefficients are drawn
 * with magnitude uniform in [0.5, 2) and a random sign — never near zero, so each one is
 * recoverable — and the rest are zero.
 * @throws ParamError naming the option that is out of range
 */
export function makeRegression(options: RegressionOptions): Regression {
  const n = positiveInt('--rows', options.rows);
  const d = positiveInt('--features', options.features);
  const p = options.informative ?? d;
  if (!Number.isInteger(p) || p < 0 || p > d) {
    throw new ParamError(`--informative must be an integer from 0 to --features (${d}), got ${p}`);
  }
  const noise = nonNegative('--noise', options.noise ?? 0.1);
  const bias = options.bias ?? 0;
  if (!Number.isFinite(bias)) throw new ParamError(`--bias must be a finite number, got ${bias}`);
  const rng = new Rng(seedOf(options.seed));

  const coefficients = new Float64Array(d);
  for (let j = 0; j < p; j++) {
    const magnitude = 0.5 + 1.5 * rng.next();
    coefficients[j] = rng.next() < 0.5 ? -magnitude : magnitude;
  }
  const y = new Float64Array(n).fill(bias);
  const columns: Column[] = [];
  for (let j = 0; j < d; j++) {
    const x = new Float64Array(n);
    const w = coefficients[j]!;
    for (let i = 0; i < n; i++) {
      const v = rng.normal();
      x[i] = v;
      y[i] = y[i]! + w * v;
    }
    columns.push(numericColumn(`x${j}`, x));
  }
  if (noise > 0) for (let i = 0; i < n; i++) y[i] = y[i]! + noise * rng.normal();
  columns.push(numericColumn('target', y));
  return { frame: new Frame(columns), coefficients, bias };
}

/**
 * Isotropic Gaussian clusters for clustering: centers uniform in [-10, 10) on every feature,
 * `clusterStd` around each, cluster sizes equal ±1 in a random order.
 * @throws ParamError naming the option that is out of range
 */
export function makeBlobs(options: BlobsOptions): Blobs {
  const n = positiveInt('--rows', options.rows);
  const d = positiveInt('--features', options.features);
  const k = intAtLeast('--centers', options.centers ?? 3, 1);
  const std = nonNegative('--cluster-std', options.clusterStd ?? 1);
  const rng = new Rng(seedOf(options.seed));

  const centers = new Float64Array(k * d);
  for (let i = 0; i < centers.length; i++) centers[i] = -10 + 20 * rng.next();
  const cls = balancedLabels(rng, n, k);
  const columns: Column[] = [];
  for (let j = 0; j < d; j++) {
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = centers[cls[i]! * d + j]! + std * rng.normal();
    columns.push(numericColumn(`x${j}`, x));
  }
  const cluster = new Float64Array(n);
  for (let i = 0; i < n; i++) cluster[i] = cls[i]!;
  columns.push(numericColumn('cluster', cluster));
  return { frame: new Frame(columns), centers };
}

/** Centred class centroids, row-major `k × p`, pairwise 2·sep apart (see makeClassification). */
function classCentroids(rng: Rng, k: number, p: number, sep: number): Float64Array {
  const c = new Float64Array(k * p);
  if (k <= p) {
    // Orthonormal directions by modified Gram–Schmidt on Gaussian vectors, scaled by sep·√2 so
    // that ‖cₐ - c_b‖ = 2·sep for every pair.
    for (let a = 0; a < k; a++) {
      const row = a * p;
      for (;;) {
        for (let j = 0; j < p; j++) c[row + j] = rng.normal();
        for (let b = 0; b < a; b++) {
          let dot = 0;
          for (let j = 0; j < p; j++) dot += c[row + j]! * c[b * p + j]!;
          for (let j = 0; j < p; j++) c[row + j] = c[row + j]! - dot * c[b * p + j]!;
        }
        let norm = 0;
        for (let j = 0; j < p; j++) norm += c[row + j]! * c[row + j]!;
        norm = Math.sqrt(norm);
        // A Gaussian vector almost never lies in the span of the others; redraw if it does.
        if (norm > 1e-9) {
          for (let j = 0; j < p; j++) c[row + j] = c[row + j]! / norm;
          break;
        }
      }
    }
    const s = sep * Math.SQRT2;
    for (let i = 0; i < c.length; i++) c[i] = c[i]! * s;
  } else {
    // Too few dimensions for orthogonal centroids: a line of classes, neighbours 2·sep apart.
    const u = new Float64Array(p);
    let norm = 0;
    while (norm < 1e-9) {
      norm = 0;
      for (let j = 0; j < p; j++) {
        u[j] = rng.normal();
        norm += u[j]! * u[j]!;
      }
      norm = Math.sqrt(norm);
    }
    for (let a = 0; a < k; a++) {
      const t = 2 * sep * a;
      for (let j = 0; j < p; j++) c[a * p + j] = (t * u[j]!) / norm;
    }
  }
  // Centring moves no centroid relative to another, and leaves every feature with mean ≈ 0.
  for (let j = 0; j < p; j++) {
    let mean = 0;
    for (let a = 0; a < k; a++) mean += c[a * p + j]!;
    mean /= k;
    for (let a = 0; a < k; a++) c[a * p + j] = c[a * p + j]! - mean;
  }
  return c;
}

/** Labels 0..k-1 with equal counts (±1), in a seeded random order. */
function balancedLabels(rng: Rng, n: number, k: number): Uint32Array {
  const cls = new Uint32Array(n);
  for (let i = 0; i < n; i++) cls[i] = i % k;
  return rng.shuffle(cls);
}

function positiveInt(flag: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ParamError(`${flag} must be a positive integer, got ${value}`);
  }
  return value;
}

function intAtLeast(flag: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new ParamError(`${flag} must be an integer of at least ${min}, got ${value}`);
  }
  return value;
}

function nonNegative(flag: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new ParamError(`${flag} must be a finite number of at least 0, got ${value}`);
  }
  return value;
}

function seedOf(seed: number): number {
  if (!Number.isSafeInteger(seed)) throw new ParamError(`--seed must be an integer, got ${seed}`);
  return seed;
}
