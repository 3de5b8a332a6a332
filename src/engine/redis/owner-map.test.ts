import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { balance, deal, dealOrder, REBALANCE_RULE, rebalanceBySpeed, replaceGone } from './owner-map.ts';

const counts = (owners: readonly (string | undefined)[], live: readonly string[]) =>
  live.map((id) => owners.filter((o) => o === id).length);

/**
 * The fewest moves that balance `c` (partitions held per live worker, of weights `w`; `unowned`
 * more to place) so that each holds ⌊P·w/W⌋ or one more, by trying every choice of which workers
 * get the extra shares: independent of balance()'s greedy choice of the workers that hold the most.
 */
function fewestMoves(c: readonly number[], unowned: number, w: readonly number[] = c.map(() => 1)): number {
  const P = c.reduce((a, b) => a + b, 0) + unowned;
  const W = w.reduce((a, b) => a + b, 0);
  const floor = w.map((x) => Math.floor((P * x) / W));
  const r = P - floor.reduce((a, b) => a + b, 0);
  let best = Number.POSITIVE_INFINITY;
  for (let mask = 0; mask < 1 << c.length; mask++) {
    let bits = 0;
    for (let i = 0; i < c.length; i++) bits += (mask >> i) & 1;
    if (bits !== r) continue;
    let moves = unowned;
    for (let i = 0; i < c.length; i++) moves += Math.max(0, c[i]! - floor[i]! - ((mask >> i) & 1));
    best = Math.min(best, moves);
  }
  return best;
}

test('deal is round-robin by position, and growing a map deals the same owners', () => {
  const once: (string | undefined)[] = [];
  deal(once, ['a', 'b', 'c'], 7);
  assert.deepEqual(once, ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  const grown: (string | undefined)[] = [];
  for (let p = 1; p <= 7; p++) deal(grown, ['a', 'b', 'c'], p);
  assert.deepEqual(grown, once);
  const none: (string | undefined)[] = [];
  deal(none, [], 2);
  assert.deepEqual(none, [undefined, undefined]);
});

test('replaceGone moves exactly the gone owner partitions, to the live workers holding the fewest', () => {
  const owners: (string | undefined)[] = ['d', 'e', 'victim', 'd', 'e', 'victim'];
  const moves = replaceGone(owners, ['d', 'e']);
  assert.deepEqual(moves, [
    { partition: 2, from: 'victim', to: 'd' },
    { partition: 5, from: 'victim', to: 'e' },
  ]);
  assert.deepEqual(owners, ['d', 'e', 'd', 'd', 'e', 'e']);
  // With nobody alive, every partition is unowned until a worker joins.
  assert.deepEqual(replaceGone(owners, []), []);
  assert.deepEqual(owners, Array(6).fill(undefined));
});

test('a joining worker receives the highest-numbered partitions of the workers holding the most', () => {
  const owners: (string | undefined)[] = ['first', 'first', 'first', 'first', 'first', 'first'];
  const { moves, complete } = balance(owners, ['first', 'late'], [0, 0, 0, 0, 0, 0]);
  assert.ok(complete);
  assert.deepEqual(
    moves.map((m) => [m.partition, m.to]),
    [
      [3, 'late'],
      [4, 'late'],
      [5, 'late'],
    ],
  );
  // Busy partitions stay put (idle ones move instead, highest first); if too few are idle the
  // map is left incomplete, to be balanced at a later pass.
  const some: (string | undefined)[] = ['a', 'a', 'a', 'a'];
  assert.ok(balance(some, ['a', 'b'], [0, 0, 1, 1]).complete);
  assert.deepEqual(some, ['b', 'b', 'a', 'a']);
  const most: (string | undefined)[] = ['a', 'a', 'a', 'a'];
  assert.equal(balance(most, ['a', 'b'], [1, 1, 1, 0]).complete, false);
  assert.deepEqual(most, ['a', 'a', 'a', 'b']);
});

test('balance: every partition owned by a live worker, within one of each other, in the fewest moves', () => {
  const worker = fc.constantFrom('w0', 'w1', 'w2', 'w3', 'w4', 'gone1', 'gone2');
  fc.assert(
    fc.property(
      fc.array(fc.option(worker, { nil: undefined }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 5 }),
      (initial, W) => {
        const live = ['w0', 'w1', 'w2', 'w3', 'w4'].slice(0, W);
        const owners = [...initial];
        const unowned = owners.filter((o) => o === undefined || !live.includes(o)).length;
        const before = counts(owners, live);
        const { moves, complete } = balance(
          owners,
          live,
          owners.map(() => 0),
        );
        assert.ok(complete);
        assert.ok(owners.every((o) => o !== undefined && live.includes(o)));
        const after = counts(owners, live);
        assert.ok(owners.length === 0 || Math.max(...after) - Math.min(...after) <= 1, `${after}`);
        assert.equal(moves.length, fewestMoves(before, unowned));
        // Nobody both gives and receives.
        const gave = new Set(moves.map((m) => m.from));
        assert.ok(moves.every((m) => !gave.has(m.to)));
      },
    ),
    { seed: 5, numRuns: 300 },
  );
});

test('dealing by capacity: a 2-thread worker gets twice the partitions, and any prefix is within one of its share', () => {
  // By hand, from the quota method: position 1 → big (2/1 > 1/1); 2 → big (2/2 = 1/1, a tie to
  // the first); 3 → small (big is at its upper quota ⌈3·2/3⌉ = 2); and so on, period 3.
  assert.deepEqual(dealOrder(['big', 'small'], 6, [2, 1]), ['big', 'big', 'small', 'big', 'big', 'small']);
  const owners: (string | undefined)[] = [];
  deal(owners, ['a', 'b', 'c'], 8, [4, 1, 1]);
  assert.deepEqual(counts(owners, ['a', 'b', 'c']), [6, 1, 1]);
  // Equal weights are plain round-robin.
  assert.deepEqual(dealOrder(['a', 'b', 'c'], 5, [3, 3, 3]), ['a', 'b', 'c', 'a', 'b']);
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 6 }), (w) => {
      const live = w.map((_, i) => `w${i}`);
      const W = w.reduce((a, b) => a + b, 0);
      const order = dealOrder(live, 3 * W + 1, w);
      for (let s = 1; s <= order.length; s++) {
        const held = counts(order.slice(0, s), live);
        held.forEach((k, i) => {
          const share = (s * w[i]!) / W;
          assert.ok(k >= Math.floor(share) && k <= Math.ceil(share), `prefix ${s}: ${held} for weights ${w}`);
        });
      }
      // Dealt at once or grown one by one, the same owners; a fresh deal needs no balancing.
      const grown: (string | undefined)[] = [];
      for (let p = 1; p <= order.length; p++) deal(grown, live, p, w);
      assert.deepEqual(grown, order);
      assert.equal(
        balance(
          grown,
          live,
          grown.map(() => 0),
          w,
        ).moves.length,
        0,
      );
    }),
    { seed: 11, numRuns: 300 },
  );
});

test("replaceGone by capacity: a dead worker's partitions go to the workers furthest below their share", () => {
  const owners: (string | undefined)[] = ['big', 'small', 'gone', 'big', 'gone', 'gone'];
  // Shares of 6 over weights 2 and 1: big 4, small 2. big is 2 below, small 1: big; then both
  // are 1 below, a tie to the first in order: big; then small.
  assert.deepEqual(
    replaceGone(owners, ['big', 'small'], [2, 1]).map((m) => [m.partition, m.to]),
    [
      [2, 'big'],
      [4, 'big'],
      [5, 'small'],
    ],
  );
  assert.deepEqual(counts(owners, ['big', 'small']), [4, 2]);
});

test('balance by capacity: every partition owned by a live worker, each within one of ⌊P·w/W⌋, in the fewest moves', () => {
  const worker = fc.constantFrom('w0', 'w1', 'w2', 'w3', 'w4', 'gone1', 'gone2');
  fc.assert(
    fc.property(
      fc.array(fc.option(worker, { nil: undefined }), { maxLength: 48 }),
      fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 5 }),
      (initial, w) => {
        const live = ['w0', 'w1', 'w2', 'w3', 'w4'].slice(0, w.length);
        const owners = [...initial];
        const unowned = owners.filter((o) => o === undefined || !live.includes(o)).length;
        const before = counts(owners, live);
        const { moves, complete } = balance(
          owners,
          live,
          owners.map(() => 0),
          w,
        );
        assert.ok(complete);
        assert.ok(owners.every((o) => o !== undefined && live.includes(o)));
        const W = w.reduce((a, b) => a + b, 0);
        counts(owners, live).forEach((k, i) => {
          const floor = Math.floor((owners.length * w[i]!) / W);
          assert.ok(k === floor || k === floor + 1, `${k} partitions for weight ${w[i]} of ${W}`);
        });
        assert.equal(moves.length, fewestMoves(before, unowned, w));
        const gave = new Set(moves.map((m) => m.from));
        assert.ok(moves.every((m) => !gave.has(m.to)));
      },
    ),
    { seed: 7, numRuns: 400 },
  );
});

/** Every map of `P` partitions over `W` workers (worker indexes), for brute force. */
function* allMaps(P: number, W: number): Generator<number[]> {
  const map = Array(P).fill(0) as number[];
  for (;;) {
    yield [...map];
    let p = 0;
    while (p < P && ++map[p]! === W) map[p++] = 0;
    if (p === P) return;
  }
}

const passOf = (map: readonly number[], cost: readonly number[]) => {
  const k = cost.map(() => 0);
  for (const i of map) k[i]!++;
  return k.reduce((m, n, i) => Math.max(m, n * cost[i]!), 0);
};

/** Costs in seconds per partition: from milliseconds (the absolute threshold matters) to seconds. */
const costs = fc.array(
  fc.integer({ min: 1, max: 400 }).map((ms) => ms / 1000),
  { minLength: 1, maxLength: 3 },
);

test('rebalanceBySpeed by hand: a worker 100× slower gives its partitions away, each to whoever finishes it soonest', () => {
  const owners: (string | undefined)[] = ['a', 'b', 'c', 'a', 'b', 'c'];
  const plan = rebalanceBySpeed(owners, ['a', 'b', 'c'], [0.1, 0.001, 0.0012], [0, 0, 0, 0, 0, 0]);
  // Partition 0: b would finish 3 at 3 ms, c at 3.6 ms; then partition 3: b at 4 ms, c at 3.6 ms.
  assert.deepEqual(plan.moves, [
    { partition: 0, from: 'a', to: 'b' },
    { partition: 3, from: 'a', to: 'c' },
  ]);
  assert.deepEqual(owners, ['b', 'b', 'c', 'c', 'b', 'c']);
  assert.equal(plan.before, 0.2);
  assert.ok(Math.abs(plan.after - 0.0036) < 1e-15 && plan.best === plan.after, JSON.stringify(plan));
  // The best map (b 3, c 3: 3 ms) is 2 moves away; b 4, c 2 (4 ms) is within the 20-ms slack, in 1.
  const skewed: (string | undefined)[] = ['a', 'b', 'b', 'b', 'b', 'c'];
  const one = rebalanceBySpeed(skewed, ['a', 'b', 'c'], [0.1, 0.001, 0.001], [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(one.moves, [{ partition: 0, from: 'a', to: 'c' }]);
  assert.equal(one.best, 0.003);
  assert.equal(one.after, 0.004);
  // Equal speeds, or a gain under 50 ms: nothing moves.
  const even: (string | undefined)[] = ['a', 'b', 'a', 'b'];
  assert.deepEqual(rebalanceBySpeed(even, ['a', 'b'], [0.01, 0.03], [0, 0, 0, 0]).moves, []);
  // A busy partition of the slow worker keeps the map as it is until the next pass.
  const idle: (string | undefined)[] = ['a', 'b', 'a', 'b'];
  assert.equal(rebalanceBySpeed(idle, ['a', 'b'], [1, 0.1], [0, 0, 0, 0]).moves.length, 2);
  assert.deepEqual(idle, ['b', 'b', 'b', 'b']);
  const busy: (string | undefined)[] = ['a', 'b', 'a', 'b'];
  assert.deepEqual(rebalanceBySpeed(busy, ['a', 'b'], [1, 0.1], [1, 0, 0, 0]).moves, []);
  assert.deepEqual(busy, ['a', 'b', 'a', 'b']);
  // Memory: b may hold 2, so c (slower, with room) takes the rest.
  const full: (string | undefined)[] = ['a', 'a', 'a', 'b'];
  rebalanceBySpeed(full, ['a', 'b', 'c'], [1, 0.1, 0.2], [0, 0, 0, 0], REBALANCE_RULE, [9, 2, 9]);
  assert.deepEqual(counts(full, ['a', 'b', 'c']), [0, 2, 2]);
});

test('rebalanceBySpeed: the best pass, the fewest moves to its pass, gains past the thresholds, and no ping-pong', () => {
  fc.assert(
    fc.property(
      costs,
      fc.array(fc.nat(2), { maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 3, maxLength: 3 }),
      fc.array(fc.double({ min: 1 / 1.05, max: 1.05, noNaN: true }), { minLength: 3, maxLength: 3 }),
      fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
      (cost, raw, limitRaw, drift, inFlight) => {
        const W = cost.length;
        const live = ['w0', 'w1', 'w2'].slice(0, W);
        const start = raw.map((i) => i % W);
        const owners = start.map((i) => live[i]);
        const limit = limitRaw.slice(0, W);
        // A third of the runs have partitions with tasks in flight, which must not move.
        const busy = start.map((_, p) => (raw.length % 3 === 0 && inFlight[p] ? 1 : 0));
        const plan = rebalanceBySpeed(owners, live, cost, busy, REBALANCE_RULE, limit);
        assert.ok(plan.moves.every((m) => busy[m.partition] === 0));
        let best = Number.POSITIVE_INFINITY;
        for (const map of allMaps(start.length, W)) best = Math.min(best, passOf(map, cost));
        const fitting = (map: readonly number[]) =>
          limit.every(
            (l, i) => map.filter((j) => j === i).length <= Math.max(l, start.filter((j) => j === i).length),
          );
        const anyFits = [...allMaps(start.length, W)].some(fitting);
        if (!anyFits || plan.moves.length === 0) {
          // Within limits the best pass may be longer; without them it is the brute-force best.
          if (!anyFits || limit.every((l) => l >= start.length))
            assert.ok(Math.abs(plan.best - best) < 1e-12);
        }
        const gain = Math.max(0.25 * plan.before, 0.05);
        if (plan.moves.length === 0) {
          assert.equal(plan.after, plan.before);
          assert.deepEqual(
            owners,
            start.map((i) => live[i]),
          );
          if (limit.every((l) => l >= start.length) && busy.every((b) => b === 0))
            assert.ok(plan.before - best < gain + 1e-12);
          return;
        }
        assert.ok(plan.before - plan.after >= gain - 1e-12, `${plan.before} → ${plan.after}`);
        const now = owners.map((id) => live.indexOf(id!));
        assert.ok(Math.abs(passOf(now, cost) - plan.after) < 1e-12);
        assert.equal(plan.moves.length, now.filter((i, p) => i !== start[p]).length);
        // No map at least as fast is fewer moves away.
        let fewest = Number.POSITIVE_INFINITY;
        for (const map of allMaps(start.length, W)) {
          if (passOf(map, cost) > plan.after + 1e-12 || (anyFits && !fitting(map))) continue;
          fewest = Math.min(fewest, map.filter((i, p) => i !== start[p]).length);
        }
        assert.equal(plan.moves.length, fewest);
        // Nobody both gives and receives; within limits when any map fits them.
        const gave = new Set(plan.moves.map((m) => m.from));
        assert.ok(plan.moves.every((m) => !gave.has(m.to)));
        if (anyFits) assert.ok(fitting(now));
        // Hysteresis: the speeds drift by up to 5 % each, and the new map stays.
        const again = [...owners];
        const drifted = cost.map((c, i) => c * drift[i]!);
        assert.deepEqual(
          rebalanceBySpeed(
            again,
            live,
            drifted,
            again.map(() => 0),
            REBALANCE_RULE,
            limit,
          ).moves,
          [],
        );
      },
    ),
    { seed: 23, numRuns: 1500 },
  );
});
