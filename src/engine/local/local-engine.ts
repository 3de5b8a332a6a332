/**
 * The worker-thread engine. Partitions are copied once into SharedArrayBuffers that every thread
 * reads in place; a pass (`treeReduce`) is one task per partition, scheduled like this:
 *
 * - idle workers pull work: first tasks whose partition they "own" (partition p belongs to slot
 *   p mod W), otherwise they steal any pending task, highest priority first;
 * - a failed attempt (kernel error, dead worker, timeout) is retried elsewhere after a backoff,
 *   up to `maxAttempts`;
 * - a task running far longer than the median of its pass gets a speculative copy on an idle
 *   worker; the first result wins and the other is discarded by its attempt id;
 * - each result is applied once, keyed by (pass, partition), and checked for NaN/Inf before it is;
 * - the sum is taken in partition order, so it is bit-identical to InlineEngine's for the same
 *   partitioning, whatever order the tasks finished in.
 *
 * Data below `smallDataElements` stays on the driver thread: threads cannot pay for themselves
 * there, and the telemetry says so.
 */
import { blockRanges, type DesignMatrix } from '../../data/design-matrix.ts';
import { DistmlError, NonFiniteResultError, TaskFailedError } from '../../errors.ts';
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
  type Combine,
  getKernel,
  getLoopKernel,
  isBroadcast,
  type KernelArgs,
} from '../kernel-registry.ts';
import { stragglerLimitMs } from '../stragglers.ts';
import type { FaultSpec } from './faults.ts';
import { SharedParameterServer } from './parameter-server.ts';
import { type FromWorker, type SharedPartition, sharedView } from './protocol.ts';
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

interface Task {
  readonly pass: Pass;
  /** Position of this task's result in its pass. */
  readonly index: number;
  readonly partition: number;
  readonly preferred: number;
  attempts: number;
  done: boolean;
  readyAt: number;
  enqueuedAt: number;
  /** Slot that last failed this task: retried elsewhere when possible. */
  avoid: number;
  readonly running: Map<number, { slot: number; started: number; speculative: boolean }>;
}

interface Pass {
  readonly id: number;
  readonly kernel: string;
  readonly placement: Placement;
  readonly args: KernelArgs;
  readonly resultLength: number;
  readonly combine: Combine;
  readonly priority: number;
  readonly tasks: Task[];
  readonly results: (Float64Array | undefined)[];
  readonly runSeconds: number[];
  /** Kernel seconds per worker slot in this pass, for the overhead figure. */
  readonly slotSeconds: Float64Array;
  readonly started: number;
  remaining: number;
  failed: boolean;
  resolve(value: Float64Array): void;
  reject(err: Error): void;
}

interface Placement extends DistributedMatrix {
  /** Present when the data stayed on the driver thread. */
  readonly inline?: DistributedMatrix;
  readonly parts: readonly SharedPartition[];
}

interface SlotStats {
  busySeconds: number;
  tasks: number;
  rows: number;
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
  private readonly attempts = new Map<number, Task>();
  private readonly pending: Task[] = [];
  private readonly passes = new Set<Pass>();
  /** Loop attempts in flight, one per worker. */
  private readonly loops = new Map<
    number,
    { resolve(v: Float64Array): void; reject(e: Error): void; slot: number; kernel: string }
  >();
  private readonly slotStats: SlotStats[];
  private nextAttempt = 1;
  private nextPass = 1;
  private nextTask = 1;
  private nextPlacement = 1;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly createdAt = performance.now();
  private closed = false;
  private inlineReason: string | undefined;
  private broken: string | undefined;
  private markBroken: () => void = () => {};
  /** Settles when the workers turn out unable to start. */
  private readonly brokenSignal = new Promise<void>((resolve) => {
    this.markBroken = resolve;
  });
  private counters = {
    tasks: 0,
    passes: 0,
    kernelSeconds: 0,
    retries: 0,
    speculativeCopies: 0,
    speculativeWins: 0,
    lateResultsDiscarded: 0,
    workerRestarts: 0,
    bytesIn: 0,
    bytesOut: 0,
    queueWaitSeconds: 0,
    syncWaitSeconds: 0,
    overheadSeconds: 0,
  };

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
    this.slotStats = Array.from({ length: options.workers }, () => ({ busySeconds: 0, tasks: 0, rows: 0 }));
    if (options.startEagerly) this.startPool();
  }

  allocate(length: number): Float64Array {
    return new Float64Array(new SharedArrayBuffer(length * 8));
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
    const resultLength = definition.resultLength(args, on.cols);
    return new Promise<Float64Array>((resolve, reject) => {
      const now = performance.now();
      const pass: Pass = {
        id: this.nextPass++,
        kernel,
        placement,
        args,
        resultLength,
        combine: definition.combine ?? 'sum',
        priority,
        tasks: [],
        results: new Array(selected.length).fill(undefined),
        runSeconds: [],
        slotSeconds: new Float64Array(this.workers),
        started: now,
        remaining: selected.length,
        failed: false,
        resolve,
        reject,
      };
      for (const [slotInPass, p] of selected.entries()) {
        const task: Task = {
          pass,
          index: slotInPass,
          partition: p,
          preferred: p % this.workers,
          attempts: 0,
          done: false,
          readyAt: now,
          enqueuedAt: now,
          avoid: -1,
          running: new Map(),
        };
        pass.tasks.push(task);
        this.pending.push(task);
      }
      this.pending.sort((a, b) => b.pass.priority - a.pass.priority);
      this.passes.add(pass);
      this.counters.passes++;
      this.ensureTimer();
      this.pump();
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
    if (this.passes.size > 0 || this.loops.size > 0) {
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
      Array.from({ length: W }, (_, w) => {
        const attempt = this.nextAttempt++;
        const partitions = Array.from({ length: placement.partitions }, (_, p) => p).filter(
          (p) => p % W === w,
        );
        return new Promise<Float64Array>((resolve, reject) => {
          this.loops.set(attempt, { resolve, reject, slot: w, kernel: kernelName });
          pool.dispatch(w, {
            type: 'loop',
            attempt,
            kernel: kernelName,
            placement: placement.id,
            partitions,
            args,
            resultLength,
            ps: ps.handle,
            worker: w,
          });
        });
      }),
    );
    const stats = ps.stats();
    return {
      params: ps.snapshot(),
      perWorker: results,
      staleness: { max: stats.maxStalenessSeen, mean: stats.meanStaleness },
      workers: W,
    };
  }

  async release(on: DistributedMatrix): Promise<void> {
    const placement = this.placements.get(on.id);
    this.placements.delete(on.id);
    if (placement?.inline !== undefined) await this.inline.release(placement.inline);
    else this.pool?.release(on.id);
  }

  telemetry(): LocalTelemetry {
    const inline = this.inline.telemetry();
    const c = this.counters;
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
      perWorker: this.slotStats.map((s) => ({
        busyRatio: wall > 0 ? s.busySeconds / wall : 0,
        tasks: s.tasks,
        rowsPerSecond: s.busySeconds > 0 ? s.rows / s.busySeconds : 0,
      })),
      ...(this.inlineReason === undefined ? {} : { inlineReason: this.inlineReason }),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const pass of this.passes)
      this.failPass(pass, new DistmlError('KERNEL', 'the engine was closed during a pass'));
    await this.pool?.close();
    await this.inline.close();
  }

  private startPool(): WorkerPool {
    this.pool ??= new WorkerPool(
      {
        size: this.workers,
        entry: this.options.entry,
        ...(this.options.faults === undefined ? {} : { faults: this.options.faults }),
        ...(this.options.maxHeapMb === undefined ? {} : { maxHeapMb: this.options.maxHeapMb }),
      },
      {
        onMessage: (slot, message) => this.onMessage(slot, message),
        onWorkerLost: (slot, attempt, reason) => this.onWorkerLost(slot, attempt, reason),
        onReady: () => this.pump(),
        onBroken: (reason) => {
          this.broken = reason;
          this.markBroken();
          for (const pass of [...this.passes])
            this.failPass(pass, new DistmlError('KERNEL', `the worker threads cannot start: ${reason}`));
        },
      },
    );
    return this.pool;
  }

  /** Gives every idle worker something to do: its own partitions first, then stolen or speculative work. */
  private pump(): void {
    const pool = this.pool;
    if (pool === undefined || this.closed) return;
    const now = performance.now();
    for (let slot = 0; slot < pool.size; slot++) {
      if (!pool.idle(slot)) continue;
      const task = this.takePending(slot, now) ?? this.straggler(slot, now);
      if (task !== undefined) this.dispatch(slot, task, now);
    }
  }

  private takePending(slot: number, now: number): Task | undefined {
    let choice = -1;
    for (let i = 0; i < this.pending.length; i++) {
      const t = this.pending[i]!;
      if (t.readyAt > now || (t.avoid === slot && this.workers > 1)) continue;
      if (t.preferred === slot) {
        choice = i;
        break;
      }
      if (choice < 0) choice = i; // steal the highest-priority task of another worker
    }
    if (choice < 0) return undefined;
    return this.pending.splice(choice, 1)[0];
  }

  /** A running task of some pass that has run far past its pass's median: worth a backup copy. */
  private straggler(slot: number, now: number): Task | undefined {
    for (const pass of this.passes) {
      if (pass.runSeconds.length === 0) continue;
      const limit = stragglerLimitMs(
        pass.runSeconds.map((s) => s * 1000),
        { multiplier: this.options.speculationMultiplier, minMs: this.options.speculationMinMs },
      );
      for (const task of pass.tasks) {
        if (task.done || task.running.size !== 1) continue;
        const [run] = task.running.values();
        if (run!.slot !== slot && now - run!.started > limit) return task;
      }
    }
    return undefined;
  }

  private dispatch(slot: number, task: Task, now: number): void {
    const attempt = this.nextAttempt++;
    const speculative = task.running.size > 0;
    task.attempts++;
    task.running.set(attempt, { slot, started: now, speculative });
    this.attempts.set(attempt, task);
    if (speculative) this.counters.speculativeCopies++;
    else this.counters.queueWaitSeconds += (now - task.enqueuedAt) / 1000;
    this.counters.bytesIn += argsBytes(task.pass.args);
    this.pool!.dispatch(slot, {
      type: 'task',
      attempt,
      kernel: task.pass.kernel,
      placement: task.pass.placement.id,
      partition: task.partition,
      args: task.pass.args,
      resultLength: task.pass.resultLength,
    });
  }

  private onMessage(slot: number, message: Exclude<FromWorker, { type: 'ready' }>): void {
    this.pool!.free(slot);
    const loop = this.loops.get(message.attempt);
    if (loop !== undefined) {
      this.loops.delete(message.attempt);
      if (message.type === 'result') {
        this.counters.kernelSeconds += message.runSeconds;
        this.slotStats[slot]!.busySeconds += message.runSeconds;
        loop.resolve(message.result);
      } else {
        loop.reject(
          new TaskFailedError(`loop kernel '${loop.kernel}' failed on worker ${slot}: ${message.message}`),
        );
      }
      this.pump();
      return;
    }
    const task = this.attempts.get(message.attempt);
    this.attempts.delete(message.attempt);
    if (task === undefined || task.done || task.pass.failed) {
      // A speculative loser, or an answer for a pass that already ended: discarded by attempt id.
      this.counters.lateResultsDiscarded++;
      task?.running.delete(message.attempt);
      this.pump();
      return;
    }
    const run = task.running.get(message.attempt)!;
    task.running.delete(message.attempt);
    if (message.type === 'error') {
      this.onAttemptFailed(task, slot, `kernel '${task.pass.kernel}' threw: ${message.message}`);
    } else {
      this.accept(task, slot, run.speculative, message.result, message.runSeconds);
    }
    this.pump();
  }

  private accept(
    task: Task,
    slot: number,
    speculative: boolean,
    result: Float64Array,
    runSeconds: number,
  ): void {
    const pass = task.pass;
    for (let j = 0; j < result.length; j++) {
      if (!Number.isFinite(result[j]!)) {
        this.failPass(
          pass,
          new NonFiniteResultError(
            `task ${pass.id}:${task.partition} (kernel '${pass.kernel}', partition ${task.partition}, worker ${slot}) returned ${result[j]} at index ${j}`,
            'the pass was stopped before the result was applied; check the data and the learning rate or penalty',
          ),
        );
        return;
      }
    }
    task.done = true;
    pass.results[task.index] = result;
    pass.runSeconds.push(runSeconds);
    pass.slotSeconds[slot]! += runSeconds;
    const stats = this.slotStats[slot]!;
    stats.busySeconds += runSeconds;
    stats.tasks++;
    stats.rows += pass.placement.parts[task.partition]!.rows;
    this.counters.tasks++;
    this.counters.kernelSeconds += runSeconds;
    this.counters.bytesOut += result.byteLength;
    if (speculative) this.counters.speculativeWins++;
    if (--pass.remaining === 0) this.finishPass(pass);
  }

  private finishPass(pass: Pass): void {
    this.passes.delete(pass);
    const wall = (performance.now() - pass.started) / 1000;
    const busy = pass.runSeconds.reduce((a, b) => a + b, 0);
    const lanes = Math.min(this.workers, pass.tasks.length);
    this.counters.syncWaitSeconds += Math.max(0, wall * lanes - busy);
    // What the pass took beyond its busiest worker's kernel time: messages, scheduling, the sum.
    this.counters.overheadSeconds += Math.max(0, wall - Math.max(...pass.slotSeconds));
    pass.resolve(treeCombine(pass.results as Float64Array[], pass.combine));
  }

  private onWorkerLost(slot: number, attempt: number | undefined, reason: string): void {
    this.counters.workerRestarts++;
    const loop = attempt === undefined ? undefined : this.loops.get(attempt);
    if (loop !== undefined) {
      this.loops.delete(attempt!);
      loop.reject(
        new TaskFailedError(`worker ${slot} was lost during loop kernel '${loop.kernel}': ${reason}`),
      );
      return;
    }
    const task = attempt === undefined ? undefined : this.attempts.get(attempt);
    if (attempt !== undefined) this.attempts.delete(attempt);
    if (task !== undefined) {
      task.running.delete(attempt!);
      if (!task.done && !task.pass.failed) this.onAttemptFailed(task, slot, reason);
    }
    this.pump();
  }

  private onAttemptFailed(task: Task, slot: number, cause: string): void {
    if (task.running.size > 0) return; // another copy is still running; let it finish
    if (task.attempts >= this.options.maxAttempts) {
      this.failPass(
        task.pass,
        new TaskFailedError(
          `task ${task.pass.id}:${task.partition} (kernel '${task.pass.kernel}', partition ${task.partition}) failed ${task.attempts} time(s); last on worker ${slot}: ${cause}`,
          'see the cause above; a kernel error repeats on every worker, a crash may be memory (--max-heap-mb)',
        ),
      );
      return;
    }
    this.counters.retries++;
    const now = performance.now();
    task.avoid = slot;
    task.readyAt = now + this.options.backoffMs * 2 ** (task.attempts - 1);
    task.enqueuedAt = now;
    this.pending.unshift(task);
  }

  private failPass(pass: Pass, err: Error): void {
    if (pass.failed) return;
    pass.failed = true;
    this.passes.delete(pass);
    for (let i = this.pending.length - 1; i >= 0; i--)
      if (this.pending[i]!.pass === pass) this.pending.splice(i, 1);
    pass.reject(err);
  }

  /** Retries after backoff, speculation and timeouts need a clock while passes run. */
  private ensureTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (this.passes.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      const now = performance.now();
      for (const [, task] of this.attempts) {
        for (const [, run] of task.running) {
          if (now - run.started > this.options.taskTimeoutMs) this.pool?.kill(run.slot);
        }
      }
      this.pump();
    }, 5);
    this.timer.unref();
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

function argsBytes(args: KernelArgs): number {
  let n = 0;
  for (const v of Object.values(args)) n += v instanceof Float64Array ? v.byteLength : 8;
  return n;
}
