/**
 * The cluster engine: the same {@link Engine} contract as the thread engine, with `distml worker`
 * processes on any machine that reaches one Redis. Tasks travel through a BullMQ queue (priority,
 * attempts with exponential backoff, stalled-job recovery when a worker dies); tensors travel as
 * binary Redis values that the tasks name. Results of a pass are combined on the driver in the
 * same fixed tree order as every other engine, so a model trained here equals the serial one.
 *
 * Partitions are either written to Redis by the driver (`distribute`) or read by the workers
 * from a shared source (`placeSources`, see source-partitions.ts), in which case no row passes
 * through the driver. Each partition has an owner, and its tasks go to the owner's own queue
 * (placement.ts): a worker loads its partitions once, a dead owner's partitions and tasks move to
 * live workers, a joining worker receives partitions at the next pass. Task results come back over a direct channel (result-channel.ts) or through
 * Redis. Parameter-server training (`runLoop`, the SGD models) runs against a parameter server in
 * Redis (loop-runner.ts).
 */
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
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
import { type BroadcastHandle, getKernel, type KernelArgs } from '../kernel-registry.ts';
import type { Plain, SourceLineage } from '../source-tasks.ts';
import {
  type ClusterConnection,
  connect,
  lastConnectionError,
  redactUrl,
  redisOptions,
} from './cluster-connection.ts';
import { ClusterKeys } from './cluster-keys.ts';
import { emptyLoopTelemetry, type LoopHost, type LoopTelemetry, runClusterLoop } from './loop-runner.ts';
import { type WorkerInfo, waitForWorkers } from './membership.ts';
import { capacity, type LaneEvent, type PlacementTelemetry, TaskRouter } from './placement.ts';
import { channelKey, ResultServer } from './result-channel.ts';
import { watchRun } from './run-watch.ts';
import {
  messageLineage,
  type PlacedLineage,
  profileSources,
  type SourceDriver,
  storeLineage,
} from './source-partitions.ts';
import { makeTaskMessage, type TaskMessage } from './task-message.ts';
import { decodeFloat64, encodeArgs, encodeFloat64 } from './tensor-codec.ts';

/** Options of {@link RedisEngine.connect}. */
export interface RedisEngineOptions extends ClusterConnection {
  /** Key prefix shared with the workers. @defaultValue `'distml'` */
  readonly namespace?: string;
  /** Cluster secret with which task messages are signed; workers must hold the same one. */
  readonly secret?: Buffer;
  /** Workers to wait for before training. @defaultValue 1 */
  readonly minWorkers?: number;
  /** How long to wait for them. @defaultValue 60000 */
  readonly joinTimeoutMs?: number;
  /** Longest a task may take, retries included. @defaultValue 600000 */
  readonly taskTimeoutMs?: number;
  /** Attempts per task before the fit fails. @defaultValue 3 */
  readonly attempts?: number;
  /**
   * How long Redis may stay unreachable during a fit before the fit stops. ioredis reconnects with
   * backoff meanwhile. @defaultValue 30000
   */
  readonly unreachableMs?: number;
  /** Where the engine reports what it waits for. */
  readonly log?: (line: string) => void;
  /**
   * Whether workers send task results straight to the driver over TCP (result-channel.ts) rather
   * than through Redis. Never over `rediss://`, whose TLS the channel does not have.
   * @defaultValue true
   */
  readonly directResults?: boolean;
  /**
   * Address the driver's result channel listens on, which workers must reach.
   * @defaultValue the driver's own address on its connection to Redis
   */
  readonly resultHost?: string;
}

/** What a worker answers for a finished task. */
interface TaskReturn {
  /** Where the result waits in Redis, unless it came over the result channel. */
  readonly resultKey?: string;
  /** The result came over the result channel. */
  readonly direct?: boolean;
  /** The job id that answered (set by the driver: a requeued task answers under a new one). */
  readonly jobId?: string;
  readonly runSeconds: number;
  readonly worker: string;
  /** The worker's id, for a look at the job in Redis (absent from profile tasks). */
  readonly workerId?: string;
  /** The worker's thread (task slot) that ran it, from 0 (absent from older workers). */
  readonly thread?: number;
  /** Which attempt of the task this was, from 1 (a stalled attempt counts). */
  readonly attempt: number;
}

/** Telemetry of the cluster engine. */
export interface RedisTelemetry extends EngineTelemetry, PlacementTelemetry {
  readonly kind: 'redis';
  /** Redis URL with the password redacted. */
  readonly cluster: string;
  /** Tasks that needed more than one attempt. */
  readonly retries: number;
  /** Tasks run, by worker name. */
  readonly tasksByWorker: Readonly<Record<string, number>>;
  /** Tasks run, by worker name and thread: `NAME#T` (T from 0; see `distml worker --threads`). */
  readonly tasksByThread: Readonly<Record<string, number>>;
  /** Bytes of partitions, arguments and broadcasts written to Redis, and of results read. */
  readonly bytesOut: number;
  readonly bytesIn: number;
  /** Task results that came straight from the workers over the result channel. */
  readonly directResults: number;
  /** Parameter-server loops (SGD models), when any ran: clocks, round trips, bytes, waits. */
  readonly parameterServer?: LoopTelemetry;
}

/** The longest wait for one loop slot's task: a timer's limit (~24 days), in effect none. */
const LOOP_TASK_TIMEOUT_MS = 2 ** 31 - 1;

/** The calls whose errors become the run's loss, once the run is lost. */
const GUARDED = [
  'distribute',
  'profileSources',
  'placeSources',
  'treeReduce',
  'runLoop',
  'broadcast',
  'release',
] as const;

/** Trains on `distml worker` processes coordinated through Redis. */
export class RedisEngine implements Engine {
  readonly kind = 'redis' as const;
  readonly workers: number;
  private readonly keys: ClusterKeys;
  private readonly run = randomBytes(6).toString('hex');
  private step = 0;
  private nextPlacement = 0;
  private nextTask = 1;
  private readonly placements = new Map<string, DistributedMatrix>();
  /** Lineage of the placements whose workers read their partitions from a source. */
  private readonly lineages = new Map<string, PlacedLineage>();
  private tasks = 0;
  private passes = 0;
  private kernelSeconds = 0;
  private retries = 0;
  private bytesOut = 0;
  private bytesIn = 0;
  private readonly tasksByWorker: Record<string, number> = {};
  private readonly tasksByThread: Record<string, number> = {};
  private readonly loopTelemetry = emptyLoopTelemetry();
  private closed = false;
  /** Where workers send results directly, when the channel is open. */
  private results: ResultServer | undefined;
  private resultToken: string | undefined;
  /** Results that came over the result channel rather than through Redis. */
  private directResults = 0;
  /** Why the run cannot go on (Redis lost its data or stopped answering), once that happened. */
  private lostError: Error | undefined;
  /** Rejecters of the tasks being waited for, so that a lost run or close() ends every wait. */
  private readonly waiting = new Set<(err: Error) => void>();
  private watch!: NodeJS.Timeout;
  /** Rejects with the reason when the run is lost (Redis lost its data or stopped answering). */
  private readonly lost: Promise<never>;
  /** Settlers of the jobs waited for, by job id; the queue's events are dispatched to them. */
  private readonly jobs = new Map<string, (outcome: { value: TaskReturn } | { error: Error }) => void>();
  /** Owners of partitions, membership epochs, per-worker queues, the fence (placement.ts). */
  private readonly router: TaskRouter;

  private constructor(
    private readonly options: RedisEngineOptions,
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    members: readonly WorkerInfo[],
  ) {
    this.keys = new ClusterKeys(options.namespace);
    // Task slots, not processes: a worker running N threads takes N tasks at once, so default
    // partitions and parameter-server loop slots count it N times.
    this.workers = members.reduce((n, w) => n + capacity(w), 0);
    events.on('completed', ({ jobId, returnvalue }) =>
      this.onJobEvent({ kind: 'completed', jobId, returnvalue }),
    );
    events.on('failed', ({ jobId, failedReason }) =>
      this.onJobEvent({ kind: 'failed', jobId, failedReason }),
    );
    this.router = new TaskRouter({
      redis,
      keys: this.keys,
      connection: redisOptions(options),
      members,
      log: options.log ?? (() => {}),
      onEvent: (e) => this.onJobEvent(e),
    });
    this.lost = new Promise<never>((_, reject) => {
      this.watch = watchRun(
        {
          redis,
          keys: this.keys,
          run: this.run,
          url: options.url,
          unreachableMs: options.unreachableMs ?? 30_000,
          aloneMs: options.joinTimeoutMs ?? 60_000,
        },
        (err) => {
          this.lostError = err;
          reject(err);
          for (const abandon of [...this.waiting]) abandon(err);
          // Commands queued while Redis is away would wait for it forever (BullMQ needs clients that
          // never give up on a command); disconnecting fails them, so nothing of the fit hangs.
          this.redis.disconnect();
          // close(), not only disconnect(): a disconnected QueueEvents retries every 5 s forever.
          void this.queue.close().catch(() => {});
          void this.events.close().catch(() => {});
          this.router.disconnect();
        },
      );
    });
    this.lost.catch(() => {});
    // Whatever a call was doing when the run was lost (a command failing on a closed connection,
    // say), the loss is what its caller hears: it says what happened and what to do.
    const self = this as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const name of GUARDED) {
      const call = self[name]!.bind(this);
      self[name] = (...args) =>
        call(...args).catch((err: unknown) => {
          throw this.lostError ?? err;
        });
    }
  }

  /** `p`, or the reason the run was lost if that comes first: no Redis call outlives the run. */
  private io<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.lost]);
  }

  /**
   * Connects, waits for `minWorkers` workers and opens the task queue.
   * @throws DistmlError when Redis cannot be reached or too few workers join in time
   */
  static async connect(options: RedisEngineOptions): Promise<RedisEngine> {
    const keys = new ClusterKeys(options.namespace);
    const redis = connect(options);
    try {
      const wait = options.joinTimeoutMs ?? 60_000;
      const unreachable = (why: string) =>
        new DistmlError(
          'KERNEL',
          `cannot reach Redis at ${redactUrl(options.url)}: ${why}`,
          'check the URL, that redis-server runs, and the password or TLS options',
        );
      await withTimeout(
        redis.ping().catch((err: Error) => {
          throw unreachable(err.message);
        }),
        wait,
        () => {
          const why = lastConnectionError(redis);
          return unreachable(
            `no answer within ${Math.round(wait / 1000)} s${why === undefined ? '' : ` (${why})`}`,
          );
        },
      );
      const min = options.minWorkers ?? 1;
      let said = -1;
      const joined = await waitForWorkers(redis, keys, min, options.joinTimeoutMs ?? 60_000, (seen) => {
        if (seen !== said) options.log?.(`waiting for workers: ${seen} of ${min} joined`);
        said = seen;
      });
      // Options, not connections: BullMQ closes only the connections it made itself.
      const queue = new Queue(keys.taskQueue, { connection: redisOptions(options), prefix: keys.namespace });
      const events = new QueueEvents(keys.taskQueue, {
        connection: redisOptions(options),
        prefix: keys.namespace,
      });
      // BullMQ re-emits connection errors; without listeners they would crash the process, and the
      // commands that matter fail (or wait and time out) on their own.
      queue.on('error', (err) => options.log?.(`queue: ${err.message}`));
      events.on('error', (err) => options.log?.(`queue events: ${err.message}`));
      await events.waitUntilReady();
      const engine = new RedisEngine(options, redis, queue, events, joined);
      await engine.openResultChannel();
      await redis.set(keys.sentinel(engine.run), '1');
      return engine;
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }

  allocate(length: number): Float64Array {
    return new Float64Array(length);
  }

  async distribute(data: DesignMatrix, layout: Layout = {}): Promise<DistributedMatrix> {
    this.checkOpen();
    const id = `p${this.nextPlacement++}`;
    const ranges = blockRanges(data.rows, layout.partitions ?? this.workers);
    const pipeline = this.redis.pipeline();
    ranges.forEach(([start, end], index) => {
      const rows = end - start;
      const block = new Float64Array(2 + rows * data.cols + rows);
      block[0] = rows;
      block[1] = data.cols;
      block.set(data.X.subarray(start * data.cols, end * data.cols), 2);
      block.set(data.y.subarray(start, end), 2 + rows * data.cols);
      this.bytesOut += block.byteLength;
      pipeline.set(this.keys.partition(this.run, id, index), encodeFloat64(block));
    });
    await this.io(pipeline.exec());
    const placement: DistributedMatrix = { id, rows: data.rows, cols: data.cols, partitions: ranges.length };
    this.placements.set(id, placement);
    this.router.place(id, ranges.length);
    return placement;
  }

  /** Summarises every split on the workers (see source-partitions.ts). */
  async profileSources(lineage: SourceLineage): Promise<Plain[]> {
    this.checkOpen();
    try {
      return await profileSources(this.sourceDriver(), lineage);
    } finally {
      this.router.forgetTransient();
    }
  }

  /** Places partitions the workers read from the source themselves: no rows go through Redis. */
  async placeSources(lineage: SourceLineage, rows: number, cols: number): Promise<DistributedMatrix> {
    this.checkOpen();
    const id = `p${this.nextPlacement++}`;
    this.lineages.set(id, await storeLineage(this.sourceDriver(), id, lineage));
    const placement: DistributedMatrix = { id, rows, cols, partitions: lineage.splits.length };
    this.placements.set(id, placement);
    this.router.place(id, lineage.splits.length);
    return placement;
  }

  async treeReduce(kernelName: string, on: DistributedMatrix, args: KernelArgs): Promise<Float64Array> {
    this.checkOpen();
    this.placementOf(on);
    this.router.boundary(on.id);
    const kernel = getKernel(kernelName);
    const step = ++this.step;
    const argsKey = await this.putArgs(step, args);
    const length = kernel.resultLength(args, on.cols);
    const results = await Promise.all(
      Array.from({ length: on.partitions }, (_, p) =>
        this.runTask(kernelName, on, p, step, argsKey, length, 0),
      ),
    );
    this.passes++;
    await this.io(this.redis.del(argsKey));
    return treeCombine(results, kernel.combine);
  }

  submit(task: TaskSpec): TaskHandle {
    const id = this.nextTask++;
    const result = afterDependencies(id, task.after).then(async () => {
      this.checkOpen();
      this.placementOf(task.on);
      this.router.boundary(task.on.id);
      const kernel = getKernel(task.kernel);
      const step = ++this.step;
      const argsKey = await this.putArgs(step, task.args);
      const length = kernel.resultLength(task.args, task.on.cols);
      try {
        return await this.runTask(
          task.kernel,
          task.on,
          task.partition,
          step,
          argsKey,
          length,
          task.priority ?? 0,
        );
      } finally {
        await this.io(this.redis.del(argsKey));
      }
    });
    return {
      id,
      result: result.catch((err: unknown) => {
        throw this.lostError ?? err;
      }),
    };
  }

  /** Parameter-server training on the cluster: see loop-runner.ts. */
  async runLoop(
    kernel: string,
    on: DistributedMatrix,
    args: KernelArgs,
    init: Float64Array,
    consistency: Consistency,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<LoopResult> {
    this.checkOpen();
    this.placementOf(on);
    if (this.lineages.has(on.id)) {
      throw new DistmlError(
        'KERNEL',
        `loop kernel '${kernel}' (parameter-server training) cannot run on partitions the workers read from a source yet`,
        'train SGD models without --shared-data: the driver then places the partitions in Redis',
      );
    }
    const host: LoopHost = {
      redis: this.redis,
      keys: this.keys,
      run: this.run,
      workers: this.workers,
      joinTimeoutMs: this.options.joinTimeoutMs ?? 60_000,
      nextStep: () => ++this.step,
      putArgs: (step, a) => this.putArgs(step, a),
      runTask: (k, o, slot, step, argsKey, length) =>
        this.runTask(k, o, slot, step, argsKey, length, 0, true),
      io: (p) => this.io(p),
      removeTask: async (step, slot) => {
        await this.queue.remove(`${this.run}-${step}-${slot}`);
      },
      ...(this.options.log === undefined ? {} : { log: this.options.log }),
    };
    return runClusterLoop(host, this.loopTelemetry, kernel, on, args, init, consistency, options);
  }

  async broadcast(value: Float64Array): Promise<BroadcastHandle> {
    this.checkOpen();
    const id = `b${this.nextPlacement++}`;
    await this.io(this.redis.set(this.keys.broadcast(this.run, id), encodeFloat64(value)));
    this.bytesOut += value.byteLength;
    return { broadcast: id, length: value.length };
  }

  async release(on: DistributedMatrix): Promise<void> {
    if (!this.placements.delete(on.id)) return;
    this.router.forget(on.id);
    const placed = this.lineages.get(on.id);
    if (this.lineages.delete(on.id)) await this.io(this.redis.del(placed!.specKey));
    const keys = Array.from({ length: on.partitions }, (_, p) => this.keys.partition(this.run, on.id, p));
    if (keys.length > 0) await this.io(this.redis.del(...keys));
  }

  telemetry(): RedisTelemetry {
    return {
      kind: this.kind,
      cluster: redactUrl(this.options.url),
      workers: this.workers,
      tasks: this.tasks,
      passes: this.passes,
      kernelSeconds: this.kernelSeconds,
      retries: this.retries,
      tasksByWorker: { ...this.tasksByWorker },
      tasksByThread: { ...this.tasksByThread },
      bytesOut: this.bytesOut,
      bytesIn: this.bytesIn,
      directResults: this.directResults,
      ...(this.loopTelemetry.loops === 0 ? {} : { parameterServer: { ...this.loopTelemetry } }),
      ...this.router.telemetry(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watch);
    const closing = new DistmlError('KERNEL', 'the engine was closed while a task was running');
    for (const reject of [...this.waiting]) reject(closing);
    await this.results?.close();
    // Best effort, bounded: after a lost or unreachable Redis the cleanup cannot finish, and
    // closing must not hang the process that reports the failure.
    const cleanup = async () => {
      for (const placement of [...this.placements.values()]) await this.release(placement);
      await this.deleteRunKeys();
      await this.router.close();
      await this.events.close();
      await this.queue.close();
      await this.redis.quit();
    };
    await withTimeout(cleanup(), 5000, () => new Error('cleanup timed out')).catch(() => {
      this.router.disconnect();
      this.redis.disconnect();
      void this.events.close().catch(() => {});
      void this.queue.close().catch(() => {});
    });
  }

  /** The run id, which names this fit's keys in Redis. */
  get runId(): string {
    return this.run;
  }

  private async putArgs(step: number, args: KernelArgs): Promise<string> {
    const key = this.keys.args(this.run, step);
    const bytes = encodeArgs(args);
    this.bytesOut += bytes.byteLength;
    await this.io(this.redis.set(key, bytes));
    return key;
  }

  /** Queues one task and waits for its result; a NaN or infinite result fails the fit. */
  private async runTask(
    kernel: string,
    on: DistributedMatrix,
    partition: number,
    step: number,
    argsKey: string,
    resultLength: number,
    priority: number,
    loop = false,
  ): Promise<Float64Array> {
    // A loop slot runs as long as its epochs take (a lost slot is caught by its heartbeat), and
    // its result (loss sums) is the model's to judge: a diverged fit says so in its own words.
    const timeoutMs = loop ? LOOP_TASK_TIMEOUT_MS : (this.options.taskTimeoutMs ?? 600_000);
    const jobId = `${this.run}-${step}-${partition}`;
    // A loop slot's partitions are loaded by the slot itself (loop-slot.ts), and its small result
    // goes through Redis; a pass's task carries its partition's lineage and the result channel.
    const placed = loop ? undefined : this.lineages.get(on.id);
    let result: Float64Array;
    let answer: TaskReturn;
    try {
      answer = await this.queueTask(
        {
          run: this.run,
          step,
          partition,
          jobId,
          kernel,
          placement: on.id,
          argsKey,
          resultLength,
          ...(placed === undefined ? {} : { lineage: messageLineage(placed, partition) }),
          ...(loop ? {} : this.channelFields()),
        },
        priority,
        timeoutMs,
      );
      result = await this.resultOf(
        answer,
        jobId,
        `task ${kernel} on partition ${partition} (step ${step})`,
        resultLength,
      );
    } finally {
      this.results?.forget(jobId);
    }
    if (result.length !== resultLength) {
      throw new TaskFailedError(
        `task ${kernel} on partition ${partition} returned ${result.length} values, expected ${resultLength}`,
      );
    }
    for (let i = 0; !loop && i < result.length; i++) {
      if (!Number.isFinite(result[i]!)) {
        throw new NonFiniteResultError(
          `task ${kernel} on partition ${partition} (step ${step}, worker ${answer.worker}) returned ${result[i]} at index ${i}`,
          'the data or the parameters overflow: check for extreme values, or lower the step size',
        );
      }
    }
    this.tasks++;
    this.kernelSeconds += answer.runSeconds;
    this.tasksByWorker[answer.worker] = (this.tasksByWorker[answer.worker] ?? 0) + 1;
    this.countThread(answer);
    if (answer.attempt > 1) this.retries++;
    return result;
  }

  /**
   * The result `answer` names: the bytes its attempt sent over the result channel, or the value
   * it wrote to Redis (read once, then deleted).
   */
  private async resultOf(
    answer: TaskReturn,
    jobId: string,
    what: string,
    length: number,
  ): Promise<Float64Array> {
    if (answer.direct === true) {
      const result = this.results?.take(answer.jobId ?? jobId, answer.attempt);
      if (result === undefined) {
        throw new TaskFailedError(
          `the result of ${what} did not arrive over the result channel`,
          'the worker reported it sent; check the network between workers and driver',
        );
      }
      this.bytesIn += result.byteLength;
      this.directResults++;
      return result;
    }
    const bytes =
      answer.resultKey === undefined ? null : await this.io(this.redis.getBuffer(answer.resultKey));
    if (bytes === null) {
      throw new TaskFailedError(
        `the result of ${what} is missing from Redis`,
        'Redis may have evicted or lost it: run redis-server with maxmemory-policy noeviction',
      );
    }
    await this.io(this.redis.del(answer.resultKey!));
    this.bytesIn += bytes.byteLength;
    return decodeFloat64(bytes, `result of task ${jobId}`, length * 8);
  }

  /**
   * Opens the result channel (result-channel.ts) unless it is off or Redis is reached over TLS.
   * It listens on the address this driver reaches Redis from, which the workers can reach too.
   */
  private async openResultChannel(): Promise<void> {
    if (this.options.directResults === false || this.options.url.startsWith('rediss:')) return;
    const host = this.options.resultHost ?? this.redis.stream?.localAddress ?? '127.0.0.1';
    const token = this.options.secret === undefined ? randomBytes(32).toString('hex') : undefined;
    this.results = await ResultServer.open(host, channelKey(this.run, this.options.secret, token), (line) =>
      this.options.log?.(line),
    );
    this.resultToken = token;
  }

  /** The task-message fields that tell a worker where to send its result. */
  private channelFields(): { resultTo?: string; resultToken?: string } {
    if (this.results === undefined) return {};
    return {
      resultTo: this.results.address,
      ...(this.resultToken === undefined ? {} : { resultToken: this.resultToken }),
    };
  }

  /**
   * Queues one task message on the owner of its partition and waits for what the worker returns.
   * If the owner is presumed dead first, the task is queued again on the partition's new owner
   * under a new job id, and the old job is fenced: its result, should it come, is discarded.
   */
  private async queueTask(
    fields: Omit<TaskMessage, 'v' | 'nonce' | 'sig'>,
    priority = 0,
    timeoutMs = this.options.taskTimeoutMs ?? 600_000,
  ): Promise<TaskReturn> {
    const { kernel, partition, placement, step } = fields;
    try {
      return await this.router.dispatch(
        fields.jobId,
        placement,
        partition,
        `${kernel} on partition ${partition} of ${placement}, step ${step}`,
        {
          wait: (jobId) => {
            const waiting = this.waitForJob(jobId, timeoutMs);
            // The id that answered travels with the answer: a requeued task's result arrives
            // over the result channel under its new job id.
            const promise = waiting.promise.then((answer) => ({ ...answer, jobId }));
            // Awaited by the router once the task is queued; if queueing fails first, that failure
            // is the one reported.
            promise.catch(() => {});
            return { promise, cancel: () => waiting.cancel() };
          },
          add: async (queue, jobId) => {
            if (this.lostError !== undefined) throw this.lostError;
            if (fields.resultTo !== undefined) this.results?.expect(jobId, fields.resultLength * 8);
            await this.io(
              (queue ?? this.queue).add(kernel, makeTaskMessage({ ...fields, jobId }, this.options.secret), {
                jobId,
                attempts: this.options.attempts ?? 3,
                backoff: { type: 'exponential', delay: 200 },
                // BullMQ runs priority 1 first; 0 means "no priority", which runs before any prioritised job.
                ...(priority > 0 ? { priority: Math.max(1, 1_000_000 - priority) } : {}),
                removeOnComplete: { age: 600 },
                removeOnFail: { age: 3600 },
              }),
            );
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

  /** Counts a finished task under its worker's thread, when the worker says which. */
  private countThread(answer: { readonly worker: string; readonly thread?: number }): void {
    if (answer.thread === undefined) return;
    const key = `${answer.worker}#${answer.thread}`;
    this.tasksByThread[key] = (this.tasksByThread[key] ?? 0) + 1;
  }

  /** Dispatches a job event of any queue to its waiter, after the fence. */
  private onJobEvent(e: LaneEvent): void {
    if (e.kind === 'failed') {
      this.jobs.get(e.jobId)?.({ error: new Error(e.failedReason) });
      return;
    }
    const value: unknown = typeof e.returnvalue === 'string' ? JSON.parse(e.returnvalue) : e.returnvalue;
    if (this.router.fenced(e.jobId)) {
      const key = (value as Partial<TaskReturn> | null)?.resultKey;
      if (typeof key === 'string') void this.redis.del(key).catch(() => 0);
      return;
    }
    this.jobs.get(e.jobId)?.({ value: value as TaskReturn });
  }

  /** What source-partitions.ts needs from this engine. */
  private sourceDriver(): SourceDriver {
    return {
      redis: this.redis,
      keys: this.keys,
      run: this.run,
      nextStep: () => ++this.step,
      // Source tasks carry no result channel: their msgpack results always go through Redis.
      queue: async (fields) => {
        const answer = await this.queueTask(fields);
        return { ...answer, resultKey: answer.resultKey ?? '' };
      },
      io: (p) => this.io(p),
      account: (out, inn, answer) => {
        this.bytesOut += out;
        this.bytesIn += inn;
        if (answer === undefined) return;
        this.tasks++;
        this.kernelSeconds += answer.runSeconds;
        this.tasksByWorker[answer.worker] = (this.tasksByWorker[answer.worker] ?? 0) + 1;
        this.countThread(answer);
        if (answer.attempt > 1) this.retries++;
      },
    };
  }

  /**
   * Resolves with what the worker returned when job `jobId` completes; rejects when it fails for
   * good, after `ms`, when the run is lost, or when the engine closes. Every path clears its timer
   * and its entry, so a failed fit leaves nothing that keeps the process alive.
   */
  private waitForJob(jobId: string, ms: number): { promise: Promise<TaskReturn>; cancel(): void } {
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
      if (this.lostError !== undefined) abandon(this.lostError);
      else if (this.closed) abandon(new DistmlError('KERNEL', 'this engine is closed'));
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

  private async deleteRunKeys(): Promise<void> {
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(
        cursor,
        'MATCH',
        `${this.keys.namespace}:run:${this.run}:*`,
        'COUNT',
        500,
      );
      cursor = next;
      if (batch.length > 0) await this.redis.del(...batch);
    } while (cursor !== '0');
  }

  private placementOf(on: DistributedMatrix): DistributedMatrix {
    const placement = this.placements.get(on.id);
    if (placement === undefined) throw new DistmlError('KERNEL', `unknown or released placement '${on.id}'`);
    return placement;
  }

  private checkOpen(): void {
    if (this.closed) throw new DistmlError('KERNEL', 'this engine is closed');
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(error()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
