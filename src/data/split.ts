/**
 * Train/test and cross-validation splits as row indices. Every set is a `Uint32Array` sorted
 * ascending, ready for `Frame.take`, and every shuffled split is a function of its seed alone.
 */
import { didYouMean, ParamError } from '../errors.ts';
import { Rng } from './random.ts';

/** How {@link trainTestSplit} chooses the test rows. */
export type SplitMethod = 'random' | 'stratified' | 'tail';

/** Every split method, for CLI help and validation. */
export const SPLIT_METHODS: readonly SplitMethod[] = ['random', 'stratified', 'tail'];

/** One split of the rows: disjoint, together all rows, each ascending. */
export interface Fold {
  train: Uint32Array;
  test: Uint32Array;
}

/** Options of {@link trainTestSplit}. */
export interface TrainTestSplitOptions {
  /** Share of rows in the test set, in (0, 1); the test set has `Math.round(rows · testFraction)` rows. */
  testFraction: number;
  /**
   * `tail`: the last rows are the test set (the split of shared/reference); `random`: a seeded
   * uniform choice; `stratified`: a seeded choice that keeps each class's share (needs `labels`).
   */
  method: SplitMethod;
  /** Seed of the random choice; `tail` ignores it. */
  seed: number;
  /** The class of each row, for `stratified`. */
  labels?: Int32Array;
}

/** Options of {@link kFold} and {@link stratifiedKFold}. */
export interface KFoldOptions {
  /**
   * Shuffle before assigning folds.
   * @defaultValue false
   */
  shuffle?: boolean;
  /** Seed of the shuffle; required when `shuffle` is true. */
  seed?: number;
}

/**
 * Splits `rows` rows into a training and a test set.
 *
 * `stratified` gives class c `floor(n_c · t / rows)` test rows and hands the rows left over, one
 * each, to the classes with the largest remainders (ties to the class seen first), so the test
 * set has exactly t rows.
 * @throws ParamError naming `--test-fraction` and its value when it is outside (0, 1) or leaves a
 *   set empty, or when `stratified` lacks labels
 */
export function trainTestSplit(rows: number, options: TrainTestSplitOptions): Fold {
  if (!Number.isSafeInteger(rows) || rows < 1) {
    throw new ParamError(`cannot split ${rows} rows: need a positive integer number of rows`);
  }
  const f = options.testFraction;
  if (!(f > 0 && f < 1)) {
    throw new ParamError(`--test-fraction must be a number between 0 and 1 (exclusive), got ${f}`);
  }
  const nTest = Math.round(rows * f);
  if (nTest === 0) {
    throw new ParamError(
      `--test-fraction ${f} leaves no test rows out of ${rows}`,
      `use at least ${(1 / rows).toPrecision(2)}`,
    );
  }
  if (nTest === rows) {
    throw new ParamError(
      `--test-fraction ${f} leaves no training rows out of ${rows}`,
      `use at most ${((rows - 1) / rows).toPrecision(2)}`,
    );
  }
  const isTest = new Uint8Array(rows);
  switch (options.method) {
    case 'tail':
      isTest.fill(1, rows - nTest);
      break;
    case 'random': {
      const order = new Rng(seedOf(options.seed)).permutation(rows);
      for (let i = 0; i < nTest; i++) isTest[order[i]!] = 1;
      break;
    }
    case 'stratified':
      stratifiedTest(requireLabels(options.labels, rows), nTest, seedOf(options.seed), isTest);
      break;
    default:
      throw new ParamError(
        `unknown --split '${String(options.method)}' (expected ${SPLIT_METHODS.join(', ')})`,
        didYouMean(String(options.method), SPLIT_METHODS),
      );
  }
  const test = new Uint32Array(nTest);
  const train = new Uint32Array(rows - nTest);
  let t = 0;
  let r = 0;
  for (let i = 0; i < rows; i++) {
    if (isTest[i] === 1) test[t++] = i;
    else train[r++] = i;
  }
  return { train, test };
}

/**
 * K-fold cross-validation like scikit-learn's `KFold`: contiguous test folds (of a seeded
 * permutation when shuffling), the first `rows % k` of them one row larger.
 * @throws ParamError when k is not an integer from 2 to rows
 */
export function kFold(rows: number, k: number, options: KFoldOptions = {}): Fold[] {
  checkK(k);
  if (!Number.isSafeInteger(rows) || rows < k) {
    throw new ParamError(`--cv ${k} needs at least ${k} rows, got ${rows}`, 'lower --cv');
  }
  const fold = new Uint32Array(rows);
  const order = options.shuffle === true ? new Rng(shuffleSeed(options)).permutation(rows) : undefined;
  const small = Math.floor(rows / k);
  const extra = rows % k;
  let at = 0;
  for (let f = 0; f < k; f++) {
    const end = at + small + (f < extra ? 1 : 0);
    for (; at < end; at++) fold[order === undefined ? at : order[at]!] = f;
  }
  return foldsFromAssignment(fold, k);
}

/**
 * Stratified k-fold cross-validation whose unshuffled folds equal scikit-learn 1.2's
 * `StratifiedKFold(n_splits=k)` exactly. See {@link stratifiedTestFolds}.
 * @throws ParamError when k is not an integer of at least 2, or a class has fewer than k rows
 */
export function stratifiedKFold(labels: Int32Array, k: number, options: KFoldOptions = {}): Fold[] {
  return foldsFromAssignment(stratifiedTestFolds(labels, k, options), k);
}

/**
 * The test fold of every row under stratified k-fold; scikit-learn 1.2's `_make_test_folds`.
 *
 * Classes are numbered by first appearance. Dealing the sorted class numbers round-robin to the
 * k folds fixes how many rows of each class every fold gets; each class's rows, in row order,
 * then fill fold 0's share, then fold 1's, and so on — so row order survives as far as the
 * stratification allows. Shuffling permutes each class's fold sequence with the seeded Rng (not
 * numpy's, so shuffled folds differ from scikit-learn's).
 * @throws ParamError when k is not an integer of at least 2, or a class has fewer than k rows
 */
export function stratifiedTestFolds(labels: Int32Array, k: number, options: KFoldOptions = {}): Uint32Array {
  checkK(k);
  const { codes, values, counts } = encodeByAppearance(labels);
  const classes = counts.length;
  let smallest = 0;
  for (let c = 1; c < classes; c++) if (counts[c]! < counts[smallest]!) smallest = c;
  const fewest = counts[smallest] ?? 0;
  if (fewest < k) {
    throw new ParamError(
      `class ${values[smallest]} has only ${fewest} row${fewest === 1 ? '' : 's'}, fewer than --cv ${k}`,
      fewest >= 2 ? `lower --cv to at most ${fewest}, or merge rare classes` : 'merge or drop rare classes',
    );
  }
  // seq holds, per class block, the fold of each of its rows in row order.
  const n = labels.length;
  const seq = new Uint32Array(n);
  const cursor = new Uint32Array(classes);
  const alloc = new Uint32Array(k);
  const rng = options.shuffle === true ? new Rng(shuffleSeed(options)) : undefined;
  let start = 0;
  for (let c = 0; c < classes; c++) {
    const end = start + counts[c]!;
    alloc.fill(0);
    for (let pos = start; pos < end; pos++) alloc[pos % k] = alloc[pos % k]! + 1;
    let at = start;
    for (let f = 0; f < k; f++) for (let j = alloc[f]!; j > 0; j--) seq[at++] = f;
    if (rng !== undefined) rng.shuffle(seq.subarray(start, end));
    cursor[c] = start;
    start = end;
  }
  const fold = new Uint32Array(n);
  for (let i = 0; i < n; i++) fold[i] = seq[cursor[codes[i]!]!++]!;
  return fold;
}

/** Marks a stratified test set of exactly `nTest` rows (largest-remainder quotas per class). */
function stratifiedTest(labels: Int32Array, nTest: number, seed: number, isTest: Uint8Array): void {
  const n = labels.length;
  const { codes, counts } = encodeByAppearance(labels);
  const classes = counts.length;
  const quota = new Float64Array(classes);
  const remainder = new Float64Array(classes);
  let given = 0;
  for (let c = 0; c < classes; c++) {
    // n_c · nTest < 2^53 for any array that fits in memory, so this integer math is exact.
    const share = counts[c]! * nTest;
    quota[c] = Math.floor(share / n);
    remainder[c] = share % n;
    given += quota[c]!;
  }
  const byRemainder = Array.from({ length: classes }, (_, c) => c).sort(
    (a, b) => remainder[b]! - remainder[a]! || a - b,
  );
  for (let j = 0; given < nTest; j++, given++) {
    const c = byRemainder[j]!;
    quota[c] = quota[c]! + 1;
  }
  // Group the rows by class (counting sort), shuffle each group and take its quota.
  const start = new Float64Array(classes + 1);
  for (let c = 0; c < classes; c++) start[c + 1] = start[c]! + counts[c]!;
  const grouped = new Uint32Array(n);
  const next = start.slice(0, classes);
  for (let i = 0; i < n; i++) grouped[next[codes[i]!]!++] = i;
  const rng = new Rng(seed);
  for (let c = 0; c < classes; c++) {
    const group = rng.shuffle(grouped.subarray(start[c]!, start[c + 1]!));
    for (let j = 0; j < quota[c]!; j++) isTest[group[j]!] = 1;
  }
}

/** Class numbers by order of first appearance, with each class's label value and row count. */
function encodeByAppearance(labels: Int32Array): { codes: Uint32Array; values: number[]; counts: number[] } {
  const index = new Map<number, number>();
  const values: number[] = [];
  const counts: number[] = [];
  const codes = new Uint32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    let c = index.get(v);
    if (c === undefined) {
      c = values.length;
      index.set(v, c);
      values.push(v);
      counts.push(0);
    }
    counts[c]!++;
    codes[i] = c;
  }
  return { codes, values, counts };
}

/** Train and test rows of each fold from the test fold of every row; both ascending. */
function foldsFromAssignment(fold: Uint32Array, k: number): Fold[] {
  const n = fold.length;
  const sizes = new Uint32Array(k);
  for (let i = 0; i < n; i++) sizes[fold[i]!] = sizes[fold[i]!]! + 1;
  const out: Fold[] = [];
  for (let f = 0; f < k; f++) {
    const test = new Uint32Array(sizes[f]!);
    const train = new Uint32Array(n - sizes[f]!);
    let t = 0;
    let r = 0;
    for (let i = 0; i < n; i++) {
      if (fold[i] === f) test[t++] = i;
      else train[r++] = i;
    }
    out.push({ train, test });
  }
  return out;
}

function requireLabels(labels: Int32Array | undefined, rows: number): Int32Array {
  if (labels === undefined) {
    throw new ParamError(
      '--split stratified needs the class of every row',
      'pass labels, or use --split random',
    );
  }
  if (labels.length !== rows) {
    throw new ParamError(`--split stratified got ${labels.length} labels for ${rows} rows`);
  }
  return labels;
}

function checkK(k: number): void {
  if (!Number.isSafeInteger(k) || k < 2)
    throw new ParamError(`--cv must be an integer of at least 2, got ${k}`);
}

function shuffleSeed(options: KFoldOptions): number {
  if (options.seed === undefined) throw new ParamError('shuffled folds need a --seed');
  return seedOf(options.seed);
}

function seedOf(seed: number): number {
  if (!Number.isSafeInteger(seed)) throw new ParamError(`--seed must be an integer, got ${seed}`);
  return seed;
}
