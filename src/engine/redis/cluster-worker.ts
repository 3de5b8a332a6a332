/**
 * The body of `distml worker`: registers with a heartbeat, takes tasks from its own BullMQ queue
 * (tasks on the partitions the driver placed on it, see placement.ts) and from the shared one (tasks
 * with no owner), runs the named kernel (from the same registry every engine uses) on the partition
 * the task names, and sends the result to the driver. The driver's values (the partitions it placed,
 * kernel arguments, broadcasts) are fetched from the driver over its task channel, or from Redis
 * when it has none (driver-values.ts); results go back the same way. A worker whose heartbeat expires is
 * presumed dead: the driver queues its tasks again on other workers and discards whatever it still
 * returns. On the shared queue, a worker that dies mid-task loses its lock and BullMQ's stalled
 * check gives the task to another. On SIGTERM the worker finishes its current task, deregisters
 * and exits.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism, freemem, hostname, totalmem } from 'node:os';
import { type Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { DistmlError } from '../../errors.ts';
import { hasLoopKernel, type KernelArgs, resolveBroadcasts } from '../kernel-registry.ts';
import { type FaultSpec, faultAt, slowdownAt } from '../local/faults.ts';
import { getPartitionDecoder } from '../raw-partitions.ts';
import { ArgsCache, type LoadedArgs } from './args-cache.ts';
import { channelKey } from './channel-frames.ts';
import { type ClusterConnection, connect, redisOptions } from './cluster-connection.ts';
import { ClusterKeys } from './cluster-keys.ts';
import { DriverValues } from './driver-values.ts';
import { Float64Pool } from './float64-pool.ts';
import { startTaskSlots } from './kernel-threads.ts';
import { runLoopSlot } from './loop-slot.ts';
import { HEARTBEAT_TTL_MS, startHeartbeat, type WorkerInfo } from './membership.ts';
import { PartitionMemory } from './partition-memory.ts';
import { removeOrphanQueues } from './queue-janitor.ts';
import { claimNonce } from './replay-guard.ts';
import { final, runSourceTask, SpecCache, sourceOperation, sourcePartition } from './source-partitions.ts';
import {
  checkTaskMessage,
  type MessageDecoder,
  type MessageLineage,
  type TaskMessage,
} from './task-message.ts';
import { decodeArgs, encodeFloat64, viewFloat64 } from './tensor-codec.ts';
import { WorkerChannels } from './worker-channels.ts';

/** Options of {@link startClusterWorker}. */
export interface ClusterWorkerOptions extends ClusterConnection {
  /** Name shown in the driver's telemetry. @defaultValue `HOST-PID` */
  readonly name?: string;
  /** @defaultValue `'distml'` */
  readonly namespace?: string;
  /** The cluster secret; when set, unsigned or tampered task messages are refused. */
  readonly secret?: Buffer;
  /**
   * How long a worker may stay silent before it is presumed dead: the lock of a shared-queue task,
   * and (up to 10 s) the TTL of the heartbeat, whose expiry makes the driver re-place the
   * worker's partitions and tasks. @defaultValue 30000
   */
  readonly lockMs?: number;
  /** Injected faults, for tests (worker slot is ignored: this process is the worker). */
  readonly faults?: readonly FaultSpec[];
  /**
   * The module loop threads start with (pipeline/loop-thread-entry): parameter-server loops run
   * their kernel on a thread of their own. Without it, loop tasks are refused.
   */
  readonly loopEntry?: URL;
  /**
   * Tasks this worker runs at once, each kernel on a thread of its own (kernel-threads.ts); it
   * also weighs the worker in placement (it is given about N× the partitions of a 1-thread
   * worker). @defaultValue 1
   */
  readonly threads?: number;
  /**
   * The module kernel threads start with (pipeline/worker-entry); needed when threads > 1.
   * Without it, a 1-thread worker runs kernels on its main thread.
   */
  readonly kernelEntry?: URL;
  /** One line per event worth a log: joined, refused, failed, leaving. */
  readonly log?: (line: string) => void;
}

/** A running worker. */
export interface ClusterWorker {
  readonly info: WorkerInfo;
  /** Finishes the current task, deregisters and disconnects. */
  stop(): Promise<void>;
}

/**
 * Partitions kept in memory; older ones are dropped (and reloaded from Redis, or rebuilt from
 * their source, if asked again).
 */
const PARTITION_CACHE = 64;
/** Broadcast values kept in memory. */
const BROADCAST_CACHE = 16;

/** Joins the cluster and serves tasks until {@link ClusterWorker.stop}. */
export async function startClusterWorker(options: ClusterWorkerOptions): Promise<ClusterWorker> {
  const keys = new ClusterKeys(options.namespace);
  const log = options.log ?? (() => {});
  const redis = connect(options);
  const id = randomBytes(6).toString('hex');
  const info: WorkerInfo = {
    id,
    name: options.name ?? `${hostname()}-${process.pid}`,
    pid: process.pid,
    host: hostname(),
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    threads: options.threads ?? 1,
    startedAt: new Date().toISOString(),
  };
  const partitions = new Map<string, DesignMatrix>();
  const slots = await startTaskSlots({
    threads: info.threads,
    entry: options.kernelEntry,
    held: partitions,
  }).catch((err: unknown) => {
    // Nothing else holds the process open when its threads cannot start.
    redis.disconnect();
    throw err;
  });
  // Arguments and broadcasts never change under their key (a key names one step or one value), so
  // the tasks of one pass that land here share a single read of each. The driver's values arrive
  // in the memory of arguments no task uses any more, when there is some of their size.
  const argsCache = new ArgsCache(4);
  const broadcasts = new Map<string, Float64Array>();
  // Specs (preprocessing plans) of partitions this worker reads from a data source.
  const specs = new SpecCache();
  // The driver's values and the results travel over its task channel when its messages name one.
  const allocateValue = (bytes: number) => argsCache.allocate(bytes);
  const channels = new WorkerChannels(id, allocateValue);
  const values = new DriverValues(redis, channels, options.secret, allocateValue);
  // The partitions of ended runs are dropped when a new run's first task arrives; their memory is
  // where the new run's partitions are built (partition-memory.ts).
  const partitionMemory = new PartitionMemory((length) => slots.allocate(length));
  const sources: PartitionSources = {
    redis,
    keys,
    values,
    specs,
    cache: partitions,
    loading: new Map(),
    allocate: (length) => partitionMemory.allocate(length),
    recycle: (bytes) => argsCache.recycle(bytes),
  };
  // Tasks between their start and their end, of every queue, by run: an ended run's partition
  // memory is reused only when none of its tasks can still read it.
  const runningByRun = new Map<string, number>();
  let tasksSeen = 0;
  // Runs this worker took tasks of; a new one is the moment to drop what ended runs left.
  const runsSeen = new Set<string>();
  let lateResults = 0;
  // Zeroed as they come back, after their result was sent: kernels accumulate into them.
  const outputs = new Float64Pool(true, 4, true);

  /**
   * Partition `p` of the placement task `m` names: cached, or loaded from the driver's values, or
   * read from its source when `lineage` is given; `purpose` ends the log line.
   */
  const partitionOf = (m: TaskMessage, p: number, lineage: MessageLineage | undefined, purpose = '') =>
    lineage === undefined
      ? loadPartition(sources, { ...m, partition: p }, (part) =>
          log(`loaded partition ${p} of ${m.placement} from ${origin(m)}${purpose}: ${part.rows} rows`),
        )
      : sourcePartition(
          redis,
          specs,
          partitions,
          keys.partition(m.run, m.placement, p),
          m.run,
          lineage,
          sources.allocate,
          (key, part) => {
            log(`read partition ${p} of ${m.placement} from its source${purpose}: ${part.rows} rows`);
            return remember(partitions, key, slots.shareable(part), PARTITION_CACHE);
          },
        );

  const process_ = async (job: Job): Promise<unknown> => {
    // The run as the message claims it, checked or not: it only holds back memory reuse.
    const run = String((job.data as Partial<TaskMessage> | undefined)?.run);
    runningByRun.set(run, (runningByRun.get(run) ?? 0) + 1);
    try {
      return await serveTask(job);
    } finally {
      const left = runningByRun.get(run)! - 1;
      if (left === 0) runningByRun.delete(run);
      else runningByRun.set(run, left);
    }
  };

  const serveTask = async (job: Job): Promise<unknown> => {
    let refusal = checkTaskMessage(job.data, options.secret);
    // Replays matter only when messages are signed: without a secret anyone may queue tasks.
    if (refusal === undefined && options.secret !== undefined)
      refusal = await claimNonce(redis, keys, job.data as TaskMessage, job);
    if (refusal !== undefined) {
      await redis.multi().incr(keys.refused()).hincrby(keys.refusedByReason(), refusal, 1).exec();
      log(`refused task ${job.id}: ${refusal}`);
      throw new UnrecoverableError(`task message refused: ${refusal}`);
    }
    const m = job.data as TaskMessage;
    tasksSeen++;
    if (!runsSeen.has(m.run)) {
      if (runsSeen.size >= 1024) runsSeen.clear();
      runsSeen.add(m.run);
      const ended = await forgetEndedRuns(redis, keys, m.run, partitions, [argsCache, broadcasts], log);
      // A task of an ended run still running on another thread could read the dropped memory.
      if (ended.partitions.length > 0 && ended.runs.every((r) => !runningByRun.has(r))) {
        partitionMemory.reuse(ended.partitions);
        const mb = partitionMemory.keptBytes / 2 ** 20;
        log(`kept ${mb.toFixed(1)} MB of their memory for the partitions of run ${m.run}`);
      }
    }
    const fault = faultAt(options.faults ?? [], tasksSeen);
    if (fault !== undefined) log(`injected fault ${fault.kind} at task ${tasksSeen} (${job.id})`);
    if (fault?.kind === 'kill') process.kill(process.pid, 'SIGKILL');
    if (fault?.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms ?? 0));
    const operation = sourceOperation(m.kernel);
    if (m.lineage !== undefined && operation !== undefined) {
      const lineage = m.lineage;
      return runSourceTask(redis, keys, specs, { ...m, lineage }, operation, info.name, job.attemptsStarted);
    }
    // Held until the task ends: the memory of arguments is reused once no task reads them.
    const held = await argsCache.acquire(m.argsKey, () => loadArgs(values, m));
    try {
      return await runTask(job, m, held.args, fault);
    } finally {
      held.release();
    }
  };

  /** Runs the kernel (or loop slot) of task `m` with its arguments, and sends or stores its result. */
  const runTask = async (
    job: Job,
    m: TaskMessage,
    args: KernelArgs,
    fault: FaultSpec | undefined,
  ): Promise<unknown> => {
    const resolved = await resolveClusterBroadcasts(values, keys, m, args, broadcasts);
    if (hasLoopKernel(m.kernel)) {
      return runLoopSlot({
        redis,
        keys,
        message: m,
        args: resolved,
        worker: info.name,
        attempt: job.attemptsStarted,
        entry: options.loopEntry,
        loadPartition: (p, lineage) => partitionOf(m, p, lineage, ' for a loop'),
        log,
      });
    }
    const part = await partitionOf(m, m.partition, m.lineage);
    // In shared memory, so that a kernel thread writes the result where it is sent from; zeros,
    // reused once sent.
    const out = outputs.take(m.resultLength);
    const started = performance.now();
    if (fault?.kind === 'throw')
      throw new Error(`injected fault: throw at task ${tasksSeen} of worker ${info.name}`);
    await slots.run(job, m.kernel, part, resolved, out);
    if (fault?.kind === 'nan') out[0] = Number.NaN;
    // An injected slower machine: the kernel time the driver measures grows by the delay.
    const slowMs = slowdownAt(options.faults ?? [], tasksSeen);
    if (slowMs > 0) await new Promise((r) => setTimeout(r, slowMs));
    const runSeconds = (performance.now() - started) / 1000;
    const thread = slots.threadOf(job);
    const answer = {
      runSeconds,
      worker: info.name,
      workerId: info.id,
      attempt: job.attemptsStarted,
      ...(thread === undefined ? {} : { thread }),
    };
    if (m.channel !== undefined) {
      // No road through Redis instead: a driver this worker cannot reach failed the task already,
      // when its arguments were fetched from it.
      const key = channelKey(m.run, options.secret, m.channelToken);
      await channels.send(m.channel, key, m.jobId, job.attemptsStarted, out, answer);
      outputs.give(out);
      return { ...answer, direct: true };
    }
    const resultKey = keys.result(m.run, m.jobId, `${job.attemptsStarted}-${randomBytes(4).toString('hex')}`);
    await redis.set(resultKey, encodeFloat64(out), 'PX', 600_000);
    outputs.give(out);
    return { ...answer, resultKey };
  };

  const lockDuration = options.lockMs ?? 30_000;
  const consume = (queue: string, lock: number, concurrency: number) => {
    const w = new Worker(queue, slots.serve(process_), {
      connection: redisOptions(options),
      prefix: keys.namespace,
      concurrency,
      lockDuration: lock,
      stalledInterval: Math.max(500, Math.floor(lock / 2)),
      maxStalledCount: 2,
    });
    w.on('failed', (job, err) => {
      if (job) log(`task ${job.id} failed on this worker: ${err.message}`);
    });
    w.on('lockRenewalFailed', (jobIds: string[]) =>
      log(`lost the lock of task ${jobIds.join(', ')} (silent too long): another worker will run it`),
    );
    w.on('error', (err) => {
      // A worker that was silent past its lock (stopped, partitioned away) may finish a task that
      // was already given to another: BullMQ refuses the completion, and the result is dropped.
      if (/Missing lock|Lock mismatch|Missing key for job/.test(err.message)) {
        lateResults++;
        log(`late result discarded: ${err.message.split('.')[0]} (another worker took the task over)`);
      } else log(`queue error: ${err.message}`);
    });
    return w;
  };
  // The same lock on both queues. On its own queue, a worker's stalled check hands back a job whose
  // start it never heard of (Redis crashed before replying): with a long lock such a job waited
  // that long. A worker presumed dead that comes back sends its result over the task channel
  // before it completes the job, so the driver's fence still sees and logs it.
  // The heartbeat first, then the queue: a queue with keys but no heartbeat is a dead worker's, and
  // a joining worker removes it (queue-janitor.ts). The other way round, a worker joining at the
  // same moment removed this one's queue before it registered. Tasks a driver queues meanwhile wait.
  const stopHeartbeat = await startHeartbeat(
    redis,
    keys,
    info,
    Math.min(HEARTBEAT_TTL_MS, lockDuration),
    () => ({ freeBytes: freemem(), heldBytes: bytesHeld(partitions) }),
  );
  const consumers = [
    consume(keys.workerQueue(id), lockDuration, slots.size),
    consume(keys.taskQueue, lockDuration, 1),
  ];
  await Promise.all(consumers.map((w) => w.waitUntilReady()));
  log(
    `worker ${info.name} joined (${info.cores} cores, ${info.threads} thread${info.threads === 1 ? '' : 's'}, id ${id})`,
  );
  const orphans = await removeOrphanQueues(redis, keys, id).catch((err: Error) => {
    log(`could not sweep the queues of gone workers: ${err.message}`);
    return [];
  });
  if (orphans.length > 0)
    log(
      `removed the queue of ${orphans.length} gone worker${orphans.length === 1 ? '' : 's'} (${orphans.join(', ')})`,
    );
  let stopping: Promise<void> | undefined;
  return {
    info,
    stop() {
      stopping ??= (async () => {
        let settled = false;
        const graceful = (async () => {
          await Promise.all(consumers.map((w) => w.close()));
          await slots.close();
          channels.close();
          await stopHeartbeat();
          // Nobody else consumes this worker's queue: what is left in it, drivers queue again
          // elsewhere once they see the worker gone.
          const own = new Queue(keys.workerQueue(id), { connection: redis, prefix: keys.namespace });
          await own.obliterate({ force: true }).catch(() => {});
          await own.close().catch(() => {});
          await redis.quit().catch(() => redis.disconnect());
        })().finally(() => {
          settled = true;
        });
        // Leaving cleanly needs Redis (finishing the task, deregistering). A worker told to stop
        // while Redis is away would wait for it forever: past LEAVE_UNREACHABLE_MS without Redis it
        // leaves anyway, and its heartbeat key expires on its own.
        const reachable = await Promise.race([
          graceful.then(() => true),
          unreachableFor(redis, () => settled),
        ]);
        if (!reachable) {
          log(
            `Redis has not answered for ${LEAVE_UNREACHABLE_MS / 1000} s: leaving without deregistering (the heartbeat key expires by itself; an unfinished task goes to another worker)`,
          );
          channels.close();
          redis.disconnect();
          // Not awaited: BullMQ's own connections wait for Redis too. The caller exits the process.
          for (const w of consumers) void w.close(true).catch(() => {});
        }
        log(`worker ${info.name} left after ${tasksSeen} tasks (${lateResults} late results discarded)`);
      })();
      return stopping;
    },
  };
}

/** How long a stopping worker waits for an unreachable Redis before it leaves anyway. */
const LEAVE_UNREACHABLE_MS = 10_000;

/**
 * Resolves false once `redis` has been out of reach for {@link LEAVE_UNREACHABLE_MS} without a
 * break; stops watching (never resolving) once `done()` says the graceful path finished.
 */
async function unreachableFor(redis: Redis, done: () => boolean): Promise<boolean> {
  let since: number | undefined;
  while (!done()) {
    await new Promise((r) => setTimeout(r, 250).unref());
    if (redis.status === 'ready') since = undefined;
    else {
      since ??= Date.now();
      if (Date.now() - since >= LEAVE_UNREACHABLE_MS) return false;
    }
  }
  return new Promise<boolean>(() => {});
}

/** Where a task's driver values come from, for the log. */
function origin(m: TaskMessage): string {
  return m.channel === undefined ? 'Redis' : `the driver (${m.channel})`;
}

async function loadPartition(
  from: PartitionSources,
  m: TaskMessage,
  onLoad: (part: DesignMatrix) => void,
): Promise<DesignMatrix> {
  const key = from.keys.partition(m.run, m.placement, m.partition);
  const cached = from.cache.get(key);
  if (cached !== undefined) return cached;
  // Tasks of one partition loading at once share one load, so raw bytes are decoded once and then
  // reused as soon as they are.
  let loading = from.loading.get(key);
  if (loading === undefined) {
    loading = fetchPartition(from, m, key).finally(() => from.loading.delete(key));
    from.loading.set(key, loading);
  }
  const part = await loading;
  if (from.cache.get(key) === part) return part;
  onLoad(part);
  return remember(from.cache, key, part, PARTITION_CACHE);
}

/** Partition `m.partition` fetched from the driver's values, viewed in place or decoded. */
async function fetchPartition(from: PartitionSources, m: TaskMessage, key: string): Promise<DesignMatrix> {
  const bytes = await from.values.get(m, key);
  const what = `partition ${m.partition} of placement ${m.placement}`;
  if (bytes === null) throw new DistmlError('KERNEL', `${what} (run ${m.run}) is not in ${origin(m)}`);
  if (m.decoder === undefined) return viewPartition(bytes, what);
  const part = await decodePartition(from, m.decoder, bytes, what);
  // A decoder keeps no view of the bytes (raw-partitions.ts): the next value of their size arrives
  // in them, so a worker loading several partitions, or fit after fit, faults their pages in once.
  from.recycle(bytes);
  return part;
}

/** What {@link loadPartition} reads partitions from, and keeps them in. */
interface PartitionSources {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly values: DriverValues;
  readonly specs: SpecCache;
  readonly cache: Map<string, DesignMatrix>;
  /** Partitions being fetched, by key. */
  readonly loading: Map<string, Promise<DesignMatrix>>;
  /** Memory the worker's kernel threads read in place (see kernel-threads.ts). */
  readonly allocate: (length: number) => Float64Array;
  /** Takes back the memory a raw partition arrived in, once decoded. */
  readonly recycle: (bytes: Buffer) => void;
}

/** A partition placed as [rows, cols, X, y], viewed in place. */
function viewPartition(bytes: Buffer, what: string): DesignMatrix {
  // Viewed in place: driver values arrive in shared memory (driver-values.ts), which kernel threads
  // read without a copy (kernel-threads.ts).
  const block = viewFloat64(bytes, what);
  const rows = block[0]!;
  const cols = block[1]!;
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || block.length !== 2 + rows * cols + rows) {
    throw new DistmlError('KERNEL', `${what} is malformed`);
  }
  return { rows, cols, X: block.subarray(2, 2 + rows * cols), y: block.subarray(2 + rows * cols) };
}

/** A partition the driver placed raw, decoded as its placement's spec says (../raw-partitions.ts). */
async function decodePartition(
  from: PartitionSources,
  decoder: MessageDecoder,
  bytes: Buffer,
  what: string,
): Promise<DesignMatrix> {
  const spec = await from.specs.get(from.redis, decoder);
  const decode = getPartitionDecoder(decoder.name);
  return final(async () => decode(bytes, spec, what, from.allocate));
}

async function loadArgs(values: DriverValues, m: TaskMessage): Promise<LoadedArgs> {
  const bytes = await values.get(m, m.argsKey);
  if (bytes === null)
    throw new DistmlError('KERNEL', `the arguments of task ${m.jobId} are not in ${origin(m)}`);
  return { args: decodeArgs(bytes, `arguments of task ${m.jobId}`), bytes };
}

async function resolveClusterBroadcasts(
  values: DriverValues,
  keys: ClusterKeys,
  m: TaskMessage,
  args: KernelArgs,
  cache: Map<string, Float64Array>,
): Promise<KernelArgs> {
  const run = m.run;
  for (const value of Object.values(args)) {
    if (typeof value !== 'object' || value instanceof Float64Array) continue;
    const key = keys.broadcast(run, value.broadcast);
    if (cache.has(key)) continue;
    const bytes = await values.get(m, key);
    if (bytes !== null)
      remember(cache, key, viewFloat64(bytes, `broadcast ${value.broadcast}`), BROADCAST_CACHE);
  }
  return resolveBroadcasts(args, (id) => cache.get(keys.broadcast(run, id)));
}

/**
 * Drops what this worker keeps of runs that ended (their partitions, arguments and broadcasts): a
 * driver deletes its run's keys, the sentinel among them, when it closes. Without this a worker that
 * serves fit after fit would hold the partitions of finished fits until {@link PARTITION_CACHE} of
 * them piled up. Returns the runs found ended and the partitions dropped.
 */
async function forgetEndedRuns(
  redis: Redis,
  keys: ClusterKeys,
  current: string,
  partitions: Map<string, DesignMatrix>,
  others: readonly KeyedCache[],
  log: (line: string) => void,
): Promise<{ runs: string[]; partitions: DesignMatrix[] }> {
  const caches: readonly KeyedCache[] = [partitions, ...others];
  const dropped: DesignMatrix[] = [];
  const ended: string[] = [];
  const runs = new Set<string>();
  for (const cache of caches)
    for (const key of cache.keys()) {
      const run = keys.runOf(key);
      if (run !== undefined && run !== current) runs.add(run);
    }
  for (const run of runs) {
    if ((await redis.exists(keys.sentinel(run))) === 1) continue;
    const partitionsOfRun = [...partitions]
      .filter(([key]) => keys.runOf(key) === run)
      .map(([, part]) => part);
    for (const cache of caches)
      for (const key of [...cache.keys()]) if (keys.runOf(key) === run) cache.delete(key);
    log(`dropped the ${partitionsOfRun.length} partition(s) of ended run ${run}`);
    dropped.push(...partitionsOfRun);
    ended.push(run);
  }
  return { runs: ended, partitions: dropped };
}

/** What {@link forgetEndedRuns} needs of a cache: a Map, or the arguments' cache. */
interface KeyedCache {
  keys(): IterableIterator<string>;
  delete(key: string): boolean;
}

/** Stores `value` under `key`, dropping the oldest entry beyond `limit`; returns `value`. */
function remember<T>(cache: Map<string, T>, key: string, value: T, limit: number): T {
  if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
  cache.set(key, value);
  return value;
}

/** Bytes of the partitions a worker holds (its heartbeat's `heldBytes`). */
function bytesHeld(partitions: ReadonlyMap<string, DesignMatrix>): number {
  let bytes = 0;
  for (const p of partitions.values()) bytes += p.X.byteLength + p.y.byteLength;
  return bytes;
}
