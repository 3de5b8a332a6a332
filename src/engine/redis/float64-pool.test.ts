import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Float64Pool } from './float64-pool.ts';

test('a pool gives back the arrays it was given, by length, up to its limit, and only whole ones', () => {
  const pool = new Float64Pool(false, 2);
  const a = pool.take(1000);
  const b = pool.take(1000);
  const c = pool.take(1000);
  assert.equal(a.buffer instanceof SharedArrayBuffer, false);
  pool.give(a);
  pool.give(a); // twice: kept once
  pool.give(b);
  pool.give(c); // beyond the limit of 2
  pool.give(new Float64Array(2000).subarray(0, 1000)); // a view: never kept
  pool.give(new Float64Array(new SharedArrayBuffer(8000))); // shared, for an unshared pool: not kept
  assert.equal(pool.take(1000), b);
  assert.equal(pool.take(1000), a);
  const fresh = pool.take(1000);
  assert.ok(fresh !== a && fresh !== b && fresh !== c);
  assert.equal(pool.take(7).length, 7);
});

test('a shared pool hands out shared memory, and a new length displaces the oldest beyond its limit', () => {
  const pool = new Float64Pool(true, 2);
  const x = pool.take(10);
  assert.ok(x.buffer instanceof SharedArrayBuffer);
  pool.give(x);
  pool.give(pool.take(20));
  pool.give(pool.take(30)); // a third length: the arrays of length 10 are dropped
  assert.notEqual(pool.take(10), x);
});

test('a zeroing pool hands out zeros: what comes back is zeroed as it is given, not as it is taken', () => {
  const pool = new Float64Pool(true, 2, true);
  const a = pool.take(4);
  a.set([1, 2, 3, 4]);
  pool.give(a);
  assert.deepEqual([...a], [0, 0, 0, 0]);
  const again = pool.take(4);
  assert.equal(again, a);
  // An array the pool does not keep is left as it was (nothing else will read it from the pool).
  const view = new Float64Array(new SharedArrayBuffer(64)).subarray(0, 4);
  view.set([5, 6, 7, 8]);
  pool.give(view);
  assert.deepEqual([...view], [5, 6, 7, 8]);
});
