/**
 * One cluster task from the driver's side: its message queued on the owner of its partition
 * (placement.ts), the wait for its answer (a BullMQ event, or its result arriving whole over the
 * task channel), the fence that discards the answers of superseded jobs, the result read back
 * (task-transport.ts) and checked, and the counts the engine reports.
 *
 * Speculation: a pass's task that runs far longer than the median of the pass's finished tasks (a
 * slow or stalled worker) gets a copy on another worker, which loads the partition from the driver
 * or its source; whichever answers first is used, and the other is cancelled. Kernels are
 * deterministic, so both would give the same bits.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DistmlError, NonFiniteResultError, TaskFailedError } from '../../errors.ts';
import type { DistributedMatrix } from '../engine.ts';
import type { Combine } from '../kernel-registry.ts';
import { type Speculation, stragglerLimitMs } from '../stragglers.ts';
import { TreeCombiner } from '../tree-combiner.ts';
import type { LaneEvent, TaskRouter } from './placement.ts';
import type { ArrivingResult, RunFacts } from './task-channel.ts';
import {
  type MessageDecoder,
  type MessageLineage,
  makeTaskMessage,
  type TaskMessage,
} from './task-message.ts';
import type { TaskReturn, TaskTransport } from './task-transport.ts';

/** The longest wait for one loop slot's task: a timer's limit (~24 days), in effect none. */
const LOOP_TASK_TIMEOUT_MS = 2 ** 31 - 1;

/** How often a running pass task is checked for being a straggler. */
const STRAGGLER_CHECK_MS = 100;

/** The tasks of one pass (one step): how many started, and how long the finished ones took. */
interface PassClock {
  started: number;
  settled: number;
  readonly durations: number[];
}

/** The job a task is waiting on now, so that it can be cancelled when another copy answered. */
interface JobHandle {
  cancel?: () => void;
  queue?: Queue;
  jobId?: string;
  /** Ends the count of the job as its worker's outstanding work (a speculative copy's). */
  release?: () => void;
}

/** What the runner needs of its engine. */
export interface RunnerHost {
  readonly run: string;
  readonly redis: Redis;
  /** The shared task queue (tasks whose partition has no live owner). */
  readonly queue: Queue;
  readonly router: TaskRouter;
  readonly transport: TaskTransport;
  readonly secret?: Buffer;
  /** Attempts per task. */
  readonly attempts: number;
  /** Longest a task may take, retries included. */
  readonly taskTimeoutMs: number;
  /** Speculative copies of stragglers; none when undefined. */
  readonly speculation?: Speculation;
  /** Races a Redis call against the run's loss. */
  io<T>(p: Promise<T>): Promise<T>;
  /** Why the run was lost, once it was. */
  lostError(): Error | undefined;
  closed(): boolean;
  log(line: string): void;
  /** Called with the answer used for each task marked {@link TaskCall.measure} (capacity.ts). */
  measured?(t: TaskCall, answer: TaskReturn): void;
}

/** One task to run: a kernel on one partition of a placement, at one step. */
export interface TaskCall {
  readonly kernel: string;
  readonly on: DistributedMatrix;
  readonly partition: number;
  readonly step: number;
  readonly argsKey: string;
  readonly resultLength: number;
  readonly priority?: number;
  /**
   * A parameter-server loop slot: it runs as long as its epochs take, its small result goes through
   * Redis, and its result (loss sums) is the model's to judge.
   */
  readonly loop?: boolean;
  /** The partition's lineage, when its worker reads it from a source. */
  readonly lineage?: MessageLineage;
  /** A loop slot on partitions read from a source: the lineages of every partition it owns. */
  readonly lineages?: readonly MessageLineage[];
  /** How the worker decodes the partition, when the driver placed it raw. */
  readonly decoder?: MessageDecoder;
  /** A pass's task, whose kernel time measures its worker's speed. */
  readonly measure?: boolean;
  /** Hears of the result's bytes as they arrive over the task channel (a pass sums them then). */
  readonly onArriving?: ArrivingResult;
}

/** The counts of the tasks run, as the engine reports them. */
export interface RunnerCounts {
  readonly tasks: number;
  readonly kernelSeconds: number;
  readonly retries: number;
  readonly tasksByWorker: Readonly<Record<string, number>>;
  readonly tasksByThread: Readonly<Record<string, number>>;
  /** Speculative copies queued for stragglers, and how many answered first. */
  readonly speculativeCopies: number;
  readonly speculativeWins: number;
}

/** Runs the driver's tasks on the cluster. */
export class TaskRunner {
  private tasks = 0;
  private kernelSeconds = 0;
  private retries = 0;
  private readonly tasksByWorker: Record<string, number> = {};
  private readonly tasksByThread: Record<string, number> = {};
  private speculativeCopies = 0;
  private speculativeWins = 0;
  private readonly passes = new Map<number, PassClock>();
  /** Settlers of the jobs waited for, by job id; the queues' events are dispatched to them. */
  private readonly jobs = new Map<string, (outcome: { value: TaskReturn } | { error: Error }) => void>();
  /** Listeners to results arriving, by the job id a task was first queued under. */
  private readonly arrivals = new Map<string, ArrivingResult>();
  /** Rejecters of the tasks being waited for, so that a lost run or a close ends every wait. */
  private readonly waiting = new Set<(err: Error) => void>();

  constructor(private readonly h: RunnerHost) {
    h.transport.onResult(
      (jobId, attempt, facts) => this.onDirectResult(jobId, attempt, facts),
      // A result of a job superseded since (its worker was presumed dead) is logged and counted
      // by the fence; a job can also be over for good reasons (a speculative copy answered first).
      (jobId) => void this.h.router.fenced(jobId),
    );
  }

  /** Queues one task and waits for its result; a NaN or infinite result of a pass fails the fit. */
  async run(t: TaskCall): Promise<Float64Array> {
    const { result, worker } = await this.answer(t);
    for (let i = 0; t.loop !== true && i < result.length; i++) {
      if (!Number.isFinite(result[i]!))
        throw nonFiniteError(
          `task ${t.kernel} on partition ${t.partition} (step ${t.step}, worker ${worker})`,
          i,
          result[i]!,
        );
    }
    return result;
  }

  /**
   * Runs a pass: one task per partition (`calls[p]` on partition p), their results combined as they
   * arrive, in the fixed tree (tree-combiner.ts), and checked for NaN and infinity in the same
   * loops; a non-finite result fails the pass, naming its partition and worker.
   */
  async reduce(combine: Combine | undefined, calls: readonly TaskCall[]): Promise<Float64Array> {
    const first = calls[0];
    if (first === undefined) throw new RangeError('a pass of no tasks');
    const workers: string[] = [];
    const tree = new TreeCombiner(
      calls.length,
      combine,
      ({ partition: p, index, value }) => {
        throw nonFiniteError(
          p === undefined
            ? `the sum of task ${first.kernel}'s results (step ${first.step}) overflowed: it`
            : `task ${first.kernel} on partition ${p} (step ${first.step}, worker ${workers[p]})`,
          index,
          value,
        );
      },
      // A result folded into another is dead: the next pass's results arrive in its memory.
      (folded) => this.h.transport.recycle(folded),
      (length) => this.h.transport.allocate(length),
    );
    await Promise.all(
      calls.map(async (call, p) => {
        // Each result is summed with those already in as its bytes arrive.
        const onArriving: ArrivingResult = (result, elements) => tree.arriving(p, result, elements);
        const { result, worker } = await this.answer({ ...call, onArriving });
        workers[p] = worker;
        tree.add(p, result);
      }),
    );
    return tree.result();
  }

  /** Queues one task and waits for its result, and says which worker answered; nothing checks the values. */
  private async answer(t: TaskCall): Promise<{ result: Float64Array; worker: string }> {
    const { kernel, partition, step, resultLength } = t;
    const loop = t.loop === true;
    const jobId = `${this.h.run}-${step}-${partition}`;
    let result: Float64Array;
    let answer: TaskReturn;
    const fields = {
      run: this.h.run,
      step,
      partition,
      jobId,
      kernel,
      placement: t.on.id,
      argsKey: t.argsKey,
      resultLength,
      ...(t.lineage === undefined ? {} : { lineage: t.lineage }),
      ...(t.lineages === undefined ? {} : { lineages: t.lineages }),
      ...(t.decoder === undefined ? {} : { decoder: t.decoder }),
      // Every task fetches the driver's values over the channel; a pass's result comes back
      // over it too, a loop slot's through Redis.
      ...this.h.transport.messageFields(
        t.argsKey,
        t.on.id,
        loop ? Array.from({ length: t.on.partitions }, (_, p) => p) : [partition],
      ),
    };
    if (t.onArriving !== undefined) this.arrivals.set(jobId, t.onArriving);
    try {
      if (loop) answer = await this.queue(fields, t.priority ?? 0, LOOP_TASK_TIMEOUT_MS, false);
      else if (this.h.speculation === undefined)
        answer = await this.queue(fields, t.priority ?? 0, undefined, true);
      else answer = await this.withSpeculation(t, fields, this.h.speculation);
      result = await this.h.transport.resultOf(
        answer,
        jobId,
        `task ${kernel} on partition ${partition} (step ${step})`,
        resultLength,
      );
    } finally {
      this.h.transport.forget(jobId);
      this.arrivals.delete(jobId);
    }
    if (result.length !== resultLength) {
      throw new TaskFailedError(
        `task ${kernel} on partition ${partition} returned ${result.length} values, expected ${resultLength}`,
      );
    }
    this.count(answer);
    if (t.measure === true) this.h.measured?.(t, answer);
    return { result, worker: answer.worker };
  }

  /**
   * Queues one task message on the owner of its partition and waits for what the worker returns.
   * If the owner is presumed dead first, the task is queued again on the partition's new owner
   * under a new job id, and the old job is fenced: its result, should it come, is discarded.
   */
  async queue(
    fields: Omit<TaskMessage, 'v' | 'nonce' | 'sig'>,
    priority = 0,
    timeoutMs = this.h.taskTimeoutMs,
    resultOverChannel = false,
    handle: JobHandle = {},
  ): Promise<TaskReturn> {
    const { kernel, partition, placement, step } = fields;
    try {
      return await this.h.router.dispatch(
        fields.jobId,
        placement,
        partition,
        `${kernel} on partition ${partition} of ${placement}, step ${step}`,
        {
          wait: (jobId) => {
            const waiting = this.waitFor(jobId, timeoutMs);
            handle.cancel = () => waiting.cancel();
            handle.jobId = jobId;
            // The id that answered travels with the answer: a requeued task's result arrives
            // over the task channel under its new job id.
            const promise = waiting.promise.then((answer) => ({ ...answer, jobId }));
            // Awaited by the router once the task is queued; if queueing fails first, that failure
            // is the one reported.
            promise.catch(() => {});
            return { promise, cancel: () => waiting.cancel() };
          },
          add: async (queue, jobId, worker) => {
            handle.queue = queue;
            await this.addJob(fields, queue, jobId, worker, priority, resultOverChannel);
          },
        },
      );
    } catch (err) {
      if (err instanceof DistmlError) throw err;
      throw new TaskFailedError(
        `task ${kernel} on partition ${partition} (step ${step}) failed on the cluster: ${(err as Error).message}`,
        "see the failing worker's log (distml worker prints every task it refuses or fails)",
      );
    }
  }

  /**
   * Adds job `jobId` of the task `fields` to `queue` (of worker `worker`), or to the shared queue,
   * after pushing the pass's arguments to that worker.
   */
  private async addJob(
    fields: Omit<TaskMessage, 'v' | 'nonce' | 'sig'>,
    queue: Queue | undefined,
    jobId: string,
    worker: string | undefined,
    priority: number,
    resultOverChannel: boolean,
  ): Promise<void> {
    const lost = this.h.lostError();
    if (lost !== undefined) throw lost;
    if (resultOverChannel)
      this.h.transport.expect(jobId, fields.resultLength * 8, this.arrivals.get(fields.jobId));
    await this.h.io(
      (queue ?? this.h.queue).add(fields.kernel, makeTaskMessage({ ...fields, jobId }, this.h.secret), {
        jobId,
        attempts: this.h.attempts,
        backoff: { type: 'exponential', delay: 200 },
        // BullMQ runs priority 1 first; 0 means "no priority", which runs before any prioritised job.
        ...(priority > 0 ? { priority: Math.max(1, 1_000_000 - priority) } : {}),
        removeOnComplete: { age: 600 },
        removeOnFail: { age: 3600 },
      }),
    );
    // The arguments go to the owner while the worker takes the job from the queue. Pushed once the
    // job is in, not before: writing megabytes to a socket held back the pass's other jobs. A
    // worker that asks for them first gets them in answer, and the push is then skipped.
    if (resultOverChannel && worker !== undefined) this.h.transport.push(worker, fields.argsKey);
  }

  /**
   * Runs a pass's task on its owner; should it run past the straggler limit of its pass, a copy
   * runs on another worker too, and whichever answers first is used (the other is cancelled, and
   * removed from its queue if it has not started).
   */
  private async withSpeculation(
    t: TaskCall,
    fields: Omit<TaskMessage, 'v' | 'nonce' | 'sig'>,
    rule: Speculation,
  ): Promise<TaskReturn> {
    const pass = this.passes.get(t.step) ?? { started: 0, settled: 0, durations: [] };
    this.passes.set(t.step, pass);
    pass.started++;
    const began = performance.now();
    const own: JobHandle = {};
    const other: JobHandle = {};
    const original = this.queue(fields, t.priority ?? 0, undefined, true, own);
    let timer: NodeJS.Timeout | undefined;
    const copied = new Promise<TaskReturn>((resolve) => {
      timer = setInterval(() => {
        const limit = stragglerLimit(pass, rule);
        if (limit === undefined || performance.now() - began < limit) return;
        clearInterval(timer);
        // A copy that cannot run (no other worker, its worker fails) leaves the original to answer.
        this.queueCopy(t, fields, other).then(resolve, () => {});
      }, STRAGGLER_CHECK_MS);
      timer.unref();
    });
    // Once a copy answered, the original is cancelled: its rejection is expected.
    original.catch(() => {});
    try {
      const winner = await Promise.race([
        original.then((answer) => ({ answer, loser: other })),
        copied.then((answer) => ({ answer, loser: own })),
      ]);
      if (winner.loser === own) this.speculativeWins++;
      cancel(winner.loser);
      pass.durations.push(performance.now() - began);
      return winner.answer;
    } catch (err) {
      cancel(other);
      throw err;
    } finally {
      other.release?.();
      clearInterval(timer);
      if (++pass.settled === pass.started) this.passes.delete(t.step);
    }
  }

  /** Queues a copy of task `fields` on a worker other than its partition's owner. */
  private async queueCopy(
    t: TaskCall,
    fields: Omit<TaskMessage, 'v' | 'nonce' | 'sig'>,
    handle: JobHandle,
  ): Promise<TaskReturn> {
    const route = await this.h.router.copyRoute(t.on.id, t.partition);
    if (route === undefined) throw new Error('no other worker for a copy');
    // `BASE-r…`: forgotten with the task's other ids once it is over (see DriverChannel.forget).
    const jobId = `${fields.jobId}-rs`;
    handle.release = route.release;
    this.speculativeCopies++;
    this.h.log(
      `task ${fields.jobId} (${fields.kernel} on partition ${t.partition}) runs long: a speculative copy goes to worker ${route.worker.name}`,
    );
    const waiting = this.waitFor(jobId, this.h.taskTimeoutMs);
    Object.assign(handle, { cancel: () => waiting.cancel(), queue: route.queue, jobId });
    try {
      await this.addJob(fields, route.queue, jobId, route.worker.id, t.priority ?? 0, true);
      return { ...(await waiting.promise), jobId };
    } catch (err) {
      waiting.cancel();
      throw err;
    } finally {
      route.release();
    }
  }

  /** Counts a task that answered: its kernel time, its worker, whether it was retried. */
  count(answer: TaskReturn): void {
    this.tasks++;
    this.kernelSeconds += answer.runSeconds;
    this.tasksByWorker[answer.worker] = (this.tasksByWorker[answer.worker] ?? 0) + 1;
    // Under its worker's thread too, when the worker says which.
    if (answer.thread !== undefined) {
      const key = `${answer.worker}#${answer.thread}`;
      this.tasksByThread[key] = (this.tasksByThread[key] ?? 0) + 1;
    }
    if (answer.attempt > 1) this.retries++;
  }

  counts(): RunnerCounts {
    return {
      tasks: this.tasks,
      kernelSeconds: this.kernelSeconds,
      retries: this.retries,
      tasksByWorker: { ...this.tasksByWorker },
      tasksByThread: { ...this.tasksByThread },
      speculativeCopies: this.speculativeCopies,
      speculativeWins: this.speculativeWins,
    };
  }

  /** Dispatches a job event of any queue to its waiter, after the fence. */
  onJobEvent(e: LaneEvent): void {
    if (e.kind === 'failed') {
      this.jobs.get(e.jobId)?.({ error: new Error(e.failedReason) });
      return;
    }
    const value: unknown = typeof e.returnvalue === 'string' ? JSON.parse(e.returnvalue) : e.returnvalue;
    if (this.h.router.fenced(e.jobId)) {
      const key = (value as Partial<TaskReturn> | null)?.resultKey;
      if (typeof key === 'string') void this.h.redis.del(key).catch(() => 0);
      return;
    }
    this.jobs.get(e.jobId)?.({ value: value as TaskReturn });
  }

  /** Ends every wait with `err` (the run was lost, or the engine closed). */
  abandonAll(err: Error): void {
    for (const abandon of [...this.waiting]) abandon(err);
  }

  /**
   * A result that arrived whole over the task channel is used at once, after the fence, rather
   * than when the job's completion has travelled through Redis (BullMQ's event stream adds 15–30 ms
   * to every pass). The job still completes in BullMQ; that event then finds no waiter. Any attempt
   * of a job that is not fenced may answer: kernels are deterministic, so attempts agree.
   */
  private onDirectResult(jobId: string, attempt: number, facts: RunFacts): void {
    if (this.h.router.fenced(jobId)) return;
    this.jobs.get(jobId)?.({ value: { ...facts, attempt, direct: true } });
  }

  /**
   * Resolves with what the worker returned when job `jobId` completes; rejects when it fails for
   * good, after `ms`, when the run is lost, or when the engine closes. Every path clears its timer
   * and its entry, so a failed fit leaves nothing that keeps the process alive.
   */
  private waitFor(jobId: string, ms: number): { promise: Promise<TaskReturn>; cancel(): void } {
    let abandon!: (error: Error) => void;
    const promise = new Promise<TaskReturn>((resolve, reject) => {
      const settle = (outcome: { value: TaskReturn } | { error: Error }) => {
        clearTimeout(timer);
        this.jobs.delete(jobId);
        this.waiting.delete(abandon);
        if ('value' in outcome) resolve(outcome.value);
        else reject(outcome.error);
      };
      abandon = (error: Error) => settle({ error });
      const timer = setTimeout(() => abandon(new Error(`no result within ${Math.round(ms / 1000)} s`)), ms);
      // The queue's connections keep a running fit alive; this timer alone must not keep a
      // failed one from exiting.
      timer.unref();
      this.jobs.set(jobId, settle);
      this.waiting.add(abandon);
      // A wait begun after the run was lost or the engine closed (a task requeued by the router
      // meanwhile) ends at once.
      const lost = this.h.lostError();
      if (lost !== undefined) abandon(lost);
      else if (this.h.closed()) abandon(new DistmlError('KERNEL', 'this engine is closed'));
    });
    return {
      promise,
      // The job was superseded: stop waiting for it, quietly.
      cancel: () => {
        promise.catch(() => {});
        abandon(new Error('superseded'));
      },
    };
  }
}

/**
 * How long a task of `pass` may run before it is a straggler: once at least half of the pass's
 * tasks (and at least one other) have finished, `multiplier` × their median, and at least `minMs`.
 */
function stragglerLimit(pass: PassClock, rule: Speculation): number | undefined {
  const done = pass.durations.length;
  if (pass.started < 2 || done === 0 || done * 2 < pass.started) return undefined;
  return stragglerLimitMs(pass.durations, rule);
}

/** Stops waiting for a job that lost the race, and removes it from its queue if it has not started. */
function cancel(job: JobHandle): void {
  job.cancel?.();
  if (job.queue !== undefined && job.jobId !== undefined) void job.queue.remove(job.jobId).catch(() => 0);
}

/** The error of a task result holding a NaN or an infinity; `what` names the task, or the sum. */
export function nonFiniteError(what: string, index: number, value: number): NonFiniteResultError {
  return new NonFiniteResultError(
    `${what} returned ${value} at index ${index}`,
    'the data or the parameters overflow: check for extreme values, or lower the step size',
  );
}
