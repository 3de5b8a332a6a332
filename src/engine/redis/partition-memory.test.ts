import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PartitionMemory } from './partition-memory.ts';

const shared = (length: number) => new Float64Array(new SharedArrayBuffer(length * 8));

test("a new run's partition is built, zeroed, in the memory of the ended run's partition of its size", () => {
  const memory = new PartitionMemory(shared);
  const X = memory.allocate(6);
  const y = memory.allocate(3);
  X.fill(7);
  y.fill(5);
  memory.reuse([{ rows: 3, cols: 2, X, y }]);
  assert.equal(memory.keptBytes, 9 * 8);
  const again = memory.allocate(6);
  assert.equal(again, X, 'the same memory');
  assert.deepEqual([...again], [0, 0, 0, 0, 0, 0], 'zeroed: one-hot encoding writes only its ones');
  assert.notEqual(memory.allocate(6), X, 'taken once: the next of that length is fresh');
  assert.equal(memory.allocate(4).length, 4, 'no kept array of another length is cut to size');
  assert.equal(memory.allocate(3), y);
  assert.equal(memory.keptBytes, 0);
});

test('only the memory of the latest ended runs is kept, and only arrays that own theirs, of the right kind', () => {
  const memory = new PartitionMemory(shared);
  const first = { rows: 2, cols: 1, X: memory.allocate(2), y: memory.allocate(2) };
  memory.reuse([first]);
  const block = shared(2 + 4 + 2);
  // A partition viewed in the bytes it arrived in: its arrays are parts of one buffer.
  const viewed = { rows: 2, cols: 2, X: block.subarray(2, 6), y: block.subarray(6) };
  const unshared = { rows: 2, cols: 1, X: new Float64Array(2), y: new Float64Array(2) };
  memory.reuse([viewed, unshared]);
  assert.equal(memory.keptBytes, 0, "the first run's memory is let go, and none of these is kept");
  const fresh = memory.allocate(2);
  assert.ok(fresh !== first.X && fresh !== first.y);
  assert.ok(fresh.buffer instanceof SharedArrayBuffer);
});

test('kept memory that no partition takes in time is let go', async () => {
  const memory = new PartitionMemory(shared);
  const part = { rows: 2, cols: 1, X: memory.allocate(2), y: memory.allocate(2) };
  memory.reuse([part], 20);
  assert.equal(memory.keptBytes, 32);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(memory.keptBytes, 0);
  assert.ok(memory.allocate(2) !== part.X);
});
