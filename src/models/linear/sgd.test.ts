/**
 * sgd-classifier and sgd-regressor, trained through the library's `train` on the parameter server.
 *
 * Against scikit-learn 1.2.1 (Debian's /usr/bin/python3 with python3-sklearn), two ways. Both split
 * as the other reference tests (the last 20% of rows test) with the features standardized on the
 * training rows: distml's default `standardize=true`, and StandardScaler on scikit-learn's side.
 * Targets are never scaled, on either side, so Huber's epsilon is in units of the target.
 *
 * 1. Exactly: with `shuffle=false` one worker runs scikit-learn's `shuffle=False` sequence of
 *    updates, so coefficients (and predict_proba) must agree to rounding. The expected values are in
 *    test/fixtures/sgd-sklearn.json, written by test/fixtures/sgd_sklearn.py (its docstring has the
 *    command).
 * 2. In distribution: with shuffling, the row orders differ (our seeded shuffle is not numpy's), so
 *    the comparison is of mean test scores over seeds, with five epochs on both sides
 *    (`max_iter=5, tol=None`). scikit-learn's means over 200 seeds came from:
 *
 *   import numpy as np, pandas as pd
 *   from sklearn.linear_model import SGDClassifier, SGDRegressor
 *   from sklearn.preprocessing import StandardScaler
 *   from sklearn.metrics import r2_score
 *   def split(name, target):
 *       df = pd.read_csv(f'data/{name}.csv'); y = df.pop(target).to_numpy(); X = df.to_numpy(float)
 *       n = len(y) - round(0.2 * len(y)); sc = StandardScaler().fit(X[:n])
 *       return sc.transform(X[:n]), y[:n], sc.transform(X[n:]), y[n:]
 *   for name in ['breast_cancer', 'iris']:
 *       Xa, ya, Xb, yb = split(name, 'label')
 *       for loss in ['hinge', 'log_loss', 'modified_huber', 'squared_hinge', 'perceptron']:
 *           acc = [SGDClassifier(loss=loss, max_iter=5, tol=None, random_state=s).fit(Xa, ya).score(Xb, yb)
 *                  for s in range(200)]
 *           print(name, loss, round(np.mean(acc), 4))
 *   Xa, ya, Xb, yb = split('diabetes', 'target')
 *   for loss, kw in [('squared_error', {'max_iter': 5}), ('huber', {'epsilon': 30, 'max_iter': 50})]:
 *       r2 = [r2_score(yb, SGDRegressor(loss=loss, tol=None, random_state=s, **kw).fit(Xa, ya).predict(Xb))
 *             for s in range(200)]
 *       print('diabetes', loss, round(np.mean(r2), 4))
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Frame } from '../../data/frame.ts';
import { makeClassification, makeRegression } from '../../data/generate.ts';
import { readFrame } from '../../data/read.ts';
import type { Engine } from '../../engine/engine.ts';
import { InlineEngine } from '../../engine/inline-engine.ts';
import { DataFormatError, ParamError, UsageError } from '../../errors.ts';
import type { ClassificationScores } from '../../metrics/classification.ts';
import type { RegressionScores } from '../../metrics/regression.ts';
import { createEngine } from '../../pipeline/engines.ts';
import { splitFrame } from '../../pipeline/split-frame.ts';
import { train } from '../../pipeline/train.ts';
import { TrainedModel } from '../../pipeline/trained-model.ts';
import { applyPlan } from '../../preprocess/preprocessor.ts';
import { FittedSgdClassifier, SgdClassifier } from './sgd-classifier.ts';
import { FittedSgdRegressor, SgdRegressor } from './sgd-regressor.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Split {
  readonly train: Frame;
  readonly test: Frame;
}
const splits = new Map<string, Split>();
let threads: Engine;

before(async () => {
  for (const name of ['breast_cancer', 'iris', 'diabetes']) {
    const frame = await readFrame(join(ROOT, 'data', `${name}.csv`));
    splits.set(name, splitFrame(frame, { testFraction: 0.2, method: 'tail' }));
  }
  threads = createEngine({ workers: 2 });
});
after(async () => {
  await threads.close();
});

function split(name: string): Split {
  const s = splits.get(name);
  assert.ok(s !== undefined, `no split for ${name}`);
  return s;
}

function accuracyOf(model: TrainedModel, test: Frame): number {
  return (model.evaluate(test) as ClassificationScores).accuracy;
}

function r2Of(model: TrainedModel, test: Frame): number {
  return (model.evaluate(test) as RegressionScores).r2;
}

/** The staleness a fit reports in `info.reason`. */
function stalenessOf(model: TrainedModel): { max: number; mean: number } {
  const m = /staleness measured max (\d+), mean ([\d.]+)/.exec(model.meta.fit.reason ?? '');
  assert.ok(m !== null, `no staleness in '${model.meta.fit.reason}'`);
  return { max: Number(m[1]), mean: Number(m[2]) };
}

interface ReferenceFit {
  readonly dataset: string;
  readonly target: string;
  readonly model: 'sgd-classifier' | 'sgd-regressor';
  readonly params: Readonly<Record<string, string | number | boolean>>;
  readonly coef: readonly number[];
  readonly intercept: readonly number[];
  readonly accuracy?: number;
  readonly r2?: number;
  /** predict_proba of every test row (log and modified-huber loss). */
  readonly proba?: readonly number[];
}

describe("with shuffle=false, scikit-learn's coefficients to rounding", () => {
  const fits = JSON.parse(
    readFileSync(join(ROOT, 'test/fixtures/sgd-sklearn.json'), 'utf8'),
  ) as readonly ReferenceFit[];
  for (const ref of fits) {
    // Measured: at most 1e-13 relative (to the largest |coefficient|) but for two cases. On iris
    // with log loss (2.2e-4) and squared hinge (2.6e-9), the 'optimal' schedule's first steps of
    // 10 make the path chaotic, and the rounding of scikit-learn's scaled-weight representation
    // (w = wscale·v) grows along it; the test scores are still identical.
    const tolerance = ref.dataset === 'iris' && ref.params.loss === 'log' ? 1e-3 : 1e-7;
    test(`${ref.dataset}, ${JSON.stringify(ref.params)}: coefficients within ${tolerance} relative`, async () => {
      const { train: rows, test: held } = split(ref.dataset);
      const model = await train(rows, {
        target: ref.target,
        model: ref.model,
        params: { ...ref.params, shuffle: false },
      });
      const { coef, intercept } = model.fitted.tensors();
      const ours = [...coef!.data, ...intercept!.data];
      const expected = [...ref.coef, ...ref.intercept];
      assert.equal(ours.length, expected.length);
      const scale = Math.max(...expected.map(Math.abs));
      for (let j = 0; j < expected.length; j++) {
        const gap = Math.abs(ours[j]! - expected[j]!) / scale;
        assert.ok(gap <= tolerance, `value ${j}: ${ours[j]} vs ${expected[j]} (${gap.toExponential(2)})`);
      }
      if (ref.accuracy !== undefined) assert.equal(accuracyOf(model, held), ref.accuracy);
      else assert.ok(Math.abs(r2Of(model, held) - ref.r2!) < 1e-9);
      if (ref.proba !== undefined) {
        // scikit-learn's predict_proba: same formulas, so the same numbers to rounding.
        const p = model.predict(held.drop([ref.target])).proba;
        assert.ok(p !== undefined);
        assert.equal(p.length, ref.proba.length);
        for (let i = 0; i < p.length; i++) {
          assert.ok(
            Math.abs(p[i]! - ref.proba[i]!) <= 10 * tolerance,
            `proba ${i}: ${p[i]} vs ${ref.proba[i]}`,
          );
        }
      } else if (ref.model === 'sgd-classifier') {
        assert.equal(model.fitted.predictProba, undefined, 'no probabilities for this loss');
      }
    });
  }
});

describe('with shuffling, mean test scores over 100 seeds against scikit-learn over 200', () => {
  // [dataset, loss, scikit-learn's mean, tolerance]. Ours over 200 seeds, measured: breast_cancer
  // 0.9658, 0.9669, 0.9666, 0.9643, 0.9649; iris 0.8332, 0.8173, 0.8202, 0.7332, 0.8272. One seed
  // alone is far noisier (standard deviations 0.016-0.020 on breast_cancer, 0.08-0.11 on iris, on
  // both sides), so each tolerance is about 2.5 standard errors of the difference of the two means:
  // the exact comparison above is the sharp one; this one checks the shuffles. scikit-learn's own
  // one-vs-rest with one shared row order (as ours) scores 0.8213, 0.8245, 0.8318, 0.7523 and
  // 0.8210 on iris: ±1.2 points from ours either way, the seed noise at this many seeds.
  const classifiers: Array<[string, string, number, number]> = [
    ['breast_cancer', 'hinge', 0.9662, 0.01],
    ['breast_cancer', 'log', 0.9661, 0.01],
    ['breast_cancer', 'modified-huber', 0.9686, 0.01],
    ['breast_cancer', 'squared-hinge', 0.9665, 0.01],
    ['breast_cancer', 'perceptron', 0.9657, 0.01],
    ['iris', 'hinge', 0.8437, 0.03],
    ['iris', 'log', 0.8312, 0.03],
    ['iris', 'modified-huber', 0.8313, 0.03],
    ['iris', 'squared-hinge', 0.746, 0.04],
    ['iris', 'perceptron', 0.8267, 0.03],
  ];
  for (const [dataset, loss, sklearn, tolerance] of classifiers) {
    test(`${dataset}, loss ${loss}: mean accuracy within ${tolerance * 100} points of scikit-learn's ${sklearn}`, async () => {
      const { train: rows, test: held } = split(dataset);
      let sum = 0;
      for (let seed = 0; seed < 100; seed++) {
        const model = await train(rows, { target: 'label', model: 'sgd-classifier', params: { loss }, seed });
        sum += accuracyOf(model, held);
      }
      const mean = sum / 100;
      assert.ok(Math.abs(mean - sklearn) <= tolerance, `mean accuracy ${mean.toFixed(4)} vs ${sklearn}`);
    });
  }
  // Huber with epsilon 30 (~0.4 of the target's standard deviation) and 50 epochs: with the default
  // epsilon of 0.1, five epochs of its bounded gradient leave both libraries near zero (R² −4.04),
  // which says nothing; the exact comparison above still pins that case. Ours over 200 seeds,
  // measured: 0.4710 and 0.4672.
  const regressors: Array<[string, Record<string, string | number>, number]> = [
    ['squared', { loss: 'squared' }, 0.4715],
    ['huber, epsilon 30, 50 epochs', { loss: 'huber', epsilon: 30, epochs: 50 }, 0.4673],
  ];
  for (const [what, params, sklearn] of regressors) {
    test(`diabetes, ${what}: mean R² within 0.005 of scikit-learn's ${sklearn}`, async () => {
      const { train: rows, test: held } = split('diabetes');
      let sum = 0;
      for (let seed = 0; seed < 100; seed++) {
        const model = await train(rows, { target: 'target', model: 'sgd-regressor', params, seed });
        sum += r2Of(model, held);
      }
      const mean = sum / 100;
      assert.ok(Math.abs(mean - sklearn) <= 0.005, `mean R² ${mean.toFixed(4)} vs ${sklearn}`);
    });
  }
});

test('every loss and optimizer converges on a small generated problem', async () => {
  // A small constant step suits all three optimizers ('optimal' is plain SGD's alone).
  const params = { learningRate: 'constant', eta0: 0.003, epochs: 10 };
  const blobs = makeClassification({ rows: 2000, features: 6, classes: 3, classSeparation: 2, seed: 5 });
  const c = splitFrame(blobs.frame, { testFraction: 0.25, method: 'tail' });
  const best = accuracyOf(await train(c.train, { target: 'label', model: 'logistic-regression' }), c.test);
  for (const loss of ['hinge', 'log', 'modified-huber', 'squared-hinge']) {
    // Each of the 3 one-vs-rest rows starts at z = 0: loss 1 per row, log(2) for log loss.
    const atZero = 3 * (loss === 'log' ? Math.LN2 : 1);
    for (const optimizer of ['sgd', 'momentum', 'adam']) {
      const model = await train(c.train, {
        target: 'label',
        model: 'sgd-classifier',
        params: { ...params, loss, optimizer },
      });
      const accuracy = accuracyOf(model, c.test);
      const what = `${loss}/${optimizer}: accuracy ${accuracy} (logistic regression ${best}), loss ${model.meta.fit.finalLoss}`;
      // Measured within 1.4 points of logistic regression's 0.946, and the loss below 0.3 of its start.
      assert.ok(accuracy >= best - 0.02, what);
      assert.ok(model.meta.fit.finalLoss! < 0.3 * atZero, what);
    }
  }
  const reg = makeRegression({ rows: 2000, features: 6, noise: 0.1, bias: 0.5, seed: 5 });
  const r = splitFrame(reg.frame, { testFraction: 0.25, method: 'tail' });
  const exact = r2Of(await train(r.train, { target: 'target', model: 'linear-regression' }), r.test);
  for (const loss of ['squared', 'huber']) {
    for (const optimizer of ['sgd', 'momentum', 'adam']) {
      const model = await train(r.train, {
        target: 'target',
        model: 'sgd-regressor',
        params: { ...params, loss, optimizer },
      });
      // Measured R² 0.9990–0.9991 against least squares' 0.9991.
      const r2 = r2Of(model, r.test);
      assert.ok(r2 >= exact - 0.002, `${loss}/${optimizer}: R² ${r2}, least squares ${exact}`);
    }
  }
});

test('mini-batch steps converge with every optimizer, and batches of one row are row steps', async () => {
  const blobs = makeClassification({ rows: 2000, features: 6, classes: 3, classSeparation: 2, seed: 5 });
  const c = splitFrame(blobs.frame, { testFraction: 0.25, method: 'tail' });
  const best = accuracyOf(await train(c.train, { target: 'label', model: 'logistic-regression' }), c.test);
  const reg = makeRegression({ rows: 2000, features: 6, noise: 0.1, bias: 0.5, seed: 5 });
  const r = splitFrame(reg.frame, { testFraction: 0.25, method: 'tail' });
  const exact = r2Of(await train(r.train, { target: 'target', model: 'linear-regression' }), r.test);
  // A step along a 32-row mean gradient: plain SGD takes a larger η than per-row steps do.
  for (const [optimizer, eta0] of [
    ['sgd', 0.1],
    ['momentum', 0.01],
    ['adam', 0.01],
  ] as const) {
    const params = { optimizer, eta0, learningRate: 'constant', miniBatch: true, epochs: 10 };
    for (const loss of ['hinge', 'log']) {
      const model = await train(c.train, {
        target: 'label',
        model: 'sgd-classifier',
        params: { ...params, loss },
      });
      // Measured 0.940–0.946 against logistic regression's 0.946.
      const accuracy = accuracyOf(model, c.test);
      assert.ok(accuracy >= best - 0.02, `${loss}/${optimizer}: ${accuracy} (logistic regression ${best})`);
    }
    // Measured 0.99910–0.99911 against least squares' 0.99911.
    const r2 = r2Of(await train(r.train, { target: 'target', model: 'sgd-regressor', params }), r.test);
    assert.ok(r2 >= exact - 0.002, `${optimizer}: R² ${r2}, least squares ${exact}`);
  }
  // One row per batch is the row step written another way: (1 − ηα)·w − η·ℓ′·x against
  // w − η·(ℓ′·x + α·w), equal up to rounding (at a constant step: the 'optimal' schedule's first
  // steps of 10 grow the rounding differences to ~5e-6).
  const fit = (miniBatch: boolean) =>
    train(c.train, {
      target: 'label',
      model: 'sgd-classifier',
      params: { loss: 'log', learningRate: 'constant', batchSize: 1, miniBatch },
    });
  const [rowSteps, batches] = [(await fit(false)).fitted.tensors(), (await fit(true)).fitted.tensors()];
  const [a, b] = [rowSteps.coef!.data, batches.coef!.data];
  for (let j = 0; j < a.length; j++)
    assert.ok(Math.abs(a[j]! - b[j]!) <= 1e-9 * Math.abs(a[j]!), `coef ${j}: ${a[j]} vs ${b[j]}`);
});

test('BSP on two worker threads is deterministic', async () => {
  // 16,000 × 10 training elements: above the engine's small-data threshold, so the loop runs on
  // both threads; three classes, so all three one-vs-rest rows go through the parameter server.
  const { frame } = makeClassification({ rows: 20_000, features: 10, classes: 3, seed: 3 });
  const { train: rows } = splitFrame(frame, { testFraction: 0.2, method: 'tail' });
  const fit = () => train(rows, { target: 'label', model: 'sgd-classifier', engine: threads, seed: 7 });
  const a = await fit();
  const b = await fit();
  assert.match(a.meta.fit.reason!, /on each of 2 worker\(s\) under BSP/);
  assert.equal(stalenessOf(a).max, 0);
  assert.deepStrictEqual(b.fitted.tensors(), a.fitted.tensors());
});

test('on small data, two workers run the loop on one and match the serial engine bit for bit', async () => {
  const { train: rows } = split('iris');
  const serial = await train(rows, { target: 'label', model: 'sgd-classifier', partitions: 2 });
  const local = await train(rows, { target: 'label', model: 'sgd-classifier', engine: threads });
  assert.match(local.meta.fit.reason!, /5 epoch\(s\) as 19 steps of 32 rows on each of 1 worker\(s\)/);
  assert.deepStrictEqual(local.fitted.tensors(), serial.fitted.tensors());
});

test('ASP and SSP(2) reach BSP accuracy within 1 point on 100,000 rows and 2 workers', async () => {
  // Log loss: its test accuracy varies least from run to run, so the comparison is of the modes,
  // not of the last iterate's noise. Measured over four runs each: BSP 0.8366, ASP 0.8344–0.8350,
  // SSP 0.8353–0.8360, each fit well under a second.
  const { frame } = makeClassification({ rows: 100_000, features: 10, seed: 11 });
  const { train: rows, test: held } = splitFrame(frame, { testFraction: 0.2, method: 'tail' });
  const fit = (consistency: string) =>
    train(rows, {
      target: 'label',
      model: 'sgd-classifier',
      engine: threads,
      params: { loss: 'log', consistency, staleness: 2 },
    });
  const bsp = await fit('bsp');
  const reference = accuracyOf(bsp, held);
  for (const consistency of ['asp', 'ssp']) {
    const model = await fit(consistency);
    const accuracy = accuracyOf(model, held);
    assert.ok(Math.abs(accuracy - reference) <= 0.01, `${consistency}: ${accuracy}, BSP ${reference}`);
    if (consistency === 'ssp') assert.ok(stalenessOf(model).max <= 2, model.meta.fit.reason);
  }
});

describe('partialFit', () => {
  const { frame } = makeRegression({ rows: 3000, features: 8, noise: 0.5, seed: 9 });
  const { train: rows, test: held } = splitFrame(frame, { testFraction: 0.2, method: 'tail' });

  test('without shuffling, an epoch on a chunk and partialFit on the next equal one epoch over both', async () => {
    // Unstandardized, so that both chunks are encoded as the whole is: the update sequence is then
    // the same row for row (t continues at 1,201 on the second chunk), and so are the bits.
    const params = { epochs: 1, shuffle: false, standardize: false };
    const whole = await train(rows, { target: 'target', model: 'sgd-regressor', params });
    const first = await train(rows.slice(0, 1200), { target: 'target', model: 'sgd-regressor', params });
    const second = await first.partialFit(rows.slice(1200));
    const [a, b] = [second.fitted.tensors(), whole.fitted.tensors()];
    assert.deepStrictEqual([a.coef, a.intercept], [b.coef, b.intercept]);
    // Only the epoch count differs: two epochs started (one per chunk) against one.
    assert.deepStrictEqual([...a.progress!.data], [2400, 2]);
  });

  test('with shuffling, one epoch on each of two chunks approaches one epoch over both', async () => {
    const params = { epochs: 1 };
    const whole = await train(rows, { target: 'target', model: 'sgd-regressor', params });
    const first = await train(rows.slice(0, 1200), { target: 'target', model: 'sgd-regressor', params });
    const fitted = first.fitted;
    assert.ok(fitted instanceof FittedSgdRegressor);
    const second = await first.partialFit(rows.slice(1200), { seed: 42 });
    const next = second.fitted;
    assert.ok(next instanceof FittedSgdRegressor);
    // Measured R²: 0.9742 after the first chunk, 0.97889 after the second, 0.97895 for the whole.
    const [r1, r2, all] = [r2Of(first, held), r2Of(second, held), r2Of(whole, held)];
    assert.ok(r2 > r1 && Math.abs(r2 - all) < 0.002, `first ${r1}, both chunks ${r2}, whole ${all}`);
    // The schedule went on from the first chunk's 1,200 row updates and the shuffles from its one
    // epoch, and the first model is unchanged.
    assert.deepEqual(next.progress, { rowsSeen: 2400, epochsSeen: 2 });
    assert.deepEqual(fitted.progress, { rowsSeen: 1200, epochsSeen: 1 });
    assert.deepStrictEqual(fitted.tensors(), first.fitted.tensors());
  });

  test('a classifier learns from a chunk; a model without online training refuses it by name', async () => {
    const { train: cancer, test: held } = split('breast_cancer');
    const first = await train(cancer.slice(0, 200), { target: 'label', model: 'sgd-classifier' });
    const second = await first.partialFit(cancer.slice(200));
    // Measured: 0.991 after the first 200 rows, 0.974 after the other 255: a second chunk under
    // the 'optimal' schedule moves the last iterate, it does not only refine it.
    assert.ok(accuracyOf(second, held) >= 0.95, `accuracy ${accuracyOf(second, held)}`);
    // A saved and reloaded model carries on exactly as the one in memory: the file keeps the
    // coefficients and how far the schedule and the shuffles have come.
    const dir = await mkdtemp(join(tmpdir(), 'distml-sgd-'));
    try {
      await first.save(join(dir, 'first.distml'));
      const loaded = await TrainedModel.load(join(dir, 'first.distml'));
      const again = await loaded.partialFit(cancer.slice(200));
      assert.deepStrictEqual(again.fitted.tensors(), second.fitted.tensors());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const logistic = await train(cancer, { target: 'label', model: 'logistic-regression' });
    await assert.rejects(logistic.partialFit(cancer), (err) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /model 'logistic-regression' does not support partialFit/);
      return true;
    });
  });

  test('a chunk of another shape is refused, naming both shapes', async () => {
    const { train: rows } = split('iris');
    const model = await train(rows, { target: 'label', model: 'sgd-classifier' });
    const fitted = model.fitted;
    assert.ok(fitted instanceof FittedSgdClassifier);
    const engine = new InlineEngine();
    const X = new Float64Array(6);
    const narrow = await engine.distribute({ rows: 2, cols: 3, X, y: new Float64Array(2) });
    await assert.rejects(fitted.partialFit({ matrix: narrow, classes: 3 }, { engine, seed: 1 }), (err) => {
      assert.ok(err instanceof DataFormatError);
      assert.match(err.message, /the chunk has 3 features, the model 4/);
      return true;
    });
    const wide = await engine.distribute({
      rows: 1,
      cols: 4,
      X: new Float64Array(4),
      y: new Float64Array(1),
    });
    await assert.rejects(
      fitted.partialFit({ matrix: wide, classes: 2 }, { engine, seed: 1 }),
      /the chunk has 2 classes, the model 3/,
    );
  });
});

test("predictProba follows scikit-learn's formulas for log and modified-huber and is absent otherwise", async () => {
  const { train: rows, test: held } = split('iris');
  const features = held.drop(['label']);
  for (const loss of ['log', 'modified-huber']) {
    const model = await train(rows, { target: 'label', model: 'sgd-classifier', params: { loss } });
    const fitted = model.fitted;
    assert.ok(fitted instanceof FittedSgdClassifier);
    const p = model.predict(features).proba;
    assert.ok(p !== undefined);
    const { X } = applyPlan(model.meta.preprocessing, features);
    const z = fitted.decisionFunction(X, held.rows);
    for (let i = 0; i < held.rows; i++) {
      const own = [0, 1, 2].map((c) => {
        const v = z[i * 3 + c]!;
        return loss === 'log' ? 1 / (1 + Math.exp(-v)) : (Math.min(1, Math.max(-1, v)) + 1) / 2;
      });
      const sum = own[0]! + own[1]! + own[2]!;
      for (let c = 0; c < 3; c++) {
        const expected = sum > 0 ? own[c]! / sum : 1 / 3;
        assert.ok(Math.abs(p[i * 3 + c]! - expected) < 1e-12, `${loss}: row ${i}, class ${c}`);
      }
    }
  }
  const { train: cancer } = split('breast_cancer');
  const binary = await train(cancer, { target: 'label', model: 'sgd-classifier', params: { loss: 'log' } });
  const p = binary.predict(cancer).proba!;
  for (let i = 0; i < cancer.rows; i++) assert.ok(Math.abs(p[2 * i]! + p[2 * i + 1]! - 1) < 1e-12);
  const hinge = await train(rows, { target: 'label', model: 'sgd-classifier' });
  assert.equal(hinge.fitted.predictProba, undefined);
  assert.equal(hinge.predict(features).proba, undefined);
});

test('bad parameters are refused by name', () => {
  const cases: Array<[() => unknown, RegExp]> = [
    [() => new SgdClassifier({ loss: 'squared' }), /sgd-classifier parameter loss must be one of hinge, log/],
    [() => new SgdRegressor({ loss: 'hinge' }), /sgd-regressor parameter loss must be one of squared, huber/],
    [
      () => new SgdClassifier({ optimizer: 'adamw' }),
      /optimizer must be one of .* \(did you mean 'adam'\?\)/,
    ],
    [() => new SgdClassifier({ batchSize: 0 }), /sgd-classifier parameter batchSize must be ≥ 1, got 0/],
    [() => new SgdClassifier({ epochs: 1.5 }), /parameter epochs must be an integer, got 1.5/],
    [() => new SgdRegressor({ momentum: 1 }), /sgd-regressor parameter momentum must be ≤ 0.999, got 1/],
    [() => new SgdRegressor({ eta0: 0 }), /parameter eta0 must be > 0, got 0/],
    [() => new SgdClassifier({ consistency: 'ssp2' }), /consistency must be one of bsp, asp, ssp/],
    [() => new SgdClassifier({ staleness: -1 }), /parameter staleness must be ≥ 0, got -1/],
    [() => new SgdClassifier({ alpha: 0 }), /alpha must be > 0 with learningRate 'optimal'.*got 0/],
    [
      () => new SgdClassifier({ optimizer: 'adam' }),
      /learningRate 'optimal' is plain SGD's schedule and does not suit optimizer 'adam'.*'constant' or 'invscaling'/,
    ],
    [
      () => new SgdRegressor({ learningRate: 'optimal', optimizer: 'momentum' }),
      /does not suit optimizer 'momentum'/,
    ],
    [() => new SgdClassifier({ stepSize: 1 }), /sgd-classifier has no parameter 'stepSize'/],
  ];
  for (const [make, message] of cases) {
    assert.throws(make, (err: Error) => {
      assert.ok(err instanceof ParamError, `${err.name}: ${err.message}`);
      assert.match(err.message, message);
      return true;
    });
  }
  // The same rules apply with the schedules that suit every optimizer.
  assert.doesNotThrow(() => new SgdClassifier({ optimizer: 'adam', learningRate: 'constant', alpha: 0 }));
});
