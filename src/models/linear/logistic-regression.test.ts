/**
 * logistic-regression's penalties and class weights against scikit-learn 1.2.1 (Debian's
 * /usr/bin/python3 with python3-sklearn, numpy 1.24.2, pandas 1.5.3), on the bundled data split as
 * test/fixtures/sklearn-small.json was: the first 80% of rows train, the last 20% test, features
 * standardized with the training rows' mean and population standard deviation. Each expected
 * array below was printed (10 significant digits) by
 *
 *   import numpy as np, pandas as pd
 *   from sklearn.linear_model import LogisticRegression
 *   def load(name):
 *       d = pd.read_csv(f'data/{name}.csv'); X = d.drop(columns='label').values; y = d['label'].values
 *       t = len(d) - round(0.2 * len(d)); mu, sd = X[:t].mean(0), X[:t].std(0); X = (X - mu) / sd
 *       return X[:t], y[:t], X[t:], y[t:]
 *   def show(name, **kw):
 *       Xtr, ytr, Xte, yte = load(name)
 *       m = LogisticRegression(tol=1e-10, max_iter=100000, random_state=0, **kw).fit(Xtr, ytr)
 *       print(m.coef_.ravel().tolist(), m.intercept_.tolist(), m.score(Xte, yte))
 *
 * with the `show(…)` call given beside each array. The solver is saga throughout: it leaves the
 * intercept unpenalised as we do (liblinear penalises it), it supports every penalty, and at
 * tol = 1e-10 it reaches the optimum (its pseudo-gradient, recomputed in numpy, is ≤ 1.1e-10).
 * scikit-learn's lbfgs is no reference at this precision: it stops at scipy's default factr
 * (1e7) after 33 iterations with gradients near 1e-6, 2.5e-3 (relative) away from the optimum on
 * breast_cancer with class_weight='balanced', whatever tol says. It minimises the same objective,
 * and its test accuracy there is the same as saga's.
 *
 * Agreement: every coefficient and intercept within max(1e-4·|theirs|, 1e-6), the coefficients
 * scikit-learn sets to exactly 0 exactly 0 here too and no others, and test accuracy within 0.005.
 * Measured with tol = 1e-10, the worst |ours − theirs| / max(1e-4·|theirs|, 1e-6) per fit was 0.015
 * (breast_cancer l1), 0.092 (breast_cancer elasticnet), 0.070 (breast_cancer balanced), 0.016
 * (wine l1) and 0.30 (wine elasticnet balanced); accuracies were equal.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DesignMatrix } from '../../data/design-matrix.ts';
import type { Frame } from '../../data/frame.ts';
import { makeBlobs } from '../../data/generate.ts';
import { Rng } from '../../data/random.ts';
import { readFrame } from '../../data/read.ts';
import { InlineEngine } from '../../engine/inline-engine.ts';
import { getKernel, type KernelArgs } from '../../engine/kernel-registry.ts';
import { ParamError, TargetError } from '../../errors.ts';
import { splitFrame } from '../../pipeline/split-frame.ts';
import { train } from '../../pipeline/train.ts';
import { TrainedModel } from '../../pipeline/trained-model.ts';
import type { Checkpointer } from '../estimator.ts';
import type { RawParams } from '../params.ts';
import { LOGISTIC_CLASS_COUNTS, LOGISTIC_LOSS_GRADIENT } from './logistic.kernels.ts';
import { FittedLogisticRegression, LogisticRegression } from './logistic-regression.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Split {
  readonly train: Frame;
  readonly test: Frame;
}
const splits = new Map<string, Split>();
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-logistic-'));
  for (const name of ['breast_cancer', 'wine']) {
    const frame = await readFrame(join(ROOT, 'data', `${name}.csv`));
    splits.set(name, splitFrame(frame, { testFraction: 0.2, method: 'tail' }));
  }
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function split(name: string): Split {
  const s = splits.get(name);
  assert.ok(s !== undefined, `no split for ${name}`);
  return s;
}

/** Fits logistic-regression on a dataset's training rows through the library's `train`. */
async function fitOn(
  name: string,
  params: RawParams,
  options: { partitions?: number; checkpoints?: Checkpointer } = {},
) {
  const model = await train(split(name).train, {
    target: 'label',
    model: 'logistic-regression',
    params,
    ...options,
  });
  assert.ok(model.fitted instanceof FittedLogisticRegression);
  return { model, fitted: model.fitted };
}

/** The tight settings every comparison with scikit-learn uses, as its tol = 1e-10, max_iter = 1e5. */
const TIGHT = { tol: 1e-10, maxIter: 100000 };

interface Reference {
  readonly dataset: 'breast_cancer' | 'wine';
  readonly params: RawParams;
  /** scikit-learn's coef_, row-major (one row for binary, k rows for multinomial). */
  readonly coef: readonly number[];
  readonly intercept: readonly number[];
  readonly accuracy: number;
}

// show('breast_cancer', penalty='l1', solver='saga', C=0.1)  → 2664 epochs, 24 of 30 coefficients 0
const BREAST_CANCER_L1: Reference = {
  dataset: 'breast_cancer',
  params: { penalty: 'l1', C: 0.1 },
  coef: [
    0, 0, 0, 0, 0, 0, 0, -0.5359254347, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -2.080766985, -0.7008650492, 0, 0,
    -0.2374322891, 0, 0, -1.094418492, -0.0734437006, 0,
  ],
  intercept: [0.8116033731],
  accuracy: 0.9824561403508771,
};

// show('breast_cancer', penalty='elasticnet', solver='saga', l1_ratio=0.5, C=1)  → 6700 epochs, 4 zeros
const BREAST_CANCER_ELASTICNET: Reference = {
  dataset: 'breast_cancer',
  params: { penalty: 'elasticnet', l1Ratio: 0.5, C: 1 },
  coef: [
    -0.08749500453, -0.1556288774, -0.07651914194, -0.2333101199, 0, 0.3140122282, -0.6773122455,
    -1.079975093, 0, 0.3740058094, -1.11734772, 0.2702320539, -0.118377362, -0.8640919688, -0.2745656816,
    0.6652221779, 0, -0.03275608076, 0.1453944807, 0.2703351678, -1.167783751, -1.428526524, -0.9409493015,
    -1.124946191, -0.6363659023, 0, -0.4315430219, -1.226059963, -0.6426367811, -0.2466752794,
  ],
  intercept: [0.4283790702],
  accuracy: 0.9824561403508771,
};

// show('breast_cancer', class_weight='balanced', solver='saga', C=1)  → 3575 epochs
// (the lbfgs fit of the same objective, show(…, solver='lbfgs'), stops early; see the top.)
const BREAST_CANCER_BALANCED: Reference = {
  dataset: 'breast_cancer',
  params: { classWeight: 'balanced', C: 1 },
  coef: [
    -0.2912354474, -0.317315552, -0.2898888229, -0.3811338677, -0.07910690955, 0.6616583564, -0.7681457191,
    -1.020860173, -0.01936604369, 0.372040423, -1.166840256, 0.2761399938, -0.4609218853, -0.9358555255,
    -0.2612022111, 0.7357301584, 0.126654624, -0.3633962246, 0.3423547765, 0.5530177403, -0.9410156012,
    -1.328235633, -0.755677622, -0.9234317847, -0.6082884175, -0.04419613084, -0.5562954514, -0.9736683349,
    -0.7142582189, -0.6409512483,
  ],
  intercept: [-0.02508468982],
  accuracy: 0.9824561403508771,
};

// show('wine', penalty='l1', solver='saga', C=1)  → multinomial, 1899 epochs, 25 of 39 coefficients 0
const WINE_L1: Reference = {
  dataset: 'wine',
  params: { penalty: 'l1', C: 1 },
  coef: [
    0.6429544774, 0, 0, -0.9295106666, 0, 0, 0, 0, 0, 0, 0, 0.785486087, 0.7063581911, -1.178579961,
    -0.3510399136, -1.061484298, 0, 0, 0, 0, 0.3010349883, 0, -1.242050988, 0.450247139, 0, -1.409596712, 0,
    0, 0, 0, 0, 0, -2.565439122, 0, 0, 0, -0.5102731171, -0.6922793931, 0,
  ],
  intercept: [0.6444208329, 0.5855560441, -1.229976877],
  accuracy: 1,
};

// show('wine', penalty='elasticnet', solver='saga', l1_ratio=0.5, C=1, class_weight='balanced')
//   → multinomial, 740 epochs, 14 zeros
const WINE_ELASTICNET_BALANCED: Reference = {
  dataset: 'wine',
  params: { penalty: 'elasticnet', l1Ratio: 0.5, C: 1, classWeight: 'balanced' },
  coef: [
    0.8285768586, 0, 0.05613432873, -0.8382138839, 0, 0, 0.3833934203, 0, 0, 0, 0, 0.7042132762, 0.9565658753,
    -1.028679638, -0.420458205, -1.059456991, 0.1449155377, -0.03354272835, 0, 0.1811227955, 0.2964842039, 0,
    -0.9731089039, 0.5439621731, 0, -1.125261095, 0, 0.02270483531, 0.003322681211, 0, 0.05183282947,
    -0.1258314361, -1.564516197, 0, -0.09321247856, 0.4867430616, -0.6234891862, -0.9015754948, 0,
  ],
  intercept: [0.4650967225, 0.4762728163, -0.9413695388],
  accuracy: 1,
};

/** Asserts the agreement stated at the top of this file. */
function assertMatches(fitted: FittedLogisticRegression, ref: Reference): void {
  assert.equal(fitted.coef.length, ref.coef.length);
  assert.equal(fitted.intercept.length, ref.intercept.length);
  for (let j = 0; j < ref.coef.length; j++) {
    const ours = fitted.coef[j]!;
    const theirs = ref.coef[j]!;
    if (theirs === 0) assert.equal(ours, 0, `coef[${j}] is 0 in scikit-learn, ${ours} here`);
    else {
      assert.notEqual(ours, 0, `coef[${j}] is ${theirs} in scikit-learn, 0 here`);
      assert.ok(
        Math.abs(ours - theirs) <= Math.max(1e-4 * Math.abs(theirs), 1e-6),
        `coef[${j}]: ${ours} vs ${theirs}`,
      );
    }
  }
  for (let c = 0; c < ref.intercept.length; c++) {
    const ours = fitted.intercept[c]!;
    const theirs = ref.intercept[c]!;
    assert.ok(
      Math.abs(ours - theirs) <= Math.max(1e-4 * Math.abs(theirs), 1e-6),
      `intercept[${c}]: ${ours} vs ${theirs}`,
    );
  }
}

describe('logistic-regression matches scikit-learn 1.2.1 (saga, tol = 1e-10)', () => {
  for (const [label, ref] of [
    ['breast_cancer, penalty=l1, C=0.1', BREAST_CANCER_L1],
    ['breast_cancer, penalty=elasticnet, l1Ratio=0.5, C=1', BREAST_CANCER_ELASTICNET],
    ['breast_cancer, classWeight=balanced (L2), C=1', BREAST_CANCER_BALANCED],
    ['wine (3 classes), penalty=l1, C=1', WINE_L1],
    ['wine (3 classes), penalty=elasticnet, classWeight=balanced, C=1', WINE_ELASTICNET_BALANCED],
  ] as const) {
    test(`${label}: coefficients, zeros and test accuracy`, async () => {
      const { model, fitted } = await fitOn(ref.dataset, { ...ref.params, ...TIGHT });
      assert.equal(fitted.info.converged, true, fitted.info.reason);
      assertMatches(fitted, ref);
      const scores = model.evaluate(split(ref.dataset).test);
      assert.ok('accuracy' in scores);
      const accuracy = scores.accuracy;
      assert.ok(Math.abs(accuracy - ref.accuracy) <= 0.005, `accuracy ${accuracy} vs ${ref.accuracy}`);
    });
  }
});

describe('the logistic.lossGradient kernel with class weights', () => {
  function randomPart(n: number, d: number, k: number, seed: number): DesignMatrix {
    const rng = new Rng(seed);
    const X = Float64Array.from({ length: n * d }, () => rng.normal());
    const y = Float64Array.from({ length: n }, () => rng.int(k));
    return { rows: n, cols: d, X, y };
  }

  function run(name: string, part: DesignMatrix, args: KernelArgs): Float64Array {
    const kernel = getKernel(name);
    const out = new Float64Array(kernel.resultLength(args, part.cols));
    kernel.run(part, args, out);
    return out;
  }

  /** `part` with each row of class c repeated weights[c] times. */
  function repeatRows(part: DesignMatrix, weights: readonly number[]): DesignMatrix {
    const X: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < part.rows; i++) {
      const yi = part.y[i]!;
      for (let t = 0; t < weights[yi]!; t++) {
        X.push(...part.X.subarray(i * part.cols, (i + 1) * part.cols));
        y.push(yi);
      }
    }
    return { rows: y.length, cols: part.cols, X: Float64Array.from(X), y: Float64Array.from(y) };
  }

  for (const [k, r] of [
    [2, 1],
    [3, 3],
  ] as const) {
    test(`${k} classes: integer weights equal repeating each row that many times`, () => {
      const d = 4;
      const part = randomPart(50, d, k, 7);
      const rng = new Rng(3);
      const coef = Float64Array.from({ length: r * (d + 1) }, () => 0.5 * rng.normal());
      const weights = k === 2 ? [2, 3] : [2, 1, 3];
      const weighted = run(LOGISTIC_LOSS_GRADIENT, part, {
        coef,
        rowsOfCoef: r,
        classWeight: Float64Array.from(weights),
      });
      const repeated = run(LOGISTIC_LOSS_GRADIENT, repeatRows(part, weights), { coef, rowsOfCoef: r });
      for (let j = 0; j < weighted.length; j++) {
        assert.ok(
          Math.abs(weighted[j]! - repeated[j]!) <= 1e-12 * (1 + Math.abs(repeated[j]!)),
          `entry ${j}: ${weighted[j]} vs ${repeated[j]}`,
        );
      }
      // Weights of 1 are no weights, bit for bit.
      const ones = run(LOGISTIC_LOSS_GRADIENT, part, {
        coef,
        rowsOfCoef: r,
        classWeight: new Float64Array(k).fill(1),
      });
      assert.deepStrictEqual(ones, run(LOGISTIC_LOSS_GRADIENT, part, { coef, rowsOfCoef: r }));
    });
  }

  test('logistic.classCounts counts the rows of each class', () => {
    const part = randomPart(200, 2, 4, 1);
    const expected = new Float64Array(4);
    for (const c of part.y) expected[c]! += 1;
    assert.deepStrictEqual(run(LOGISTIC_CLASS_COUNTS, part, { classes: 4 }), expected);
  });
});

test('a C small enough to zero every coefficient leaves the log-odds of the (weighted) classes', async () => {
  // With W = 0 the loss is minimised by b = log(n₁ / n₀); balanced weights make both classes
  // weigh n/2, so b = 0. λ = 1/(C·n) = 22 is far above any |∂f/∂w| at W = 0.
  const labels = split('breast_cancer').train.column('label');
  assert.ok(labels.kind === 'number');
  const n1 = labels.values.filter((v) => v === 1).length;
  const n0 = labels.values.length - n1;
  const plain = await fitOn('breast_cancer', { penalty: 'l1', C: 1e-4, ...TIGHT });
  assert.ok(plain.fitted.coef.every((w) => w === 0));
  assert.ok(Math.abs(plain.fitted.intercept[0]! - Math.log(n1 / n0)) <= 1e-8, `${plain.fitted.intercept[0]}`);
  const balanced = await fitOn('breast_cancer', {
    penalty: 'l1',
    C: 1e-4,
    classWeight: 'balanced',
    ...TIGHT,
  });
  assert.ok(balanced.fitted.coef.every((w) => w === 0));
  assert.ok(Math.abs(balanced.fitted.intercept[0]!) <= 1e-8, `${balanced.fitted.intercept[0]}`);
});

test('balanced weights on classes of equal size are all 1: the same model bit for bit', async () => {
  const { frame } = makeBlobs({ rows: 600, features: 3, centers: 3, clusterStd: 4, seed: 2 });
  const plain = await train(frame, { target: 'cluster', model: 'logistic-regression' });
  const balanced = await train(frame, {
    target: 'cluster',
    model: 'logistic-regression',
    params: { classWeight: 'balanced' },
  });
  assert.deepStrictEqual(balanced.fitted.tensors(), plain.fitted.tensors());
});

test('elasticnet with l1Ratio = 1 is l1, with l1Ratio = 0 it is l2, bit for bit', async () => {
  const coef = async (params: RawParams) => (await fitOn('breast_cancer', params)).fitted.coef;
  assert.deepStrictEqual(
    await coef({ penalty: 'elasticnet', l1Ratio: 1, C: 0.5 }),
    await coef({ penalty: 'l1', C: 0.5 }),
  );
  assert.deepStrictEqual(await coef({ penalty: 'elasticnet', l1Ratio: 0, C: 0.5 }), await coef({ C: 0.5 }));
});

test('an L1 fit on 1 and 3 partitions has the same zeros and agrees to summation-order rounding', async () => {
  const one = await fitOn('breast_cancer', { penalty: 'l1', C: 0.1, ...TIGHT }, { partitions: 1 });
  const three = await fitOn('breast_cancer', { penalty: 'l1', C: 0.1, ...TIGHT }, { partitions: 3 });
  for (let j = 0; j < one.fitted.coef.length; j++) {
    const a = one.fitted.coef[j]!;
    const b = three.fitted.coef[j]!;
    assert.equal(a === 0, b === 0, `coef[${j}]: ${a} vs ${b}`);
    assert.ok(Math.abs(a - b) <= 1e-6 * (1 + Math.abs(a)), `coef[${j}]: ${a} vs ${b}`);
  }
});

test('an L1 fit resumed from a checkpoint reaches the same optimum and says where it resumed', async () => {
  const saved = new Map<number, Float64Array>();
  const writer: Checkpointer = {
    every: 5,
    restore: async () => undefined,
    save: async (step, tensors) => {
      saved.set(step, tensors.theta!.slice());
    },
  };
  const params = { penalty: 'l1', C: 0.1, ...TIGHT };
  const whole = await fitOn('breast_cancer', params, { checkpoints: writer });
  assert.ok(saved.has(10), `checkpoints at ${[...saved.keys()]}`);
  const reader: Checkpointer = {
    every: 5,
    restore: async () => ({ step: 10, tensors: { theta: saved.get(10)! } }),
    save: async () => {},
  };
  const resumed = await fitOn('breast_cancer', params, { checkpoints: reader });
  assert.equal(resumed.fitted.info.resumedFrom, 10);
  assert.equal(resumed.fitted.info.converged, true);
  assertMatches(resumed.fitted, {
    ...BREAST_CANCER_L1,
    coef: [...whole.fitted.coef],
    intercept: [...whole.fitted.intercept],
  });
});

test('save → load keeps the penalty and class weights and predicts bit for bit', async () => {
  const { model } = await fitOn('wine', { penalty: 'elasticnet', l1Ratio: 0.3, classWeight: 'balanced' });
  const path = join(dir, 'wine.distml');
  await model.save(path);
  const loaded = await TrainedModel.load(path);
  assert.deepStrictEqual(loaded.params, model.params);
  assert.equal(loaded.params.penalty, 'elasticnet');
  assert.equal(loaded.params.classWeight, 'balanced');
  assert.deepStrictEqual(loaded.predict(split('wine').test), model.predict(split('wine').test));
});

test('bad penalties, ratios and class weights are refused by name and value', () => {
  assert.throws(
    () => new LogisticRegression({ penalty: 'l3' }),
    (e: unknown) =>
      e instanceof ParamError &&
      /logistic-regression parameter penalty must be one of l2, l1, elasticnet, none, got 'l3'/.test(
        e.message,
      ),
  );
  assert.throws(
    () => new LogisticRegression({ l1Ratio: 1.5 }),
    /logistic-regression parameter l1Ratio must be ≤ 1, got 1.5/,
  );
  assert.throws(
    () => new LogisticRegression({ classWeight: 'balance' }),
    /classWeight must be one of none, balanced/,
  );
});

test('balanced class weights refuse a class without training rows, naming it', async () => {
  const engine = new InlineEngine();
  const matrix = await engine.distribute({
    rows: 4,
    cols: 1,
    X: Float64Array.from([0, 1, 2, 3]),
    y: Float64Array.from([0, 2, 0, 2]),
  });
  await assert.rejects(
    new LogisticRegression({ classWeight: 'balanced' }).fit({ matrix, classes: 3 }, { engine, seed: 1 }),
    (e: unknown) => e instanceof TargetError && /class 1 of 3 has no training rows/.test(e.message),
  );
  await engine.close();
});
