/**
 * The fixed tree in which every engine combines a pass's partition results: pairwise, level by
 * level, left to right (partitions 0+1, 2+3, …, then those sums pairwise, an odd last one carried
 * up). A fixed order gives reproducible sums, since floating-point addition is not associative,
 * and reproducible factors for a kernel's own fold.
 *
 * {@link TreeCombiner} combines results as they arrive, in any order, into the same tree: a node is
 * combined as soon as both its children are there, so the driver sums while other results are
 * still on their way, and the last arrival leaves one combination per level, which sums do two
 * levels per pass over memory (3 partitions: (0 + 1) + 2 in one loop). It can also check
 * that results are finite, fused into the sums: a NaN or an infinity in any operand makes the sum
 * non-finite, so one test of each sum finds it, and a result is not read once more for the check.
 *
 * A sum can also begin before a result is whole: told that a prefix of it has arrived
 * ({@link TreeCombiner.arriving}), and with its siblings in, the combiner sums that prefix with them
 * into memory of its own, so that the cluster driver sums the last result while its bytes still
 * come in, instead of after. It changes nothing in the tree until the result is added, since a
 * result can still be discarded on arrival (a superseded job's).
 */
import type { Combine } from './kernel-registry.ts';

/** A non-finite value found while combining. */
export interface NonFiniteValue {
  /** The partition whose result held it; undefined when finite results overflowed as they were summed. */
  readonly partition: number | undefined;
  readonly index: number;
  readonly value: number;
}

/**
 * A result being summed while it arrives: the siblings its arrival will fold in, and the elements of
 * that fold computed so far, into memory of its own.
 */
interface Stream {
  readonly part: Float64Array;
  /** The siblings present when the stream began, bottom up: a prefix of those its arrival folds. */
  readonly chain: readonly Sibling[];
  readonly out: Float64Array;
  /** Elements of `out` computed. */
  done: number;
  /** The first non-finite value met, reported only if the result is added. */
  nonFinite: NonFiniteValue | undefined;
}

/** A node of the tree: its vector, and the partition it is when it is a result not yet checked. */
interface TreeNode {
  readonly values: Float64Array;
  readonly unchecked: number | undefined;
}

/** Combines the results of `count` partitions, in any order of arrival, into the fixed tree. */
export class TreeCombiner {
  /** The nodes present at each level, by their index in the level. */
  private readonly levels: (TreeNode | undefined)[][] = [];
  private root: Float64Array | undefined;
  private added = 0;
  /** Whether each partition was added. */
  private readonly isAdded: boolean[];
  /** Results being summed as they arrive, by partition. */
  private readonly streams = new Map<number, Stream>();

  /**
   * @param count - partitions of the pass
   * @param combine - how two results combine
   * @param onNonFinite - when given, results are checked to be finite and this is called (it
   *   should throw) for the first NaN or infinity; without it nothing is checked
   * @param onFolded - called with each array once it is folded into another, when nothing here
   *   reads it any more (for its memory to be reused)
   * @param allocate - memory for sums computed while a result arrives ({@link arriving}); without
   *   it, nothing is summed before a result is added
   */
  constructor(
    private readonly count: number,
    private readonly combine: Combine = 'sum',
    private readonly onNonFinite?: (found: NonFiniteValue) => void,
    private readonly onFolded?: (folded: Float64Array) => void,
    private readonly allocate?: (length: number) => Float64Array,
  ) {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`TreeCombiner of ${count} parts`);
    this.isAdded = new Array<boolean>(count).fill(false);
    for (let size = count; ; size = Math.ceil(size / 2)) {
      this.levels.push(new Array<TreeNode | undefined>(size));
      if (size === 1) break;
    }
  }

  /** Adds the result of `partition`, combining what it completes. Overwrites the arrays it is given. */
  add(partition: number, part: Float64Array): void {
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= this.count)
      throw new RangeError(`partition ${partition} of a pass of ${this.count}`);
    if (this.isAdded[partition]) throw new RangeError(`partition ${partition} was combined already`);
    this.isAdded[partition] = true;
    this.added++;
    // Sums check their operands as they go; a result that is never summed (a pass of one
    // partition) or combined otherwise is checked on its own.
    const fused = this.onNonFinite !== undefined && this.combine === 'sum' && this.count > 1;
    if (this.onNonFinite !== undefined && !fused) this.checkAlone(partition, part);
    const node: TreeNode = { values: part, unchecked: fused ? partition : undefined };
    // The siblings this arrival completes, bottom up; an odd last node is carried up a level.
    const { siblings, level, index } = this.siblingsOf(partition);
    for (let l = 0, i = partition; l < level; l++, i >>= 1) {
      const nodes = this.levels[l]!;
      if ((i ^ 1) < nodes.length) nodes[i ^ 1] = undefined;
    }
    const made = this.foldStreamed(partition, part, siblings) ?? this.fold(node, siblings);
    if (level === this.levels.length - 1) this.root = made.values;
    else this.levels[level]![index] = made;
  }

  /**
   * Elements [0, `elements`) of partition `partition`'s result are in `part` already, the rest
   * still arriving: the sums they complete are computed now, into memory of their own, so that the
   * driver sums while the rest arrives rather than after, on bytes still in its cache. Nothing is
   * reported, and nothing the tree holds is changed, until {@link add} adds this very array: a
   * result discarded on arrival (a superseded job's) leaves no trace. Only sums stream, and only
   * once the siblings the arrival folds with are there; one array per partition streams (the
   * first: another copy of the task arriving too is folded when added).
   */
  arriving(partition: number, part: Float64Array, elements: number): void {
    if (this.combine !== 'sum' || this.allocate === undefined || this.count === 1) return;
    if (this.isAdded[partition] !== false) return;
    let stream = this.streams.get(partition);
    if (stream === undefined) {
      const { siblings } = this.siblingsOf(partition);
      if (siblings.length === 0) return;
      stream = { part, chain: siblings, out: this.allocate(part.length), done: 0, nonFinite: undefined };
      this.streams.set(partition, stream);
    }
    if (stream.part !== part) return;
    const to = Math.min(elements, part.length);
    if (to > stream.done) this.sumChain(partition, stream, to);
  }

  /** The combined result, once every partition was added. */
  result(): Float64Array {
    if (this.root === undefined)
      throw new RangeError(`${this.count - this.added} of ${this.count} partitions not combined yet`);
    return this.root;
  }

  /**
   * The siblings present that partition `partition`'s arrival folds with, bottom up (an odd last
   * node is carried up a level), and the level and index where the node they make goes.
   */
  private siblingsOf(partition: number): { siblings: Sibling[]; level: number; index: number } {
    const siblings: Sibling[] = [];
    let index = partition;
    let level = 0;
    for (; level < this.levels.length - 1; level++, index >>= 1) {
      const nodes = this.levels[level]!;
      const sibling = index ^ 1;
      if (sibling >= nodes.length) continue;
      const other = nodes[sibling];
      if (other === undefined) break;
      siblings.push({ node: other, left: sibling < index });
    }
    return { siblings, level, index };
  }

  /**
   * The node partition `partition`'s arrival makes from what streamed of `part` (its chain summed
   * in full, the siblings present since folded onto it), or undefined when nothing streamed of
   * this array. A non-finite value met while streaming is reported now.
   */
  private foldStreamed(
    partition: number,
    part: Float64Array,
    siblings: readonly Sibling[],
  ): TreeNode | undefined {
    const stream = this.streams.get(partition);
    if (stream === undefined) return undefined;
    this.streams.delete(partition);
    const { chain, out } = stream;
    if (stream.part !== part || chain.some((s, i) => siblings[i]?.node !== s.node)) {
      this.onFolded?.(out);
      return undefined;
    }
    if (stream.done < part.length) this.sumChain(partition, stream, part.length);
    if (stream.nonFinite !== undefined) this.onNonFinite?.(stream.nonFinite);
    this.onFolded?.(part);
    for (const s of chain) this.onFolded?.(s.node.values);
    return this.fold({ values: out, unchecked: undefined }, siblings.slice(chain.length));
  }

  /**
   * Elements [done, to) of `stream`'s fold: its result summed with each sibling of its chain in
   * turn, bottom up, as the whole-array sums would (a sum of two is the same either way round).
   * One and two siblings, the cases of up to 4 partitions, have loops of their own.
   */
  private sumChain(partition: number, stream: Stream, to: number): void {
    const { part, chain, out } = stream;
    const check = this.onNonFinite !== undefined;
    const from = stream.done;
    stream.done = to;
    const b = chain[0]!.node.values;
    if (chain.length === 1) {
      for (let j = from; j < to; j++) {
        const s = part[j]! + b[j]!;
        out[j] = s;
        if (check && s - s !== 0) stream.nonFinite ??= this.streamNonFinite(partition, stream, j);
      }
    } else if (chain.length === 2) {
      const c = chain[1]!.node.values;
      for (let j = from; j < to; j++) {
        const s = part[j]! + b[j]! + c[j]!;
        out[j] = s;
        if (check && s - s !== 0) stream.nonFinite ??= this.streamNonFinite(partition, stream, j);
      }
    } else {
      for (let j = from; j < to; j++) {
        let s = part[j]! + b[j]!;
        for (let k = 1; k < chain.length; k++) s += chain[k]!.node.values[j]!;
        out[j] = s;
        if (check && s - s !== 0) stream.nonFinite ??= this.streamNonFinite(partition, stream, j);
      }
    }
  }

  /** The first operand or sum of `stream`'s fold at element `index` that is not finite, named. */
  private streamNonFinite(partition: number, stream: Stream, index: number): NonFiniteValue {
    const values = [stream.part[index]!, ...stream.chain.map((c) => c.node.values[index]!)];
    return chainNonFinite({ values: stream.part, unchecked: partition }, stream.chain, index, values);
  }

  /** `siblings` folded into `node` in order, each on its side; the node they make. */
  private fold(node: TreeNode, siblings: readonly Sibling[]): TreeNode {
    let made = node;
    let i = 0;
    // Sums fold two siblings per pass over memory: the partial sum is not written and read back.
    if (this.combine === 'sum')
      for (; i + 1 < siblings.length; i += 2) made = this.sumTwo(made, siblings[i]!, siblings[i + 1]!);
    for (; i < siblings.length; i++) {
      const s = siblings[i]!;
      made = s.left ? this.join(s.node, made) : this.join(made, s.node);
    }
    return made;
  }

  /**
   * `s1` then `s2` summed into `node` in one pass: (node + s1) + s2, the bits of two joins (a sum
   * of two is the same either way round), left in the array two joins would leave it in.
   */
  private sumTwo(node: TreeNode, s1: Sibling, s2: Sibling): TreeNode {
    const a = node.values;
    const b = s1.node.values;
    const c = s2.node.values;
    const out = s2.left ? c : s1.left ? b : a;
    if (this.onNonFinite === undefined) {
      for (let j = 0; j < out.length; j++) out[j] = a[j]! + b[j]! + c[j]!;
    } else {
      for (let j = 0; j < out.length; j++) {
        const u = a[j]!;
        const v = b[j]!;
        const w = c[j]!;
        const s = u + v + w;
        out[j] = s;
        if (s - s !== 0) this.onNonFinite(chainNonFinite(node, [s1, s2], j, [u, v, w]));
      }
    }
    for (const x of [a, b, c]) if (x !== out) this.onFolded?.(x);
    return { values: out, unchecked: undefined };
  }

  /** `b` folded into `a` (the left node); the node they make. */
  private join(a: TreeNode, b: TreeNode): TreeNode {
    const x = a.values;
    const y = b.values;
    const combine = this.combine;
    if (typeof combine === 'function') combine(x, y);
    else if (combine === 'max') {
      for (let j = 0; j < x.length; j++) if (y[j]! > x[j]! || Number.isNaN(y[j]!)) x[j] = y[j]!;
    } else if (this.onNonFinite === undefined) {
      for (let j = 0; j < x.length; j++) x[j]! += y[j]!;
    } else {
      for (let j = 0; j < x.length; j++) {
        const u = x[j]!;
        const v = y[j]!;
        const s = u + v;
        x[j] = s;
        // s - s is 0 for every finite s, NaN for NaN and ±Infinity.
        if (s - s !== 0) this.nonFinite(a, b, j, u, v, s);
      }
    }
    this.onFolded?.(y);
    return { values: x, unchecked: undefined };
  }

  /** Names the operand that held a non-finite value, or the sum that overflowed. */
  private nonFinite(a: TreeNode, b: TreeNode, index: number, u: number, v: number, sum: number): void {
    this.onNonFinite!(nonFiniteValue(a, b, index, u, v, sum));
  }

  private checkAlone(partition: number, part: Float64Array): void {
    for (let j = 0; j < part.length; j++) {
      const v = part[j]!;
      if (v - v !== 0) {
        this.onNonFinite!({ partition, index: j, value: v });
        return;
      }
    }
  }
}

/**
 * The first non-finite operand or sum of `start` folded with `chain` in turn (each sibling on its
 * side) at element `index`, named: `values` are the operands there, `start`'s first. Takes the
 * values rather than reading them, since a sum may have overwritten an operand's element already.
 */
function chainNonFinite(
  start: TreeNode,
  chain: readonly Sibling[],
  index: number,
  values: readonly number[],
): NonFiniteValue {
  let node = start;
  let value = values[0]!;
  for (let k = 0; k < chain.length; k++) {
    const c = chain[k]!;
    const other = values[k + 1]!;
    const sum = c.left ? other + value : value + other;
    if (sum - sum !== 0)
      return c.left
        ? nonFiniteValue(c.node, node, index, other, value, sum)
        : nonFiniteValue(node, c.node, index, value, other, sum);
    // A partial sum names no partition: its operands were finite, so it overflowed.
    node = { values: start.values, unchecked: undefined };
    value = sum;
  }
  throw new RangeError(`element ${index} of a sum of ${chain.length + 1} operands is finite`);
}

/** The operand of `a` + `b` at `index` that held a non-finite value, or else the sum that overflowed. */
function nonFiniteValue(
  a: TreeNode,
  b: TreeNode,
  index: number,
  u: number,
  v: number,
  sum: number,
): NonFiniteValue {
  if (u - u !== 0) return { partition: a.unchecked, index, value: u };
  if (v - v !== 0) return { partition: b.unchecked, index, value: v };
  return { partition: undefined, index, value: sum };
}

/** A node an arrival folds in, and whether it is the left operand. */
interface Sibling {
  readonly node: TreeNode;
  readonly left: boolean;
}

/**
 * Combines `parts` (partition results in partition order) in the fixed tree. Overwrites the parts'
 * arrays.
 */
export function treeCombine(parts: Float64Array[], combine: Combine = 'sum'): Float64Array {
  if (parts.length === 0) throw new RangeError('treeCombine of no parts');
  const tree = new TreeCombiner(parts.length, combine);
  for (let p = 0; p < parts.length; p++) tree.add(p, parts[p]!);
  return tree.result();
}
