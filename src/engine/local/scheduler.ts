/**
 * The thread engine's scheduler: it runs passes (one task per partition) and loop attempts on the
 * slots of a {@link WorkerPool}, and turns the pool's messages into results.
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
 */
import { TaskFailedError } from '../../errors.ts';
import { treeCombine } from '../engine.ts';
import type { KernelArgs } from '../kernel-registry.ts';
import { stragglerLimitMs } from '../stragglers.ts';
import { newPass, nonFiniteResult, type Pass, type PassSpec, passCosts, type Task } from './pass.ts';
import type { FromWorker, ToWorker } from './protocol.ts';
import type { WorkerPool } from './worker-pool.ts';

/** What the scheduler uses of the pool. */
export type SchedulerPool = Pick<WorkerPool, 'size' | 'idle' | 'dispatch' | 'free' | 'kill'>;

/** Retry, timeout and speculation settings (see LocalEngineOptions for each one's default). */
export interface SchedulerOptions {
  readonly workers: number;
  readonly maxAttempts: number;
  readonly taskTimeoutMs: number;
  readonly backoffMs: number;
  readonly speculationMultiplier: number;
  readonly speculationMinMs: number;
}

/** A loop message without its attempt id, which the scheduler assigns. */
export type LoopDispatch = Omit<Extract<ToWorker, { type: 'loop' }>, 'attempt'>;

/** What the scheduler counted, for the engine's telemetry. */
export interface SchedulerCounters {
  tasks: number;
  passes: number;
  kernelSeconds: number;
  retries: number;
  speculativeCopies: number;
  speculativeWins: number;
  lateResultsDiscarded: number;
  workerRestarts: number;
  bytesIn: number;
  bytesOut: number;
  queueWaitSeconds: number;
  syncWaitSeconds: number;
  overheadSeconds: number;
}

/** Per worker slot. */
export interface SlotStats {
  busySeconds: number;
  tasks: number;
  rows: number;
}

interface Loop {
  resolve(v: Float64Array): void;
  reject(e: Error): void;
  readonly slot: number;
  readonly kernel: string;
}

/** Schedules passes and loops on a worker pool; see the module comment for the rules. */
export class TaskScheduler {
  private readonly count: SchedulerCounters = {
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
  private readonly perSlot: SlotStats[];
  private pool: SchedulerPool | undefined;
  private readonly attempts = new Map<number, Task>();
  private readonly pending: Task[] = [];
  private readonly passes = new Set<Pass>();
  /** Loop attempts in flight, one per worker. */
  private readonly loops = new Map<number, Loop>();
  private nextAttempt = 1;
  private nextPass = 1;
  private timer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(private readonly options: SchedulerOptions) {
    this.perSlot = Array.from({ length: options.workers }, () => ({ busySeconds: 0, tasks: 0, rows: 0 }));
  }

  /** Counted since the engine started. */
  get counters(): Readonly<SchedulerCounters> {
    return this.count;
  }

  /** Busy time, tasks and rows per worker slot, indexed by slot. */
  get slotStats(): readonly Readonly<SlotStats>[] {
    return this.perSlot;
  }

  /** The pool to run on; nothing is dispatched before it is attached. */
  attach(pool: SchedulerPool): void {
    this.pool = pool;
  }

  /** Whether a pass or a loop is in flight. */
  get busy(): boolean {
    return this.passes.size > 0 || this.loops.size > 0;
  }

  /** Queues one task per partition of `spec`; resolves with their results combined in partition order. */
  runPass(spec: PassSpec): Promise<Float64Array> {
    return new Promise<Float64Array>((resolve, reject) => {
      const pass = newPass(spec, this.nextPass++, this.options.workers, { resolve, reject });
      this.pending.push(...pass.tasks);
      this.pending.sort((a, b) => b.pass.priority - a.pass.priority);
      this.passes.add(pass);
      this.count.passes++;
      this.ensureTimer();
      this.pump();
    });
  }

  /** Runs one loop attempt on `slot` (the pool must be attached and ready); resolves with its result. */
  runLoop(slot: number, message: LoopDispatch): Promise<Float64Array> {
    const attempt = this.nextAttempt++;
    return new Promise<Float64Array>((resolve, reject) => {
      this.loops.set(attempt, { resolve, reject, slot, kernel: message.kernel });
      this.pool!.dispatch(slot, { ...message, attempt });
    });
  }

  /** Gives every idle worker something to do: its own partitions first, then stolen or speculative work. */
  pump(): void {
    const pool = this.pool;
    if (pool === undefined || this.closed) return;
    const now = performance.now();
    for (let slot = 0; slot < pool.size; slot++) {
      if (!pool.idle(slot)) continue;
      const task = this.takePending(slot, now) ?? this.straggler(slot, now);
      if (task !== undefined) this.dispatch(slot, task, now);
    }
  }

  /** A worker's answer: a result or a kernel error, for a task or a loop. */
  onMessage(slot: number, message: Exclude<FromWorker, { type: 'ready' }>): void {
    this.pool!.free(slot);
    const loop = this.loops.get(message.attempt);
    if (loop !== undefined) {
      this.loops.delete(message.attempt);
      if (message.type === 'result') {
        this.count.kernelSeconds += message.runSeconds;
        this.perSlot[slot]!.busySeconds += message.runSeconds;
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
      this.count.lateResultsDiscarded++;
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

  /** A worker thread died (and is being replaced) while running `attempt`, if any. */
  onWorkerLost(slot: number, attempt: number | undefined, reason: string): void {
    this.count.workerRestarts++;
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

  /** Fails every pass in flight with `err` (the threads cannot start, or the engine closes). */
  failAll(err: Error): void {
    for (const pass of [...this.passes]) this.failPass(pass, err);
  }

  /** Stops scheduling and fails the passes in flight with `err`. */
  close(err: Error): void {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.failAll(err);
  }

  private takePending(slot: number, now: number): Task | undefined {
    let choice = -1;
    for (let i = 0; i < this.pending.length; i++) {
      const t = this.pending[i]!;
      if (t.readyAt > now || (t.avoid === slot && this.options.workers > 1)) continue;
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
    if (speculative) this.count.speculativeCopies++;
    else this.count.queueWaitSeconds += (now - task.enqueuedAt) / 1000;
    this.count.bytesIn += argsBytes(task.pass.args);
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

  private accept(
    task: Task,
    slot: number,
    speculative: boolean,
    result: Float64Array,
    runSeconds: number,
  ): void {
    const pass = task.pass;
    const bad = nonFiniteResult(task, slot, result);
    if (bad !== undefined) {
      this.failPass(pass, bad);
      return;
    }
    task.done = true;
    pass.results[task.index] = result;
    pass.runSeconds.push(runSeconds);
    pass.slotSeconds[slot]! += runSeconds;
    const stats = this.perSlot[slot]!;
    stats.busySeconds += runSeconds;
    stats.tasks++;
    stats.rows += pass.placement.parts[task.partition]!.rows;
    this.count.tasks++;
    this.count.kernelSeconds += runSeconds;
    this.count.bytesOut += result.byteLength;
    if (speculative) this.count.speculativeWins++;
    if (--pass.remaining === 0) this.finishPass(pass);
  }

  private finishPass(pass: Pass): void {
    this.passes.delete(pass);
    const costs = passCosts(pass, this.options.workers);
    this.count.syncWaitSeconds += costs.syncWaitSeconds;
    this.count.overheadSeconds += costs.overheadSeconds;
    pass.resolve(treeCombine(pass.results as Float64Array[], pass.combine));
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
    this.count.retries++;
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
}

function argsBytes(args: KernelArgs): number {
  let n = 0;
  for (const v of Object.values(args)) n += v instanceof Float64Array ? v.byteLength : 8;
  return n;
}
