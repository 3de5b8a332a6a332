import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ColumnNotFoundError, ParamError, UsageError } from '../errors.ts';
import { categoricalColumn, Frame, numericColumn } from './frame.ts';
import {
  type PartitionerSpec,
  type Partitioning,
  parsePartitioner,
  partitionFrame,
  partitionStats,
} from './partition.ts';
import { Rng } from './random.ts';

/** Every row sits in exactly one partition, `indices` agrees with `assignment`, and is ascending. */
function assertPure(p: Partitioning, rows: number): void {
  assert.equal(p.assignment.length, rows);
  assert.equal(p.indices.length, p.count);
  const seen = new Uint8Array(rows);
  for (let q = 0; q < p.count; q++) {
    const ix = p.indices[q]!;
    for (let j = 0; j < ix.length; j++) {
      const r = ix[j]!;
      if (j > 0) assert.ok(ix[j - 1]! < r, `partition ${q} not ascending`);
      assert.equal(p.assignment[r], q);
      assert.equal(seen[r], 0, `row ${r} twice`);
      seen[r] = 1;
    }
  }
  assert.ok(
    seen.every((s) => s === 1),
    'some row in no partition',
  );
}

function normalFrame(rows: number, seed: number): Frame {
  const rng = new Rng(seed);
  const v = new Float64Array(rows);
  for (let i = 0; i < rows; i++) v[i] = rng.normal();
  return new Frame([numericColumn('v', v)]);
}

const SPECS: PartitionerSpec[] = [
  { kind: 'hash', column: 'v' },
  { kind: 'range', column: 'v' },
  { kind: 'random' },
  { kind: 'round-robin' },
];

test('parsePartitioner accepts the four forms', () => {
  assert.deepEqual(parsePartitioner('hash:user_id'), { kind: 'hash', column: 'user_id' });
  assert.deepEqual(parsePartitioner('range:time'), { kind: 'range', column: 'time' });
  assert.deepEqual(parsePartitioner('hash:a:b'), { kind: 'hash', column: 'a:b' });
  assert.deepEqual(parsePartitioner('random'), { kind: 'random' });
  assert.deepEqual(parsePartitioner('round-robin'), { kind: 'round-robin' });
});

test('parsePartitioner refuses other text, naming it and the accepted forms', () => {
  for (const text of ['roundrobin', 'hash', 'sorted:x', 'random:x', '', ':x']) {
    assert.throws(
      () => parsePartitioner(text),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message ===
          `unknown --partitioner '${text}' (expected one of hash:COLUMN, range:COLUMN, random, round-robin)`,
      text,
    );
  }
  assert.throws(
    () => parsePartitioner('range:'),
    (e: unknown) =>
      e instanceof UsageError && e.message === "--partitioner 'range:' names no column (write range:COLUMN)",
  );
});

test('every partitioner puts every row in exactly one partition, deterministically', () => {
  const frame = normalFrame(10_007, 1);
  for (const spec of SPECS) {
    for (const count of [1, 3, 8]) {
      const p = partitionFrame(frame, spec, count, 5);
      assertPure(p, frame.rows);
      assert.deepEqual(partitionFrame(frame, spec, count, 5).assignment, p.assignment, spec.kind);
    }
  }
});

test('seeded partitioners change with the seed', () => {
  const frame = normalFrame(1000, 2);
  for (const spec of SPECS.filter((s) => s.kind === 'hash' || s.kind === 'random')) {
    assert.notDeepEqual(
      partitionFrame(frame, spec, 4, 1).assignment,
      partitionFrame(frame, spec, 4, 2).assignment,
      spec.kind,
    );
  }
});

test('hash: equal numbers share a partition, including -0/0 and NaNs of any payload', () => {
  const v = new Float64Array(4000);
  for (let i = 0; i < v.length; i++) v[i] = i % 37;
  v[0] = 0;
  v[1] = -0;
  // Two NaNs with different bit patterns.
  const bits = new Uint32Array(v.buffer);
  v[2] = Number.NaN;
  v[3] = Number.NaN;
  bits[7] = 0xfff00000;
  bits[6] = 123;
  assert.ok(Number.isNaN(v[3]!));
  const p = partitionFrame(new Frame([numericColumn('v', v)]), { kind: 'hash', column: 'v' }, 7, 3);
  const byValue = new Map<number, number>();
  for (let i = 4; i < v.length; i++) {
    const seen = byValue.get(v[i]!);
    if (seen === undefined) byValue.set(v[i]!, p.assignment[i]!);
    else assert.equal(p.assignment[i], seen, `value ${v[i]}`);
  }
  assert.equal(p.assignment[0], p.assignment[1]);
  assert.equal(p.assignment[0], byValue.get(0));
  assert.equal(p.assignment[2], p.assignment[3]);
  // 37 keys over 7 partitions: the hash should use more than a couple of them.
  assert.ok(new Set(p.assignment).size >= 5);
});

test('hash: a slice of a frame hashes like the full frame (zero-copy view with an offset)', () => {
  const frame = normalFrame(500, 4);
  const spec: PartitionerSpec = { kind: 'hash', column: 'v' };
  const full = partitionFrame(frame, spec, 5, 9);
  const part = partitionFrame(frame.slice(123, 400), spec, 5, 9);
  assert.deepEqual(part.assignment, full.assignment.slice(123, 400));
});

test('hash: categories hash their level strings, whatever the level order', () => {
  const strings = ['paris', 'oslo', 'lima', 'oslo', 'rome', 'paris', 'kyiv', 'lima', 'quito', 'oslo'];
  const a = Frame.fromRecord({ city: [...strings, null] });
  const levels = ['rome', 'quito', 'paris', 'oslo', 'lima', 'kyiv'];
  const codes = Int32Array.from([...strings, null], (s) => (s === null ? -1 : levels.indexOf(s)));
  const b = new Frame([categoricalColumn('city', codes, levels)]);
  const spec: PartitionerSpec = { kind: 'hash', column: 'city' };
  const pa = partitionFrame(a, spec, 4, 12);
  assert.deepEqual(partitionFrame(b, spec, 4, 12).assignment, pa.assignment);
  assert.equal(pa.assignment[1], pa.assignment[3]);
  assert.equal(pa.assignment[0], pa.assignment[5]);
  // A missing category lands where a missing number does.
  const nan = partitionFrame(Frame.fromRecord({ city: [null, 1] }), spec, 4, 12);
  assert.equal(pa.assignment[10], nan.assignment[0]);
});

test('hash: distinct keys spread evenly', () => {
  const v = new Float64Array(100_000);
  for (let i = 0; i < v.length; i++) v[i] = i;
  const stats = partitionStats(
    partitionFrame(new Frame([numericColumn('id', v)]), { kind: 'hash', column: 'id' }, 8, 0),
  );
  assert.ok(stats.skew < 1.03, `skew ${stats.skew}`);
});

test('range: sorted boundaries, rows inside them, balanced within 5% on 100k normal rows', () => {
  const frame = normalFrame(100_000, 7);
  const column = frame.column('v');
  assert.equal(column.kind, 'number');
  const values = column.kind === 'number' ? column.values : new Float64Array();
  for (const count of [2, 4, 8, 16]) {
    const p = partitionFrame(frame, { kind: 'range', column: 'v' }, count, 3);
    const b = p.boundaries!;
    assert.equal(b.length, count - 1);
    for (let i = 1; i < b.length; i++) assert.ok(b[i - 1]! <= b[i]!);
    for (let i = 0; i < values.length; i++) {
      const q = p.assignment[i]!;
      if (q > 0) assert.ok(values[i]! >= b[q - 1]!);
      if (q < count - 1) assert.ok(values[i]! < b[q]!);
    }
    const stats = partitionStats(p);
    assert.ok(
      stats.skew <= 1.05 && stats.min >= 0.95 * stats.mean,
      `count ${count}: ${JSON.stringify(stats)}`,
    );
  }
});

test('range: missing values go to partition 0; small columns use every row', () => {
  const frame = Frame.fromRecord({ t: [5, null, 1, 4, 2, null, 3, 6] });
  const p = partitionFrame(frame, { kind: 'range', column: 't' }, 3, 0);
  assert.deepEqual([...p.boundaries!], [3, 5]);
  assert.deepEqual([...p.assignment], [2, 0, 0, 1, 0, 0, 1, 2]);
});

test('range: categories are ranked by level string, not code', () => {
  const strings = ['d', 'a', 'c', 'b', 'a', 'd', 'c', 'b'];
  const a = Frame.fromRecord({ k: strings });
  const levels = ['a', 'b', 'c', 'd'];
  const b = new Frame([
    categoricalColumn(
      'k',
      Int32Array.from(strings, (s) => levels.indexOf(s)),
      levels,
    ),
  ]);
  const spec: PartitionerSpec = { kind: 'range', column: 'k' };
  const pa = partitionFrame(a, spec, 2, 0);
  assert.deepEqual(partitionFrame(b, spec, 2, 0).assignment, pa.assignment);
  assert.deepEqual([...pa.assignment], [1, 0, 1, 0, 0, 1, 1, 0]);
});

test('round-robin: row i goes to partition i mod count, order kept', () => {
  const p = partitionFrame(normalFrame(10, 1), { kind: 'round-robin' }, 4, 99);
  assert.deepEqual([...p.assignment], [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
  assert.deepEqual(
    p.indices.map((ix) => [...ix]),
    [
      [0, 4, 8],
      [1, 5, 9],
      [2, 6],
      [3, 7],
    ],
  );
});

test('random: sizes equal ±1', () => {
  const stats = partitionStats(partitionFrame(normalFrame(1003, 1), { kind: 'random' }, 10, 8));
  assert.equal(stats.max - stats.min, 1);
  assert.equal(
    stats.rows.reduce((a, b) => a + b, 0),
    1003,
  );
});

test('partitionStats reports sizes, mean, skew and empty partitions', () => {
  const p = partitionFrame(normalFrame(10, 1), { kind: 'round-robin' }, 4, 0);
  assert.deepEqual(partitionStats(p), { rows: [3, 3, 2, 2], min: 2, max: 3, mean: 2.5, skew: 1.2, empty: 0 });
  const sparse = partitionFrame(normalFrame(3, 1), { kind: 'round-robin' }, 5, 0);
  assert.deepEqual(partitionStats(sparse), {
    rows: [1, 1, 1, 0, 0],
    min: 0,
    max: 1,
    mean: 0.6,
    skew: 1 / 0.6,
    empty: 2,
  });
  const none = partitionFrame(normalFrame(0, 1), { kind: 'random' }, 2, 0);
  assert.deepEqual(partitionStats(none), { rows: [0, 0], min: 0, max: 0, mean: 0, skew: 1, empty: 2 });
});

test('a missing column and a bad count are refused', () => {
  const frame = normalFrame(10, 1);
  assert.throws(() => partitionFrame(frame, { kind: 'hash', column: 'w' }, 2, 0), ColumnNotFoundError);
  assert.throws(() => partitionFrame(frame, { kind: 'range', column: 'vv' }, 2, 0), ColumnNotFoundError);
  for (const count of [0, -1, 2.5, Number.NaN]) {
    assert.throws(
      () => partitionFrame(frame, { kind: 'random' }, count, 0),
      (e: unknown) =>
        e instanceof ParamError && e.message === `--partitions must be a positive integer, got ${count}`,
    );
  }
});
