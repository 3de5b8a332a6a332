/**
 * Partitioners: which partition each row of a frame belongs to. Each is a pure function of
 * (data, partitioner, partition count, seed), so any worker can recompute the partition it lost
 * from the source alone.
 */
import { ParamError, UsageError } from '../errors.ts';
import { type Column, type Frame, MISSING_CODE } from './frame.ts';
import { Rng } from './random.ts';

/** How rows are assigned to partitions, as parsed from `--partitioner`. */
export type PartitionerSpec =
  | { kind: 'hash'; column: string }
  | { kind: 'range'; column: string }
  | { kind: 'random' }
  | { kind: 'round-robin' };

/** The assignment of a frame's rows to partitions. */
export interface Partitioning {
  /** Number of partitions; some may be empty. */
  readonly count: number;
  /** The partition of each row. */
  readonly assignment: Uint32Array;
  /** The rows of each partition, ascending; views into one shared buffer. */
  readonly indices: Uint32Array[];
  /**
   * Range partitioning only: the `count - 1` ascending boundaries; partition p holds the values in
   * [boundaries[p-1], boundaries[p]). For a categorical column the values are the ranks of the
   * levels in code-unit string order.
   */
  readonly boundaries?: Float64Array;
}

/** Sizes and balance of a partitioning. */
export interface PartitionStats {
  /** Rows in each partition. */
  rows: number[];
  /** Rows in the smallest partition. */
  min: number;
  /** Rows in the largest partition. */
  max: number;
  /** Rows per partition on average. */
  mean: number;
  /** max / mean: 1 is perfectly balanced; 1 also when there are no rows. */
  skew: number;
  /** Number of partitions without rows. */
  empty: number;
}

const ACCEPTED_FORMS = 'hash:COLUMN, range:COLUMN, random, round-robin';

/**
 * Parses a `--partitioner` value: `hash:COL`, `range:COL`, `random` or `round-robin`. The column
 * name is everything after the first colon, so it may itself contain colons.
 * @throws UsageError naming the bad text and listing the accepted forms
 */
export function parsePartitioner(text: string): PartitionerSpec {
  if (text === 'random' || text === 'round-robin') return { kind: text };
  const colon = text.indexOf(':');
  if (colon > 0) {
    const kind = text.slice(0, colon);
    const column = text.slice(colon + 1);
    if ((kind === 'hash' || kind === 'range') && column.length > 0) return { kind, column };
    if (kind === 'hash' || kind === 'range') {
      throw new UsageError(`--partitioner '${text}' names no column`, `write ${kind}:COLUMN`);
    }
  }
  throw new UsageError(`unknown --partitioner '${text}'`, `expected one of ${ACCEPTED_FORMS}`);
}

/**
 * Assigns every row of `frame` to one of `count` partitions.
 *
 * - `hash`: a seeded 32-bit hash of the value. Numbers hash their float64 bits (with -0 as 0 and
 *   every NaN as one value); categories hash their level string, not their code, so a value lands
 *   in the same partition whatever the level order of the file. Missing values of either kind
 *   share one partition.
 * - `range`: boundaries at the quantiles of a seeded sample of the column, rows placed by binary
 *   search; missing values go to partition 0. Categories are ranked by their level strings.
 * - `random`: a seeded shuffle dealt evenly, so sizes are equal ±1.
 * - `round-robin`: row i goes to partition i mod count, keeping the row order within a partition.
 *
 * @throws ColumnNotFoundError when the column is not in the frame
 * @throws ParamError when `count` is not a positive integer
 */
export function partitionFrame(
  frame: Frame,
  spec: PartitionerSpec,
  count: number,
  seed: number,
): Partitioning {
  if (!Number.isInteger(count) || count < 1 || count > 0xffffffff) {
    throw new ParamError(`--partitions must be a positive integer, got ${count}`);
  }
  const n = frame.rows;
  const assignment = new Uint32Array(n);
  let boundaries: Float64Array | undefined;
  switch (spec.kind) {
    case 'hash':
      hashAssign(frame.column(spec.column), count, seed, assignment);
      break;
    case 'range':
      boundaries = rangeAssign(frame.column(spec.column), count, seed, assignment);
      break;
    case 'random': {
      const order = new Rng(seed).permutation(n);
      for (let i = 0; i < n; i++) assignment[order[i]!] = i % count;
      break;
    }
    case 'round-robin':
      for (let i = 0; i < n; i++) assignment[i] = i % count;
      break;
  }
  const indices = groupRows(assignment, count);
  return boundaries === undefined
    ? { count, assignment, indices }
    : { count, assignment, indices, boundaries };
}

/** Sizes, extremes and skew of a partitioning. */
export function partitionStats(p: Partitioning): PartitionStats {
  const rows = p.indices.map((ix) => ix.length);
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  let total = 0;
  let empty = 0;
  for (const r of rows) {
    if (r < min) min = r;
    if (r > max) max = r;
    total += r;
    if (r === 0) empty++;
  }
  if (rows.length === 0) min = 0;
  const mean = rows.length === 0 ? 0 : total / rows.length;
  return { rows, min, max, mean, skew: mean === 0 ? 1 : max / mean, empty };
}

/**
 * Seeded 32-bit hash of a float64 given as its two 32-bit halves: MurmurHash3's block mix and
 * finalizer. Callers normalise -0 and NaN first, so equal values always hash alike.
 */
export function hashFloat64Bits(lo: number, hi: number, seed: number): number {
  let h = mixBlock(seed | 0, lo);
  h = mixBlock(h, hi);
  return fmix32(h ^ 8);
}

/** Seeded 32-bit MurmurHash3 of a string's UTF-16 code units, two to a block. */
export function hashString(text: string, seed: number): number {
  let h = seed | 0;
  const n = text.length;
  let i = 0;
  for (; i + 1 < n; i += 2) h = mixBlock(h, text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16));
  if (i < n) h ^= mixTail(text.charCodeAt(i));
  return fmix32(h ^ (n * 2));
}

// Hashes must agree between machines, so read the float64 halves in the platform's byte order.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;
const NAN_HI = 0x7ff80000;

function hashAssign(column: Column, count: number, seed: number, out: Uint32Array): void {
  const missing = hashFloat64Bits(0, NAN_HI, seed) % count;
  if (column.kind === 'category') {
    // Hash each level once; rows then only look up their code.
    const levelPart = new Uint32Array(column.levels.length);
    for (let l = 0; l < levelPart.length; l++) levelPart[l] = hashString(column.levels[l]!, seed) % count;
    const codes = column.codes;
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i]!;
      out[i] = code === MISSING_CODE ? missing : levelPart[code]!;
    }
    return;
  }
  const values = column.values;
  // A Float64Array's byteOffset is always a multiple of 8, so this view is aligned and zero-copy.
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length * 2);
  const zero = hashFloat64Bits(0, 0, seed) % count;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isNaN(v)) out[i] = missing;
    else if (v === 0) out[i] = zero;
    else out[i] = hashFloat64Bits(bits[2 * i + LO]!, bits[2 * i + HI]!, seed) % count;
  }
}

// With s sampled rows per partition a partition's share is off by ~1/√s (one σ): 3% at 1000, too
// loose for "within a few %" once the worst of many partitions counts. 8000 keeps the worst of
// 100 trials on 100k normal rows within 3%, and sorting 8000·count doubles takes milliseconds.
const SAMPLE_PER_PARTITION = 8000;

function rangeAssign(column: Column, count: number, seed: number, out: Uint32Array): Float64Array {
  const n = column.kind === 'number' ? column.values.length : column.codes.length;
  const keys = column.kind === 'number' ? column.values : levelRanks(column.codes, column.levels);
  const m = Math.min(n, SAMPLE_PER_PARTITION * count);
  const sample = new Float64Array(m);
  let present = 0;
  if (m === n) {
    for (let i = 0; i < n; i++) {
      const v = keys[i]!;
      if (!Number.isNaN(v)) sample[present++] = v;
    }
  } else {
    const rng = new Rng(seed);
    for (let s = 0; s < m; s++) {
      const v = keys[rng.int(n)]!;
      if (!Number.isNaN(v)) sample[present++] = v;
    }
  }
  const sorted = sample.subarray(0, present).sort();
  const boundaries = new Float64Array(count - 1);
  if (present > 0) {
    for (let b = 1; b < count; b++) boundaries[b - 1] = sorted[Math.floor((b * present) / count)]!;
  }
  const nb = boundaries.length;
  for (let i = 0; i < n; i++) {
    const v = keys[i]!;
    if (Number.isNaN(v)) {
      out[i] = 0;
      continue;
    }
    // Upper bound: the number of boundaries ≤ v.
    let lo = 0;
    let hi = nb;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (boundaries[mid]! <= v) lo = mid + 1;
      else hi = mid;
    }
    out[i] = lo;
  }
  return boundaries;
}

/** Each row's level rank in code-unit string order (NaN when missing), so level order is irrelevant. */
function levelRanks(codes: Int32Array, levels: readonly string[]): Float64Array {
  const order = levels
    .map((_, i) => i)
    .sort((a, b) => (levels[a]! < levels[b]! ? -1 : levels[a]! > levels[b]! ? 1 : 0));
  const rank = new Float64Array(levels.length);
  for (let r = 0; r < order.length; r++) rank[order[r]!] = r;
  const keys = new Float64Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i]!;
    keys[i] = code === MISSING_CODE ? Number.NaN : rank[code]!;
  }
  return keys;
}

/** The rows of each partition, ascending, as views of one buffer (a counting sort by partition). */
function groupRows(assignment: Uint32Array, count: number): Uint32Array[] {
  const n = assignment.length;
  const start = new Float64Array(count + 1);
  for (let i = 0; i < n; i++) {
    const p = assignment[i]! + 1;
    start[p] = start[p]! + 1;
  }
  for (let p = 0; p < count; p++) start[p + 1] = start[p + 1]! + start[p]!;
  const all = new Uint32Array(n);
  const next = start.slice(0, count);
  for (let i = 0; i < n; i++) {
    const p = assignment[i]!;
    all[next[p]!++] = i;
  }
  const out: Uint32Array[] = new Array(count);
  for (let p = 0; p < count; p++) out[p] = all.subarray(start[p]!, start[p + 1]!);
  return out;
}

function mixBlock(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixTail(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

/**
 * MurmurHash3's 32-bit finalizer: a bijection on 32 bits in which every input bit flips about half
 * the output bits (also what held-out.ts mixes row keys with).
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
