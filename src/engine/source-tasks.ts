/**
 * Partitions that workers read themselves from a data source, instead of receiving them from the
 * driver. Like kernels, the code that reads and encodes a partition is named, never shipped: a
 * module above the engine registers a {@link SourceHandlers} under a name, every worker imports
 * it, and tasks carry the name, the partition's split (plain data saying what to read) and the key
 * of a spec (what to do with the rows). A split plus a spec is the partition's lineage: any worker
 * can rebuild the partition from it, which is how a partition lost with its worker comes back.
 */
import type { DesignMatrix } from '../data/design-matrix.ts';
import type { DistributedMatrix, Engine } from './engine.ts';
import { namedRegistry } from './named-registry.ts';

/** Plain data that travels in task messages and Redis values (JSON- and msgpack-safe). */
export type Plain = null | boolean | number | string | readonly Plain[] | { readonly [key: string]: Plain };

/**
 * Worker-side code for partitions read from a source. `run` names the fit a call belongs to: what
 * a handler keeps from a profile for the build that follows must serve builds of that run only,
 * since a later run may name the same split of a file rewritten in between.
 */
export interface SourceHandlers {
  /** Summarises the rows of `split` (a preprocessing profile): plain data the driver merges. */
  profile(split: Plain, spec: Plain, run: string): Promise<Plain>;
  /**
   * Reads the rows of `split` and encodes them as `spec` says: the matrix kernels run on, its
   * arrays from `allocate` (memory the worker's kernel threads read in place).
   */
  build(
    split: Plain,
    spec: Plain,
    run: string,
    allocate: (length: number) => Float64Array,
  ): Promise<DesignMatrix>;
  /**
   * Evaluates something on the rows of `split` that needs no partition (a fitted model scoring the
   * rows the build of the same run left out, the model travelling in `spec` as data): plain data
   * the driver merges.
   */
  score?(split: Plain, spec: Plain, run: string): Promise<Plain>;
}

/** The handler a source task runs besides `build`. */
export type SourceOperation = 'profile' | 'score';

const registry = namedRegistry<SourceHandlers>('source handlers', 'src/pipeline/source-tasks.ts');

/** Registers `handlers` under `name`. @throws Error for a name registered twice */
export function registerSourceHandlers(name: string, handlers: SourceHandlers): void {
  registry.register(name, handlers);
}

/** The handlers registered under `name`. @throws DistmlError naming the module to import */
export function getSourceHandlers(name: string): SourceHandlers {
  return registry.get(name);
}

/** The lineage of the partitions of one placement. */
export interface SourceLineage {
  /** Registry name of the {@link SourceHandlers}. */
  readonly handlers: string;
  /** One split per partition. */
  readonly splits: readonly Plain[];
  /** What to do with the rows (a preprocessing plan), the same for every partition. */
  readonly spec: Plain;
}

/** An engine whose workers read their partitions from a source. */
export interface SourceEngine extends Engine {
  /**
   * Runs the handlers' `profile` on every split, on the workers; results in split order.
   * `onResult` hears of each as it arrives.
   */
  profileSources(lineage: SourceLineage, onResult?: (done: number, splits: number) => void): Promise<Plain[]>;
  /**
   * Runs the handlers' `score` on every split, on the workers (each split goes to the worker that
   * owns the same partition of a placement of as many partitions, so rows it kept are at hand);
   * results in split order. `onResult` hears of each as it arrives.
   */
  scoreSources(lineage: SourceLineage, onResult?: (done: number, splits: number) => void): Promise<Plain[]>;
  /**
   * Places partitions that the workers build from `lineage` (and rebuild from it when they do not
   * hold one); `rows` and `cols` describe the whole matrix.
   */
  placeSources(lineage: SourceLineage, rows: number, cols: number): Promise<DistributedMatrix>;
}

/** Whether `engine` can place partitions read by its workers. */
export function isSourceEngine(engine: Engine): engine is SourceEngine {
  const e = engine as Partial<SourceEngine>;
  return (
    typeof e.profileSources === 'function' &&
    typeof e.scoreSources === 'function' &&
    typeof e.placeSources === 'function'
  );
}
