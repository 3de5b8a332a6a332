/**
 * sgd-classifier and sgd-regressor, trained through the library's `train` on the parameter server.
 *
 * Against scikit-learn 1.2.1 (Debian's /usr/bin/python3 with python3-sklearn): on one worker the
 * loop is scikit-learn's plain SGD up to the row order, so the comparison is of mean test scores
 * over seeds, with the same five epochs on both sides (scikit-learn's `max_iter=5, tol=None`;
 * its default tol stops later, at 0.9121 on iris with hinge, for instance). Split as the other
 * reference tests: the last 20% of rows test, features standardized on the training rows.
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
 *       for loss in ['hinge', 'log_loss', 'modified_huber', 'squared_hinge']:
 *           acc = [SGDClassifier(loss=loss, max_iter=5, tol=None, random_state=s).fit(Xa, ya).score(Xb, yb)
 *                  for s in range(200)]
 *           print(name, loss, round(np.mean(acc), 4))
 *   Xa, ya, Xb, yb = split('diabetes', 'target')
 *   for loss in ['squared_error', 'huber']:
 *       r2 = [r2_score(yb, SGDRegressor(loss=loss, max_iter=5, tol=None, random_state=s).fit(Xa, ya).predict(Xb))
 *             for s in range(200)]
 *       print('diabetes', loss, round(np.mean(r2), 4))
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Frame } from '../../data/frame.ts';
import { makeClassification, makeRegression } from '../../data/generate.ts';
import { readFrame } from '../../data/read.ts';
import type { Engine } from '../../engine/engine.ts';
import { InlineEngine } from '../../engine/inline-engine.ts';
import { DataFormatError, ParamError } from '../../errors.ts';
import type { ClassificationScores } from '../../metrics/classification.ts';
import type { RegressionScores } from '../../metrics/regression.ts';
import { createEngine } from '../../pipeline/engines.ts';
import { splitFrame } from '../../pipeline/split-frame.ts';
import { train } from '../../pipeline/train.ts';
import { TrainedModel } from '../../pipeline/trained-model.ts';
import { regressionTarget } from '../../preprocess/labels.ts';
import { applyPlan } from '../../preprocess/preprocessor.ts';
import type { TrainingData } from '../estimator.ts';
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

describe('mean test scores over 100 seeds, against scikit-learn over 200 (five epochs each)', () => {
  // [dataset, loss, scikit-learn's mean, tolerance]. Ours, measured: breast_cancer 0.9640, 0.9666,
  // 0.9652, 0.9655; iris 0.8387, 0.8303, 0.8157, 0.7160; diabetes R² 0.4705 and −4.0403. One seed
  // alone is far noisier (iris with hinge ranges 0.63–0.97 on both sides), hence the means. Squared
  // hinge under the 'optimal' schedule runs away on iris as in scikit-learn (scores 0.40–0.93, a
  // standard deviation of 0.12 on both sides), so its mean is allowed 4 points instead of 2.
  const classifiers: Array<[string, string, number, number]> = [
    ['breast_cancer', 'hinge', 0.9662, 0.02],
    ['breast_cancer', 'log', 0.9661, 0.02],
    ['breast_cancer', 'modified-huber', 0.9686, 0.02],
    ['breast_cancer', 'squared-hinge', 0.9665, 0.02],
    ['iris', 'hinge', 0.8437, 0.02],
    ['iris', 'log', 0.8312, 0.02],
    ['iris', 'modified-huber', 0.8313, 0.02],
    ['iris', 'squared-hinge', 0.746, 0.04],
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
  // Huber's default epsilon of 0.1 is tiny against diabetes targets in the hundreds: five epochs of
  // its bounded gradient leave both libraries at the same poor R², a check on the schedule itself.
  for (const [loss, sklearn] of [
    ['squared', 0.4715],
    ['huber', -4.0405],
  ] as const) {
    test(`diabetes, loss ${loss}: mean R² within 0.03 of scikit-learn's ${sklearn}`, async () => {
      const { train: rows, test: held } = split('diabetes');
      let sum = 0;
      for (let seed = 0; seed < 100; seed++) {
        const model = await train(rows, { target: 'target', model: 'sgd-regressor', params: { loss }, seed });
        sum += r2Of(model, held);
      }
      const mean = sum / 100;
      assert.ok(Math.abs(mean - sklearn) <= 0.03, `mean R² ${mean.toFixed(4)} vs ${sklearn}`);
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
  /** `frame` preprocessed with `model`'s plan and placed on `engine`. */
  async function regressionChunk(model: TrainedModel, frame: Frame, engine: Engine): Promise<TrainingData> {
    const target = model.meta.target;
    const { X, rows, cols } = applyPlan(model.meta.preprocessing, frame.drop([target]));
    const y = regressionTarget(frame.column(target));
    return { matrix: await engine.distribute({ rows, cols, X, y }), classes: model.meta.shape.classes };
  }

  test('one epoch on each of two chunks approaches one epoch over both', async () => {
    const { frame } = makeRegression({ rows: 3000, features: 8, noise: 0.5, seed: 9 });
    const { train: rows, test: held } = splitFrame(frame, { testFraction: 0.2, method: 'tail' });
    const params = { epochs: 1 };
    const engine = new InlineEngine();
    const whole = await train(rows, { target: 'target', model: 'sgd-regressor', params });
    const first = await train(rows.slice(0, 1200), { target: 'target', model: 'sgd-regressor', params });
    const fitted = first.fitted;
    assert.ok(fitted instanceof FittedSgdRegressor);
    const next = await fitted.partialFit(await regressionChunk(first, rows.slice(1200), engine), {
      engine,
      seed: 42,
    });
    const second = new TrainedModel(first.name, first.params, { ...first.meta, fit: next.info }, next);
    // Measured R²: 0.9746 after the first chunk, 0.97899 after the second, 0.97895 for the whole.
    const [r1, r2, all] = [r2Of(first, held), r2Of(second, held), r2Of(whole, held)];
    assert.ok(r2 > r1 && Math.abs(r2 - all) < 0.002, `first ${r1}, both chunks ${r2}, whole ${all}`);
    // The schedule went on from the first chunk's rows (38 steps of 32 each), and it is unchanged.
    assert.deepEqual(next.progress, { rowsSeen: 2 * 38 * 32, epochsSeen: 4 });
    assert.deepEqual(fitted.progress, { rowsSeen: 38 * 32, epochsSeen: 2 });
    assert.deepStrictEqual(fitted.tensors(), first.fitted.tensors());
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
