import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Frame } from '../data/frame.ts';
import { encodeLabels, fitLabels, regressionTarget } from './labels.ts';

test('string labels sort by code point, numeric ones numerically', () => {
  const s = Frame.fromRecord({ y: ['versicolor', 'setosa', 'virginica', 'setosa'] }).column('y');
  assert.deepEqual(fitLabels(s), { kind: 'string', classes: ['setosa', 'versicolor', 'virginica'] });
  assert.deepEqual([...encodeLabels(fitLabels(s), s)], [1, 0, 2, 0]);
  const n = Frame.fromRecord({ y: [10, 2, 2, 10, 1] }).column('y');
  assert.deepEqual(fitLabels(n), { kind: 'number', classes: ['1', '2', '10'] });
  assert.deepEqual([...encodeLabels(fitLabels(n), n)], [2, 1, 1, 2, 0]);
});

test('one class, missing labels and unknown labels are refused', () => {
  assert.throws(() => fitLabels(Frame.fromRecord({ y: ['a', 'a'] }).column('y')), {
    name: 'TargetError',
    message: /target column 'y' has only one class \('a'\)/,
  });
  assert.throws(() => fitLabels(Frame.fromRecord({ y: ['a', null, 'b'] }).column('y')), {
    message: /has 1 missing value\(s\), first in data row 2/,
  });
  const enc = fitLabels(Frame.fromRecord({ y: ['a', 'b'] }).column('y'));
  assert.throws(() => encodeLabels(enc, Frame.fromRecord({ y: ['a', 'c'] }).column('y')), {
    message: /holds label 'c' in data row 2, which the model does not know/,
  });
  assert.deepEqual([...encodeLabels(enc, Frame.fromRecord({ y: ['c', 'b'] }).column('y'), true)], [-1, 1]);
});

test('numeric labels encode by their text, each distinct value looked up once', () => {
  const enc = fitLabels(Frame.fromRecord({ y: [1, 0, 1] }).column('y'));
  assert.deepEqual(enc.classes, ['0', '1']);
  const y = Frame.fromRecord({ y: [1, 0, -0, 1, 2, null] }).column('y');
  assert.deepEqual([...encodeLabels(enc, y, true)], [1, 0, 0, 1, -1, -1]);
  assert.throws(() => encodeLabels(enc, y), { message: /holds label '2' in data row 5, which the model/ });
  const missing = Frame.fromRecord({ y: [0, null] }).column('y');
  assert.throws(() => encodeLabels(enc, missing), { message: /holds a missing value in data row 2/ });
});

test('small whole labels (looked up in tables) and others (hashed) are classes alike', () => {
  const values = [1023, 1024, 0.5, -1, -0, 3, 1e300, 1023, 0, Number.MIN_VALUE];
  const column = Frame.fromRecord({ y: values }).column('y');
  const enc = fitLabels(column);
  assert.deepEqual(enc.classes, ['-1', '0', '5e-324', '0.5', '3', '1023', '1024', '1e+300']);
  const classOf = (v: number) => enc.classes.indexOf(String(v));
  assert.deepEqual([...encodeLabels(enc, column)], values.map(classOf));
  const unknown = Frame.fromRecord({ y: [4, 1023, 4, 1025] }).column('y');
  assert.deepEqual([...encodeLabels(enc, unknown, true)], [-1, 5, -1, -1]);
});

test('a regression target must be finite numbers', () => {
  assert.throws(() => regressionTarget(Frame.fromRecord({ t: ['x'] }).column('t')), {
    message: /holds text/,
  });
  assert.throws(() => regressionTarget(Frame.fromRecord({ t: [1, null] }).column('t')), {
    message: /missing/,
  });
  assert.throws(() => regressionTarget(Frame.fromRecord({ t: [1, Number.NEGATIVE_INFINITY] }).column('t')), {
    message: /holds -Infinity in data row 2/,
  });
});
