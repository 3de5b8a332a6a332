import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CapacityPlanner,
  partitionMemory,
  pickCopyWorker,
  REBALANCE,
  rebalanceOptions,
  SpeedMeter,
} from './capacity.ts';
import type { WorkerInfo } from './membership.ts';

/** A worker alone on its machine (host `h-ID`). */
const worker = (id: string, threads = 1, memoryBytes = 8 * 2 ** 30): WorkerInfo => ({
  id,
  name: id.toUpperCase(),
  pid: 1,
  host: `h-${id}`,
  cores: 2,
  memoryBytes,
  threads,
  startedAt: '',
});

/** 600 rows × 9 columns in 6 partitions: 100 rows each. */
const SHAPE = { rows: 600, cols: 9, partitions: 6 };

/** One pass of `kernel` in which every partition's owner took `msPerRow[owner]` per row. */
function pass(
  planner: CapacityPlanner,
  owners: readonly (string | undefined)[],
  msPerRow: Record<string, number>,
) {
  for (const id of owners) planner.meter.record('k', id!, (msPerRow[id!]! * 100) / 1000, 100);
  planner.meter.endPass('k');
}

test('the speed meter smooths each pass into a figure per worker and kernel, a pass counting only if the one before agrees', () => {
  const m = new SpeedMeter(0.5);
  m.record('k', 'a', 0.2, 100);
  m.record('k', 'a', 0.4, 100);
  m.record('other', 'a', 9, 1);
  assert.equal(m.secondsPerRow('k', 'a'), undefined, 'nothing counts before the pass ends');
  m.endPass('k');
  assert.equal(m.secondsPerRow('k', 'a'), undefined, 'one pass alone is no figure');
  m.record('k', 'a', 0.1, 100);
  m.endPass('k');
  assert.equal(m.secondsPerRow('k', 'a'), 0.1 / 100, 'the lesser of the two passes');
  assert.equal(m.secondsPerRow('other', 'a'), undefined);
  // One slow pass enters as the pass before it: the figure does not move.
  m.record('k', 'a', 0.5, 100);
  m.endPass('k');
  assert.equal(m.secondsPerRow('k', 'a'), 0.1 / 100);
  // A second slow pass in a row does.
  m.record('k', 'a', 0.5, 100);
  m.endPass('k');
  assert.equal(m.secondsPerRow('k', 'a'), 0.5 * (0.5 / 100) + 0.5 * (0.1 / 100));
  assert.equal(m.passesOf('k'), 4);
  assert.equal(m.passesOf('other'), 0);
});

test('partitions move off a slow worker only after two measured passes in a row show the gain', () => {
  const planner = new CapacityPlanner(REBALANCE);
  const live = [worker('a'), worker('b'), worker('c')];
  const owners: (string | undefined)[] = ['a', 'b', 'c', 'a', 'b', 'c'];
  const idle = [0, 0, 0, 0, 0, 0];
  // Nothing measured yet: nothing to decide; after one pass, no figure yet.
  assert.equal(planner.decide('p0', 'k', owners, idle, live, SHAPE), undefined);
  pass(planner, owners, { a: 1, b: 0.01, c: 0.01 });
  assert.equal(planner.decide('p0', 'k', owners, idle, live, SHAPE), undefined);
  // A second slow pass of a (1 ms per row: 200 ms against 2 ms for the others' pass) makes a figure…
  pass(planner, owners, { a: 1, b: 0.01, c: 0.01 });
  assert.equal(planner.decide('p0', 'k', owners, idle, live, SHAPE), undefined);
  // …asked again with no new pass: still no new evidence.
  assert.equal(planner.decide('p0', 'k', owners, idle, live, SHAPE), undefined);
  // The third pass is as slow: two boundaries in a row show the gain, and a's partitions move.
  pass(planner, owners, { a: 1, b: 0.01, c: 0.01 });
  const plan = planner.decide('p0', 'k', owners, idle, live, SHAPE);
  assert.ok(plan !== undefined);
  assert.deepEqual(
    plan.moves.map((m) => [m.partition, m.from, m.to]),
    [
      [0, 'a', 'b'],
      [3, 'a', 'c'],
    ],
  );
  assert.deepEqual(owners, ['b', 'b', 'c', 'c', 'b', 'c']);
  assert.ok(
    Math.abs(plan.before - 0.2) < 1e-12 && Math.abs(plan.after - 0.003) < 1e-12,
    JSON.stringify(plan),
  );
  // The map now matches the speeds: more passes move nothing.
  for (let i = 0; i < 3; i++) {
    pass(planner, owners, { b: 0.01, c: 0.01 });
    assert.equal(planner.decide('p0', 'k', owners, idle, live, SHAPE), undefined);
  }
});

test('one noisy pass moves nothing: slow passes between quick ones never count, and the run of evidence starts again', () => {
  const planner = new CapacityPlanner({ ...REBALANCE, smoothing: 1 });
  const live = [worker('a'), worker('b')];
  const owners: (string | undefined)[] = ['a', 'b', 'a', 'b'];
  const idle = [0, 0, 0, 0];
  const quick = { a: 0.01, b: 0.01 };
  const slow = { a: 1, b: 0.01 };
  for (const speeds of [quick, slow, quick, slow, quick, slow]) {
    pass(planner, owners, speeds);
    assert.equal(planner.decide('p0', 'k', owners, idle, live, SHAPE), undefined);
  }
  assert.deepEqual(owners, ['a', 'b', 'a', 'b']);
  // Slow twice in a row: one boundary of evidence; three times: the second, and a's partitions move.
  pass(planner, owners, slow);
  assert.equal(planner.decide('p0', 'k', owners, idle, live, SHAPE), undefined);
  pass(planner, owners, slow);
  assert.equal(planner.decide('p0', 'k', owners, idle, live, SHAPE)?.moves.length, 2);
});

test('threads, unmeasured workers and memory weigh in the decision', () => {
  // b runs 2 threads at a's speed per thread: a pass predicts b's share at half the time per partition.
  const planner = new CapacityPlanner(REBALANCE);
  const owners: (string | undefined)[] = ['a', 'b', 'a', 'b', 'a', 'b'];
  const idle = owners.map(() => 0);
  // c joined and owns nothing: unmeasured, it is left out.
  const live = [worker('a'), worker('b', 2), worker('c')];
  for (let i = 0; i < 2; i++) {
    pass(planner, owners, { a: 0.5, b: 0.5 });
    assert.equal(planner.decide('p0', 'k', owners, idle, live, SHAPE), undefined);
  }
  // a: 3 × 50 ms = 150 ms, b: 3 × 25 ms = 75 ms; best a 2, b 4 (100 ms): a gain of 50 ms, 33 %.
  pass(planner, owners, { a: 0.5, b: 0.5 });
  const plan = planner.decide('p0', 'k', owners, idle, live, SHAPE);
  assert.deepEqual(plan?.moves, [{ partition: 4, from: 'a', to: 'b' }]);
  assert.deepEqual(
    plan?.workers.map((w) => w.id),
    ['a', 'b'],
  );
  // A worker that owns partitions but has no figure yet defers the decision.
  const unmeasured = new CapacityPlanner(REBALANCE);
  const mixed: (string | undefined)[] = ['a', 'b', 'c', 'a', 'b', 'c'];
  for (let i = 0; i < 3; i++) {
    pass(unmeasured, ['a', 'b', 'a', 'b'], { a: 1, b: 0.01 });
    assert.equal(unmeasured.decide('p0', 'k', mixed, idle, live, SHAPE), undefined);
  }
  // Memory: a partition of 100 rows × 10 float64 is 8,000 bytes; b may hold half of 48,000 (3),
  // so partition 3, which b would finish soonest (4 ms against c's 6 ms), goes to c.
  const tight = new CapacityPlanner(REBALANCE);
  const two: (string | undefined)[] = ['a', 'b', 'c', 'a', 'b', 'c'];
  const small = [worker('a'), worker('b', 1, 48_000), worker('c')];
  for (let i = 0; i < 3; i++) {
    pass(tight, two, { a: 1, b: 0.01, c: 0.02 });
    tight.decide('p0', 'k', two, idle, small, SHAPE);
  }
  assert.deepEqual(two, ['b', 'b', 'c', 'c', 'b', 'c']);
  const none = [worker('a'), worker('b', 1, 16_000), worker('c', 1, 16_000)];
  const full = new CapacityPlanner(REBALANCE);
  const three: (string | undefined)[] = ['a', 'b', 'c', 'a', 'b', 'c'];
  for (let i = 0; i < 3; i++) {
    pass(full, three, { a: 1, b: 0.01, c: 0.02 });
    full.decide('p0', 'k', three, idle, none, SHAPE);
  }
  // b and c may hold 1 each and already hold 2: neither has room, so a keeps its partitions.
  assert.deepEqual(three, ['a', 'b', 'c', 'a', 'b', 'c']);
});

test('a worker may fill what its partitions hold plus its share of the available memory of its machine', () => {
  const GB = 2 ** 30;
  const onHost = (id: string, host: string, load: Partial<WorkerInfo> = {}): WorkerInfo => ({
    ...worker(id, 1, 16 * GB),
    host,
    ...load,
  });
  // An older worker's heartbeat (no figures): the machine's total, shared with its neighbours.
  const old = onHost('a', 'm1');
  assert.equal(partitionMemory(old, [old]), 16 * GB);
  assert.equal(partitionMemory(old, [old, onHost('b', 'm1'), onHost('c', 'm2')]), 8 * GB);
  // Available memory, shared by the two workers of m1, plus what each holds already.
  const a = onHost('a', 'm1', { freeBytes: 6 * GB, heldBytes: 2 * GB });
  const b = onHost('b', 'm1', { freeBytes: 6 * GB, heldBytes: 0 });
  const c = onHost('c', 'm2', { freeBytes: 1 * GB });
  const live = [a, b, c];
  assert.equal(partitionMemory(a, live), 5 * GB);
  assert.equal(partitionMemory(b, live), 3 * GB);
  assert.equal(partitionMemory(c, live), 1 * GB);
  // Figures that are not numbers of bytes count as unknown, not as room; a full machine is no room.
  assert.equal(partitionMemory(onHost('d', 'm3', { freeBytes: Number.NaN }), []), 16 * GB);
  assert.equal(partitionMemory(onHost('d', 'm3', { freeBytes: GB, heldBytes: -5 }), []), GB);
  assert.equal(partitionMemory(onHost('d', 'm3', { freeBytes: 0, heldBytes: 0 }), []), 0);
  assert.equal(partitionMemory({ ...onHost('d', 'm3'), memoryBytes: 0 }, []), undefined);

  // In a decision: a (fast) has no room left on a crowded machine, so the move goes to c.
  const planner = new CapacityPlanner(REBALANCE);
  const owners: (string | undefined)[] = ['a', 'b', 'c', 'a', 'b', 'c'];
  const idle = owners.map(() => 0);
  // 100 rows × 10 float64 = 8,000 bytes a partition; a may fill half of its 16,000 (1 partition)
  // and holds 2.
  const crowded = [
    onHost('a', 'm1', { freeBytes: 0, heldBytes: 16_000 }),
    onHost('b', 'm2', { freeBytes: 16 * GB }),
    onHost('c', 'm3', { freeBytes: 16 * GB }),
  ];
  for (let i = 0; i < 3; i++) {
    pass(planner, owners, { a: 0.01, b: 1, c: 0.02 });
    planner.decide('p0', 'k', owners, idle, crowded, SHAPE);
  }
  assert.deepEqual(owners, ['a', 'c', 'c', 'a', 'c', 'c']);
});

test('speculative copies go to the least busy worker per thread, rotating among ties', () => {
  const idle = [
    { outstanding: 0, threads: 1 },
    { outstanding: 0, threads: 1 },
    { outstanding: 0, threads: 1 },
  ];
  assert.deepEqual(
    [0, 1, 2, 3].map((turn) => pickCopyWorker(idle, turn)),
    [0, 1, 2, 0],
  );
  const busy = [
    { outstanding: 2, threads: 1 },
    { outstanding: 2, threads: 4 },
    { outstanding: 1, threads: 1 },
  ];
  assert.deepEqual(
    [0, 1].map((turn) => pickCopyWorker(busy, turn)),
    [1, 1],
  );
  assert.equal(pickCopyWorker([], 0), undefined);
});

test('the rebalance option: true is the defaults, false is none, and a field out of range is refused by name', () => {
  assert.deepEqual(rebalanceOptions(true), REBALANCE);
  assert.equal(rebalanceOptions(false), undefined);
  assert.deepEqual(rebalanceOptions({ passes: 3 }), { ...REBALANCE, passes: 3 });
  assert.throws(
    () => rebalanceOptions({ passes: 0 }),
    /rebalance\.passes is 0 \(give a whole number from 1 to Infinity\)/,
  );
  assert.throws(() => rebalanceOptions({ passes: 1.5 }), /rebalance\.passes is 1\.5/);
  assert.throws(
    () => rebalanceOptions({ memoryShare: 0 }),
    /rebalance\.memoryShare is 0 \(give a number from just above 0 to 1\)/,
  );
  assert.throws(() => rebalanceOptions({ minGainFraction: Number.NaN }), /rebalance\.minGainFraction is NaN/);
  assert.throws(
    () => rebalanceOptions({ gain: 1 } as unknown as Partial<typeof REBALANCE>),
    /rebalance\.gain: unknown field \(use minGainFraction, /,
  );
});
