import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type NonFiniteValue, TreeCombiner } from './tree-combiner.ts';

/** The tree as written before results could arrive out of order: level by level, left to right. */
function levelByLevel(parts: Float64Array[]): Float64Array {
  let level = parts;
  while (level.length > 1) {
    const next: Float64Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const a = level[i]!;
      const b = level[i + 1];
      if (b !== undefined) for (let j = 0; j < a.length; j++) a[j]! += b[j]!;
      next.push(a);
    }
    level = next;
  }
  return level[0]!;
}

const copies = (parts: number[][]) => parts.map((p) => Float64Array.from(p));

/** Finite values of magnitudes far apart, so that another order of the sums would round differently. */
const value = fc.oneof(
  fc.double({ min: -1e16, max: 1e16, noNaN: true }),
  fc.double({ min: -1, max: 1, noNaN: true }),
);

/** The results of 1 to 9 partitions (at least `fewest`), `length` values each, and an order of arrival. */
const resultsAndOrder = (fewest: number, length: number) =>
  fc
    .integer({ min: fewest, max: 9 })
    .chain((n) =>
      fc.tuple(
        fc.array(fc.array(value, { minLength: length, maxLength: length }), { minLength: n, maxLength: n }),
        fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
      ),
    );

test('results added in any order give the bits of the level-by-level tree, checked or not', () => {
  fc.assert(
    fc.property(resultsAndOrder(1, 3), fc.boolean(), ([parts, order], checked) => {
      const expected = levelByLevel(copies(parts));
      const given = copies(parts);
      const tree = new TreeCombiner(
        parts.length,
        'sum',
        checked ? () => assert.fail('all finite') : undefined,
      );
      for (const p of order) tree.add(p, given[p]!);
      assert.deepEqual(new Uint8Array(tree.result().buffer), new Uint8Array(expected.buffer));
    }),
    { numRuns: 300 },
  );
});

test('a non-finite result is named by its partition, wherever it sits in the tree and whenever it arrives', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    for (let n = 1; n <= 5; n++) {
      for (let culprit = 0; culprit < n; culprit++) {
        const found: NonFiniteValue[] = [];
        const tree = new TreeCombiner(n, 'sum', (f) => found.push(f));
        // Reverse order, so the bad result is sometimes the left operand, sometimes the right.
        for (let p = n - 1; p >= 0; p--) tree.add(p, Float64Array.of(1, p === culprit ? bad : 2, 3));
        assert.deepEqual(found.slice(0, 1), [{ partition: culprit, index: 1, value: bad }], `n=${n}`);
      }
    }
  }
});

test('in any order of arrival, the first non-finite value found is named by its partition', () => {
  fc.assert(
    fc.property(
      fc
        .integer({ min: 2, max: 9 })
        .chain((n) =>
          fc.tuple(
            fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
            fc.integer({ min: 0, max: n - 1 }),
            fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
          ),
        ),
      ([order, culprit, bad]) => {
        const found: NonFiniteValue[] = [];
        const tree = new TreeCombiner(order.length, 'sum', (f) => found.push(f));
        for (const p of order) tree.add(p, Float64Array.of(1, p === culprit ? bad : 2));
        assert.deepEqual(found[0], { partition: culprit, index: 1, value: bad });
      },
    ),
    { numRuns: 300 },
  );
});

test('finite results whose sum overflows are reported without a partition', () => {
  const found: NonFiniteValue[] = [];
  const tree = new TreeCombiner(2, 'sum', (f) => found.push(f));
  tree.add(0, Float64Array.of(1.5e308));
  tree.add(1, Float64Array.of(1.5e308));
  assert.deepEqual(found, [{ partition: undefined, index: 0, value: Number.POSITIVE_INFINITY }]);
  // Partition 0 last: its arrival completes two sums at once, (0 + 1) + 2, and the second overflows.
  const three: NonFiniteValue[] = [];
  const fused = new TreeCombiner(3, 'sum', (f) => three.push(f));
  fused.add(2, Float64Array.of(1e308));
  fused.add(1, Float64Array.of(5e307));
  fused.add(0, Float64Array.of(5e307));
  assert.deepEqual(three, [{ partition: undefined, index: 0, value: Number.POSITIVE_INFINITY }]);
});

test('results combined otherwise than by a sum are checked one by one', () => {
  const found: NonFiniteValue[] = [];
  const tree = new TreeCombiner(3, 'max', (f) => found.push(f));
  tree.add(2, Float64Array.of(1, 2));
  tree.add(0, Float64Array.of(1, Number.NaN));
  tree.add(1, Float64Array.of(5, 0));
  assert.deepEqual(found, [{ partition: 0, index: 1, value: Number.NaN }]);
  assert.ok(Number.isNaN(tree.result()[1]!));
  assert.equal(tree.result()[0], 5);
});

test('a partition given twice, one out of range, or a result asked for early is refused', () => {
  const tree = new TreeCombiner(2);
  tree.add(1, Float64Array.of(1));
  assert.throws(() => tree.add(1, Float64Array.of(1)), /partition 1 was combined already/);
  assert.throws(() => tree.add(2, Float64Array.of(1)), /partition 2 of a pass of 2/);
  // A partition already folded into its parent is refused too, not taken for a new one.
  const four = new TreeCombiner(4);
  four.add(0, Float64Array.of(1));
  four.add(1, Float64Array.of(1));
  assert.throws(() => four.add(1, Float64Array.of(1)), /partition 1 was combined already/);
  assert.throws(() => tree.result(), /1 of 2 partitions not combined yet/);
  assert.throws(() => new TreeCombiner(0), /TreeCombiner of 0 parts/);
});

test('every result but the one returned is handed back once, after it was folded in', () => {
  for (let n = 1; n <= 7; n++) {
    const parts = Array.from({ length: n }, (_, p) => Float64Array.of(p, 1));
    const folded: Float64Array[] = [];
    const tree = new TreeCombiner(n, 'sum', undefined, (f) => {
      folded.push(f);
      f.fill(Number.NaN); // reused at once: the sum must not read it again
    });
    for (let p = n - 1; p >= 0; p--) tree.add(p, parts[p]!);
    const root = tree.result();
    assert.equal(root, parts[0]);
    assert.deepEqual([...root], [(n * (n - 1)) / 2, n]);
    assert.deepEqual(new Set(folded), new Set(parts.slice(1)));
    assert.equal(folded.length, n - 1);
  }
});

/**
 * Adds `given[p]` for p in `order`, each result arriving in pieces first (`arriving` with growing
 * prefixes) while up to `overlap` results arrive at once, steps chosen by `steps` (one per
 * progress call): how a driver hears of results coming over sockets side by side.
 */
function addStreamed(
  tree: TreeCombiner,
  given: Float64Array[],
  order: number[],
  steps: number[],
  overlap: number,
) {
  const inFlight: { p: number; done: number }[] = [];
  let next = 0;
  let step = 0;
  while (next < order.length || inFlight.length > 0) {
    while (inFlight.length < overlap && next < order.length) inFlight.push({ p: order[next++]!, done: 0 });
    const r = steps[step++ % steps.length]!;
    const f = inFlight[r % inFlight.length]!;
    const length = given[f.p]!.length;
    f.done = Math.min(length, f.done + 1 + (r % 3));
    tree.arriving(f.p, given[f.p]!, f.done);
    if (f.done === length) {
      tree.add(f.p, given[f.p]!);
      inFlight.splice(inFlight.indexOf(f), 1);
    }
  }
}

test('results summed as they arrive, in any order and overlap, give the bits of the level-by-level tree', () => {
  fc.assert(
    fc.property(
      resultsAndOrder(2, 7),
      fc.array(fc.nat(50), { minLength: 1, maxLength: 30 }),
      fc.integer({ min: 1, max: 3 }),
      fc.boolean(),
      ([parts, order], steps, overlap, checked) => {
        const expected = levelByLevel(copies(parts));
        const given = copies(parts);
        const allocated: Float64Array[] = [];
        const tree = new TreeCombiner(
          parts.length,
          'sum',
          checked ? () => assert.fail('all finite') : undefined,
          undefined,
          (length) => {
            allocated.push(new Float64Array(length).fill(Number.NaN));
            return allocated.at(-1)!;
          },
        );
        addStreamed(tree, given, order, steps, overlap);
        assert.deepEqual(new Uint8Array(tree.result().buffer), new Uint8Array(expected.buffer));
        // Some sums ran while results arrived (whenever one arrived after its sibling was in).
        if (order.indexOf(0) < order.indexOf(1) && overlap === 1) assert.ok(allocated.length > 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('a result that streamed but is not the one added leaves no trace', () => {
  const folded: Float64Array[] = [];
  const found: NonFiniteValue[] = [];
  const tree = new TreeCombiner(
    3,
    'sum',
    (f) => found.push(f),
    (f) => folded.push(f),
    (length) => new Float64Array(length),
  );
  const p0 = Float64Array.of(1, 2, 3);
  const p2 = Float64Array.of(100, 200, 300);
  tree.add(0, p0);
  tree.add(2, p2);
  // A superseded job's result for partition 1, NaN and all, streams in, then another copy is added.
  const discarded = Float64Array.of(Number.NaN, 5, 6);
  tree.arriving(1, discarded, 3);
  const other = Float64Array.of(10, 20, 30);
  tree.arriving(1, other, 2); // a second copy does not stream
  assert.deepEqual([...p0], [1, 2, 3], 'the tree is untouched while results arrive');
  tree.add(1, other);
  assert.deepEqual([...tree.result()], [111, 222, 333]);
  assert.deepEqual(found, [], "the discarded result's NaN is never reported");
  assert.ok(!folded.includes(discarded), 'the discarded array is not the tree’s to hand back');
});

test('a non-finite value met while a result streams is named when the result is added', () => {
  for (const left of [true, false]) {
    const found: NonFiniteValue[] = [];
    const tree = new TreeCombiner(
      2,
      'sum',
      (f) => found.push(f),
      undefined,
      (n) => new Float64Array(n),
    );
    const bad = Float64Array.of(1, Number.POSITIVE_INFINITY, 3);
    const good = Float64Array.of(1, 2, 3);
    // The bad result is partition 0 (the left operand) or 1, and arrives second, in two pieces.
    const [badP, goodP] = left ? [0, 1] : [1, 0];
    tree.add(goodP, good);
    tree.arriving(badP, bad, 2);
    assert.deepEqual(found, [], 'not before it is added');
    tree.arriving(badP, bad, 3);
    tree.add(badP, bad);
    assert.deepEqual(found, [{ partition: badP, index: 1, value: Number.POSITIVE_INFINITY }]);
  }
});
