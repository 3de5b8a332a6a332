import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParamError } from '../errors.ts';
import { defineParams } from './params.ts';

const spec = defineParams({
  C: { kind: 'number', min: 0, exclusiveMin: true, default: 1, doc: 'inverse penalty' },
  maxIter: { kind: 'number', min: 1, integer: true, default: 100, doc: 'iterations' },
  fitIntercept: { kind: 'boolean', default: true, doc: 'bias' },
  solver: { kind: 'choice', choices: ['lbfgs', 'sgd'], default: 'lbfgs', doc: 'solver' },
});

test('defaults fill what is not given', () => {
  assert.deepEqual(spec.validate('m', { C: 0.5 }), {
    C: 0.5,
    maxIter: 100,
    fitIntercept: true,
    solver: 'lbfgs',
  });
});

test('--param KEY=VALUE strings parse by declared type', () => {
  assert.deepEqual(spec.parse('m', ['C=2.5', 'maxIter=7', 'fitIntercept=false', 'solver=sgd']), {
    C: 2.5,
    maxIter: 7,
    fitIntercept: false,
    solver: 'sgd',
  });
});

test('bad values are refused with the model, the parameter and the value', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ C: 0 }, /^m parameter C must be > 0, got 0$/],
    [{ C: Number.NaN }, /^m parameter C must be a finite number, got NaN$/],
    [{ C: Number.POSITIVE_INFINITY }, /must be a finite number, got Infinity/],
    [{ maxIter: 2.5 }, /^m parameter maxIter must be an integer, got 2.5$/],
    [{ maxIter: 0 }, /must be ≥ 1, got 0/],
    [{ fitIntercept: 'yes' }, /must be true or false, got yes/],
    [{ solver: 'lbgfs' }, /must be one of lbfgs, sgd, got 'lbgfs' \(did you mean 'lbfgs'\?\)/],
  ];
  for (const [given, message] of cases)
    assert.throws(() => spec.validate('m', given), { name: 'ParamError', message });
});

test('an unknown parameter gets a did-you-mean hint', () => {
  assert.throws(() => spec.parse('m', ['maxiter=3']), {
    name: 'ParamError',
    message: "m has no parameter 'maxiter' (did you mean 'maxIter'?)",
  });
  assert.throws(() => spec.parse('m', ['zzz=3']), /known parameters: C, maxIter, fitIntercept, solver/);
});

test('malformed --param text is refused', () => {
  for (const bad of ['C', '=3', 'C=abc', 'fitIntercept=maybe'])
    assert.throws(() => spec.parse('m', [bad]), ParamError);
});

test('prototype keys are not parameters', () => {
  assert.throws(
    () => spec.validate('m', JSON.parse('{"__proto__": {"C": 5}}')),
    /has no parameter '__proto__'/,
  );
  assert.throws(() => spec.parse('m', ['toString=1']), /has no parameter 'toString'/);
});

test('describe() lists every parameter with type and default', () => {
  assert.deepEqual(spec.describe(), [
    'C=<number >0>  inverse penalty (default: 1)',
    'maxIter=<integer ≥1>  iterations (default: 100)',
    'fitIntercept=<true|false>  bias (default: true)',
    'solver=<lbfgs|sgd>  solver (default: lbfgs)',
  ]);
});
