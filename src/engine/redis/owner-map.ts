/**
 * Owner maps of partitions, as pure functions of the membership (used by placement.ts). An owner
 * map holds a worker id per partition, or undefined while no worker is alive to own it. `live`
 * lists the live workers' ids in dealing order (sorted by name, then id).
 */

/** Partition `partition` now belongs to worker `to` (it belonged to `from`, if anyone). */
export interface Move {
  readonly partition: number;
  readonly from: string | undefined;
  readonly to: string;
}

/** Appends owners for partitions `owners.length … partitions − 1`, round-robin by position. */
export function deal(owners: (string | undefined)[], live: readonly string[], partitions: number): void {
  for (let p = owners.length; p < partitions; p++)
    owners.push(live.length === 0 ? undefined : live[p % live.length]);
}

/**
 * Gives every partition whose owner is not live (gone, or none) to the live worker holding the
 * fewest, ties to the first in dealing order; partitions of live owners stay where they are.
 * Updates `owners` and returns the moves.
 */
export function replaceGone(owners: (string | undefined)[], live: readonly string[]): Move[] {
  const count = new Map(live.map((id) => [id, 0]));
  for (const id of owners) if (id !== undefined && count.has(id)) count.set(id, count.get(id)! + 1);
  const moves: Move[] = [];
  if (live.length === 0) {
    for (let p = 0; p < owners.length; p++) owners[p] = undefined;
    return moves;
  }
  for (let p = 0; p < owners.length; p++) {
    const was = owners[p];
    if (was !== undefined && count.has(was)) continue;
    let best = live[0]!;
    for (const id of live) if (count.get(id)! < count.get(best)!) best = id;
    owners[p] = best;
    count.set(best, count.get(best)! + 1);
    moves.push({ partition: p, from: was, to: best });
  }
  return moves;
}

/**
 * Moves the fewest partitions that leave every live worker with ⌊P/W⌋ or ⌈P/W⌉ (after
 * {@link replaceGone}): the ⌈P/W⌉ shares go to the workers holding the most already; donors give
 * their highest-numbered partitions, and receivers take them lowest first, in dealing order.
 * A partition with `busy[p] > 0` (a task in flight) stays; `complete` is false when that left the
 * map unbalanced. Updates `owners`.
 */
export function balance(
  owners: (string | undefined)[],
  live: readonly string[],
  busy: readonly number[],
): { moves: Move[]; complete: boolean } {
  const moves = replaceGone(owners, live);
  if (live.length === 0) return { moves, complete: true };
  const held = new Map<string, number[]>(live.map((id) => [id, []]));
  owners.forEach((id, p) => {
    held.get(id!)!.push(p);
  });
  const P = owners.length;
  const q = Math.floor(P / live.length);
  const byLoad = live
    .map((id, order) => ({ id, order }))
    .sort((a, b) => held.get(b.id)!.length - held.get(a.id)!.length || a.order - b.order);
  const target = new Map(byLoad.map(({ id }, i) => [id, q + (i < P % live.length ? 1 : 0)]));
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
