import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParamError } from '../errors.ts';
import { type Fold, kFold, stratifiedKFold, stratifiedTestFolds, trainTestSplit } from './split.ts';

/** Train and test are ascending, disjoint and together cover 0..rows-1. */
function assertSplit(fold: Fold, rows: number): void {
  const seen = new Uint8Array(rows);
  for (const set of [fold.train, fold.test]) {
    for (let j = 0; j < set.length; j++) {
      if (j > 0) assert.ok(set[j - 1]! < set[j]!, 'not ascending');
      assert.equal(seen[set[j]!], 0, `row ${set[j]} twice`);
      seen[set[j]!] = 1;
    }
  }
  assert.equal(fold.train.length + fold.test.length, rows);
}

function classCounts(labels: Int32Array, rows: Uint32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of rows) m.set(labels[r]!, (m.get(labels[r]!) ?? 0) + 1);
  return m;
}

function paramError(message: string): (e: unknown) => boolean {
  return (e: unknown) => e instanceof ParamError && e.message === message;
}

test('tail: the last Math.round(rows·f) rows are the test set', () => {
  const s = trainTestSplit(10, { testFraction: 0.2, method: 'tail', seed: 0 });
  assert.deepEqual([...s.test], [8, 9]);
  assert.deepEqual([...s.train], [0, 1, 2, 3, 4, 5, 6, 7]);
  // 150·0.2 = 30 (iris), 7·0.25 = 1.75 → 2, 5·0.5 = 2.5 → 3.
  assert.equal(trainTestSplit(150, { testFraction: 0.2, method: 'tail', seed: 0 }).test.length, 30);
  assert.deepEqual([...trainTestSplit(7, { testFraction: 0.25, method: 'tail', seed: 0 }).test], [5, 6]);
  assert.deepEqual([...trainTestSplit(5, { testFraction: 0.5, method: 'tail', seed: 0 }).test], [2, 3, 4]);
});

test('random: right sizes, disjoint, ascending, and a function of the seed', () => {
  const a = trainTestSplit(1001, { testFraction: 0.3, method: 'random', seed: 4 });
  assertSplit(a, 1001);
  assert.equal(a.test.length, 300);
  assert.deepEqual(trainTestSplit(1001, { testFraction: 0.3, method: 'random', seed: 4 }), a);
  assert.notDeepEqual(trainTestSplit(1001, { testFraction: 0.3, method: 'random', seed: 5 }).test, a.test);
  // Not the tail: test rows spread over the whole range.
  assert.ok(a.test[0]! < 100 && a.test[a.test.length - 1]! > 900);
});

test('stratified: each class keeps its share, and the total is exact', () => {
  const labels = new Int32Array(1000);
  for (let i = 0; i < 1000; i++) labels[i] = i % 10 < 5 ? 0 : i % 10 < 8 ? 1 : 2;
  const s = trainTestSplit(1000, { testFraction: 0.2, method: 'stratified', seed: 1, labels });
  assertSplit(s, 1000);
  assert.deepEqual(
    classCounts(labels, s.test),
    new Map([
      [0, 100],
      [1, 60],
      [2, 40],
    ]),
  );
  assert.deepEqual(trainTestSplit(1000, { testFraction: 0.2, method: 'stratified', seed: 1, labels }), s);
  assert.notDeepEqual(
    trainTestSplit(1000, { testFraction: 0.2, method: 'stratified', seed: 2, labels }).test,
    s.test,
  );
});

test('stratified: leftover rows go to the largest remainders', () => {
  // Classes 7, 5, 3 (first seen in that order) of 15 rows; 6 test rows → exact shares 2.8, 2, 1.2.
  const labels = Int32Array.from([7, 5, 3, 7, 5, 3, 7, 5, 3, 7, 5, 7, 5, 7, 7]);
  const s = trainTestSplit(15, { testFraction: 0.4, method: 'stratified', seed: 3, labels });
  assertSplit(s, 15);
  assert.deepEqual(
    classCounts(labels, s.test),
    new Map([
      [7, 3],
      [5, 2],
      [3, 1],
    ]),
  );
  // Shares 1.5 and 1.5 of 3 rows tie: the class seen first gets the extra row.
  const tie = Int32Array.from([9, 4, 9, 4, 9, 4]);
  const t = trainTestSplit(6, { testFraction: 0.5, method: 'stratified', seed: 3, labels: tie });
  assert.deepEqual(
    classCounts(tie, t.test),
    new Map([
      [9, 2],
      [4, 1],
    ]),
  );
});

test('trainTestSplit refuses bad fractions and missing labels, naming --test-fraction and the value', () => {
  for (const f of [0, 1, -0.2, 1.5, Number.NaN]) {
    assert.throws(
      () => trainTestSplit(100, { testFraction: f, method: 'random', seed: 0 }),
      paramError(`--test-fraction must be a number between 0 and 1 (exclusive), got ${f}`),
    );
  }
  assert.throws(
    () => trainTestSplit(100, { testFraction: 0.004, method: 'tail', seed: 0 }),
    paramError('--test-fraction 0.004 leaves no test rows out of 100 (use at least 0.010)'),
  );
  assert.throws(
    () => trainTestSplit(10, { testFraction: 0.96, method: 'tail', seed: 0 }),
    paramError('--test-fraction 0.96 leaves no training rows out of 10 (use at most 0.90)'),
  );
  assert.throws(
    () => trainTestSplit(10, { testFraction: 0.2, method: 'stratified', seed: 0 }),
    paramError('--split stratified needs the class of every row (pass labels, or use --split random)'),
  );
  assert.throws(
    () => trainTestSplit(10, { testFraction: 0.2, method: 'stratified', seed: 0, labels: new Int32Array(9) }),
    paramError('--split stratified got 9 labels for 10 rows'),
  );
  assert.throws(
    () => trainTestSplit(10, { testFraction: 0.2, method: 'randm' as 'random', seed: 0 }),
    paramError("unknown --split 'randm' (expected random, stratified, tail) (did you mean 'random'?)"),
  );
});

test('kFold: sklearn fold sizes, contiguous without shuffle', () => {
  const folds = kFold(10, 3);
  assert.deepEqual(
    folds.map((f) => [...f.test]),
    [
      [0, 1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ],
  );
  for (const f of folds) assertSplit(f, 10);
  assert.deepEqual([...folds[1]!.train], [0, 1, 2, 3, 7, 8, 9]);
});

test('kFold with shuffle: sizes kept, test sets partition the rows, a function of the seed', () => {
  const folds = kFold(103, 5, { shuffle: true, seed: 8 });
  assert.deepEqual(
    folds.map((f) => f.test.length),
    [21, 21, 21, 20, 20],
  );
  const seen = new Uint8Array(103);
  for (const f of folds) {
    assertSplit(f, 103);
    for (const r of f.test) seen[r]!++;
  }
  assert.ok(seen.every((s) => s === 1));
  assert.deepEqual(kFold(103, 5, { shuffle: true, seed: 8 }), folds);
  assert.notDeepEqual(kFold(103, 5, { shuffle: true, seed: 9 })[0]!.test, folds[0]!.test);
  assert.notDeepEqual(folds[0]!.test, kFold(103, 5)[0]!.test);
});

test('kFold refuses k < 2, k > rows and a shuffle without seed', () => {
  assert.throws(() => kFold(10, 1), paramError('--cv must be an integer of at least 2, got 1'));
  assert.throws(() => kFold(10, 2.5), paramError('--cv must be an integer of at least 2, got 2.5'));
  assert.throws(() => kFold(4, 5), paramError('--cv 5 needs at least 5 rows, got 4 (lower --cv)'));
  assert.throws(() => kFold(10, 2, { shuffle: true }), paramError('shuffled folds need a --seed'));
});

// Expected folds from scikit-learn 1.2.1 (Debian's python3-sklearn), computed with:
//   import numpy as np
//   from sklearn.model_selection import StratifiedKFold
//   def folds(y, k):
//       out = np.empty(len(y), dtype=int)
//       for f, (_, test) in enumerate(StratifiedKFold(n_splits=k).split(np.zeros(len(y)), y)):
//           out[test] = f
//       return out.tolist()
//   y3 = np.random.RandomState(0).choice([4, 1, 9, 0], size=50, p=[0.4, 0.3, 0.2, 0.1]).tolist()
const Y1 = [2, 0, 2, 1, 1, 0, 2, 2, 0, 1, 2, 0, 1, 1, 2, 0, 2, 1, 0, 2, 2, 1, 0, 2, 1, 2, 0];
const Y2 = [7, 7, -1, 3, 7, 3, -1, 7, 7, 3, -1, 7, 3, 7, 7, -1, 3, 7, 7, 3, 7, -1];
const Y3 = [
  1, 9, 1, 1, 1, 1, 1, 9, 0, 4, 9, 1, 1, 0, 4, 4, 4, 9, 9, 9, 0, 9, 1, 9, 4, 1, 4, 0, 1, 1, 4, 9, 1, 1, 4, 1,
  1, 1, 0, 1, 4, 1, 1, 4, 1, 1, 4, 4, 4, 4,
];
const SKLEARN: [number[], number, number[]][] = [
  // folds(Y1, 3)
  [Y1, 3, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 1, 2, 2, 2, 2, 2, 2, 2]],
  // folds(Y1, 4)
  [Y1, 4, [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]],
  // folds(Y2, 4)
  [Y2, 4, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 1, 1, 2, 2, 3, 2, 2, 3, 3, 3, 3]],
  // folds(Y2, 5)
  [Y2, 5, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]],
  // folds(y3, 5)
  [
    Y3,
    5,
    [
      0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 2, 2, 3, 2, 3, 1, 4, 1, 1, 2, 3, 2, 2, 2, 4, 2, 2, 2,
      3, 3, 3, 4, 3, 3, 4, 4, 3, 4, 4, 3, 4, 4, 4,
    ],
  ],
];

test('stratifiedKFold without shuffle equals scikit-learn 1.2 StratifiedKFold', () => {
  for (const [y, k, expected] of SKLEARN) {
    const labels = Int32Array.from(y);
    assert.deepEqual([...stratifiedTestFolds(labels, k)], expected, `k=${k} on ${y.length} labels`);
    const folds = stratifiedKFold(labels, k);
    assert.equal(folds.length, k);
    for (let f = 0; f < k; f++) {
      assertSplit(folds[f]!, y.length);
      assert.deepEqual(
        [...folds[f]!.test],
        expected.flatMap((g, i) => (g === f ? [i] : [])),
      );
    }
  }
});

test('stratifiedKFold with shuffle keeps per-fold class counts and is a function of the seed', () => {
  const labels = Int32Array.from(Y3);
  const plain = stratifiedKFold(labels, 5);
  const a = stratifiedKFold(labels, 5, { shuffle: true, seed: 1 });
  for (let f = 0; f < 5; f++) {
    assertSplit(a[f]!, labels.length);
    assert.deepEqual(classCounts(labels, a[f]!.test), classCounts(labels, plain[f]!.test));
  }
  assert.deepEqual(stratifiedKFold(labels, 5, { shuffle: true, seed: 1 }), a);
  assert.notDeepEqual(stratifiedKFold(labels, 5, { shuffle: true, seed: 2 }), a);
  assert.notDeepEqual(a, plain);
});

test('stratifiedKFold refuses a class with fewer rows than k, naming the class and its count', () => {
  // Y2 has 5 rows of class -1.
  assert.throws(
    () => stratifiedKFold(Int32Array.from(Y2), 6),
    paramError(
      'class -1 has only 5 rows, fewer than --cv 6 (lower --cv to at most 5, or merge rare classes)',
    ),
  );
  assert.throws(
    () => stratifiedKFold(Int32Array.from([0, 0, 0, 1]), 2),
    paramError('class 1 has only 1 row, fewer than --cv 2 (merge or drop rare classes)'),
  );
  assert.throws(
    () => stratifiedKFold(Int32Array.from(Y1), 1),
    paramError('--cv must be an integer of at least 2, got 1'),
  );
});
