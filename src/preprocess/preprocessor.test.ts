import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Frame } from '../data/frame.ts';
import { applyPlan, fitPlan } from './preprocessor.ts';

const train = Frame.fromRecord({
  x: [1, 2, null, 5],
  color: ['red', null, 'blue', 'red'],
});

test('numeric: mean fill and standardization over the filled column (sklearn imputer + scaler)', () => {
  const plan = fitPlan(train.select(['x']), { standardize: true, dropFirstLevel: false });
  const step = plan.steps[0]!;
  assert.equal(step.kind, 'number');
  if (step.kind !== 'number') return;
  // mean of 1, 2, 5 = 8/3; filled column [1, 2, 8/3, 5]; population variance = Σ(x − 8/3)² / 4.
  const mean = 8 / 3;
  const std = Math.sqrt(((1 - mean) ** 2 + (2 - mean) ** 2 + 0 + (5 - mean) ** 2) / 4);
  assert.equal(step.fill, mean);
  assert.equal(step.center, mean);
  assert.ok(Math.abs(step.scale - std) < 1e-15);
  const { X } = applyPlan(plan, train);
  assert.deepEqual(
    Array.from(X, (v) => Math.round(v * 1e12) / 1e12),
    [...[1, 2, mean, 5].map((v) => Math.round(((v - mean) / std) * 1e12) / 1e12)],
  );
});

test('categorical: sorted levels, most-frequent fill, one-hot; unseen levels encode as zeros', () => {
  const plan = fitPlan(train.select(['color']), { standardize: true, dropFirstLevel: false });
  assert.deepEqual(plan.outputNames, ['color=blue', 'color=red']);
  const step = plan.steps[0]!;
  assert.equal(step.kind === 'category' && step.fill, 'red');
  const { X } = applyPlan(plan, train);
  assert.deepEqual([...X], [0, 1, 0, 1, 1, 0, 0, 1]);
  const later = Frame.fromRecord({ color: ['green', 'blue', null] });
  const out = applyPlan(plan, later);
  assert.deepEqual([...out.X], [0, 0, 1, 0, 0, 1]);
  assert.deepEqual({ ...out.unseen }, { color: 1 });
});

test('dropFirstLevel leaves out the first level of each one-hot block', () => {
  const plan = fitPlan(train, { standardize: false, dropFirstLevel: true });
  assert.deepEqual(plan.outputNames, ['x', 'color=red']);
  const { X, cols } = applyPlan(plan, train);
  assert.equal(cols, 2);
  assert.deepEqual([...X], [1, 1, 2, 1, 8 / 3, 0, 5, 1]);
});

test('a category column read back as numbers matches levels by text', () => {
  const plan = fitPlan(Frame.fromRecord({ code: ['1', '2', '2'] }), {
    standardize: false,
    dropFirstLevel: false,
  });
  const { X } = applyPlan(plan, Frame.fromRecord({ code: [2, 1, 3] }));
  assert.deepEqual([...X], [0, 1, 1, 0, 0, 0]);
});

test('a missing feature column and infinities are refused with names', () => {
  const plan = fitPlan(train, { standardize: false, dropFirstLevel: false });
  assert.throws(() => applyPlan(plan, Frame.fromRecord({ x: [1] }), 'new.csv'), {
    message: /the model needs feature column 'color', which new\.csv does not have/,
  });
  assert.throws(
    () =>
      applyPlan(
        plan,
        Frame.fromRecord({ x: [1, Number.POSITIVE_INFINITY], color: ['red', 'red'] }),
        'inf.csv',
      ),
    { name: 'DataValueError', message: /feature column 'x' holds Infinity in data row 2 of inf\.csv/ },
  );
  // Missing values before it are filled, not mistaken for it; -∞ is refused like +∞.
  assert.throws(
    () =>
      applyPlan(
        plan,
        Frame.fromRecord({ x: [null, 2, Number.NEGATIVE_INFINITY], color: ['red', 'red', 'red'] }),
        'inf.csv',
      ),
    { name: 'DataValueError', message: /feature column 'x' holds -Infinity in data row 3 of inf\.csv/ },
  );
  assert.throws(
    () => fitPlan(Frame.fromRecord({ x: [null, null] }), { standardize: true, dropFirstLevel: false }),
    {
      message: /feature column 'x' has no values/,
    },
  );
});
