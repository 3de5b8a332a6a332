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

test('treeCombine calls a kernel’s own fold in the same fixed tree order', () => {
  // A non-commutative fold records the order: ((p0 ∘ p1) ∘ (p2 ∘ p3)) ∘ p4.
  const order: string[] = [];
  const fold = (a: Float64Array, b: Float64Array) => {
    order.push(`${a[0]}<${b[0]}`);
    a[0] = a[0]! * 10 + b[0]!;
  };
  const got = treeCombine(
    [0, 1, 2, 3, 4].map((v) => Float64Array.of(v)),
    fold,
  );
  assert.deepEqual(order, ['0<1', '2<3', '1<23', '33<4']);
  assert.equal(got[0], 334);
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
