/**
 * The interface every execution backend implements. Models are written once against it and never
 * import an implementation: `InlineEngine` runs on the caller's thread; a thread-pool engine and a
 * Redis-backed cluster engine implement the same contract.
 */
import type { DesignMatrix } from '../data/design-matrix.ts';
import { DistmlError } from '../errors.ts';
import type { BroadcastHandle, KernelArgs } from './kernel-registry.ts';

/** The fixed tree every engine combines a pass's results in (tree-combiner.ts). */
export { treeCombine } from './tree-combiner.ts';

/** The execution backends. */
export type EngineKind = 'inline' | 'local' | 'redis';

/** How data is split over workers. */
export interface Layout {
  /** Number of partitions. @defaultValue the engine's worker count */
  readonly partitions?: number;
}

/** A handle to data the engine has partitioned and placed. */
export interface DistributedMatrix {
  /** Engine-unique id of this placement. */
  readonly id: string;
  readonly rows: number;
  readonly cols: number;
  readonly partitions: number;
}

/** Counters an engine keeps about the work it ran. */
export interface EngineTelemetry {
  readonly kind: EngineKind;
  readonly workers: number;
  /** Kernel tasks run (one per partition per pass). */
  readonly tasks: number;
  /** Passes over the data (treeReduce calls). */
  readonly passes: number;
  /** Seconds spent inside kernels. */
  readonly kernelSeconds: number;
  /** Task attempts retried after a failure. */
  readonly retries?: number;
  /** Why work ran on the caller's thread instead of the workers, if it did. */
  readonly inlineReason?: string;
}

/** Consistency of parameter-server training: synchronous, asynchronous, or bounded staleness s. */
export type Consistency =
  | { readonly mode: 'bsp' }
  | { readonly mode: 'asp' }
  | { readonly mode: 'ssp'; readonly staleness: number };

/** What {@link Engine.runLoop} returns. */
export interface LoopResult {
  /** The parameters after every worker finished. */
  readonly params: Float64Array;
  /** Each worker's result vector, in worker order. */
  readonly perWorker: readonly Float64Array[];
  /** Staleness the workers actually saw (own clock − slowest clock at each pull). */
  readonly staleness: { readonly max: number; readonly mean: number };
  readonly workers: number;
}

/** One task of a DAG: a kernel on one partition, run after the tasks it depends on. */
export interface TaskSpec {
  readonly kernel: string;
  readonly on: DistributedMatrix;
  /** The partition the task runs on. */
  readonly partition: number;
  readonly args: KernelArgs;
  /** Higher runs first among ready tasks. @defaultValue 0 */
  readonly priority?: number;
  /** Tasks that must succeed first; if one fails, this one fails without running. */
  readonly after?: readonly TaskHandle[];
}

/** A submitted task. */
export interface TaskHandle {
  readonly id: number;
  readonly result: Promise<Float64Array>;
}

/** An execution backend. */
export interface Engine {
  readonly kind: EngineKind;
  readonly workers: number;
  /**
   * Memory for data this engine will distribute. Filling it in place (preprocessing writes its
   * output here) lets `distribute` place the data without a copy: shared memory for the thread
   * engine, an ordinary array for the serial one.
   */
  allocate(length: number): Float64Array;
  /** Splits `data` into partitions and places them where the kernels will run. */
  distribute(data: DesignMatrix, layout?: Layout): Promise<DistributedMatrix>;
  /**
   * Runs kernel `kernel` on every partition and combines the results (sum or max, as the kernel
   * declares) pairwise in a fixed tree order, so the result does not depend on which partition
   * finished first: an allreduce whose result the driver holds.
   */
  treeReduce(kernel: string, on: DistributedMatrix, args: KernelArgs): Promise<Float64Array>;
  /**
   * Gives back an array a {@link treeReduce} returned, once the caller holds no reference to it
   * (nor to a view of it) and no pass still reads it as an argument, so that a later pass's result
   * arrives in its memory. Optional: an array not given back is collected like any other. It pays
   * where results are large and arrive over a network (the cluster engine), since a fresh array of
   * megabytes costs page faults as it fills and garbage collections once dropped. The thread and
   * serial engines ignore it.
   */
  recycle(result: Float64Array): void;
  /**
   * Submits one task of a DAG (one tree of a forest, one trial of a search): it is queued by
   * priority once every task in `after` has succeeded, and scheduled like any other task
   * (locality, stealing, retries, speculation).
   */
  submit(task: TaskSpec): TaskHandle;
  /**
   * Runs loop kernel `kernel` once on every worker, over the partitions placed with it, against a
   * parameter server that starts at `init` and keeps `consistency`. Every wait is bounded by
   * `timeoutMs`; a worker lost mid-loop fails the loop (parameter-server training is not retried).
   */
  runLoop(
    kernel: string,
    on: DistributedMatrix,
    args: KernelArgs,
    init: Float64Array,
    consistency: Consistency,
    options?: { readonly timeoutMs?: number },
  ): Promise<LoopResult>;
  /**
   * Shares `value` once with every worker (read-only); pass the handle in kernel arguments instead
   * of the array, so large inputs (network weights, tree structures) do not travel with every task.
   */
  broadcast(value: Float64Array): Promise<BroadcastHandle>;
  /** Frees a placement. */
  release(on: DistributedMatrix): Promise<void>;
  /** What the engine has done so far. */
  telemetry(): EngineTelemetry;
  /** Frees every resource; the engine cannot be used afterwards. */
  close(): Promise<void>;
}

/**
 * The promise of a task that waits for its dependencies: rejects naming the first failed one, so a
 * failure travels down the DAG instead of leaving dependants waiting forever.
 */
export async function afterDependencies(id: number, after: readonly TaskHandle[] = []): Promise<void> {
  for (const dep of after) {
    try {
      await dep.result;
    } catch (err) {
      throw new DistmlError(
        'KERNEL',
        `task ${id} did not run: its dependency, task ${dep.id}, failed`,
        undefined,
        {
          cause: err,
        },
      );
    }
  }
}
