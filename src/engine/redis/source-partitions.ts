/**
 * Partitions that cluster workers read from the data source themselves (see ../source-tasks.ts).
 *
 * Driver side: a profile pass (and a score pass, after the fit) is one task per split whose result
 * is msgpack (summaries and scored labels are not one float vector); placing the partitions writes only the spec (the preprocessing plan) to Redis,
 * never rows. Every later task on the placement carries its partition's lineage (handlers name,
 * split, spec key) in the signed task message, so a worker that does not hold the partition (it
 * joined later, evicted it, or took the task over from a dead worker) rebuilds it from the source.
 *
 * A parameter-server loop slot's task carries the lineages of every partition the slot owns
 * ({@link slotLineages}); the slot builds them the same way.
 *
 * Worker side: runs profile and score tasks, and builds partitions from lineage into the worker's cache.
 */
import { randomBytes } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { Packr } from 'msgpackr';
import type { DesignMatrix } from '../../data/design-matrix.ts';
import { DistmlError, TaskFailedError } from '../../errors.ts';
import { sha256Hex } from '../../format/sha256.ts';
import {
  getSourceHandlers,
  type Plain,
  type SourceHandlers,
  type SourceLineage,
  type SourceOperation,
} from '../source-tasks.ts';
import type { ClusterKeys } from './cluster-keys.ts';
import type { MessageLineage, TaskMessage } from './task-message.ts';
import { MAX_VALUE_BYTES } from './tensor-codec.ts';
import { checkDigest } from './value-digest.ts';

const packr = new Packr({ moreTypes: true, useRecords: false });

/** The reserved kernel name of a profile task. */
export const PROFILE_TASK = 'source.profile';
/** The reserved kernel name of a score task. */
export const SCORE_TASK = 'source.score';

/** The reserved kernel names of source tasks that answer plain data, by handler. */
const SOURCE_TASKS: Readonly<Record<SourceOperation, string>> = { profile: PROFILE_TASK, score: SCORE_TASK };

/** The handler a plain-data source task runs, from its kernel name; undefined for other tasks. */
export function sourceOperation(kernel: string): SourceOperation | undefined {
  return kernel === PROFILE_TASK ? 'profile' : kernel === SCORE_TASK ? 'score' : undefined;
}

/** What a worker answers for a finished task (as redis-engine.ts reads it). */
export interface SourceTaskReturn {
  readonly resultKey: string;
  readonly runSeconds: number;
  readonly worker: string;
  readonly attempt: number;
}

/** What the driver side needs from the engine. */
export interface SourceDriver {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly run: string;
  nextStep(): number;
  /** Queues a task message (unsigned fields) and waits for the worker's answer. */
  queue(fields: Omit<TaskMessage, 'v' | 'nonce' | 'sig'>): Promise<SourceTaskReturn>;
  /** Counts bytes written to and read from Redis, and a finished task. */
  account(bytesOut: number, bytesIn: number, answer?: SourceTaskReturn): void;
  /** `p`, or the run's loss if that comes first (see RedisEngine), so no call waits forever. */
  io<T>(p: Promise<T>): Promise<T>;
}

/** The lineage of every partition of one placement, as stored by {@link storeLineage}. */
export interface PlacedLineage {
  readonly handlers: string;
  readonly splits: readonly Plain[];
  readonly specKey: string;
  /** Hex SHA-256 of the spec's bytes, which task messages carry signed. */
  readonly specDigest: string;
}

/** The lineage a task on partition `p` carries. */
export function messageLineage(placed: PlacedLineage, p: number): MessageLineage {
  return {
    handlers: placed.handlers,
    split: placed.splits[p]!,
    specKey: placed.specKey,
    specDigest: placed.specDigest,
  };
}

/**
 * The lineages a loop slot's task carries: those of the partitions slot `slot` of `slots` owns
 * (p mod slots = slot, in partition order), so the slot reads them itself, like a pass's task.
 */
export function slotLineages(placed: PlacedLineage, slot: number, slots: number): MessageLineage[] {
  const out: MessageLineage[] = [];
  for (let p = slot; p < placed.splits.length; p += slots) out.push(messageLineage(placed, p));
  return out;
}

/**
 * Runs handler `operation` (profile or score) on every split, on the workers; returns their plain
 * results in split order. The tasks of one call form a transient placement, dealt to owners like a
 * placement of as many partitions, so with an unchanged membership split p goes to the worker that
 * owns (or owned) partition p.
 */
export async function runSourceTasks(
  driver: SourceDriver,
  lineage: SourceLineage,
  operation: SourceOperation,
  onResult?: (done: number, splits: number) => void,
): Promise<Plain[]> {
  const step = driver.nextStep();
  const placement = `${operation}${step}`;
  const placed = await storeLineage(driver, placement, lineage);
  let done = 0;
  try {
    return await Promise.all(
      lineage.splits.map(async (_, p) => {
        const answer = await driver.queue({
          run: driver.run,
          step,
          partition: p,
          jobId: `${driver.run}-${step}-${p}`,
          kernel: SOURCE_TASKS[operation],
          placement,
          argsKey: '',
          resultLength: 0,
          lineage: messageLineage(placed, p),
        });
        const bytes = await driver.io(driver.redis.getBuffer(answer.resultKey));
        if (bytes === null) {
          throw new TaskFailedError(
            `the ${operation} result of partition ${p} is missing from Redis`,
            'Redis may have evicted or lost it: run redis-server with maxmemory-policy noeviction',
          );
        }
        await driver.io(driver.redis.del(answer.resultKey));
        driver.account(0, bytes.byteLength, answer);
        const result = decodePlain(bytes, `${operation} result of partition ${p}`);
        onResult?.(++done, lineage.splits.length);
        return result;
      }),
    );
  } finally {
    await driver.io(driver.redis.del(placed.specKey));
  }
}

/** Writes the spec of `lineage` to Redis under placement `id`; the splits stay in task messages. */
export async function storeLineage(
  driver: SourceDriver,
  id: string,
  lineage: SourceLineage,
): Promise<PlacedLineage> {
  return {
    handlers: lineage.handlers,
    splits: lineage.splits,
    ...(await storeSpec(driver, id, lineage.spec)),
  };
}

/**
 * Writes the spec of placement `id` (what workers do with its partitions) to Redis; returns its key
 * and the digest that task messages carry signed.
 */
export async function storeSpec(
  driver: SourceDriver,
  id: string,
  spec: Plain,
): Promise<{ specKey: string; specDigest: string }> {
  const specKey = driver.keys.spec(driver.run, id);
  const bytes = packr.pack(spec);
  // Workers refuse a larger value; say so here, before any task is queued.
  if (bytes.byteLength > MAX_VALUE_BYTES) {
    throw new DistmlError(
      'KERNEL',
      `the spec of placement ${id} is ${bytes.byteLength} bytes, over the limit of ${MAX_VALUE_BYTES} for a value the workers read`,
      'a model sent to the workers for scoring counts in it: train with --test-fraction 0 and score with `distml evaluate`',
    );
  }
  driver.account(bytes.byteLength, 0);
  await driver.io(driver.redis.set(specKey, bytes));
  return { specKey, specDigest: sha256Hex(bytes) };
}

function decodePlain(bytes: Buffer, what: string): Plain {
  if (bytes.byteLength > MAX_VALUE_BYTES) {
    throw new DistmlError(
      'KERNEL',
      `${what} is ${bytes.byteLength} bytes, over the limit of ${MAX_VALUE_BYTES}`,
    );
  }
  return packr.unpack(bytes) as Plain;
}

/** Specs a worker has read, by key and digest (a key names one immutable spec). */
export class SpecCache {
  private readonly specs = new Map<string, Plain>();

  /**
   * The spec of `lineage`, read from Redis once.
   * @throws UnrecoverableError when the value's bytes do not have the digest the signed task carries
   */
  async get(redis: Redis, named: { readonly specKey: string; readonly specDigest: string }): Promise<Plain> {
    const { specKey: key, specDigest: digest } = named;
    const cached = this.specs.get(`${key}#${digest}`);
    if (cached !== undefined) return cached;
    const bytes = await redis.getBuffer(key);
    if (bytes === null) throw new DistmlError('KERNEL', `the spec ${key} of a placement is not in Redis`);
    checkDigest(`the spec ${key}`, bytes, digest);
    const spec = decodePlain(bytes, `spec ${key}`);
    if (this.specs.size >= 8) this.specs.delete(this.specs.keys().next().value as string);
    this.specs.set(`${key}#${digest}`, spec);
    return spec;
  }
}

/**
 * Runs a profile or score task on this worker: reads the split, runs the handler, stores its
 * msgpack result. Data errors are final (reading the same bytes again fails the same way), so they
 * are not retried.
 */
export async function runSourceTask(
  redis: Redis,
  keys: ClusterKeys,
  specs: SpecCache,
  m: TaskMessage & { lineage: MessageLineage },
  operation: SourceOperation,
  worker: string,
  attempt: number,
): Promise<SourceTaskReturn> {
  const started = performance.now();
  const spec = await specs.get(redis, m.lineage);
  const handlers = getSourceHandlers(m.lineage.handlers);
  const result = await final(() => {
    if (operation === 'profile') return handlers.profile(m.lineage.split, spec, m.run);
    if (handlers.score === undefined)
      throw new DistmlError('KERNEL', `source handlers '${m.lineage.handlers}' have no score`);
    return handlers.score(m.lineage.split, spec, m.run);
  });
  const resultKey = keys.result(m.run, m.jobId, `${attempt}-${randomBytes(4).toString('hex')}`);
  await redis.set(resultKey, packr.pack(result), 'PX', 600_000);
  return { resultKey, runSeconds: (performance.now() - started) / 1000, worker, attempt };
}

/**
 * The partition a task names, from `cache` or rebuilt from the lineage the task carries.
 * @param cacheKey - where the partition is cached (the key a Redis-placed one would have, which
 *   names the run, so a later run never takes a partition built from an older file)
 * @param run - the run of the task, for the handlers (see {@link SourceHandlers})
 * @param allocate - where the partition's arrays go (see {@link SourceHandlers.build})
 */
export async function sourcePartition(
  redis: Redis,
  specs: SpecCache,
  cache: Map<string, DesignMatrix>,
  cacheKey: string,
  run: string,
  lineage: MessageLineage,
  allocate: (length: number) => Float64Array,
  remember: (key: string, part: DesignMatrix) => DesignMatrix,
): Promise<DesignMatrix> {
  const cached = cache.get(cacheKey);
  if (cached !== undefined) return cached;
  const spec = await specs.get(redis, lineage);
  const handlers = getSourceHandlers(lineage.handlers);
  const part = await final(() => handlers.build(lineage.split, spec, run, allocate));
  return remember(cacheKey, part);
}

/** Runs `f`; a data error it throws becomes final for BullMQ (no more attempts). */
export async function final<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof DistmlError && err.code !== 'KERNEL' && err.code !== 'FILE_IO') {
      throw new UnrecoverableError(err.message);
    }
    throw err;
  }
}
