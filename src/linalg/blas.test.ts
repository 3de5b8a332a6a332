import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { axpy, axpyRowsUnchecked, dot, dotUnchecked, gemv, gemvT, nrm2, scal } from './blas.ts';

// Kernels are checked against plain left-to-right loops. The unrolled kernels sum in another order,
// so a result may differ by rounding: within 1e-13 of the sum of the magnitudes of its terms.

type Gen = fc.GeneratorValue;

/** A vector of `n` values in [-10, 10] placed at a random offset inside a larger buffer. */
function vectorIn(g: Gen, n: number): { buffer: Float64Array; offset: number } {
  const offset = g(fc.integer, { min: 0, max: 3 });
  const buffer = new Float64Array(offset + n + g(fc.integer, { min: 0, max: 3 }));
  for (let i = 0; i < buffer.length; i++) buffer[i] = g(fc.double, { min: -10, max: 10, noNaN: true });
  return { buffer, offset };
}

function assertClose(actual: number, expected: number, scale: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-13 * scale + 1e-300, `${what}: ${actual} vs ${expected}`);
}

test('dot equals the naive sum, on offsets and on subarray views', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const n = g(fc.integer, { min: 0, max: 37 });
      const x = vectorIn(g, n);
      const y = vectorIn(g, n);
      let expected = 0;
      let scale = 0;
      for (let i = 0; i < n; i++) {
        const t = x.buffer[x.offset + i]! * y.buffer[y.offset + i]!;
        expected += t;
        scale += Math.abs(t);
      }
      const byOffset = dot(x.buffer, y.buffer, n, x.offset, y.offset);
      assertClose(byOffset, expected, scale, `dot n=${n}`);
      const xView = x.buffer.subarray(x.offset, x.offset + n);
      const yView = y.buffer.subarray(y.offset, y.offset + n);
      assert.equal(dot(xView, yView), byOffset);
      assert.equal(dotUnchecked(n, x.buffer, x.offset, y.buffer, y.offset), byOffset);
    }),
  );
});

test('axpyRowsUnchecked equals one axpy per row, bit for bit, and leaves the rest of y alone', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const n = g(fc.integer, { min: 0, max: 9 });
      const rows = g(fc.integer, { min: 0, max: 11 });
      const a = vectorIn(g, rows);
      const x = vectorIn(g, rows * n);
      const y = vectorIn(g, n);
      const expected = y.buffer.slice();
      for (let t = 0; t < rows; t++)
        axpy(a.buffer[a.offset + t]!, x.buffer, expected, n, x.offset + t * n, y.offset);
      axpyRowsUnchecked(n, rows, a.buffer, a.offset, x.buffer, x.offset, y.buffer, y.offset);
      assert.deepEqual(y.buffer, expected);
    }),
  );
});

test('axpy adds a·x to the span of y and leaves the rest of y alone', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const n = g(fc.integer, { min: 0, max: 37 });
      const a = g(fc.double, { min: -5, max: 5, noNaN: true });
      const x = vectorIn(g, n);
      const y = vectorIn(g, n);
      const expected = y.buffer.slice();
      for (let i = 0; i < n; i++)
        expected[y.offset + i] = y.buffer[y.offset + i]! + a * x.buffer[x.offset + i]!;
      axpy(a, x.buffer, y.buffer, n, x.offset, y.offset);
      assert.deepEqual(y.buffer, expected);
    }),
  );
});

test('scal multiplies the span only', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const n = g(fc.integer, { min: 0, max: 37 });
      const a = g(fc.double, { min: -5, max: 5, noNaN: true });
      const x = vectorIn(g, n);
      const expected = x.buffer.slice();
      for (let i = 0; i < n; i++) expected[x.offset + i] = a * x.buffer[x.offset + i]!;
      scal(a, x.buffer, n, x.offset);
      assert.deepEqual(x.buffer, expected);
    }),
  );
});

test('nrm2 equals the square root of the sum of squares', () => {
  fc.assert(
    fc.property(fc.gen(), (g) => {
      const n = g(fc.integer, { min: 0, max: 37 });
      const x = vectorIn(g, n);
      // Scaled by the largest magnitude, so that values like 1e-300 do not square to 0.
      let max = 0;
      for (let i = 0; i < n; i++) max = Math.max(max, Math.abs(x.buffer[x.offset + i]!));
      let ss = 0;
      for (let i = 0; i < n; i++) ss += (x.buffer[x.offset + i]! / max) ** 2;
      const expected = max === 0 ? 0 : max * Math.sqrt(ss);
      assertClose(nrm2(x.buffer, n, x.offset), expected, 10 * expected, 'nrm2');
    }),
  );
});

test('nrm2 neither overflows nor underflows, and passes NaN through', () => {
  assertClose(nrm2(new Float64Array([3e200, 4e200])), 5e200, 5e200, 'nrm2 of huge values');
  assertClose(nrm2(new Float64Array([3e-200, 4e-200])), 5e-200, 5e-200, 'nrm2 of tiny values');
  assert.equal(nrm2(new Float64Array(5)), 0);
  assert.equal(nrm2(new Float64Array(0)), 0);
  assert.equal(nrm2(new Float64Array([1, Number.POSITIVE_INFINITY])), Number.POSITIVE_INFINITY);
  assert.ok(Number.isNaN(nrm2(new Float64Array([1, Number.NaN]))));
});

/** A random row-major `m × n` matrix as a view into the middle of a larger buffer. */
function matrixView(g: Gen, m: number, n: number): Float64Array {
  const { buffer, offset } = vectorIn(g, m * n);
  return buffer.subarray(offset, offset + m * n);
}

for (const transposed of [false, true]) {
  const name = transposed ? 'gemvT' : 'gemv';
  test(`${name} equals the naive product, including beta = 0 over a NaN-filled y`, () => {
    fc.assert(
      fc.property(fc.gen(), (g) => {
        const m = g(fc.integer, { min: 0, max: 13 });
        const n = g(fc.integer, { min: 0, max: 13 });
        const A = matrixView(g, m, n);
        const inLen = transposed ? m : n;
        const outLen = transposed ? n : m;
        const x = matrixView(g, 1, inLen);
        const alpha = g(fc.constantFrom, 1, -0.5, 2.25);
        const beta = g(fc.constantFrom, 0, 1, 0.75);
        const y = beta === 0 ? new Float64Array(outLen).fill(Number.NaN) : matrixView(g, 1, outLen);
        const expected = new Float64Array(outLen);
        const scale = new Float64Array(outLen);
        for (let o = 0; o < outLen; o++) {
          let s = 0;
          for (let i = 0; i < inLen; i++) {
            const t = (transposed ? A[i * n + o]! : A[o * n + i]!) * x[i]!;
            s += t;
            scale[o] = scale[o]! + Math.abs(t);
          }
          expected[o] = beta === 0 ? alpha * s : alpha * s + beta * y[o]!;
          scale[o] = Math.abs(alpha) * scale[o]! + Math.abs(beta === 0 ? 0 : beta * y[o]!);
        }
        (transposed ? gemvT : gemv)(m, n, A, x, y, alpha, beta);
        for (let o = 0; o < outLen; o++) assertClose(y[o]!, expected[o]!, scale[o]!, `${name} y[${o}]`);
      }),
    );
  });
}

test('kernels refuse spans that run past the end of their arrays', () => {
  const x = new Float64Array(4);
  assert.throws(
    () => dot(x, new Float64Array(3)),
    /dot y: span \[0, 4\) runs past the end of an array of length 3/,
  );
  assert.throws(() => axpy(1, x, x, 3, 2, 0), /axpy x: span \[2, 5\)/);
  assert.throws(() => gemv(2, 3, new Float64Array(5), x, x), /gemv A: span \[0, 6\)/);
  assert.throws(() => gemvT(2, 2, x, x, new Float64Array(1)), /gemvT y/);
  assert.throws(() => scal(2, x, -1), /length -1 is not a non-negative integer/);
});
