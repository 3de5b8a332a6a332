/**
 * The cluster engine: the same {@link Engine} contract as the thread engine, with `distml worker`
 * processes on any machine that reaches one Redis. Tasks travel through BullMQ queues (priority,
 * attempts with exponential backoff, stalled-job recovery when a worker dies; task-runner.ts);
 * results of a pass are combined on the driver in the same fixed tree order as every other
 * engine, so a model trained here equals the serial one.
 *
 * Partitions are either placed by the driver (`distribute`) or read by the workers from a shared
 * source (`placeSources`, see source-partitions.ts), in which case no row passes through the
 * driver. Each partition has an owner, and its tasks go to the owner's own queue (placement.ts): a
 * worker loads its partitions once, a dead owner's partitions and tasks move to live workers, a
 * joining worker receives partitions at the next pass. The driver's tensors (partitions it placed,
 * arguments, broadcasts) are fetched by the workers from its memory over a direct task channel,
 * and results come back over it; without the channel (`rediss://`, or turned off) they are binary
 * Redis values (task-transport.ts). Parameter-server training (`runLoop`, the SGD models) runs
 * against a parameter server in Redis (loop-runner.ts).
 */
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { blockRanges, type DesignMatrix } from '../../data/design-matrix.ts';
import { DistmlError } from '../../errors.ts';
import type {
  Consistency,
  DistributedMatrix,
  Engine,
  Layout,
  LoopResult,
  TaskHandle,
  TaskSpec,
} from '../engine.ts';
import { afterDependencies } from '../engine.ts';
import { type BroadcastHandle, getKernel, type KernelArgs } from '../kernel-registry.ts';
import type { RawEncoding, RawPartition } from '../raw-partitions.ts';
import type { Plain, SourceLineage } from '../source-tasks.ts';
import { CapacityPlanner, capacity, rebalanceOptions } from './capacity.ts';
import { connect, lastConnectionError, redactUrl, redisOptions } from './cluster-connection.ts';
import { ClusterKeys } from './cluster-keys.ts';
import { emptyLoopTelemetry, type LoopHost, loopSlots, runClusterLoop } from './loop-runner.ts';
import { type WorkerInfo, waitForWorkers } from './membership.ts';
import { PlacedMatrices } from './placed-matrices.ts';
import { TaskRouter } from './placement.ts';
import type { RedisEngineOptions, RedisTelemetry } from './redis-engine-options.ts';
import { watchRun } from './run-watch.ts';
import { runSourceTasks, type SourceDriver, storeLineage, storeSpec } from './source-partitions.ts';
import type { MessageDecoder } from './task-message.ts';
import { type TaskCall, TaskRunner } from './task-runner.ts';
import { TaskTransport } from './task-transport.ts';
import { withTimeout } from './timeouts.ts';

export type { RedisEngineOptions, RedisTelemetry } from './redis-engine-options.ts';

/** The calls whose errors become the run's loss, once the run is lost. */
const GUARDED = [
  'distribute',
  'distributeRaw',
  'profileSources',
  'scoreSources',
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
  /** The placements, with the lineages or decoders their tasks carry (placed-matrices.ts). */
  private readonly placed = new PlacedMatrices();
  private passes = 0;
  private readonly loopTelemetry = emptyLoopTelemetry();
  private closed = false;
  /** The values put out for the workers and the results read back (task-transport.ts). */
  private transport!: TaskTransport;
  /** Queues tasks, waits for their answers, fences and counts them (task-runner.ts). */
  private runner!: TaskRunner;
  /** Why the run cannot go on (Redis lost its data or stopped answering), once that happened. */
  private lostError: Error | undefined;
  private watch!: NodeJS.Timeout;
  /** Rejects with the reason when the run is lost (Redis lost its data or stopped answering). */
  private readonly lost: Promise<never>;
  /** Owners of partitions, membership epochs, per-worker queues, the fence (placement.ts). */
  private readonly router: TaskRouter;
  /** Measured speeds, and when partitions follow them (capacity.ts); none with `rebalance: false`. */
  private readonly planner: CapacityPlanner | undefined;

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
    const rebalance = rebalanceOptions(options.rebalance ?? true);
    this.planner = rebalance === undefined ? undefined : new CapacityPlanner(rebalance);
    events.on('completed', ({ jobId, returnvalue }) =>
      this.runner?.onJobEvent({ kind: 'completed', jobId, returnvalue }),
    );
    events.on('failed', ({ jobId, failedReason }) =>
      this.runner?.onJobEvent({ kind: 'failed', jobId, failedReason }),
    );
    this.router = new TaskRouter({
      redis,
      keys: this.keys,
      connection: redisOptions(options),
      members,
      log: options.log ?? (() => {}),
      onEvent: (e) => this.runner?.onJobEvent(e),
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
          this.runner?.abandonAll(err);
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
    // Bad options fail before any connection or wait for workers.
    rebalanceOptions(options.rebalance ?? true);
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
      await engine.openTasks();
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
    const ranges = blockRanges(data.rows, layout.partitions ?? this.workers);
    // Each partition is one value, [rows, cols, X, y], put out as three pieces without a copy.
    return this.placeValues(
      `p${this.nextPlacement++}`,
      ranges.map(([start, end]) => [
        new Float64Array([end - start, data.cols]),
        data.X.subarray(start * data.cols, end * data.cols),
        data.y.subarray(start, end),
      ]),
      data.rows,
      data.cols,
    );
  }

  /** Places raw partitions that the workers decode (see ../raw-partitions.ts). */
  async distributeRaw(
    parts: readonly RawPartition[],
    encoding: RawEncoding,
    cols: number,
  ): Promise<DistributedMatrix> {
    this.checkOpen();
    const id = `p${this.nextPlacement++}`;
    const spec = await storeSpec(this.sourceDriver(), id, encoding.spec);
    const rows = parts.reduce((sum, part) => sum + part.rows, 0);
    return this.placeValues(
      id,
      parts.map((part) => part.pieces),
      rows,
      cols,
      { name: encoding.decoder, ...spec },
    );
  }

  /**
   * Puts out partition p of placement `id` as the concatenation of `pieces[p]`, raw for `decoder`
   * when it is given.
   */
  private async placeValues(
    id: string,
    pieces: readonly (readonly ArrayBufferView[])[],
    rows: number,
    cols: number,
    decoder?: MessageDecoder,
  ): Promise<DistributedMatrix> {
    await this.transport.putValues(
      'partition',
      pieces.map((p, index) => ({ key: this.keys.partition(this.run, id, index), pieces: p })),
    );
    const placement: DistributedMatrix = { id, rows, cols, partitions: pieces.length };
    this.placed.add(placement, decoder === undefined ? {} : { decoder });
    this.router.place(id, pieces.length);
    return placement;
  }

  /** Summarises every split on the workers (see source-partitions.ts). */
  async profileSources(
    lineage: SourceLineage,
    onResult?: (done: number, splits: number) => void,
  ): Promise<Plain[]> {
    this.checkOpen();
    try {
      return await runSourceTasks(this.sourceDriver(), lineage, 'profile', onResult);
    } finally {
      this.router.forgetTransient();
    }
  }

  /** Runs the handlers' score on every split, on the workers (see source-partitions.ts). */
  async scoreSources(
    lineage: SourceLineage,
    onResult?: (done: number, splits: number) => void,
  ): Promise<Plain[]> {
    this.checkOpen();
    try {
      return await runSourceTasks(this.sourceDriver(), lineage, 'score', onResult);
    } finally {
      this.router.forgetTransient();
    }
  }

  /** Places partitions the workers read from the source themselves: no rows go through Redis. */
  async placeSources(lineage: SourceLineage, rows: number, cols: number): Promise<DistributedMatrix> {
    this.checkOpen();
    const id = `p${this.nextPlacement++}`;
    const stored = await storeLineage(this.sourceDriver(), id, lineage);
    const placement: DistributedMatrix = { id, rows, cols, partitions: lineage.splits.length };
    this.placed.add(placement, { lineage: stored });
    this.router.place(id, lineage.splits.length);
    return placement;
  }

  async treeReduce(kernelName: string, on: DistributedMatrix, args: KernelArgs): Promise<Float64Array> {
    this.checkOpen();
    this.placed.get(on);
    this.router.boundary(on.id);
    if (this.planner !== undefined) this.router.rebalance(on.id, kernelName, this.planner, on);
    const kernel = getKernel(kernelName);
    const step = ++this.step;
    const argsKey = await this.transport.putArgs(step, args, false);
    const length = kernel.resultLength(args, on.cols);
    // Results are combined by partition index, whoever computed them: moving partitions between
    // passes cannot change a sum.
    const sum = await this.runner.reduce(
      kernel.combine,
      Array.from({ length: on.partitions }, (_, p) =>
        this.withLineage({
          kernel: kernelName,
          on,
          partition: p,
          step,
          argsKey,
          resultLength: length,
          measure: true,
        }),
      ),
    );
    this.passes++;
    this.planner?.meter.endPass(kernelName);
    await this.transport.dropValues([argsKey]);
    return sum;
  }

  submit(task: TaskSpec): TaskHandle {
    const id = this.nextTask++;
    const result = afterDependencies(id, task.after).then(async () => {
      this.checkOpen();
      this.placed.get(task.on);
      this.router.boundary(task.on.id);
      const kernel = getKernel(task.kernel);
      const step = ++this.step;
      const argsKey = await this.transport.putArgs(step, task.args);
      const length = kernel.resultLength(task.args, task.on.cols);
      try {
        return await this.runTask({
          kernel: task.kernel,
          on: task.on,
          partition: task.partition,
          step,
          argsKey,
          resultLength: length,
          priority: task.priority ?? 0,
        });
      } finally {
        await this.transport.dropValues([argsKey]);
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
    this.placed.get(on);
    const host: LoopHost = {
      redis: this.redis,
      keys: this.keys,
      run: this.run,
      workers: this.workers,
      joinTimeoutMs: this.options.joinTimeoutMs ?? 60_000,
      nextStep: () => ++this.step,
      putArgs: (step, a) => this.transport.putArgs(step, a),
      dropArgs: (key) => this.transport.dropValues([key]),
      // A slot on partitions read from a source carries the lineages of all those it owns.
      runTask: (kernel, on, partition, step, argsKey, resultLength) =>
        this.runner.run({
          kernel,
          on,
          partition,
          step,
          argsKey,
          resultLength,
          loop: true,
          ...this.placed.slotFields(on, partition, loopSlots(this.workers, on.partitions)),
        }),
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
    await this.transport.putValues('broadcast', [
      { key: this.keys.broadcast(this.run, id), pieces: [value] },
    ]);
    return { broadcast: id, length: value.length };
  }

  /** Takes back a pass's result: a later result arrives in it over the task channel. */
  recycle(result: Float64Array): void {
    this.transport.recycle(result);
  }

  async release(on: DistributedMatrix): Promise<void> {
    const { placed, specKey } = this.placed.release(on);
    if (!placed) return;
    this.router.forget(on.id);
    if (specKey !== undefined) await this.io(this.redis.del(specKey));
    await this.transport.dropValues(
      Array.from({ length: on.partitions }, (_, p) => this.keys.partition(this.run, on.id, p)),
    );
  }

  telemetry(): RedisTelemetry {
    return {
      kind: this.kind,
      cluster: redactUrl(this.options.url),
      workers: this.workers,
      passes: this.passes,
      ...this.runner.counts(),
      ...this.transport.counts(),
      ...(this.loopTelemetry.loops === 0 ? {} : { parameterServer: { ...this.loopTelemetry } }),
      ...this.router.telemetry(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watch);
    const closing = new DistmlError('KERNEL', 'the engine was closed while a task was running');
    this.runner?.abandonAll(closing);
    await this.transport?.close();
    // Best effort, bounded: after a lost or unreachable Redis the cleanup cannot finish, and
    // closing must not hang the process that reports the failure.
    const cleanup = async () => {
      for (const placement of this.placed.all()) await this.release(placement);
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

  /** Runs one pass or DAG task: on a placement read from a source, with its partition's lineage. */
  private runTask(t: Omit<TaskCall, 'lineage' | 'loop'>): Promise<Float64Array> {
    return this.runner.run(this.withLineage(t));
  }

  /**
   * The task with its partition's lineage, when its placement was read from a source, or its
   * decoder, when the driver placed it raw.
   */
  private withLineage(t: Omit<TaskCall, 'lineage' | 'loop'>): Omit<TaskCall, 'loop'> {
    return { ...t, ...this.placed.taskFields(t.on, t.partition) };
  }

  /**
   * Opens the transport of values and results (task-transport.ts: the task channel, unless off)
   * and the task runner over it.
   */
  private async openTasks(): Promise<void> {
    const o = this.options;
    this.transport = await TaskTransport.open({
      redis: this.redis,
      keys: this.keys,
      run: this.run,
      url: o.url,
      io: (p) => this.io(p),
      log: (line) => o.log?.(line),
      ...(o.secret === undefined ? {} : { secret: o.secret }),
      ...(o.channel === undefined ? {} : { channel: o.channel }),
      ...(o.channelHost === undefined ? {} : { channelHost: o.channelHost }),
      ...(o.channelPort === undefined ? {} : { channelPort: o.channelPort }),
    });
    this.runner = new TaskRunner({
      run: this.run,
      redis: this.redis,
      queue: this.queue,
      router: this.router,
      transport: this.transport,
      ...(o.secret === undefined ? {} : { secret: o.secret }),
      attempts: o.attempts ?? 3,
      taskTimeoutMs: o.taskTimeoutMs ?? 600_000,
      io: (p) => this.io(p),
      lostError: () => this.lostError,
      closed: () => this.closed,
      log: (line) => o.log?.(line),
      measured: (t, answer) => {
        if (answer.workerId !== undefined)
          this.planner?.meter.record(
            t.kernel,
            answer.workerId,
            answer.runSeconds,
            t.on.rows / t.on.partitions,
          );
      },
      ...(o.speculation === undefined || o.speculation === false
        ? {}
        : { speculation: { multiplier: 3, minMs: 1000, ...(o.speculation === true ? {} : o.speculation) } }),
    });
  }

  /** What source-partitions.ts needs from this engine. */
  private sourceDriver(): SourceDriver {
    return {
      redis: this.redis,
      keys: this.keys,
      run: this.run,
      nextStep: () => ++this.step,
      // Source tasks send no result over the task channel: their msgpack results always go through Redis.
      queue: async (fields) => {
        const answer = await this.runner.queue(fields);
        return { ...answer, resultKey: answer.resultKey ?? '' };
      },
      io: (p) => this.io(p),
      account: (out, inn, answer) => {
        this.transport.account(out, inn);
        if (answer !== undefined) this.runner.count(answer);
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

  private checkOpen(): void {
    if (this.closed) throw new DistmlError('KERNEL', 'this engine is closed');
  }
}
