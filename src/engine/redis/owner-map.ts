/**
 * Owner maps of partitions, as pure functions of the membership (used by placement.ts). An owner
 * map holds a worker id per partition, or undefined while no worker is alive to own it. `live`
 * lists the live workers' ids in dealing order (sorted by name, then id); `weights` (parallel to
 * `live`, whole numbers ≥ 1, all 1 when omitted) are their capacities, the threads each runs
 * tasks on: a worker of weight 4 is given about 4× the partitions of one of weight 1. With equal
 * weights every function here is plain round-robin and count balancing.
 */

/** Partition `partition` now belongs to worker `to` (it belonged to `from`, if anyone). */
export interface Move {
  readonly partition: number;
  readonly from: string | undefined;
  readonly to: string;
}

/**
 * The owners of positions 0 … `partitions` − 1 dealt by capacity: Balinski and Young's quota
 * method. Position s goes to the worker with the largest w/(k + 1) (k: positions it holds so
 * far; ties to the first in dealing order) among those still below their upper quota ⌈s·w/W⌉
 * (W: the weights' sum). Every prefix then gives each worker ⌊s·w/W⌋ or ⌈s·w/W⌉ positions, so
 * a map that grows one position at a time stays within one partition of each worker's share.
 * With equal weights it is round-robin.
 */
export function dealOrder(
  live: readonly string[],
  partitions: number,
  weights?: readonly number[],
): string[] {
  const w = live.map((_, i) => weights?.[i] ?? 1);
  const total = w.reduce((a, b) => a + b, 0);
  const held = w.map(() => 0);
  const out: string[] = [];
  for (let s = 1; s <= partitions && live.length > 0; s++) {
    let best = -1;
    for (let i = 0; i < w.length; i++) {
      if (held[i]! + 1 > Math.ceil((s * w[i]!) / total)) continue;
      // w[i]/(held[i]+1) > w[best]/(held[best]+1), without division.
      if (best < 0 || w[i]! * (held[best]! + 1) > w[best]! * (held[i]! + 1)) best = i;
    }
    held[best]!++;
    out.push(live[best]!);
  }
  return out;
}

/**
 * Appends owners for partitions `owners.length … partitions − 1` as {@link dealOrder} deals them
 * by position, so a map that grows deals the same owners as one dealt at once.
 */
export function deal(
  owners: (string | undefined)[],
  live: readonly string[],
  partitions: number,
  weights?: readonly number[],
): void {
  if (owners.length >= partitions) return;
  const order = dealOrder(live, partitions, weights);
  for (let p = owners.length; p < partitions; p++) owners.push(order[p]);
}

/**
 * Each live worker's share of the `owners.length` partitions: ⌊P·w/W⌋ (W: the weights' sum),
 * plus one for the P − Σ⌊P·w/W⌋ workers that hold the most beyond their floor already (ties to
 * the first in dealing order), which is the choice that leaves the fewest partitions to move.
 */
function shares(
  owners: readonly (string | undefined)[],
  live: readonly string[],
  weights: readonly number[] | undefined,
): Map<string, number> {
  const held = new Map(live.map((id) => [id, 0]));
  for (const id of owners) if (id !== undefined && held.has(id)) held.set(id, held.get(id)! + 1);
  const P = owners.length;
  const w = live.map((_, i) => weights?.[i] ?? 1);
  const total = w.reduce((a, b) => a + b, 0);
  const floor = w.map((x) => Math.floor((P * x) / total));
  const extra = P - floor.reduce((a, b) => a + b, 0);
  const byExcess = live
    .map((id, order) => ({ id, order, excess: held.get(id)! - floor[order]! }))
    .sort((a, b) => b.excess - a.excess || a.order - b.order);
  return new Map(byExcess.map(({ id, order }, i) => [id, floor[order]! + (i < extra ? 1 : 0)]));
}

/** Gives every partition of no live owner to the worker furthest below its `share`. */
function fill(owners: (string | undefined)[], live: readonly string[], share: Map<string, number>): Move[] {
  const count = new Map(live.map((id) => [id, 0]));
  for (const id of owners) if (id !== undefined && count.has(id)) count.set(id, count.get(id)! + 1);
  const moves: Move[] = [];
  for (let p = 0; p < owners.length; p++) {
    const was = owners[p];
    if (was !== undefined && count.has(was)) continue;
    let best = live[0]!;
    const below = (id: string) => share.get(id)! - count.get(id)!;
    for (const id of live) if (below(id) > below(best)) best = id;
    owners[p] = best;
    count.set(best, count.get(best)! + 1);
    moves.push({ partition: p, from: was, to: best });
  }
  return moves;
}

/**
 * Gives every partition whose owner is not live (gone, or none) to the live worker furthest below
 * its share of the partitions (see {@link balance}), ties to the first in dealing order; partitions
 * of live owners stay where they are. Updates `owners` and returns the moves.
 */
export function replaceGone(
  owners: (string | undefined)[],
  live: readonly string[],
  weights?: readonly number[],
): Move[] {
  if (live.length === 0) {
    for (let p = 0; p < owners.length; p++) owners[p] = undefined;
    return [];
  }
  return fill(owners, live, shares(owners, live, weights));
}

/**
 * Moves the fewest partitions that leave every live worker with ⌊P·w/W⌋ or one more (W: the
 * weights' sum): partitions of no live owner go first, as {@link replaceGone} gives them; the
 * P − Σ⌊P·w/W⌋ extra shares go to the workers holding the most beyond their floor already; donors
 * give their highest-numbered partitions, and receivers take them lowest first, in dealing order.
 * A partition with `busy[p] > 0` (a task in flight) stays; `complete` is false when that left the
 * map unbalanced. Updates `owners`.
 */
export function balance(
  owners: (string | undefined)[],
  live: readonly string[],
  busy: readonly number[],
  weights?: readonly number[],
): { moves: Move[]; complete: boolean } {
  if (live.length === 0) return { moves: replaceGone(owners, live), complete: true };
  const target = shares(owners, live, weights);
  const moves = fill(owners, live, target);
  const held = new Map<string, number[]>(live.map((id) => [id, []]));
  owners.forEach((id, p) => {
    held.get(id!)!.push(p);
  });
  const pool: { partition: number; from: string }[] = [];
  let complete = true;
  for (const id of live) {
    const mine = held.get(id)!;
    let give = mine.length - target.get(id)!;
    for (let i = mine.length - 1; i >= 0 && give > 0; i--) {
      if ((busy[mine[i]!] ?? 0) > 0) continue;
      pool.push({ partition: mine[i]!, from: id });
      give--;
    }
    if (give > 0) complete = false;
  }
  pool.sort((a, b) => a.partition - b.partition);
  for (const id of live) {
    let need = target.get(id)! - held.get(id)!.length;
    while (need-- > 0 && pool.length > 0) {
      const { partition, from } = pool.shift()!;
      owners[partition] = id;
      moves.push({ partition, from, to: id });
    }
  }
  if (pool.length > 0) complete = false;
  return { moves, complete };
}

/**
 * When moving partitions by measured speed pays (see {@link rebalanceBySpeed}). The gain
 * thresholds decide whether to move; the slack lets the new map be a little slower than the best
 * possible one when that needs fewer moves. The slack is kept well inside the gain thresholds, so
 * that a map just rebalanced is not moved again when the speeds drift by a few percent
 * (the property test checks 5 %).
 */
export interface RebalanceRule {
  /** Least gain of the predicted pass, as a fraction of it. @defaultValue 0.25 */
  readonly minGainFraction: number;
  /** Least gain of the predicted pass, in seconds. @defaultValue 0.05 */
  readonly minGainSeconds: number;
  /** The new map may predict up to this fraction more than the best one… @defaultValue 0.1 */
  readonly slackFraction: number;
  /** …or this many seconds more, whichever is larger. @defaultValue 0.02 */
  readonly slackSeconds: number;
}

/** The defaults of {@link RebalanceRule}. */
export const REBALANCE_RULE: RebalanceRule = {
  minGainFraction: 0.25,
  minGainSeconds: 0.05,
  slackFraction: 0.1,
  slackSeconds: 0.02,
};

/** What {@link rebalanceBySpeed} found, in seconds of predicted pass (its slowest worker). */
export interface SpeedPlan {
  readonly moves: Move[];
  /** The predicted pass of the map as it was. */
  readonly before: number;
  /** The predicted pass of the map as it is now (equal to `before` without moves). */
  readonly after: number;
  /** The shortest predicted pass of any map (within the memory limits when they allow one). */
  readonly best: number;
}

/** Relative tolerance of the comparisons of predicted times (products of floats). */
const EPS = 1e-9;

/**
 * Moves partitions to match measured speeds, or leaves the map alone. A live worker's predicted
 * share of a pass is (partitions it owns) × `cost[i]`, the seconds it takes per partition; the
 * predicted pass is the largest share. When the best map's pass is shorter than this one's by at
 * least `minGainFraction` of it and `minGainSeconds`, the map moves to one whose pass is at most
 * `bound` = min(best + max(slackFraction·best, slackSeconds), before − the least gain), in the
 * fewest moves: worker i may own at most cap_i = ⌊bound / cost[i]⌋, so exactly the partitions a
 * worker holds beyond its cap move (its highest-numbered idle ones), each to the worker below its
 * cap that would finish it soonest (ties to the first in dealing order). Partitions with
 * `busy[p] > 0` stay; if too few are idle, nothing moves (the next pass tries again).
 *
 * `limit[i]` (memory) is the most partitions a move may leave on worker i; a worker already above
 * it keeps what it has but receives nothing. Limits are dropped when no map would fit within them.
 * Every owner must be in `live` (give gone owners' partitions away first: {@link replaceGone}).
 * Updates `owners`.
 */
export function rebalanceBySpeed(
  owners: (string | undefined)[],
  live: readonly string[],
  cost: readonly number[],
  busy: readonly number[],
  rule: RebalanceRule = REBALANCE_RULE,
  limit?: readonly number[],
): SpeedPlan {
  const index = new Map(live.map((id, i) => [id, i]));
  const held = live.map(() => 0);
  for (const id of owners) {
    const i = id === undefined ? undefined : index.get(id);
    if (i === undefined) throw new Error(`rebalanceBySpeed: partition owner ${id} is not live`);
    held[i]!++;
  }
  const P = owners.length;
  const time = (counts: readonly number[]) => counts.reduce((m, k, i) => Math.max(m, k * cost[i]!), 0);
  const before = time(held);
  let room = live.map((_, i) => Math.max(held[i]!, limit?.[i] ?? Number.POSITIVE_INFINITY));
  if (room.reduce((a, b) => a + b, 0) < P) room = live.map(() => Number.POSITIVE_INFINITY);
  const cap = (T: number, i: number) => Math.min(room[i]!, Math.floor((T * (1 + EPS)) / cost[i]!));
  const fits = (T: number) => live.reduce((n, _, i) => n + cap(T, i), 0) >= P;
  // The best pass is k·cost[i] for some worker i and count k: the smallest such time that fits.
  const candidates: number[] = [];
  for (let i = 0; i < live.length; i++) for (let k = 1; k <= P; k++) candidates.push(k * cost[i]!);
  candidates.sort((a, b) => a - b);
  const best = P === 0 ? 0 : (candidates.find(fits) ?? before);
  const gain = Math.max(rule.minGainFraction * before, rule.minGainSeconds);
  const unchanged = { moves: [], before, after: before, best };
  if (before - best < gain * (1 - EPS)) return unchanged;
  const bound = Math.min(best + Math.max(rule.slackFraction * best, rule.slackSeconds), before - gain);
  const caps = live.map((_, i) => cap(bound, i));
  const pool: { partition: number; from: string }[] = [];
  for (let p = P - 1; p >= 0; p--) {
    const i = index.get(owners[p]!)!;
    if (held[i]! <= caps[i]!) continue;
    if ((busy[p] ?? 0) > 0) continue;
    held[i]!--;
    pool.push({ partition: p, from: owners[p]! });
  }
  if (held.some((k, i) => k > caps[i]!)) {
    for (const { from } of pool) held[index.get(from)!]!++;
    return unchanged;
  }
  pool.sort((a, b) => a.partition - b.partition);
  const moves: Move[] = [];
  for (const { partition, from } of pool) {
    let to = -1;
    for (let i = 0; i < live.length; i++) {
      if (held[i]! >= caps[i]!) continue;
      if (to < 0 || (held[i]! + 1) * cost[i]! < (held[to]! + 1) * cost[to]!) to = i;
    }
    held[to]!++;
    owners[partition] = live[to]!;
    moves.push({ partition, from, to: live[to]! });
  }
  return { moves, before, after: time(held), best };
}
