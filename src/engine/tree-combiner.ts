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
 */
import type { Combine } from './kernel-registry.ts';

/** A non-finite value found while combining. */
export interface NonFiniteValue {
  /** The partition whose result held it; undefined when finite results overflowed as they were summed. */
  readonly partition: number | undefined;
  readonly index: number;
  readonly value: number;
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

  /**
   * @param count - partitions of the pass
   * @param combine - how two results combine
   * @param onNonFinite - when given, results are checked to be finite and this is called (it
   *   should throw) for the first NaN or infinity; without it nothing is checked
   * @param onFolded - called with each array once it is folded into another, when nothing here
   *   reads it any more (for its memory to be reused)
   */
  constructor(
    private readonly count: number,
    private readonly combine: Combine = 'sum',
    private readonly onNonFinite?: (found: NonFiniteValue) => void,
    private readonly onFolded?: (folded: Float64Array) => void,
  ) {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`TreeCombiner of ${count} parts`);
    for (let size = count; ; size = Math.ceil(size / 2)) {
      this.levels.push(new Array<TreeNode | undefined>(size));
      if (size === 1) break;
    }
  }

  /** Adds the result of `partition`, combining what it completes. Overwrites the arrays it is given. */
  add(partition: number, part: Float64Array): void {
    const first = this.levels[0]!;
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= this.count)
      throw new RangeError(`partition ${partition} of a pass of ${this.count}`);
    if (first[partition] !== undefined || this.added === this.count)
      throw new RangeError(`partition ${partition} was combined already`);
    this.added++;
    // Sums check their operands as they go; a result that is never summed (a pass of one
    // partition) or combined otherwise is checked on its own.
    const fused = this.onNonFinite !== undefined && this.combine === 'sum' && this.count > 1;
    if (this.onNonFinite !== undefined && !fused) this.checkAlone(partition, part);
    const node: TreeNode = { values: part, unchecked: fused ? partition : undefined };
    // The siblings this arrival completes, bottom up; an odd last node is carried up a level.
    const siblings: Sibling[] = [];
    let index = partition;
    let level = 0;
    for (; level < this.levels.length - 1; level++, index >>= 1) {
      const nodes = this.levels[level]!;
      const sibling = index ^ 1;
      if (sibling >= nodes.length) continue;
      const other = nodes[sibling];
      if (other === undefined) break;
      nodes[sibling] = undefined;
      siblings.push({ node: other, left: sibling < index });
    }
    const made = this.fold(node, siblings);
    if (level === this.levels.length - 1) this.root = made.values;
    else this.levels[level]![index] = made;
  }

  /** The combined result, once every partition was added. */
  result(): Float64Array {
    if (this.root === undefined)
      throw new RangeError(`${this.count - this.added} of ${this.count} partitions not combined yet`);
    return this.root;
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
        if (s - s !== 0) this.nonFiniteOfTwo(node, s1, s2, j, u, v, w);
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

  /** What {@link nonFinite} says of the first of {@link sumTwo}'s two sums that is not finite. */
  private nonFiniteOfTwo(
    node: TreeNode,
    s1: Sibling,
    s2: Sibling,
    index: number,
    u: number,
    v: number,
    w: number,
  ) {
    const first = u + v;
    if (first - first !== 0) {
      if (s1.left) this.nonFinite(s1.node, node, index, v, u, first);
      else this.nonFinite(node, s1.node, index, u, v, first);
      return;
    }
    const made: TreeNode = { values: node.values, unchecked: undefined };
    if (s2.left) this.nonFinite(s2.node, made, index, w, first, first + w);
    else this.nonFinite(made, s2.node, index, first, w, first + w);
  }

  /** Names the operand that held a non-finite value, or the sum that overflowed. */
  private nonFinite(a: TreeNode, b: TreeNode, index: number, u: number, v: number, sum: number): void {
    if (u - u !== 0) this.onNonFinite!({ partition: a.unchecked, index, value: u });
    else if (v - v !== 0) this.onNonFinite!({ partition: b.unchecked, index, value: v });
    else this.onNonFinite!({ partition: undefined, index, value: sum });
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
