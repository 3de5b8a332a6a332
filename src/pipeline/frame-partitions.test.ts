import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Frame } from '../data/frame.ts';
import { sharedFloat64 } from '../engine/local/protocol.ts';
import { getPartitionDecoder } from '../engine/raw-partitions.ts';
import { applyPlan, fitPlan } from '../preprocess/preprocessor.ts';
import { FRAME_DECODER, framePartitions } from './frame-partitions.ts';
import { appendWeightColumn } from './sample-weight.ts';

// 7 rows: missing numbers and categories, a category whose level set is unsorted.
const features = Frame.fromRecord({
  x: [1.5, null, -2, 4, 0.25, null, 3],
  color: ['red', null, 'blue', 'red', 'green', 'blue', null],
  z: [10, 20, 30, null, 50, 60, 70],
});
const y = Float64Array.from([0, 1, 1, 0, 1, 0, 1]);
const weights = Float64Array.from([1, 2, 3, 1, 2, 3, 0.5]);
const plan = fitPlan(features, { standardize: true, dropFirstLevel: true });

/** A partition's value as a worker receives it: the pieces one after another, 8-aligned. */
function received(pieces: readonly ArrayBufferView[]): Uint8Array {
  const bytes = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of pieces) {
    bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  return bytes;
}

test('each decoded partition holds, bit for bit, its rows of the matrix applyPlan encodes from the whole frame', () => {
  const whole = applyPlan(plan, features);
  const d = whole.cols;
  const X = appendWeightColumn(whole.X, whole.rows, d, weights, (n) => new Float64Array(n));
  for (const weighted of [false, true]) {
    const placed = framePartitions(features, plan, y, weighted ? weights : undefined, 3);
    const cols = d + (weighted ? 1 : 0);
    assert.equal(placed.cols, cols);
    assert.equal(placed.encoding.decoder, FRAME_DECODER);
    const decode = getPartitionDecoder(FRAME_DECODER);
    let row = 0;
    for (const [p, part] of placed.parts.entries()) {
      const m = decode(received(part.pieces), placed.encoding.spec, `partition ${p}`, sharedFloat64);
      // In the memory it was given, which the worker's kernel threads read without a copy.
      assert.ok(m.X.buffer instanceof SharedArrayBuffer && m.y.buffer instanceof SharedArrayBuffer);
      assert.equal(m.rows, part.rows);
      assert.equal(m.cols, cols);
      assert.deepStrictEqual(m.y, y.slice(row, row + m.rows));
      const expected = weighted
        ? X.slice(row * cols, (row + m.rows) * cols)
        : whole.X.slice(row * cols, (row + m.rows) * cols);
      assert.deepStrictEqual(m.X, expected);
      row += m.rows;
    }
    assert.equal(row, features.rows);
  }
});

test('the driver sends views of the frame: float64 parts first, then 4-byte category codes', () => {
  const placed = framePartitions(features, plan, y, weights, 2);
  const [first] = placed.parts;
  // Rows 0–3: header, y, weights, x, z (float64), then color's codes (int32).
  assert.deepStrictEqual(
    first!.pieces.map((p) => [p.constructor.name, p.byteLength]),
    [
      ['Float64Array', 8],
      ['Float64Array', 32],
      ['Float64Array', 32],
      ['Float64Array', 32],
      ['Float64Array', 32],
      ['Int32Array', 16],
    ],
  );
  const x = features.column('x');
  assert.ok(x.kind === 'number' && first!.pieces[3]!.buffer === x.values.buffer, 'a view, not a copy');
});

test('a partition of the wrong length is refused, naming it', () => {
  const placed = framePartitions(features, plan, y, undefined, 1);
  const bytes = received(placed.parts[0]!.pieces);
  assert.throws(
    () =>
      getPartitionDecoder(FRAME_DECODER)(
        bytes.subarray(0, bytes.byteLength - 8),
        placed.encoding.spec,
        'partition 0 of p3',
        sharedFloat64,
      ),
    /partition 0 of p3 is malformed: \d+ bytes, expected \d+ for 7 rows/,
  );
});
