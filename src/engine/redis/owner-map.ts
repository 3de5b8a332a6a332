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
