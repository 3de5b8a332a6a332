import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { gramUpper, mirrorUpper } from './syrk.ts';

// gramUpper is checked against the plain triple loop. Its 6 × 6 blocking sums in another order,
// so each entry may differ by rounding: within 1e-13 of the sum of the magnitudes of its terms.

type Gen = fc.GeneratorValue;

/** A random `n × d` matrix as a view into the middle of a larger buffer. */
function matrixView(g: Gen, n: number, d: number): Float64Array {
  const offset = g(fc.integer, { min: 0, max: 5 });
  const buffer = new Float64Array(offset + n * d + 3);
  for (let i = 0; i < buffer.length; i++) buffer[i] = g(fc.double, { min: -10, max: 10, noNaN: true });
  return buffer.subarray(offset, offset + n * d);
}

const LOWER_SENTINEL = -12345.5;

test('gramUpper adds XᵀX to the upper triangle and leaves the lower triangle alone', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      // Sizes around the 6 × 6 blocking: below, at and past multiples of 6, and 0 and 1.
      const n = g(fc.integer, { min: 0, max: 27 });
      const d = g(fc.integer, { min: 0, max: 27 });
      const X = matrixView(g, n, d);
      const C = new Float64Array(d * d);
      for (let j = 0; j < d; j++) {
        for (let k = 0; k < d; k++)
          C[j * d + k] = k >= j ? g(fc.integer, { min: -3, max: 3 }) : LOWER_SENTINEL;
      }
      const before = C.slice();
      gramUpper(X, n, d, C);
      for (let j = 0; j < d; j++) {
        for (let k = 0; k < d; k++) {
          if (k < j) {
            assert.equal(C[j * d + k], LOWER_SENTINEL, `lower entry (${j}, ${k}) was written`);
            continue;
          }
          let expected = before[j * d + k]!;
          let scale = Math.abs(expected);
          for (let i = 0; i < n; i++) {
            const t = X[i * d + j]! * X[i * d + k]!;
            expected += t;
            scale += Math.abs(t);
          }
          const actual = C[j * d + k]!;
          assert.ok(
            Math.abs(actual - expected) <= 1e-13 * scale,
            `n=${n} d=${d} C[${j}, ${k}] = ${actual}, expected ${expected}`,
          );
        }
      }
    }),
  );
});

test('gramUpper over two row blocks equals gramUpper over the whole matrix', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const n = g(fc.integer, { min: 0, max: 30 });
      const d = g(fc.integer, { min: 1, max: 14 });
      const split = g(fc.integer, { min: 0, max: n });
      const X = matrixView(g, n, d);
      const whole = new Float64Array(d * d);
      gramUpper(X, n, d, whole);
      const parts = new Float64Array(d * d);
      gramUpper(X.subarray(0, split * d), split, d, parts);
      gramUpper(X.subarray(split * d), n - split, d, parts);
      for (let e = 0; e < d * d; e++) {
        assert.ok(Math.abs(parts[e]! - whole[e]!) <= 1e-12 * (1 + Math.abs(whole[e]!)), `entry ${e}`);
      }
    }),
  );
});

test('gramUpper is deterministic and refuses a short X or C', () => {
  const n = 50;
  const d = 9;
  const X = new Float64Array(n * d).map((_, i) => Math.sin(i * 0.7));
  const a = new Float64Array(d * d);
  const b = new Float64Array(d * d);
  gramUpper(X, n, d, a);
  gramUpper(X, n, d, b);
  assert.deepEqual(a, b);
  assert.throws(() => gramUpper(X, n + 1, d, a), /gramUpper X: span \[0, 459\) runs past the end/);
  assert.throws(() => gramUpper(X, n, d, new Float64Array(80)), /gramUpper C/);
});

test('mirrorUpper copies the upper triangle onto the lower one', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const d = g(fc.integer, { min: 0, max: 9 });
      const C = matrixView(g, d, d);
      const upper = C.slice();
      mirrorUpper(C, d);
      for (let j = 0; j < d; j++) {
        for (let k = 0; k < d; k++) {
          assert.equal(C[j * d + k], k >= j ? upper[j * d + k] : upper[k * d + j]);
        }
      }
    }),
  );
});
