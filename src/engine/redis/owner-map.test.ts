import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { balance, deal, replaceGone } from './owner-map.ts';

const counts = (owners: readonly (string | undefined)[], live: readonly string[]) =>
  live.map((id) => owners.filter((o) => o === id).length);

/**
 * The fewest moves that balance `c` (partitions held per live worker; `unowned` more to place),
 * by trying every choice of which workers get the ⌈P/W⌉ shares: independent of balance()'s greedy
 * choice of the workers that hold the most.
 */
function fewestMoves(c: readonly number[], unowned: number): number {
  const P = c.reduce((a, b) => a + b, 0) + unowned;
  const q = Math.floor(P / c.length);
  const r = P % c.length;
  let best = Number.POSITIVE_INFINITY;
  for (let mask = 0; mask < 1 << c.length; mask++) {
    let bits = 0;
    for (let i = 0; i < c.length; i++) bits += (mask >> i) & 1;
    if (bits !== r) continue;
    let moves = unowned;
    for (let i = 0; i < c.length; i++) moves += Math.max(0, c[i]! - q - ((mask >> i) & 1));
    best = Math.min(best, moves);
  }
  return best;
}

test('deal is round-robin by position, and growing a map deals the same owners', () => {
  const once: (string | undefined)[] = [];
  deal(once, ['a', 'b', 'c'], 7);
  assert.deepEqual(once, ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  const grown: (string | undefined)[] = [];
  for (let p = 1; p <= 7; p++) deal(grown, ['a', 'b', 'c'], p);
  assert.deepEqual(grown, once);
  const none: (string | undefined)[] = [];
  deal(none, [], 2);
  assert.deepEqual(none, [undefined, undefined]);
});

test('replaceGone moves exactly the gone owner partitions, to the live workers holding the fewest', () => {
  const owners: (string | undefined)[] = ['d', 'e', 'victim', 'd', 'e', 'victim'];
  const moves = replaceGone(owners, ['d', 'e']);
  assert.deepEqual(moves, [
    { partition: 2, from: 'victim', to: 'd' },
    { partition: 5, from: 'victim', to: 'e' },
  ]);
  assert.deepEqual(owners, ['d', 'e', 'd', 'd', 'e', 'e']);
  // With nobody alive, every partition is unowned until a worker joins.
  assert.deepEqual(replaceGone(owners, []), []);
  assert.deepEqual(owners, Array(6).fill(undefined));
});

test('a joining worker receives the highest-numbered partitions of the workers holding the most', () => {
  const owners: (string | undefined)[] = ['first', 'first', 'first', 'first', 'first', 'first'];
  const { moves, complete } = balance(owners, ['first', 'late'], [0, 0, 0, 0, 0, 0]);
  assert.ok(complete);
  assert.deepEqual(
    moves.map((m) => [m.partition, m.to]),
    [
      [3, 'late'],
      [4, 'late'],
      [5, 'late'],
    ],
  );
  // Busy partitions stay put (idle ones move instead, highest first); if too few are idle the
  // map is left incomplete, to be balanced at a later pass.
  const some: (string | undefined)[] = ['a', 'a', 'a', 'a'];
  assert.ok(balance(some, ['a', 'b'], [0, 0, 1, 1]).complete);
  assert.deepEqual(some, ['b', 'b', 'a', 'a']);
  const most: (string | undefined)[] = ['a', 'a', 'a', 'a'];
  assert.equal(balance(most, ['a', 'b'], [1, 1, 1, 0]).complete, false);
  assert.deepEqual(most, ['a', 'a', 'a', 'b']);
});

test('balance: every partition owned by a live worker, within one of each other, in the fewest moves', () => {
  const worker = fc.constantFrom('w0', 'w1', 'w2', 'w3', 'w4', 'gone1', 'gone2');
  fc.assert(
    fc.property(
      fc.array(fc.option(worker, { nil: undefined }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 5 }),
      (initial, W) => {
        const live = ['w0', 'w1', 'w2', 'w3', 'w4'].slice(0, W);
        const owners = [...initial];
        const unowned = owners.filter((o) => o === undefined || !live.includes(o)).length;
        const before = counts(owners, live);
        const { moves, complete } = balance(
          owners,
          live,
          owners.map(() => 0),
        );
        assert.ok(complete);
        assert.ok(owners.every((o) => o !== undefined && live.includes(o)));
        const after = counts(owners, live);
        assert.ok(owners.length === 0 || Math.max(...after) - Math.min(...after) <= 1, `${after}`);
        assert.equal(moves.length, fewestMoves(before, unowned));
        // Nobody both gives and receives.
        const gave = new Set(moves.map((m) => m.from));
        assert.ok(moves.every((m) => !gave.has(m.to)));
      },
    ),
    { seed: 5, numRuns: 300 },
  );
});
