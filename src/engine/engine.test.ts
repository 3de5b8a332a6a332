import assert from 'node:assert/strict';
import { test } from 'node:test';
import { treeCombine } from './engine.ts';
import { getKernel, registerKernel } from './kernel-registry.ts';

test('treeCombine sums pairwise in a fixed tree order', () => {
  // ((a + b) + (c + d)) + e, not ((((a + b) + c) + d) + e): the tree changes the rounding.
  const parts = () => [1e16, 1, -1e16, 1, 1].map((v) => Float64Array.of(v));
  const tree = ((1e16 + 1 + (-1e16 + 1)) as number) + 1;
  assert.deepEqual([...treeCombine(parts())], [tree]);
  assert.deepEqual([...treeCombine(parts())], [...treeCombine(parts())]);
});

test('treeCombine takes elementwise maxima, NaN winning so it is never hidden', () => {
  const got = treeCombine(
    [Float64Array.of(1, -5, 3), Float64Array.of(2, -7, Number.NaN), Float64Array.of(0, -6, 1)],
    'max',
  );
  assert.equal(got[0], 2);
  assert.equal(got[1], -5);
  assert.ok(Number.isNaN(got[2]!));
});

test('the kernel registry refuses duplicates and names the known kernels for an unknown one', () => {
  registerKernel({ name: 'test.echo', resultLength: () => 1, run: () => {} });
  assert.throws(() => registerKernel({ name: 'test.echo', resultLength: () => 1, run: () => {} }), {
    name: 'DistmlError',
    message: /kernel 'test\.echo' is registered twice/,
  });
  assert.throws(
    () => getKernel('test.ecko'),
    /unknown kernel 'test\.ecko' \(registered: .*test\.echo.*\) \(did you mean 'test\.echo'\?\)/,
  );
});
