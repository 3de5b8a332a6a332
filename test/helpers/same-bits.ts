/**
 * The bit-for-bit comparison of two models' tensors, shared by the tests that hold two engines or
 * two placements to the same model. A failure says how far apart the models are (the first
 * differing element and the largest relative difference: a last-bit difference of summation order
 * reads differently from a fit on other rows), and whatever the caller adds about the two fits.
 */
import assert from 'node:assert/strict';

/** A model file's tensors, by name. */
export type Tensors = Record<string, { data: ArrayLike<number> & ArrayBufferView }>;

/**
 * Asserts that every tensor of `a` has the same bytes as in `b`.
 * @param about - added to the failure message, e.g. both fits' reasons
 */
export function assertSameBits(a: Tensors, b: Tensors, about = ''): void {
  assert.deepStrictEqual(Object.keys(a).sort(), Object.keys(b).sort());
  const bytes = (x: ArrayBufferView) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  for (const [name, t] of Object.entries(a)) {
    const u = b[name]!.data;
    assert.equal(t.data.length, u.length, `tensor ${name}: ${t.data.length} elements against ${u.length}`);
    if (bytes(t.data).equals(bytes(u))) continue;
    let first = 0;
    while (Object.is(t.data[first], u[first])) first++;
    assert.fail(
      `tensor ${name} differs: first at element ${first} (${t.data[first]} against ${u[first]}); ` +
        `largest relative difference over all tensors ${worstDifference(a, b)}${about === '' ? '' : `; ${about}`}`,
    );
  }
}

/** Largest difference between the tensors of `a` and `b`, relative to max(1, |b|). */
export function worstDifference(a: Tensors, b: Tensors): number {
  let worst = 0;
  for (const [name, t] of Object.entries(a)) {
    const u = b[name]!.data;
    for (let i = 0; i < t.data.length; i++)
      worst = Math.max(worst, Math.abs(t.data[i]! - u[i]!) / Math.max(1, Math.abs(u[i]!)));
  }
  return worst;
}
