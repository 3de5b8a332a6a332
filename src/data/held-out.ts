/**
 * Held-out rows chosen one row at a time, for data that no single process reads whole (workers
 * reading their own splits of a file). A row is held out when a hash of (seed, the row's key) falls
 * below the test fraction. The key is the row's place in the file, not in its split: the byte
 * offset where its line starts for CSV, its row index for Parquet. So the choice does not depend on
 * where the splits are cut, on how many there are, or on which worker reads a split (a split read
 * again elsewhere after a failure makes the same choice), and anyone holding the file can compute
 * it again.
 *
 * Unlike `trainTestSplit` (split.ts), which holds out exactly `round(rows · f)` rows of a seeded
 * permutation, the count here is binomial (mean rows · f): fixing it exactly would need every row
 * counted before any is chosen.
 */
import { ParamError } from '../errors.ts';
import { fmix32 } from './partition.ts';

/** Which rows a split holds out. */
export interface HeldOutRule {
  /** Seed of the choice (the run's `--seed`). */
  readonly seed: number;
  /** Probability that a row is held out, in (0, 1). */
  readonly fraction: number;
}

const TWO_32 = 4294967296;

/**
 * Checks a rule's fields. @throws ParamError naming `--test-fraction` or `--seed` and the value
 */
export function checkHeldOutRule(rule: HeldOutRule): HeldOutRule {
  if (!(rule.fraction > 0 && rule.fraction < 1)) {
    throw new ParamError(
      `--test-fraction must be a number between 0 and 1 (exclusive), got ${rule.fraction}`,
    );
  }
  if (!Number.isSafeInteger(rule.seed) || rule.seed < 0) {
    throw new ParamError(`--seed must be a non-negative integer, got ${rule.seed}`);
  }
  return rule;
}

/** The part of the hash that depends only on the seed (its 53 bits as two words). */
function seedState(seed: number): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_32) >>> 0;
  return fmix32(fmix32(lo ^ 0x9e3779b9) ^ hi);
}

/** A uniform 32-bit hash of a row key (a non-negative safe integer) under a seed's state. */
function rowHash(state: number, key: number): number {
  const lo = key >>> 0;
  const hi = Math.floor(key / TWO_32) >>> 0;
  // Each word is mixed in by a full finalizer round, so keys one apart (or a line length apart)
  // give unrelated hashes.
  return fmix32(fmix32(state ^ lo) ^ hi ^ 0x85ebca6b);
}

/** The threshold a row's hash must stay below: fraction · 2^32. */
function thresholdOf(fraction: number): number {
  return fraction * TWO_32;
}

/** Whether the row with key `key` is held out under `rule`. */
export function isHeldOut(rule: HeldOutRule, key: number): boolean {
  return rowHash(seedState(rule.seed), key) < thresholdOf(rule.fraction);
}

/**
 * Marks the held-out rows among rows with keys `keys`: 1 held out, 0 training.
 * @param out - where to write (length ≥ keys.length); a new array by default
 */
export function heldOutMask(
  rule: HeldOutRule,
  keys: Float64Array,
  out: Uint8Array = new Uint8Array(keys.length),
): Uint8Array {
  const state = seedState(rule.seed);
  const threshold = thresholdOf(rule.fraction);
  for (let i = 0; i < keys.length; i++) out[i] = rowHash(state, keys[i]!) < threshold ? 1 : 0;
  return out;
}

/** The indices of the rows `mask` marks `want` (1: held out, 0: training), ascending. */
export function rowsWhere(mask: Uint8Array, want: 0 | 1): Uint32Array {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] === want) n++;
  const out = new Uint32Array(n);
  let j = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] === want) out[j++] = i;
  return out;
}
