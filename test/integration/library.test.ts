/**
 * The library API end to end: train, evaluate, save, load, predict; and the exactness of linear
 * regression against closed-form answers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  connectEngine,
  type FittedLinearRegression,
  InlineEngine,
  makeRegression,
  readFrame,
  splitFrame,
  TrainedModel,
  train,
} from '../../src/index.ts';
import { dataset } from '../helpers/cli.ts';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distml-lib-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Least squares with intercept by Householder QR on [1 X] — independent of the normal equations. */
function leastSquaresQr(X: Float64Array, y: Float64Array, n: number, d: number): Float64Array {
  const p = d + 1;
  const A = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    A[i * p] = 1;
    for (let j = 0; j < d; j++) A[i * p + 1 + j] = X[i * d + j]!;
  }
  const b = Float64Array.from(y);
  for (let k = 0; k < p; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm += A[i * p + k]! ** 2;
    norm = Math.sqrt(norm);
    const alpha = A[k * p + k]! > 0 ? -norm : norm;
    const v = new Float64Array(n);
    for (let i = k; i < n; i++) v[i] = A[i * p + k]!;
    v[k]! -= alpha;
    let vv = 0;
    for (let i = k; i < n; i++) vv += v[i]! ** 2;
    for (let j = k; j < p; j++) {
      let s = 0;
      for (let i = k; i < n; i++) s += v[i]! * A[i * p + j]!;
      const f = (2 * s) / vv;
      for (let i = k; i < n; i++) A[i * p + j]! -= f * v[i]!;
    }
    let s = 0;
    for (let i = k; i < n; i++) s += v[i]! * b[i]!;
    const f = (2 * s) / vv;
    for (let i = k; i < n; i++) b[i]! -= f * v[i]!;
  }
  const w = new Float64Array(p);
  for (let k = p - 1; k >= 0; k--) {
    let s = b[k]!;
    for (let j = k + 1; j < p; j++) s -= A[k * p + j]! * w[j]!;
    w[k] = s / A[k * p + k]!;
  }
  return w;
}

test('linear-regression recovers noise-free coefficients to 1e-8', async () => {
  const { frame, coefficients, bias } = makeRegression({
    rows: 2000,
    features: 8,
    noise: 0,
    bias: 3.5,
    seed: 11,
  });
  const model = await train(frame, { target: 'target', model: 'linear-regression' });
  const fitted = model.fitted as FittedLinearRegression;
  for (let j = 0; j < 8; j++) assert.ok(Math.abs(fitted.coef[j]! - coefficients[j]!) < 1e-8, `coef ${j}`);
  assert.ok(Math.abs(fitted.intercept - bias) < 1e-8);
});

test('linear-regression matches least squares by QR to 1e-8 on noisy data, on 1 or 5 partitions', async () => {
  const { frame } = makeRegression({ rows: 3000, features: 12, noise: 2, bias: -1, seed: 5 });
  const d = 12;
  const X = new Float64Array(3000 * d);
  for (let j = 0; j < d; j++) {
    const c = frame.column(`x${j}`);
    assert.ok(c.kind === 'number');
    for (let i = 0; i < 3000; i++) X[i * d + j] = c.values[i]!;
  }
  const yc = frame.column('target');
  assert.ok(yc.kind === 'number');
  const expected = leastSquaresQr(X, yc.values, 3000, d);
  const scale = Math.max(...Array.from(expected, Math.abs));
  for (const partitions of [1, 5]) {
    const model = await train(frame, {
      target: 'target',
      model: 'linear-regression',
      partitions,
      engine: new InlineEngine(),
    });
    const fitted = model.fitted as FittedLinearRegression;
    assert.ok(
      Math.abs(fitted.intercept - expected[0]!) < 1e-8 * scale,
      `intercept, ${partitions} partitions`,
    );
    for (let j = 0; j < d; j++) {
      assert.ok(
        Math.abs(fitted.coef[j]! - expected[j + 1]!) < 1e-8 * scale,
        `coef ${j}, ${partitions} partitions`,
      );
    }
  }
});

test('save → load → predict gives bit-identical predictions and probabilities', async () => {
  const frame = await readFrame(dataset('digits.csv'));
  const { train: rows, test: heldOut } = splitFrame(frame, { testFraction: 0.2, method: 'tail' });
  const model = await train(rows, { target: 'label', model: 'logistic-regression', params: { maxIter: 50 } });
  const before = model.predict(heldOut);
  const path = join(dir, 'digits.distml');
  await model.save(path);
  const loaded = await TrainedModel.load(path);
  const after = loaded.predict(heldOut);
  assert.deepStrictEqual(after.values, before.values);
  assert.deepStrictEqual(after.proba, before.proba);
  assert.deepStrictEqual(after.labels, before.labels);
  assert.deepStrictEqual(loaded.evaluate(heldOut), model.evaluate(heldOut));
  // Scoring predictions already made gives the same scores; predictions of other rows are refused.
  assert.deepStrictEqual(model.evaluatePredicted(heldOut, before), model.evaluate(heldOut));
  assert.throws(
    () => model.evaluatePredicted(heldOut.slice(1), before),
    /359 predictions to score against the 358 rows of a frame/,
  );
});

test('fitting twice gives the same model; partitions change only summation order', async () => {
  const frame = await readFrame(dataset('breast_cancer.csv'));
  const a = await train(frame, { target: 'label', model: 'logistic-regression', seed: 1 });
  const b = await train(frame, { target: 'label', model: 'logistic-regression', seed: 1 });
  assert.deepStrictEqual(b.fitted.tensors(), a.fitted.tensors());
  const c = await train(frame, { target: 'label', model: 'logistic-regression', partitions: 4 });
  const ca = a.fitted.tensors().coef!.data;
  const cc = c.fitted.tensors().coef!.data;
  for (let j = 0; j < ca.length; j++)
    assert.ok(Math.abs(ca[j]! - cc[j]!) < 1e-6 * (1 + Math.abs(ca[j]!)), `coef ${j}`);
});

test('bad parameters are refused by the constructor, before any data is touched', async () => {
  const frame = await readFrame(dataset('iris.csv'));
  await assert.rejects(train(frame, { target: 'label', model: 'logistic-regression', params: { C: 0 } }), {
    name: 'ParamError',
  });
  await assert.rejects(train(frame, { target: 'label', model: 'nope' }), { name: 'UnknownModelError' });
});

test('connectEngine gives the library worker threads, and the same model as the serial engine', async () => {
  const frame = await readFrame(dataset('breast_cancer.csv'));
  const { train: rows, test: held } = splitFrame(frame, { testFraction: 0.2, method: 'tail' });
  // Small data stays on the calling thread unless the threshold says otherwise.
  const threads = await connectEngine({ workers: 2, local: { smallDataElements: 0 } });
  try {
    const options = { target: 'label', model: 'logistic-regression', partitions: 2 } as const;
    const onThreads = await train(rows, { ...options, engine: threads });
    const serial = await train(rows, options);
    assert.equal(threads.telemetry().kind, 'local');
    assert.ok(threads.telemetry().tasks > 0);
    assert.deepStrictEqual(onThreads.evaluate(held), serial.evaluate(held));
  } finally {
    await threads.close();
  }
});
