import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Frame, numericColumn } from '../data/frame.ts';
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

test('an in-place split moves the rows within the columns and gives the rows the copying split gives', () => {
  const make = () =>
    Frame.fromRecord({
      x: Float64Array.from({ length: 50 }, (_, i) => i * 1.5),
      colour: Array.from({ length: 50 }, (_, i) => ['red', 'blue', 'green'][i % 3]!),
      y: Float64Array.from({ length: 50 }, (_, i) => i % 2),
    });
  for (const method of ['random', 'stratified', 'tail'] as const) {
    const options = { testFraction: 0.3, method, seed: 7, target: 'y' };
    const copied = splitFrame(make(), options);
    const consumed = make();
    const moved = splitFrame(consumed, { ...options, inPlace: true });
    for (const name of ['x', 'colour', 'y']) {
      assert.deepEqual(
        rowsOfColumn(moved.train, name),
        rowsOfColumn(copied.train, name),
        `${method} ${name}`,
      );
      assert.deepEqual(rowsOfColumn(moved.test, name), rowsOfColumn(copied.test, name), `${method} ${name}`);
    }
    const x = moved.train.column('x');
    const whole = consumed.column('x');
    assert.ok(x.kind === 'number' && whole.kind === 'number');
    assert.equal(x.values.buffer, whole.values.buffer, 'a view of the consumed frame, not a copy');
  }
});

test('an in-place split reorders a column array that the frame holds twice only once', () => {
  const values = Float64Array.from({ length: 10 }, (_, i) => i);
  const twice = new Frame([numericColumn('a', values), numericColumn('b', values)]);
  const { train, test: held } = splitFrame(twice, {
    testFraction: 0.3,
    method: 'random',
    seed: 7,
    inPlace: true,
  });
  const copied = splitFrame(Frame.fromRecord({ a: Float64Array.from({ length: 10 }, (_, i) => i) }), {
    testFraction: 0.3,
    method: 'random',
    seed: 7,
  });
  assert.deepEqual(rowsOfColumn(train, 'b'), rowsOfColumn(copied.train, 'a'));
  assert.deepEqual(rowsOfColumn(held, 'a'), rowsOfColumn(copied.test, 'a'));
});
