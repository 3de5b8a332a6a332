import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Frame } from '../data/frame.ts';
import { splitFrame } from './split-frame.ts';

const frame = Frame.fromRecord({
  x: Float64Array.from({ length: 10 }, (_, i) => i * 1.5),
  colour: Array.from({ length: 10 }, (_, i) => (i % 3 === 0 ? 'red' : 'blue')),
  y: Float64Array.from({ length: 10 }, (_, i) => i),
});

function rowsOfColumn(f: Frame, name: string): unknown[] {
  const c = f.column(name);
  return c.kind === 'number' ? [...c.values] : [...c.codes].map((code) => c.levels[code]);
}

test('a tail split views the rows in place, and holds the same rows as a copy would', () => {
  const { train, test: held } = splitFrame(frame, { testFraction: 0.3, method: 'tail' });
  assert.deepEqual(rowsOfColumn(train, 'y'), [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(rowsOfColumn(held, 'y'), [7, 8, 9]);
  assert.deepEqual(rowsOfColumn(held, 'colour'), ['blue', 'blue', 'red']);
  for (const part of [train, held]) {
    for (const name of ['x', 'y']) {
      const c = part.column(name);
      const whole = frame.column(name);
      assert.ok(c.kind === 'number' && whole.kind === 'number');
      assert.equal(c.values.buffer, whole.values.buffer, `${name} is a view, not a copy`);
    }
  }
  assert.deepEqual(
    rowsOfColumn(train, 'x'),
    rowsOfColumn(frame.take(Uint32Array.of(0, 1, 2, 3, 4, 5, 6)), 'x'),
  );
});

test('a random split copies its rows, in ascending order', () => {
  const { train, test: held } = splitFrame(frame, { testFraction: 0.3, method: 'random', seed: 7 });
  const trainRows = rowsOfColumn(train, 'y') as number[];
  const heldRows = rowsOfColumn(held, 'y') as number[];
  assert.equal(heldRows.length, 3);
  assert.deepEqual(
    [...trainRows, ...heldRows].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.deepEqual(
    trainRows,
    [...trainRows].sort((a, b) => a - b),
  );
  const c = train.column('y');
  const whole = frame.column('y');
  assert.ok(c.kind === 'number' && whole.kind === 'number');
  assert.notEqual(c.values.buffer, whole.values.buffer);
});
