/**
 * The TSQR pass of linear regression folds R factors with the kernel's own combine: it must give
 * the same bits on worker threads as inline, for the same partitioning, weighted or not.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { InlineEngine } from '../../src/engine/inline-engine.ts';
import { LocalEngine } from '../../src/engine/local/local-engine.ts';
import '../../src/models/kernels.ts';
import { LINEAR_TSQR } from '../../src/models/linear/linear.kernels.ts';
import { WORKER_ENTRY } from '../../src/pipeline/engines.ts';

const engines: Array<{ close(): Promise<void> }> = [];
after(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

/** 25,000 × 5 (+ a weight column): above the small-data threshold, so it runs on the threads. */
function data(weighted: boolean) {
  const rows = 25_000;
  const d = 5;
  const cols = weighted ? d + 1 : d;
  const X = new Float64Array(rows * cols);
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < d; j++) X[i * cols + j] = Math.sin(i * (j + 1) * 0.37) + j;
    if (weighted) X[i * cols + d] = (i % 5) / 4;
    y[i] = Math.cos(i * 0.11);
  }
  return { rows, cols, X, y };
}

test('the TSQR pass gives the same R on two threads as inline, and RᵀR = [1 X y]ᵀ[1 X y]', async () => {
  const local = new LocalEngine({ workers: 2, entry: WORKER_ENTRY });
  engines.push(local);
  for (const weighted of [false, true]) {
    const m = data(weighted);
    const args = { intercept: true, weighted };
    const inline = new InlineEngine();
    const expected = await inline.treeReduce(
      LINEAR_TSQR,
      await inline.distribute(m, { partitions: 4 }),
      args,
    );
    const got = await local.treeReduce(LINEAR_TSQR, await local.distribute(m, { partitions: 4 }), args);
    assert.deepStrictEqual(got, expected, `weighted=${weighted}`);
    assert.equal(local.telemetry().inlineReason, undefined, 'ran on the threads');
    // RᵀR against the weighted Gram matrix of [1 X y], summed directly.
    const p = 7;
    const d = 5;
    const gram = new Float64Array(p * p);
    const row = new Float64Array(p);
    for (let i = 0; i < m.rows; i++) {
      const w = weighted ? m.X[i * m.cols + d]! : 1;
      row[0] = 1;
      for (let j = 0; j < d; j++) row[1 + j] = m.X[i * m.cols + j]!;
      row[p - 1] = m.y[i]!;
      for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) gram[a * p + b]! += w * row[a]! * row[b]!;
    }
    for (let a = 0; a < p; a++) {
      for (let b = 0; b < p; b++) {
        let s = 0;
        for (let k = 0; k <= Math.min(a, b); k++) s += got[k * p + a]! * got[k * p + b]!;
        assert.ok(
          Math.abs(s - gram[a * p + b]!) <= 1e-9 * Math.abs(gram[a * p + b]!) + 1e-6,
          `RᵀR[${a},${b}]`,
        );
      }
    }
  }
});
