import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Frame } from './frame.ts';

const frame = Frame.fromRecord({ x: [0, 1, 2, 3, 4], c: ['a', 'b', 'a', null, 'b'] });
const values = (f: Frame) => {
  const x = f.column('x');
  assert.equal(x.kind, 'number');
  return x.kind === 'number' ? x.values : new Float64Array(0);
};

test('take views one ascending run of rows, and copies any other choice', () => {
  const run = frame.take(Uint32Array.of(1, 2, 3));
  assert.deepEqual([...values(run)], [1, 2, 3]);
  assert.equal(values(run).buffer, values(frame).buffer, 'a run is a view');
  assert.deepEqual(run.toRecords(), frame.toRecords(1, 4));
  for (const picked of [
    [3, 1],
    [0, 2, 4],
    [1, 2, 2],
  ]) {
    const copy = frame.take(picked);
    assert.deepEqual([...values(copy)], picked);
    assert.notEqual(values(copy).buffer, values(frame).buffer, `${picked} is a copy`);
  }
  assert.equal(frame.take([]).rows, 0);
});
