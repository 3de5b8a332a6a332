import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BENCH_VECTOR } from './bench.kernels.ts';
import { InlineEngine } from './inline-engine.ts';
import { getKernel } from './kernel-registry.ts';

test('bench.vector reduces to the placement row count in every element, at the length asked', async () => {
  assert.equal(getKernel(BENCH_VECTOR).resultLength({ length: 7 }, 3), 7);
  const engine = new InlineEngine();
  // 10 rows in 3 partitions (4 + 3 + 3): each partition adds its row count everywhere.
  const placed = await engine.distribute(
    { rows: 10, cols: 1, X: new Float64Array(10), y: new Float64Array(10) },
    { partitions: 3 },
  );
  const sum = await engine.treeReduce(BENCH_VECTOR, placed, { length: 1000 });
  assert.equal(sum.length, 1000);
  assert.ok(sum.every((v) => v === 10));
  await engine.close();
});
