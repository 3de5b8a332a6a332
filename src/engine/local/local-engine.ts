/**
 * The worker-thread engine. Partitions are copied once into SharedArrayBuffers that every thread
 * reads in place; a pass (`treeReduce`) is one task per partition, which the scheduler
 * (scheduler.ts: locality, stealing, retries, speculation, exactly-once results) runs on the pool.
 *
 * Data below `smallDataElements` stays on the driver thread: threads cannot pay for themselves
 * there, and the telemetry says so.
 */
import { blockRanges, type DesignMatrix } from '../../data/design-matrix.ts';
import { DistmlError } from '../../errors.ts';
import type {
  Consistency,
  DistributedMatrix,
  Engine,
  EngineTelemetry,
  Layout,
  LoopResult,
  TaskHandle,
  TaskSpec,
} from '../engine.ts';
import { afterDependencies, treeCombine } from '../engine.ts';
import { InlineEngine } from '../inline-engine.ts';
import {
  type BroadcastHandle,
  getKernel,
  getLoopKernel,
  isBroadcast,
  type KernelArgs,
} from '../kernel-registry.ts';
import type { FaultSpec } from './faults.ts';
import { SharedParameterServer } from './parameter-server.ts';
import { type SharedPartition, sharedFloat64, sharedView } from './protocol.ts';
import { TaskScheduler } from './scheduler.ts';
import { WorkerPool } from './worker-pool.ts';

/** Options of {@link LocalEngine}. */
export interface LocalEngineOptions {
  /** Worker threads. */
  readonly workers: number;
  /** The worker entry module: imports every kernel module, then calls runWorker(). */
  readonly entry: URL;
  /** Attempts per task before the pass fails. @defaultValue 3 */
  readonly maxAttempts?: number;
  /** A task attempt running longer than this is abandoned and its worker replaced. @defaultValue 120000 */
  readonly taskTimeoutMs?: number;
  /** First retry delay; doubles with each further attempt. @defaultValue 10 */
  readonly backoffMs?: number;
  /** A task is a straggler once it has run this many times its pass's median. @defaultValue 3 */
  readonly speculationMultiplier?: number;
  /** …and at least this long. @defaultValue 50 */
  readonly speculationMinMs?: number;
  /**
   * Placements with fewer elements (rows × cols) than this run on the driver thread.
   * @defaultValue 100000 (measured: below it a pass costs more in messages than it saves)
   */
  readonly smallDataElements?: number;
  /** Injected faults (tests, `--inject-fault`). */
  readonly faults?: readonly FaultSpec[];
  /** Heap limit per worker thread in MB. */
  readonly maxHeapMb?: number;
  /**
   * Start the threads now rather than at the first large placement, so their start-up overlaps
   * whatever the caller does next (reading the data). @defaultValue false
   */
  readonly startEagerly?: boolean;
}

interface Placement extends DistributedMatrix {
  /** Present when the data stayed on the driver thread. */
  readonly inline?: DistributedMatrix;
  readonly parts: readonly SharedPartition[];
}

/** Telemetry of the worker-thread engine. */
export interface LocalTelemetry extends EngineTelemetry {
  readonly retries: number;
  readonly speculativeCopies: number;
  readonly speculativeWins: number;
  readonly lateResultsDiscarded: number;
  readonly workerRestarts: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly queueWaitSeconds: number;
  /** Time workers sat idle waiting for the slowest task of a pass, summed over passes and workers. */
  readonly syncWaitSeconds: number;
  /** Driver-side time per pass not spent inside kernels: scheduling, messages, reduction. */
  readonly overheadSecondsPerPass: number;
  readonly perWorker: ReadonlyArray<{
    readonly busyRatio: number;
    readonly tasks: number;
    readonly rowsPerSecond: number;
  }>;
  /** Why work ran on the driver thread, if it did. */
  readonly inlineReason?: string;
}

/** Trains on worker threads over shared memory. */
export class LocalEngine implements Engine {
  readonly kind = 'local' as const;
  readonly workers: number;
  private readonly options: Required<Omit<LocalEngineOptions, 'faults' | 'maxHeapMb' | 'startEagerly'>> &
    LocalEngineOptions;
  private pool: WorkerPool | undefined;
  private readonly inline = new InlineEngine();
  private readonly placements = new Map<string, Placement>();
  /** Broadcast ids as the inline engine knows them, for placements that stayed on this thread. */
  private readonly inlineBroadcasts = new Map<string, BroadcastHandle>();
  private readonly scheduler: TaskScheduler;
  private nextTask = 1;
  private nextPlacement = 1;
  private readonly createdAt = performance.now();
  private closed = false;
  private inlineReason: string | undefined;
  private broken: string | undefined;
  private markBroken: () => void = () => {};
  /** Settles when the workers turn out unable to start. */
  private readonly brokenSignal = new Promise<void>((resolve) => {
    this.markBroken = resolve;
  });

  constructor(options: LocalEngineOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new DistmlError('USAGE', `--workers must be a whole number ≥ 1, got ${options.workers}`);
    }
    this.workers = options.workers;
    this.options = {
      maxAttempts: 3,
      taskTimeoutMs: 120_000,
      backoffMs: 10,
      speculationMultiplier: 3,
      speculationMinMs: 50,
      smallDataElements: 100_000,
      ...options,
    };
    this.scheduler = new TaskScheduler(this.options);
    if (options.startEagerly) this.startPool();
  }

  allocate(length: number): Float64Array {
    return sharedFloat64(length);
  }

  async distribute(data: DesignMatrix, layout: Layout = {}): Promise<DistributedMatrix> {
    this.checkOpen();
    const partitions = layout.partitions ?? this.workers;
    const id = `local-${this.nextPlacement++}`;
    if (data.rows * data.cols < this.options.smallDataElements) {
      this.inlineReason = `small data: ${data.rows}×${data.cols} is below ${this.options.smallDataElements} elements, so it ran on the driver thread`;
      const inline = await this.inline.distribute(data, { partitions });
      const placement: Placement = {
        id,
        rows: data.rows,
        cols: data.cols,
        partitions: inline.partitions,
        inline,
        parts: [],
      };
      this.placements.set(id, placement);
      return placement;
    }
    // Every thread reads the partitions in place. Data the engine allocated (see allocate) is
    // already shared: its blocks are placed as views. Anything else is copied in once.
    const X = sharedView(data.X);
    const y = sharedView(data.y);
    const parts: SharedPartition[] = blockRanges(data.rows, partitions).map(([s, e], index) => ({
      index,
      rows: e - s,
      cols: data.cols,
      X: X.buffer as SharedArrayBuffer,
      xOffset: X.byteOffset + s * data.cols * 8,
      y: y.buffer as SharedArrayBuffer,
      yOffset: y.byteOffset + s * 8,
    }));
    const placement: Placement = { id, rows: data.rows, cols: data.cols, partitions: parts.length, parts };
    this.placements.set(id, placement);
    const pool = this.startPool();
    pool.place(id, parts);
    await Promise.race([pool.whenReady(), this.brokenSignal]);
    this.checkOpen();
    return placement;
  }

  /**
   * @param priority - among ready tasks, higher runs first
   * @param only - run on these partitions only (a DAG task is one partition)
   */
  treeReduce(
    kernel: string,
    on: DistributedMatrix,
    args: KernelArgs,
    priority = 0,
    only?: readonly number[],
  ): Promise<Float64Array> {
    this.checkOpen();
    const placement = this.placementOf(on);
    const selected = only ?? Array.from({ length: placement.partitions }, (_, p) => p);
    for (const p of selected) {
      if (!Number.isInteger(p) || p < 0 || p >= placement.partitions) {
        throw new DistmlError(
          'KERNEL',
          `no partition ${p} in placement '${on.id}' (it has ${placement.partitions})`,
        );
      }
    }
    if (placement.inline !== undefined) {
      if (only === undefined) return this.inline.treeReduce(kernel, placement.inline, this.toInline(args));
      const inline = placement.inline;
      return Promise.all(
        selected.map(
          (p) => this.inline.submit({ kernel, on: inline, partition: p, args: this.toInline(args) }).result,
        ),
      ).then((parts) => treeCombine(parts, getKernel(kernel).combine));
    }
    const definition = getKernel(kernel);
    return this.scheduler.runPass({
      kernel,
      placement,
      partitions: selected,
      args,
      resultLength: definition.resultLength(args, on.cols),
      combine: definition.combine ?? 'sum',
      priority,
    });
  }

  async broadcast(value: Float64Array): Promise<BroadcastHandle> {
    this.checkOpen();
    const data = new SharedArrayBuffer(value.byteLength);
    new Float64Array(data).set(value);
    const id = `local-broadcast-${this.nextPlacement++}`;
    // Inline placements resolve through the inline engine; thread placements through the pool.
    const inline = await this.inline.broadcast(value);
    this.inlineBroadcasts.set(id, inline);
    this.startPool().broadcast(id, data);
    return { broadcast: id, length: value.length };
  }

  submit(task: TaskSpec): TaskHandle {
    const id = this.nextTask++;
    const result = afterDependencies(id, task.after).then(() =>
      this.treeReduce(task.kernel, task.on, task.args, task.priority ?? 0, [task.partition]),
    );
    return { id, result };
  }

  /**
   * Runs a loop kernel once on every worker thread, worker w looping over partitions p with
   * p mod W = w, against a shared-memory parameter server. A worker lost mid-loop fails the loop:
   * the others would wait on its clock until their timeout.
   */
  async runLoop(
    kernelName: string,
    on: DistributedMatrix,
    args: KernelArgs,
    init: Float64Array,
    consistency: Consistency,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<LoopResult> {
    this.checkOpen();
    const placement = this.placementOf(on);
    if (placement.inline !== undefined)
      return this.inline.runLoop(
        kernelName,
        placement.inline,
        this.toInline(args),
        init,
        consistency,
        options,
      );
    if (this.scheduler.busy) {
      throw new DistmlError(
        'KERNEL',
        'runLoop needs every worker: wait for running passes and loops to finish first',
      );
    }
    const kernel = getLoopKernel(kernelName);
    const pool = this.startPool();
    await pool.whenReady();
    const W = this.workers;
    const ps = SharedParameterServer.create(init, W, consistency, options);
    const resultLength = kernel.resultLength(args, on.cols);
    const results = await Promise.all(
      Array.from({ length: W }, (_, w) =>
        this.scheduler.runLoop(w, {
          type: 'loop',
          kernel: kernelName,
          placement: placement.id,
          partitions: Array.from({ length: placement.partitions }, (_, p) => p).filter((p) => p % W === w),
          args,
          resultLength,
          ps: ps.handle,
          worker: w,
        }),
      ),
    );
    const stats = ps.stats();
    return {
      params: ps.snapshot(),
      perWorker: results,
      staleness: { max: stats.maxStalenessSeen, mean: stats.meanStaleness },
      workers: W,
    };
  }

  /** Ignored: each task's result is fresh shared memory, not taken from a pool. */
  recycle(_result: Float64Array): void {}

  async release(on: DistributedMatrix): Promise<void> {
    const placement = this.placements.get(on.id);
    this.placements.delete(on.id);
    if (placement?.inline !== undefined) await this.inline.release(placement.inline);
    else this.pool?.release(on.id);
  }

  telemetry(): LocalTelemetry {
    const inline = this.inline.telemetry();
    const c = this.scheduler.counters;
    const wall = (performance.now() - this.createdAt) / 1000;
    return {
      kind: this.kind,
      workers: this.workers,
      tasks: c.tasks + inline.tasks,
      passes: c.passes + inline.passes,
      kernelSeconds: c.kernelSeconds + inline.kernelSeconds,
      retries: c.retries,
      speculativeCopies: c.speculativeCopies,
      speculativeWins: c.speculativeWins,
      lateResultsDiscarded: c.lateResultsDiscarded,
      workerRestarts: c.workerRestarts,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      queueWaitSeconds: c.queueWaitSeconds,
      syncWaitSeconds: c.syncWaitSeconds,
      overheadSecondsPerPass: c.passes === 0 ? 0 : c.overheadSeconds / c.passes,
      perWorker: this.scheduler.slotStats.map((s) => ({
        busyRatio: wall > 0 ? s.busySeconds / wall : 0,
        tasks: s.tasks,
        rowsPerSecond: s.busySeconds > 0 ? s.rows / s.busySeconds : 0,
      })),
      ...(this.inlineReason === undefined ? {} : { inlineReason: this.inlineReason }),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.scheduler.close(new DistmlError('KERNEL', 'the engine was closed during a pass'));
    await this.pool?.close();
    await this.inline.close();
  }

  private startPool(): WorkerPool {
    if (this.pool !== undefined) return this.pool;
    this.pool = new WorkerPool(
      {
        size: this.workers,
        entry: this.options.entry,
        ...(this.options.faults === undefined ? {} : { faults: this.options.faults }),
        ...(this.options.maxHeapMb === undefined ? {} : { maxHeapMb: this.options.maxHeapMb }),
      },
      {
        onMessage: (slot, message) => this.scheduler.onMessage(slot, message),
        onWorkerLost: (slot, attempt, reason) => this.scheduler.onWorkerLost(slot, attempt, reason),
        onReady: () => this.scheduler.pump(),
        onBroken: (reason) => {
          this.broken = reason;
          this.markBroken();
          this.scheduler.failAll(new DistmlError('KERNEL', `the worker threads cannot start: ${reason}`));
        },
      },
    );
    this.scheduler.attach(this.pool);
    return this.pool;
  }

  /** `args` with this engine's broadcast handles swapped for the inline engine's. */
  private toInline(args: KernelArgs): KernelArgs {
    let out: Record<string, KernelArgs[string]> | undefined;
    for (const [key, value] of Object.entries(args)) {
      if (!isBroadcast(value)) continue;
      const inline = this.inlineBroadcasts.get(value.broadcast);
      if (inline === undefined) continue; // unknown ids are reported when the kernel runs
      out ??= { ...args };
      out[key] = inline;
    }
    return out ?? args;
  }

  private placementOf(on: DistributedMatrix): Placement {
    const placement = this.placements.get(on.id);
    if (placement === undefined) throw new DistmlError('KERNEL', `unknown or released placement '${on.id}'`);
    return placement;
  }

  private checkOpen(): void {
    if (this.closed) throw new DistmlError('KERNEL', 'this engine is closed');
    if (this.broken !== undefined)
      throw new DistmlError('KERNEL', `the worker threads cannot start: ${this.broken}`);
  }
}
