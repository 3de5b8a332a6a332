/**
 * The memory a cluster worker builds its partitions in, reused from one run to the next. A
 * partition is hundreds of megabytes (400,000 rows × 50 features: 160 MB), and memory touched for
 * the first time costs a page fault per 4 KiB: on this project's machine encoding such a partition
 * took 642–655 ms into fresh memory against 89–106 ms into memory written before (a sandboxed
 * virtual machine, where a C `memset` of 256 MB took 688 ms the first time and 13 ms the second;
 * faults cost less on bare metal, but never nothing). A worker serves fit after fit, often of the
 * same shapes (a benchmark, a search, a retraining job), so the partitions of a run that ended are
 * kept for the next run's.
 *
 * Only the memory of the runs that ended last is kept, in place of what was kept before, and what a
 * new run has not taken within {@link KEEP_MS} (its partitions are of other sizes) is let go: the
 * worker held those partitions until the new run began anyway, so it holds them at most that much
 * longer than it did without reuse.
 */
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { ViewPool } from './float64-pool.ts';

/** How long memory kept for a new run's partitions waits to be taken before it is let go. */
export const KEEP_MS = 60_000;

/** Arrays kept per length, and lengths kept: an X and a y for each partition a worker caches. */
const KEPT = 128;

/** Memory for partitions: fresh, or that of partitions dropped by {@link PartitionMemory.reuse}. */
export class PartitionMemory {
  private kept: ViewPool<Float64Array>;
  private letGo: ReturnType<typeof setTimeout> | undefined;
  /** Whether `make` gives shared memory: arrays of the other kind are not kept. */
  private readonly shared: boolean;

  /** @param make - a fresh zeroed array of a length (memory the kernel threads read in place) */
  constructor(private readonly make: (length: number) => Float64Array) {
    this.shared = make(0).buffer instanceof SharedArrayBuffer;
    this.kept = this.empty();
  }

  /** A zeroed array of `length`: kept memory when there is some of that length. */
  allocate(length: number): Float64Array {
    return this.kept.take(length);
  }

  /**
   * Keeps the memory of `parts`, partitions nothing reads any more (nor will: the caller knows no
   * task runs on them), zeroed, instead of what was kept before. Arrays that view a part of a larger
   * buffer (a partition viewed in the bytes it arrived in) are not kept: their buffer is not
   * theirs; nor are arrays in another kind of memory than `make`'s (shared or not). What is not
   * taken within `keepMs` is let go.
   */
  reuse(parts: Iterable<DesignMatrix>, keepMs = KEEP_MS): void {
    this.kept = this.empty();
    clearTimeout(this.letGo);
    // Not keeping the process alive: a worker that is stopping lets its memory go with it.
    this.letGo = setTimeout(() => {
      this.kept = this.empty();
    }, keepMs).unref();
    for (const part of parts) {
      this.kept.give(part.X);
      this.kept.give(part.y);
    }
  }

  /** Bytes kept for reuse. */
  get keptBytes(): number {
    return this.kept.bytes;
  }

  private empty(): ViewPool<Float64Array> {
    return new ViewPool(this.make, this.shared, KEPT, true);
  }
}
