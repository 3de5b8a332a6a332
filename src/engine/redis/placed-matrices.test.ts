import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PlacedMatrices } from './placed-matrices.ts';
import type { PlacedLineage } from './source-partitions.ts';

const digest = 'ab'.repeat(32);
const lineage: PlacedLineage = {
  handlers: 'tabular',
  splits: ['s0', 's1', 's2'],
  specKey: 'k:spec:p1',
  specDigest: digest,
};
const decoder = { name: 'frame', specKey: 'k:spec:p2', specDigest: digest };

test('a task carries its partition lineage, or its placement decoder, or nothing more', () => {
  const placed = new PlacedMatrices();
  const plain = { id: 'p0', rows: 6, cols: 2, partitions: 3 };
  const read = { id: 'p1', rows: 6, cols: 2, partitions: 3 };
  const raw = { id: 'p2', rows: 6, cols: 2, partitions: 3 };
  placed.add(plain);
  placed.add(read, { lineage });
  placed.add(raw, { decoder });
  assert.deepEqual(placed.taskFields(plain, 1), {});
  assert.deepEqual(placed.taskFields(read, 1), {
    lineage: { handlers: 'tabular', split: 's1', specKey: 'k:spec:p1', specDigest: digest },
  });
  assert.deepEqual(placed.taskFields(raw, 1), { decoder });
  // Slot 0 of 2 owns partitions 0 and 2.
  assert.deepEqual(
    placed.slotFields(read, 0, 2).lineages?.map((l) => l.split),
    ['s0', 's2'],
  );
  assert.deepEqual(placed.slotFields(raw, 0, 2), { decoder });
  assert.deepEqual(
    placed.all().map((p) => p.id),
    ['p0', 'p1', 'p2'],
  );
});

test('releasing forgets a placement and names the spec to delete; an unknown one is refused', () => {
  const placed = new PlacedMatrices();
  const raw = { id: 'p2', rows: 6, cols: 2, partitions: 3 };
  placed.add(raw, { decoder });
  assert.deepEqual(placed.release(raw), { placed: true, specKey: 'k:spec:p2' });
  assert.deepEqual(placed.release(raw), { placed: false });
  assert.throws(() => placed.get(raw), /unknown or released placement 'p2'/);
  assert.deepEqual(placed.taskFields(raw, 0), {});
});
