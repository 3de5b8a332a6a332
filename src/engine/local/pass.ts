/**
 * One pass of the thread engine: a named kernel run once on each of some partitions, its tasks,
 * their results in partition order (each applied once), and what the pass cost. The scheduler
 * (scheduler.ts) decides where and when each task runs.
 */
import { NonFiniteResultError } from '../../errors.ts';
import type { Combine, KernelArgs } from '../kernel-registry.ts';

/** One pass: the named kernel on each of `partitions` of a placement the pool holds. */
export interface PassSpec {
  readonly kernel: string;
  /** The placement's id in the pool, and the rows of each of its partitions (for telemetry). */
  readonly placement: { readonly id: string; readonly parts: readonly { readonly rows: number }[] };
  readonly partitions: readonly number[];
  readonly args: KernelArgs;
  readonly resultLength: number;
  readonly combine: Combine;
  /** Among ready tasks, higher runs first. */
  readonly priority: number;
}

/** The task of one partition of a pass, with its attempts. */
export interface Task {
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

/** A pass in flight. */
export interface Pass extends PassSpec {
  readonly id: number;
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

/**
 * A pass with one task per partition of `spec`, each preferring the slot that owns its partition
 * (partition p belongs to slot p mod `workers`).
 */
export function newPass(
  spec: PassSpec,
  id: number,
  workers: number,
  settle: Pick<Pass, 'resolve' | 'reject'>,
): Pass {
  const now = performance.now();
  const pass: Pass = {
    ...spec,
    id,
    tasks: [],
    results: new Array(spec.partitions.length).fill(undefined),
    runSeconds: [],
    slotSeconds: new Float64Array(workers),
    started: now,
    remaining: spec.partitions.length,
    failed: false,
    resolve: settle.resolve,
    reject: settle.reject,
  };
  for (const [index, p] of spec.partitions.entries()) {
    pass.tasks.push({
      pass,
      index,
      partition: p,
      preferred: p % workers,
      attempts: 0,
      done: false,
      readyAt: now,
      enqueuedAt: now,
      avoid: -1,
      running: new Map(),
    });
  }
  return pass;
}

/**
 * The error that stops the pass when `result` holds a NaN or an infinity, decided on the driver so
 * that it is the same whichever worker ran the task; undefined for a finite result.
 */
export function nonFiniteResult(task: Task, slot: number, result: Float64Array): Error | undefined {
  const pass = task.pass;
  for (let j = 0; j < result.length; j++) {
    if (!Number.isFinite(result[j]!)) {
      return new NonFiniteResultError(
        `task ${pass.id}:${task.partition} (kernel '${pass.kernel}', partition ${task.partition}, worker ${slot}) returned ${result[j]} at index ${j}`,
        'the pass was stopped before the result was applied; check the data and the learning rate or penalty',
      );
    }
  }
  return undefined;
}

/** What a finished pass cost beyond its kernels, in seconds. */
export function passCosts(
  pass: Pass,
  workers: number,
): { readonly syncWaitSeconds: number; readonly overheadSeconds: number } {
  const wall = (performance.now() - pass.started) / 1000;
  const busy = pass.runSeconds.reduce((a, b) => a + b, 0);
  const lanes = Math.min(workers, pass.tasks.length);
  return {
    syncWaitSeconds: Math.max(0, wall * lanes - busy),
    // What the pass took beyond its busiest worker's kernel time: messages, scheduling, the sum.
    overheadSeconds: Math.max(0, wall - Math.max(...pass.slotSeconds)),
  };
}
