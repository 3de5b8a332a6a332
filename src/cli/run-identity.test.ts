import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type RunSettings, runIdentity } from './run-identity.ts';

const BASE: RunSettings = {
  data: 'data/breast_cancer.csv',
  target: 'label',
  model: 'logistic-regression',
  params: { C: 0.5 },
  testFraction: 0.2,
  split: 'random',
  seed: 42,
  partitions: 4,
  sharedData: false,
};

test('every setting that changes the model changes the run id', () => {
  const base = runIdentity(BASE);
  assert.match(base, /^[0-9a-f]{16}$/);
  const changed: Array<[string, Partial<RunSettings>]> = [
    ['data', { data: 'data/iris.csv' }],
    ['target', { target: 'other' }],
    ['model', { model: 'linear-svc', params: {} }],
    ['params', { params: { C: 0.25 } }],
    ['testFraction', { testFraction: 0.1 }],
    ['split', { split: 'tail' }],
    ['seed', { seed: 7 }],
    ['partitions', { partitions: 6 }],
    ['sampleWeight', { sampleWeight: 'w' }],
    ['delimiter', { delimiter: ';' }],
    ['categorical', { categorical: ['a'] }],
    ['sharedData', { sharedData: true }],
  ];
  const ids = new Set([base]);
  for (const [name, change] of changed) {
    const id = runIdentity({ ...BASE, ...change });
    assert.notEqual(id, base, `changing ${name} kept the run id`);
    ids.add(id);
  }
  assert.equal(ids.size, changed.length + 1, 'two different settings gave the same id');
});

test('a different --sample-weight column is another run', () => {
  const a = runIdentity({ ...BASE, sampleWeight: 'w1' });
  const b = runIdentity({ ...BASE, sampleWeight: 'w2' });
  assert.notEqual(a, b);
  assert.equal(runIdentity({ ...BASE, sampleWeight: 'w1' }), a);
});

test('a parameter set to its default and the order of --categorical columns name the same run', () => {
  assert.equal(runIdentity({ ...BASE, params: {} }), runIdentity({ ...BASE, params: { C: 1 } }));
  assert.equal(
    runIdentity({ ...BASE, categorical: ['a', 'b'] }),
    runIdentity({ ...BASE, categorical: ['b', 'a'] }),
  );
});
