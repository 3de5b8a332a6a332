/**
 * The straggler rule both engines speculate by: a task that has run `multiplier` times the median
 * of its pass's finished tasks, and at least `minMs`, gets a backup copy elsewhere. Each engine
 * decides when a pass has finished enough tasks for its median to mean something.
 */

/** When a pass's task counts as a straggler. */
export interface Speculation {
  /** It has run this many times the median of its pass's finished tasks… */
  readonly multiplier: number;
  /** …and at least this long. */
  readonly minMs: number;
}

/** The median of `xs` (not empty). */
export function medianOf(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** How long a task may run, in ms, before it is a straggler, given the finished ones' run times in ms. */
export function stragglerLimitMs(finishedMs: readonly number[], rule: Speculation): number {
  return Math.max(rule.minMs, rule.multiplier * medianOf(finishedMs));
}
